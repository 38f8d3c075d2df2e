-- Unread counts look only at text messages; join/leave notices can outnumber them by far (the
-- lobby gets one for every sign-up). Counting through this index skips the notices: before it,
-- every connect scanned the lobby's notices, and 10,000 clients took 13.6 s to connect.
CREATE INDEX messages_text_by_room ON messages(room_id, id) WHERE kind = 'text';
