-- The cluster's log: every commit of new messages (one `store_messages` call) and every edit
-- or deletion takes the next position, without gaps, in the order they commit (both hold the
-- same advisory lock until then). Nodes publish what they commit with its position; a node
-- that sees position n + 2 before n + 1 knows it missed one, and reads it back from here.
-- An edit's or deletion's position is its change number (the clients' change cursor), so it
-- starts above every change number stored so far.
CREATE TABLE log (
    one           BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    last_position BIGINT NOT NULL
);
INSERT INTO log (last_position) SELECT COALESCE(MAX(changed), 0) FROM messages;

-- As in 0001, and the batch's position in the log besides its ids.
DROP FUNCTION store_messages(jsonb, bigint);
CREATE FUNCTION store_messages(batch jsonb, at bigint, OUT log_position bigint, OUT ids bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    -- One batch at a time in the whole cluster, until it commits: ids are taken in the order
    -- batches commit, so whoever has seen message n (on any node) has seen every message
    -- before it, and a reconnect that resumes after n misses nothing.
    PERFORM pg_advisory_xact_lock(4732001);

    IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch) AS b
               JOIN sent_nonces s ON s.author_id = (b ->> 1)::bigint AND s.nonce = b ->> 5
               WHERE b ->> 5 IS NOT NULL) THEN
        RAISE EXCEPTION 'duplicate nonce';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch) AS b
               WHERE NOT EXISTS (SELECT 1 FROM rooms r
                                 WHERE r.id = (b ->> 0)::bigint AND r.archived_at IS NULL)) THEN
        RAISE EXCEPTION 'room not found';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch) AS b
               WHERE b ->> 2 = 'text'
                 AND NOT EXISTS (SELECT 1 FROM memberships m
                                 WHERE m.room_id = (b ->> 0)::bigint
                                   AND m.user_id = (b ->> 1)::bigint)) THEN
        RAISE EXCEPTION 'not a member';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch) AS b
               JOIN mutes m ON m.room_id = (b ->> 0)::bigint AND m.user_id = (b ->> 1)::bigint
               WHERE b ->> 2 = 'text' AND m.until > at) THEN
        RAISE EXCEPTION 'muted';
    END IF;

    -- `numbered` is read several times, so PostgreSQL computes it once: each message's id,
    -- taken from the sequence in batch order (the ordered subquery), and its text number.
    WITH b AS (
        SELECT ord, (e ->> 0)::bigint AS room, (e ->> 1)::bigint AS author, e ->> 2 AS kind,
               e ->> 3 AS body, COALESCE((e ->> 4)::bigint, 0) AS words, e ->> 5 AS nonce
        FROM jsonb_array_elements(batch) WITH ORDINALITY AS t(e, ord)
    ),
    numbered AS (
        SELECT nextval(pg_get_serial_sequence('messages', 'id')) AS id, s.*
        FROM (SELECT b.*,
                     r.texts + SUM((b.kind = 'text')::int)
                               OVER (PARTITION BY b.room ORDER BY b.ord) AS text_no
              FROM b JOIN rooms r ON r.id = b.room
              ORDER BY b.ord) AS s
    ),
    stored AS (
        INSERT INTO messages (id, room_id, author_id, kind, body, sent_at, text_no, words)
        SELECT id, room, author, kind, body, at, text_no, words FROM numbered
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
    -- The same nonce twice in one batch fails the primary key: the log then stores them one
    -- by one, and the second is answered as a duplicate of the first.
    nonces AS (
        INSERT INTO sent_nonces (author_id, nonce, message_id, sent_at)
        SELECT author, nonce, id, at FROM numbered WHERE nonce IS NOT NULL
    )
    SELECT array_agg(id ORDER BY ord) INTO ids FROM numbered;
    UPDATE log SET last_position = last_position + 1 RETURNING last_position INTO log_position;
END
$$;
