-- Change numbers (edits and deletions, the clients' change cursor) come from this counter, in
-- the change's own transaction: never given twice, not even after a purge deleted the message
-- that had the highest one, or a restart. (PostgreSQL's log, migration 0002 there, does the
-- same for several nodes.)
CREATE TABLE change_numbers (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    last INTEGER NOT NULL
);
INSERT INTO change_numbers (one, last) SELECT 1, COALESCE(MAX(changed), 0) FROM messages;
