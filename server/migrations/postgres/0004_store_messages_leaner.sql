-- `store_messages` for the third time, at half the cost per message of 0003 (measured in
-- `psql` with batches of 1,000 messages into 1,000 rooms: about 100 ms of the backend's CPU a
-- batch before, 50 after).
--
-- 1. Rooms are joined by `id = b.room` alone. 0003 also wrote `AND id = ANY(touched)` in
--    the joins; once PL/pgSQL switches to a generic plan (from the sixth call on), that became
--    a nested loop whose every rescan of `rooms_pkey` sorted the whole array again: half of
--    the function's time went to sorting. `touched` is now read once, by the room check.
-- 2. No lookup of the batch's nonces before storing: the primary key of `sent_nonces` already
--    refuses a nonce sent before, and the handler at the end names that 'duplicate nonce'.
-- 3. Ids from `nextval('messages_id_seq')`, not `pg_get_serial_sequence` again for every row.
-- 4. Messages keep no foreign keys to rooms and users. Each one was a query per stored row
--    (`SELECT … FOR KEY SHARE`); the function checks the same under the log's lock, once a
--    batch: the room exists and is open, and the author of a text is a member, which only an
--    existing user can be. Rooms are deleted only when purged; the trigger below deletes a
--    purged room's messages, as `ON DELETE CASCADE` did. Users are never deleted.
ALTER TABLE messages DROP CONSTRAINT messages_room_id_fkey,
                     DROP CONSTRAINT messages_author_id_fkey;

CREATE FUNCTION delete_room_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages WHERE room_id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER room_deleted AFTER DELETE ON rooms
    FOR EACH ROW EXECUTE FUNCTION delete_room_messages();

DROP FUNCTION store_messages(bigint[], bigint[], text[], text[], bigint[], text[], bigint);
CREATE FUNCTION store_messages(
    room_of bigint[], author_of bigint[], kind_of text[], body_of text[], words_of bigint[],
    nonce_of text[], at bigint, OUT log_position bigint, OUT ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[] := ARRAY(SELECT DISTINCT unnest(room_of));
    violated text;
BEGIN
    -- One batch at a time in the whole cluster, until it commits: ids are taken in the order
    -- batches commit, so whoever has seen message n (on any node) has seen every message
    -- before it, and a reconnect that resumes after n misses nothing.
    PERFORM pg_advisory_xact_lock(4732001);

    IF (SELECT count(*) FROM rooms WHERE id = ANY(touched) AND archived_at IS NULL)
       < cardinality(touched) THEN
        RAISE EXCEPTION 'room not found';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(room_of, author_of, kind_of) AS b(room, author, kind)
               WHERE b.kind = 'text'
                 AND NOT EXISTS (SELECT 1 FROM memberships m
                                 WHERE m.room_id = b.room AND m.user_id = b.author)) THEN
        RAISE EXCEPTION 'not a member';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(room_of, author_of, kind_of) AS b(room, author, kind)
               JOIN mutes m ON m.room_id = b.room AND m.user_id = b.author
               WHERE b.kind = 'text' AND m.until > at) THEN
        RAISE EXCEPTION 'muted';
    END IF;

    -- `numbered` is read several times, so PostgreSQL computes it once: each message's id,
    -- taken from the sequence in batch order (the ordered subquery), and its text number.
    WITH b AS (
        SELECT * FROM unnest(room_of, author_of, kind_of, body_of, words_of, nonce_of)
                      WITH ORDINALITY AS t(room, author, kind, body, words, nonce, ord)
    ),
    numbered AS (
        SELECT nextval('messages_id_seq') AS id, s.*
        FROM (SELECT b.*,
                     r.texts + SUM((b.kind = 'text')::int)
                               OVER (PARTITION BY b.room ORDER BY b.ord) AS text_no
              FROM b JOIN rooms r ON r.id = b.room
              ORDER BY b.ord) AS s
    ),
    stored AS (
        INSERT INTO messages (id, room_id, author_id, kind, body, sent_at, text_no, words)
        SELECT id, room, author, kind, body, at, text_no, COALESCE(words, 0) FROM numbered
    ),
    counts AS (
        UPDATE rooms SET texts = n.texts, latest = n.latest
        FROM (SELECT room, MAX(text_no) AS texts, MAX(id) AS latest
              FROM numbered GROUP BY room) AS n
        WHERE rooms.id = n.room
    ),
    -- Whoever writes in a room has read it: the author's read mark moves to their last text.
    marks AS (
        UPDATE memberships SET last_read = n.id, read_texts = n.text_no
        FROM (SELECT room, author, MAX(id) AS id, MAX(text_no) AS text_no
              FROM numbered WHERE kind = 'text' GROUP BY room, author) AS n
        WHERE memberships.room_id = n.room AND memberships.user_id = n.author
          AND memberships.last_read < n.id
    ),
    -- A nonce sent before, or twice in this batch, fails the primary key, which the handler
    -- below reports as 'duplicate nonce': the log then asks which messages were sent before,
    -- answers those, and stores the rest (one by one if the same nonce came twice).
    nonces AS (
        INSERT INTO sent_nonces (author_id, nonce, message_id, sent_at)
        SELECT author, nonce, id, at FROM numbered WHERE nonce IS NOT NULL
    )
    SELECT array_agg(id ORDER BY ord) INTO ids FROM numbered;
    UPDATE log SET last_position = last_position + 1 RETURNING last_position INTO log_position;
EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
    IF violated = 'sent_nonces_pkey' THEN
        RAISE EXCEPTION 'duplicate nonce';
    END IF;
    RAISE;
END
$$;
