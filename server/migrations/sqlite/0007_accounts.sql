-- Hardening (issue 13): accounts the administrator disabled, sessions found by their account
-- (sign out everywhere, a password change, a disabled account end them all), and invite links
-- that let a class sign up when registration is by invitation.

ALTER TABLE users ADD COLUMN disabled_at INTEGER;   -- set while the account may not sign in

ALTER TABLE sessions ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

CREATE TABLE invites (
    token_hash TEXT    PRIMARY KEY,             -- sha256 of the link's token; the token is never stored
    created_by INTEGER REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0       -- accounts made with it
);

-- `/readyz` writes here to prove the database takes writes.
CREATE TABLE readiness (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
