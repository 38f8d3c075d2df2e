-- Classes: roles, private rooms, archived rooms, mutes, and edits and deletions that keep every
-- earlier version.

-- Each account is the administrator, a teacher or a member. The is_admin flag becomes the role.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('admin', 'teacher', 'member'));
UPDATE users SET role = 'admin' WHERE is_admin;
ALTER TABLE users DROP COLUMN is_admin;

-- A named room is public (listed, anyone may join) or private (only its members know of it).
-- Deleting a room archives it: it is gone for its members, its messages stay for review. An
-- archived room gives up its name (name_key becomes NULL) so that a new room may take it.
ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'private'));
ALTER TABLE rooms ADD COLUMN archived_at INTEGER;
UPDATE rooms SET visibility = 'private' WHERE kind = 'direct';

-- A member muted by a moderator reads the room but cannot post until `until` (Unix ms; the
-- largest integer for "until unmuted"). Kept apart from memberships, so that leaving and
-- joining again does not lift a mute.
CREATE TABLE mutes (
    room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    until    INTEGER NOT NULL,
    muted_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    PRIMARY KEY (room_id, user_id)
);

-- Edits and deletions. `changed` is the message's last change number: change numbers rise
-- across the server (one writer assigns them, in order), so "every message changed after N" is
-- a reconnecting client's change cursor. Edits are rare: the partial index holds only them.
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_by INTEGER REFERENCES users(id);
ALTER TABLE messages ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_by_change ON messages(changed) WHERE changed > 0;
-- Deleted texts no longer count as unread: a member's unread count subtracts those after their
-- read mark, found through this (small) index.
CREATE INDEX messages_deleted_texts ON messages(room_id, id)
    WHERE deleted_at IS NOT NULL AND kind = 'text';

-- Every text a message had before an edit, and the text it had when deleted: kept for the
-- teachers' review, never sent to members (the message's own body holds only its current text,
-- empty once deleted).
CREATE TABLE message_versions (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    body        TEXT    NOT NULL,
    written_at  INTEGER NOT NULL,              -- when this text was written (sent or edited)
    replaced_at INTEGER NOT NULL,              -- when an edit replaced it, or it was deleted
    replaced_by INTEGER REFERENCES users(id),  -- who edited or deleted it
    change      TEXT    NOT NULL CHECK (change IN ('edit', 'delete'))
);
CREATE INDEX message_versions_by_message ON message_versions(message_id, id);

-- The commit batch (0004) now also decides who may post, in the statement that stores the
-- messages, against the stored membership and mute state: a text from someone who is not a
-- member (left in another tab a moment ago) or is muted fails the batch, and the message log
-- stores its messages one by one to find which. Membership notices are exempt: "alice left" is
-- written after she left.
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

    INSERT INTO messages (room_id, author_id, kind, body, sent_at, text_no)
    SELECT b.room, b.author, b.kind, b.body, NEW.sent_at,
           r.texts + SUM(b.kind = 'text') OVER (PARTITION BY b.room ORDER BY b.key)
    FROM (SELECT key, value ->> 0 AS room, value ->> 1 AS author,
                 value ->> 2 AS kind, value ->> 3 AS body
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
