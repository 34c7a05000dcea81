-- Each session's MSAL token cache, sealed by the portal (the database sees
-- only ciphertext), removed with its session.
CREATE TABLE token_caches (
	key_hash   BLOB PRIMARY KEY REFERENCES sessions (key_hash) ON DELETE CASCADE,
	sealed     BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);
