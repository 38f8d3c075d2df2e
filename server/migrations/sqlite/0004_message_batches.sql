-- A commit batch of messages is one statement: an insert into the view `message_batches`, whose
-- trigger stores the batch and brings the running counts of 0003 up to date. One statement in
-- autocommit mode is one transaction, so the batch and its counts land together or not at all,
-- with one fsync. The transaction it replaced (BEGIN, the insert, two updates, COMMIT) took five
-- round trips to SQLite's thread, two thread switches each; with one or two messages per commit
-- (many small rooms, private pairs) `perf` put 29% of the server's CPU in thread switches,
-- these hand-offs among them. Measured gain: 5-9% less CPU per delivery there.
--
-- `rows` is a JSON array of [room, author, kind, body], in order; `sent_at` the batch's time.

CREATE VIEW message_batches AS SELECT NULL AS rows, NULL AS sent_at WHERE 0;

CREATE TRIGGER message_batches_store INSTEAD OF INSERT ON message_batches
BEGIN
    -- A message to a room that is gone (deleted a moment ago) fails the whole batch; the
    -- message log then stores its messages one by one.
    SELECT RAISE(ABORT, 'room not found')
    WHERE EXISTS (SELECT 1 FROM json_each(NEW.rows) AS b
                  WHERE NOT EXISTS (SELECT 1 FROM rooms r WHERE r.id = b.value ->> 0));

    -- In array order. Each message's `text_no` is its room's text count up to and including it:
    -- the count before the batch (the rooms row is updated below, after this) plus the batch's
    -- texts in that room so far.
    INSERT INTO messages (room_id, author_id, kind, body, sent_at, text_no)
    SELECT b.room, b.author, b.kind, b.body, NEW.sent_at,
           r.texts + SUM(b.kind = 'text') OVER (PARTITION BY b.room ORDER BY b.key)
    FROM (SELECT key, value ->> 0 AS room, value ->> 1 AS author,
                 value ->> 2 AS kind, value ->> 3 AS body
          FROM json_each(NEW.rows)) AS b
    JOIN rooms r ON r.id = b.room
    ORDER BY b.key;

    -- Both updates read the batch back by id: AUTOINCREMENT gave its rows the ids after every id
    -- ever used, so they are the last json_array_length(rows) ids now in the table. (Not read
    -- from sqlite_sequence: SQLite updates that only when the whole statement ends, after this
    -- trigger.) NOT INDEXED keeps SQLite on that id range: left to itself it groups by room by
    -- walking the whole room index, every message ever stored.
    UPDATE rooms SET texts = batch.texts, latest = batch.latest
    FROM (SELECT room_id, MAX(text_no) AS texts, MAX(id) AS latest
          FROM messages NOT INDEXED
          WHERE id > (SELECT MAX(id) FROM messages) - json_array_length(NEW.rows)
          GROUP BY room_id) AS batch
    WHERE rooms.id = batch.room_id;

    -- Whoever writes in a room has read it: the author's read mark moves to their last text.
    UPDATE memberships SET last_read = batch.id, read_texts = batch.text_no
    FROM (SELECT room_id, author_id, MAX(id) AS id, MAX(text_no) AS text_no
          FROM messages NOT INDEXED
          WHERE id > (SELECT MAX(id) FROM messages) - json_array_length(NEW.rows)
            AND kind = 'text'
          GROUP BY room_id, author_id) AS batch
    WHERE memberships.room_id = batch.room_id AND memberships.user_id = batch.author_id
      AND memberships.last_read < batch.id;
END;
