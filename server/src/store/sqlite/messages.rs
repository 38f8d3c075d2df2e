//! Stored messages: appending in batches, edits and deletions that keep every earlier version,
//! history pages, and catch-up after a reconnect.

use crate::store::messages::*;
use crate::store::search::count_words;
use crate::store::{Result, json_array};
use app::protocol::ChatMessage;

use super::Sqlite;

/// One message as the commit batch's trigger reads it: room, author, kind, body, word count and
/// nonce (migrations 0004, 0006 and 0008).
type BatchRow<'m> = (i64, i64, &'static str, &'m str, i64, Option<&'m str>);

impl Sqlite {
    /// Stores a batch in one transaction (one fsync for all) and returns their ids in order.
    ///
    /// The batch travels as one JSON array in one statement, an insert into the view
    /// `message_batches` (migration 0004), whose trigger stores the messages and brings the
    /// running counts up to date: each room's text count and newest id, and each author's read
    /// mark, since posting in a room means having read it. In autocommit mode that statement is
    /// one transaction. One round trip to SQLite's thread (two thread switches) for the batch and
    /// its last id.
    pub async fn append_messages(&self, batch: &[NewMessage], sent_at: i64) -> Result<Appended> {
        if batch.is_empty() {
            return Ok(Appended::default());
        }
        let rows: Vec<BatchRow> = batch
            .iter()
            .map(|m| {
                (
                    m.room,
                    m.author.id,
                    kind_name(m.kind),
                    m.text.as_str(),
                    m.words(),
                    m.nonce.as_deref(),
                )
            })
            .collect();
        let rows = json_array(&rows)?;
        // One round trip: the batch, then, in the same call to SQLite's thread on the same
        // connection, its last id, so no other write comes between the two. AUTOINCREMENT gave
        // the batch the ids after every id ever used, in array order: the run ending at the
        // sequence's new value.
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO message_batches (rows, sent_at) VALUES (?1, ?2);
             SELECT seq FROM sqlite_sequence WHERE name = 'messages'",
        )
        .bind(rows)
        .bind(sent_at)
        .fetch_one(&self.writer)
        .await?;
        let first = last - batch.len() as i64 + 1;
        Ok(Appended {
            ids: (first..=last).collect(),
            position: None,
        })
    }

    /// Which messages of `batch` the batch's trigger would refuse now, and why (by position):
    /// asked after a batch failed, so that the rest can be stored together again.
    pub async fn refused(
        &self,
        batch: &[NewMessage],
        sent_at: i64,
    ) -> Result<Vec<(usize, Refused)>> {
        let rows: Vec<(i64, i64, &str)> = batch
            .iter()
            .map(|m| (m.room, m.author.id, kind_name(m.kind)))
            .collect();
        let found = sqlx::query_as::<_, (i64, String)>(
            "SELECT b.key, CASE
                 WHEN r.id IS NULL OR r.archived_at IS NOT NULL THEN 'room not found'
                 WHEN b.kind = 'text' AND m.user_id IS NULL THEN 'not a member'
                 ELSE 'muted' END
             FROM (SELECT key, value ->> 0 AS room, value ->> 1 AS author, value ->> 2 AS kind
                   FROM json_each(?1)) AS b
             LEFT JOIN rooms r ON r.id = b.room
             LEFT JOIN memberships m ON m.room_id = b.room AND m.user_id = b.author
             LEFT JOIN mutes x ON x.room_id = b.room AND x.user_id = b.author
             WHERE r.id IS NULL OR r.archived_at IS NOT NULL
                OR (b.kind = 'text' AND (m.user_id IS NULL OR x.until > ?2))",
        )
        .bind(json_array(&rows)?)
        .bind(sent_at)
        .fetch_all(&self.writer)
        .await?;
        Ok(found
            .into_iter()
            .filter_map(|(at, reason)| Some((at as usize, Refused::parse(&reason)?)))
            .collect())
    }

    /// Which messages of `batch` repeat a nonce their author used before, with the id stored
    /// then (by position): asked after a batch failed as a duplicate.
    pub async fn already_sent(&self, batch: &[NewMessage]) -> Result<Vec<(usize, i64)>> {
        let rows: Vec<(i64, Option<&str>)> = batch
            .iter()
            .map(|m| (m.author.id, m.nonce.as_deref()))
            .collect();
        let found = sqlx::query_as::<_, (i64, i64)>(
            "SELECT b.key, s.message_id
             FROM json_each(?1) AS b
             JOIN sent_nonces s ON s.author_id = b.value ->> 0 AND s.nonce = b.value ->> 1",
        )
        .bind(json_array(&rows)?)
        .fetch_all(&self.writer)
        .await?;
        Ok(found
            .into_iter()
            .map(|(at, id)| (at as usize, id))
            .collect())
    }

    /// Forgets the nonces of sends older than `before`: sending one of those again stores it.
    pub async fn purge_nonces(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sent_nonces WHERE sent_at < ?1")
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    /// The number comes from the `change_numbers` counter (migration 0009), moved in the
    /// change's own transaction: a change that finds no message gives its number back.
    pub async fn change_message(
        &self,
        id: i64,
        by: i64,
        change: &Change,
        at: i64,
    ) -> Result<Option<Changed>> {
        let mut tx = self.writer.begin().await?;
        let number = sqlx::query_scalar::<_, i64>(
            "UPDATE change_numbers SET last = last + 1 RETURNING last",
        )
        .fetch_one(&mut *tx)
        .await?;
        let kept = sqlx::query(
            "INSERT INTO message_versions
                 (message_id, body, written_at, replaced_at, replaced_by, change)
             SELECT id, body, COALESCE(edited_at, sent_at), ?2, ?3, ?4
             FROM messages WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(match change {
            Change::Edit(_) => "edit",
            Change::Delete => "delete",
        })
        .execute(&mut *tx)
        .await?;
        if kept.rows_affected() == 0 {
            return Ok(None);
        }
        match change {
            Change::Edit(text) => {
                sqlx::query(
                    "UPDATE messages SET body = ?2, edited_at = ?3, changed = ?4, words = ?5
                     WHERE id = ?1",
                )
                .bind(id)
                .bind(text)
                .bind(at)
                .bind(number)
                .bind(count_words(text))
                .execute(&mut *tx)
                .await?
            }
            Change::Delete => {
                sqlx::query(
                    "UPDATE messages SET body = '', deleted_at = ?2, deleted_by = ?3, changed = ?4,
                         words = 0
                     WHERE id = ?1",
                )
                .bind(id)
                .bind(at)
                .bind(by)
                .bind(number)
                .execute(&mut *tx)
                .await?
            }
        };
        let row = sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE m.id = ?1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        // Broadcast to the whole room: the marker is not everyone's to see.
        Ok(Some(Changed {
            message: ChatMessage {
                feedback: false,
                ..message(row)
            },
            position: None,
        }))
    }

    /// The newest change number given so far (0 if no message was ever changed).
    pub async fn latest_change(&self) -> Result<i64> {
        let latest = sqlx::query_scalar::<_, i64>("SELECT last FROM change_numbers")
            .fetch_one(&self.writer)
            .await?;
        Ok(latest)
    }

    /// The current state of the messages changed after change `after` in the rooms `user`
    /// belongs to, in change order: what a reconnecting client missed of edits and deletions.
    pub async fn changed_since(
        &self,
        user: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>> {
        // `changed > 0` lets SQLite use the partial index of changed messages.
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.changed > 0 AND m.changed > ?2
               AND m.room_id IN ({ROOMS_OF_USER})
             ORDER BY m.changed LIMIT ?3"
        ))
        .bind(user)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(message).collect())
    }

    /// Stores one message on its own; returns its id.
    pub async fn append_message(&self, message: &NewMessage, sent_at: i64) -> Result<Appended> {
        self.append_messages(std::slice::from_ref(message), sent_at)
            .await
    }

    /// Up to `limit` messages of `room` older than `before` (or the newest), oldest first, and
    /// whether older ones exist.
    pub async fn history(
        &self,
        room: i64,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool)> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.room_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3"
        ))
        .bind(room)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit as i64 + 1)
        .fetch_all(&self.readers)
        .await?;
        let has_more = rows.len() > limit;
        let mut page: Vec<ChatMessage> = rows.into_iter().take(limit).map(message).collect();
        page.reverse();
        Ok((page, has_more))
    }

    /// Up to `limit` messages of `room` newer than `after`, oldest first, and whether newer
    /// ones follow.
    pub async fn history_after(
        &self,
        room: i64,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool)> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.room_id = ?1 AND m.id > ?2 ORDER BY m.id LIMIT ?3"
        ))
        .bind(room)
        .bind(after)
        .bind(limit as i64 + 1)
        .fetch_all(&self.readers)
        .await?;
        let has_newer = rows.len() > limit;
        Ok((
            rows.into_iter().take(limit).map(message).collect(),
            has_newer,
        ))
    }

    /// Messages after `after` in the rooms `user` belongs to, oldest first: what a reconnecting
    /// client missed.
    pub async fn missed(&self, user: i64, after: i64, limit: usize) -> Result<Vec<ChatMessage>> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.id > ?2
               AND m.room_id IN ({ROOMS_OF_USER})
             ORDER BY m.id LIMIT ?3"
        ))
        .bind(user)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(message).collect())
    }

    /// The unread text messages by others among the newest `window` of each of `rooms` (each
    /// with the user's read mark) whose text holds `needle` (ASCII case ignored), newest first,
    /// at most `limit`: the candidates for the user's unread mentions.
    pub async fn unread_texts_holding(
        &self,
        user: i64,
        rooms: &[(i64, i64)],
        needle: &str,
        window: usize,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        sqlx::query_as::<_, (i64, String)>(
            "SELECT m.room_id, m.body
             FROM json_each(?1) r
             JOIN messages m ON m.room_id = r.value ->> 0
              AND m.id > max(r.value ->> 1, coalesce(
                    (SELECT id FROM messages x WHERE x.room_id = r.value ->> 0
                     ORDER BY x.id DESC LIMIT 1 OFFSET ?5 - 1), 0))
             WHERE m.author_id <> ?2 AND m.kind = 'text' AND m.deleted_at IS NULL
               AND instr(lower(m.body), lower(?3)) > 0
             ORDER BY m.id DESC LIMIT ?4",
        )
        .bind(json_array(rooms)?)
        .bind(user)
        .bind(needle)
        .bind(limit as i64)
        .bind(window as i64)
        .fetch_all(&self.readers)
        .await
    }
}
