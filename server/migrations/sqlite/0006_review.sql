-- Review and feedback: a full-text index of every text ever written, teachers' feedback on
-- messages, grades per student per room, and the log of reviews of private rooms.

-- The search index: the current text of every text message, kept in step by triggers (a new
-- message, an edit, a deletion), and every earlier version and deleted text (versions never
-- change once written). The trigram tokenizer indexes every run of three characters, so a search
-- finds any part of a word in any script: Chinese, which has no spaces between words, included.
-- Both tables are external-content: they hold only the index, the text stays in its own table.
CREATE VIRTUAL TABLE message_search USING fts5(
    body, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
CREATE VIRTUAL TABLE version_search USING fts5(
    body, content = 'message_versions', content_rowid = 'id', tokenize = 'trigram'
);

CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.kind = 'text'
BEGIN
    INSERT INTO message_search (rowid, body) VALUES (new.id, new.body);
END;

-- An edit or a deletion replaces the indexed text (a deleted message's body is empty).
CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages WHEN new.kind = 'text'
BEGIN
    INSERT INTO message_search (message_search, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO message_search (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN old.kind = 'text'
BEGIN
    INSERT INTO message_search (message_search, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TRIGGER version_search_insert AFTER INSERT ON message_versions
BEGIN
    INSERT INTO version_search (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER version_search_delete AFTER DELETE ON message_versions
BEGIN
    INSERT INTO version_search (version_search, rowid, body) VALUES ('delete', old.id, old.body);
END;

INSERT INTO message_search (rowid, body) SELECT id, body FROM messages WHERE kind = 'text';
INSERT INTO version_search (rowid, body) SELECT id, body FROM message_versions;

-- Each text's word count, for the per-student summary: counted by the server when the text is
-- stored or edited (each Chinese, Japanese or Korean character is a word; SQL cannot tell), 0
-- once deleted. Texts stored before this migration are counted here by their spaces.
ALTER TABLE messages ADD COLUMN words INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET words = length(trim(body)) - length(replace(trim(body), ' ', '')) + 1
WHERE kind = 'text' AND trim(body) != '';

-- No index of texts by room and author, though the summary and the author filter would read
-- faster with one: like the partial index 0003 dropped, it would be a b-tree written for every
-- message, a page per room per commit. Measured (persist, alternated): 18.2k stored messages/s
-- without it, 14.5k with it. The summary reads the room's messages instead.

-- The commit batch (0005) now stores each text's word count too, the fifth item of a row.
DROP TRIGGER message_batches_store;

CREATE TRIGGER message_batches_store INSTEAD OF INSERT ON message_batches
BEGIN
    SELECT RAISE(ABORT, 'room not found')
    WHERE EXISTS (SELECT 1 FROM json_each(NEW.rows) AS b
                  WHERE NOT EXISTS (SELECT 1 FROM rooms r
                                    WHERE r.id = b.value ->> 0 AND r.archived_at IS NULL));

    SELECT RAISE(ABORT, 'not a member')
    WHERE EXISTS (SELECT 1 FROM json_each(NEW.rows) AS b
                  WHERE b.value ->> 2 = 'text'
                    AND NOT EXISTS (SELECT 1 FROM memberships m
                                    WHERE m.room_id = b.value ->> 0
                                      AND m.user_id = b.value ->> 1));

    SELECT RAISE(ABORT, 'muted')
    WHERE EXISTS (SELECT 1 FROM json_each(NEW.rows) AS b
                  JOIN mutes m ON m.room_id = b.value ->> 0 AND m.user_id = b.value ->> 1
                  WHERE b.value ->> 2 = 'text' AND m.until > NEW.sent_at);

    INSERT INTO messages (room_id, author_id, kind, body, sent_at, text_no, words)
    SELECT b.room, b.author, b.kind, b.body, NEW.sent_at,
           r.texts + SUM(b.kind = 'text') OVER (PARTITION BY b.room ORDER BY b.key),
           b.words
    FROM (SELECT key, value ->> 0 AS room, value ->> 1 AS author,
                 value ->> 2 AS kind, value ->> 3 AS body,
                 COALESCE(value ->> 4, 0) AS words
          FROM json_each(NEW.rows)) AS b
    JOIN rooms r ON r.id = b.room
    ORDER BY b.key;

    UPDATE rooms SET texts = batch.texts, latest = batch.latest
    FROM (SELECT room_id, MAX(text_no) AS texts, MAX(id) AS latest
          FROM messages NOT INDEXED
          WHERE id > (SELECT MAX(id) FROM messages) - json_array_length(NEW.rows)
          GROUP BY room_id) AS batch
    WHERE rooms.id = batch.room_id;

    UPDATE memberships SET last_read = batch.id, read_texts = batch.text_no
    FROM (SELECT room_id, author_id, MAX(id) AS id, MAX(text_no) AS text_no
          FROM messages NOT INDEXED
          WHERE id > (SELECT MAX(id) FROM messages) - json_array_length(NEW.rows)
            AND kind = 'text'
          GROUP BY room_id, author_id) AS batch
    WHERE memberships.room_id = batch.room_id AND memberships.user_id = batch.author_id
      AND memberships.last_read < batch.id;
END;

-- Feedback from a teacher on one message. Only the message's author and teachers see it.
-- `author_id` is the message's author (whose feedback it is); `read_at` is when they first read
-- it on /feedback.
CREATE TABLE feedback (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    teacher_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    body       TEXT    NOT NULL,
    given_at   INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX feedback_by_message ON feedback(message_id);
CREATE INDEX feedback_by_author ON feedback(author_id, id);
-- The unread count every connect reads: only unread feedback is in this index.
CREATE INDEX feedback_unread ON feedback(author_id) WHERE read_at IS NULL;

-- A student's grade in a room: free text ("A-", "8/10") and a comment.
CREATE TABLE grades (
    room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    grade      TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    graded_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    graded_at  INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- Every review of a private room or a direct conversation: who read, exported or printed
-- which room, and when. The administrator reads it on /admin. Kept when the room is purged.
CREATE TABLE review_log (
    id          INTEGER PRIMARY KEY,
    reviewer_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    room_id     INTEGER,
    room_name   TEXT    NOT NULL,
    what        TEXT    NOT NULL CHECK (what IN ('read', 'csv', 'json', 'print', 'grades')),
    at          INTEGER NOT NULL
);
