-- Bots: accounts made by the administrator that connect with an API token instead of a
-- session cookie. The account itself is an ordinary member (rooms, messages, limits); this
-- row says it is a bot and holds its token's hash.
CREATE TABLE bots (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT    UNIQUE,                  -- sha256 of the token; NULL once revoked
    token_at   INTEGER,                         -- when the current token was made
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL
);
