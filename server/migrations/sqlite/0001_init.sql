-- Accounts, sessions, rooms (named rooms and direct conversations), memberships and messages.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,       -- lowercased: names are unique ignoring case
    password_hash TEXT    NOT NULL,              -- argon2id PHC string
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,               -- sha256 of the cookie value; the value itself is never stored
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('room', 'direct')),
    name       TEXT    NOT NULL,
    name_key   TEXT    UNIQUE,                    -- named rooms: lowercased name
    pair_key   TEXT    UNIQUE,                    -- direct conversations: "lowid:highid"
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_read INTEGER NOT NULL DEFAULT 0,         -- newest message id the user has seen here
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);

CREATE TABLE messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: clients resume from it
    room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    author_id INTEGER NOT NULL REFERENCES users(id),
    kind      TEXT    NOT NULL CHECK (kind IN ('text', 'joined', 'left')),
    body      TEXT    NOT NULL,
    sent_at   INTEGER NOT NULL
);
CREATE INDEX messages_by_room ON messages(room_id, id);

INSERT INTO rooms (id, kind, name, name_key, created_at) VALUES (1, 'room', 'lobby', 'lobby', 0);
