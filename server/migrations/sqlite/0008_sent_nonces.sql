-- Idempotent sends (issue 13): a `send` carries a nonce the client chose; the same nonce from
-- the same author within a day is stored once and answered with the first one's id, so a client
-- that lost the acknowledgement (a dropped connection, a server killed mid-commit) may send it
-- again safely. Rows older than a day are purged hourly with the expired sessions.
--
-- The commit batch's rows gain a sixth item, the nonce (or null).

CREATE TABLE sent_nonces (
    author_id  INTEGER NOT NULL,
    nonce      TEXT    NOT NULL,
    message_id INTEGER NOT NULL,
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (author_id, nonce)
) WITHOUT ROWID;

DROP TRIGGER message_batches_store;

CREATE TRIGGER message_batches_store INSTEAD OF INSERT ON message_batches
BEGIN
    -- A `send` whose nonce its author used before (within a day: older nonces are purged) was
    -- stored then, whatever changed since (a mute, say): the whole batch fails, and the
    -- message log answers that send with the stored id.
    SELECT RAISE(ABORT, 'duplicate nonce')
    WHERE EXISTS (SELECT 1 FROM json_each(NEW.rows) AS b
                  JOIN sent_nonces s ON s.author_id = b.value ->> 1 AND s.nonce = b.value ->> 5
                  WHERE b.value ->> 5 IS NOT NULL);

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

    -- The batch's ids are the last json_array_length(rows) ids, in array order (`key`). The
    -- same nonce twice in one batch fails the primary key: the log then stores them one by one,
    -- and the second is answered as a duplicate of the first.
    INSERT INTO sent_nonces (author_id, nonce, message_id, sent_at)
    SELECT b.value ->> 1, b.value ->> 5,
           (SELECT MAX(id) FROM messages) - json_array_length(NEW.rows) + 1 + b.key,
           NEW.sent_at
    FROM json_each(NEW.rows) AS b
    WHERE b.value ->> 5 IS NOT NULL;
END;
