-- Server-side sessions. key_hash is SHA-256 of the cookie's random token, so
-- the table holds nothing a browser could present.
CREATE TABLE sessions (
	key_hash   bytea PRIMARY KEY,
	data       bytea NOT NULL,
	created_at timestamptz NOT NULL,
	seen_at    timestamptz NOT NULL
);
CREATE INDEX sessions_seen_at ON sessions (seen_at);
