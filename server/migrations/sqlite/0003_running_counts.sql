-- Unread counts from running counts instead of counting messages.
--
-- Each room keeps how many text messages it holds (`texts`) and its newest message id
-- (`latest`); each message records the room's text count up to and including itself
-- (`text_no`); each membership records the room's text count at the member's read mark
-- (`read_texts`). A member's unread count is then `rooms.texts - memberships.read_texts`: no
-- scan at connect, whatever the room holds.
--
-- That lets the partial index of text messages (0002) go: it was a third b-tree written for
-- every message, and with messages spread over many rooms each commit rewrote one of its pages
-- per room, which cost about a third of the write rate.

ALTER TABLE rooms ADD COLUMN texts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN latest INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN text_no INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memberships ADD COLUMN read_texts INTEGER NOT NULL DEFAULT 0;

UPDATE messages SET text_no = numbered.text_no
FROM (SELECT id, SUM(kind = 'text') OVER (PARTITION BY room_id ORDER BY id) AS text_no
      FROM messages) AS numbered
WHERE messages.id = numbered.id;

UPDATE rooms SET texts = totals.texts, latest = totals.latest
FROM (SELECT room_id, MAX(text_no) AS texts, MAX(id) AS latest FROM messages GROUP BY room_id)
     AS totals
WHERE rooms.id = totals.room_id;

-- Every member keeps the count they saw before: texts by others after their read mark.
UPDATE memberships SET read_texts =
    (SELECT r.texts FROM rooms r WHERE r.id = memberships.room_id)
  - (SELECT COUNT(*) FROM messages msg
      WHERE msg.room_id = memberships.room_id AND msg.id > memberships.last_read
        AND msg.kind = 'text' AND msg.author_id != memberships.user_id);

DROP INDEX messages_text_by_room;
