-- Server-side sessions. key_hash is SHA-256 of the cookie's random token, so
-- the table holds nothing a browser could present.
CREATE TABLE sessions (
	key_hash   BLOB PRIMARY KEY,
	data       BLOB NOT NULL,
	created_at INTEGER NOT NULL, -- unix milliseconds
	seen_at    INTEGER NOT NULL
);
CREATE INDEX sessions_seen_at ON sessions (seen_at);
