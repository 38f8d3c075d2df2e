//! Stored messages: appending in batches, edits and deletions that keep every earlier version,
//! history pages, and catch-up after a reconnect. (PostgreSQL)

use crate::store::Result;
use crate::store::messages::*;
use crate::store::search::count_words;
use app::protocol::ChatMessage;

use super::Postgres;

/// [`ROOMS_OF_USER`] with PostgreSQL's placeholder: the rooms (not archived) user `$1` belongs
/// to.
const ROOMS_OF_USER_PG: &str =
    "SELECT ms.room_id FROM memberships ms JOIN rooms r ON r.id = ms.room_id
     WHERE ms.user_id = $1 AND r.archived_at IS NULL";

/// `limit` as a LIMIT: PostgreSQL refuses a negative one (SQLite reads it as no limit).
fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Postgres {
    /// One call of `store_messages` (migration 0003), which does what SQLite's trigger does
    /// and returns the ids and the batch's log position: one statement, one transaction, one
    /// round trip. The batch goes as one array per column, bound in binary.
    pub async fn append_messages(&self, batch: &[NewMessage], sent_at: i64) -> Result<Appended> {
        if batch.is_empty() {
            return Ok(Appended::default());
        }
        let mut rooms = Vec::with_capacity(batch.len());
        let mut authors = Vec::with_capacity(batch.len());
        let mut kinds = Vec::with_capacity(batch.len());
        let mut bodies = Vec::with_capacity(batch.len());
        let mut words = Vec::with_capacity(batch.len());
        let mut nonces = Vec::with_capacity(batch.len());
        for m in batch {
            rooms.push(m.room);
            authors.push(m.author.id);
            kinds.push(kind_name(m.kind));
            bodies.push(m.text.as_str());
            words.push(m.words());
            nonces.push(m.nonce.as_deref());
        }
        let (position, ids) = sqlx::query_as::<_, (i64, Option<Vec<i64>>)>(
            "SELECT log_position, ids
             FROM store_messages($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                                 $5::bigint[], $6::text[], $7)",
        )
        .bind(&rooms)
        .bind(&authors)
        .bind(&kinds)
        .bind(&bodies)
        .bind(&words)
        .bind(&nonces)
        .bind(sent_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(Appended {
            ids: ids.unwrap_or_default(),
            position: Some(position),
        })
    }

    pub async fn refused(
        &self,
        batch: &[NewMessage],
        sent_at: i64,
    ) -> Result<Vec<(usize, Refused)>> {
        let rooms: Vec<i64> = batch.iter().map(|m| m.room).collect();
        let authors: Vec<i64> = batch.iter().map(|m| m.author.id).collect();
        let kinds: Vec<&str> = batch.iter().map(|m| kind_name(m.kind)).collect();
        let found = sqlx::query_as::<_, (i64, String)>(
            "SELECT b.ord - 1, CASE
                 WHEN r.id IS NULL OR r.archived_at IS NOT NULL THEN 'room not found'
                 WHEN b.kind = 'text' AND m.user_id IS NULL THEN 'not a member'
                 ELSE 'muted' END
             FROM unnest($1::bigint[], $2::bigint[], $3::text[])
                  WITH ORDINALITY AS b(room, author, kind, ord)
             LEFT JOIN rooms r ON r.id = b.room
             LEFT JOIN memberships m ON m.room_id = b.room AND m.user_id = b.author
             LEFT JOIN mutes x ON x.room_id = b.room AND x.user_id = b.author
             WHERE r.id IS NULL OR r.archived_at IS NOT NULL
                OR (b.kind = 'text' AND (m.user_id IS NULL OR x.until > $4))
             ORDER BY b.ord",
        )
        .bind(&rooms)
        .bind(&authors)
        .bind(&kinds)
        .bind(sent_at)
        .fetch_all(&self.pool)
        .await?;
        Ok(found
            .into_iter()
            .filter_map(|(at, reason)| Some((usize::try_from(at).ok()?, Refused::parse(&reason)?)))
            .collect())
    }

    /// Only the messages with a nonce are sent, with their positions.
    pub async fn already_sent(&self, batch: &[NewMessage]) -> Result<Vec<(usize, i64)>> {
        let mut positions = Vec::new();
        let mut authors = Vec::new();
        let mut nonces = Vec::new();
        for (at, m) in batch.iter().enumerate() {
            if let Some(nonce) = m.nonce.as_deref() {
                positions.push(at as i64);
                authors.push(m.author.id);
                nonces.push(nonce);
            }
        }
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let found = sqlx::query_as::<_, (i64, i64)>(
            "SELECT b.at, s.message_id
             FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS b(at, author, nonce)
             JOIN sent_nonces s ON s.author_id = b.author AND s.nonce = b.nonce
             ORDER BY b.at",
        )
        .bind(&positions)
        .bind(&authors)
        .bind(&nonces)
        .fetch_all(&self.pool)
        .await?;
        Ok(found
            .into_iter()
            .filter_map(|(at, id)| Some((usize::try_from(at).ok()?, id)))
            .collect())
    }

    pub async fn purge_nonces(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sent_nonces WHERE sent_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// One transaction holding the log's lock (as `store_messages` does): the change takes the
    /// log's next position as its number, and gives it back (rolls back) if the message is
    /// gone. `old` locks the message (`FOR UPDATE`): of two changes to it at once, the second
    /// waits, then reads the first's result (or finds it deleted), so each version is kept once
    /// and in order.
    pub async fn change_message(
        &self,
        id: i64,
        by: i64,
        change: &Change,
        at: i64,
    ) -> Result<Option<Changed>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(4732001)")
            .execute(&mut *tx)
            .await?;
        let number = sqlx::query_scalar::<_, i64>(
            "UPDATE log SET last_position = last_position + 1 RETURNING last_position",
        )
        .fetch_one(&mut *tx)
        .await?;
        let set = match change {
            Change::Edit(_) => "body = $6, edited_at = $2, changed = $5, words = $7",
            Change::Delete => {
                "body = '', deleted_at = $2, deleted_by = $3, changed = $5, words = 0"
            }
        };
        let sql = format!(
            "WITH old AS (
                 SELECT id, body, COALESCE(edited_at, sent_at) AS written_at FROM messages
                 WHERE id = $1 AND deleted_at IS NULL FOR UPDATE),
             kept AS (
                 INSERT INTO message_versions
                     (message_id, body, written_at, replaced_at, replaced_by, change)
                 SELECT id, body, written_at, $2, $3, $4 FROM old),
             new AS (
                 UPDATE messages m SET {set} FROM old WHERE m.id = old.id
                 RETURNING m.id, m.room_id, m.author_id, m.kind, m.body, m.sent_at, m.edited_at,
                           m.deleted_at IS NOT NULL AS deleted, m.changed)
             SELECT n.id, n.room_id, u.id, u.username, n.kind, n.body, n.sent_at, n.edited_at,
                    n.deleted, n.changed, false
             FROM new n JOIN users u ON u.id = n.author_id"
        );
        let query = sqlx::query_as::<_, Row>(&sql)
            .bind(id)
            .bind(at)
            .bind(by)
            .bind(match change {
                Change::Edit(_) => "edit",
                Change::Delete => "delete",
            })
            .bind(number);
        let query = match change {
            Change::Edit(text) => query.bind(text).bind(count_words(text)),
            Change::Delete => query,
        };
        // The feedback marker is false: the new state goes to the whole room.
        let Some(row) = query.fetch_optional(&mut *tx).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some(Changed {
            message: message(row),
            position: Some(number),
        }))
    }

    /// One statement: one snapshot.
    pub async fn log_head(&self) -> Result<LogHead> {
        let (position, last_message, last_change) = sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT last_position,
                    (SELECT COALESCE(MAX(id), 0) FROM messages),
                    (SELECT COALESCE(MAX(changed), 0) FROM messages WHERE changed > 0)
             FROM log",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(LogHead {
            position,
            last_message,
            last_change,
        })
    }

    /// One REPEATABLE READ transaction: the position and the rows agree.
    pub async fn log_tail(
        &self,
        after_message: i64,
        after_change: i64,
        limit: usize,
    ) -> Result<LogTail> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let position = sqlx::query_scalar::<_, i64>("SELECT last_position FROM log")
            .fetch_one(&mut *tx)
            .await?;
        let messages =
            sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE m.id > $1 ORDER BY m.id LIMIT $2"))
                .bind(after_message)
                .bind(limit_of(limit))
                .fetch_all(&mut *tx)
                .await?;
        let changed = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.changed > 0 AND m.changed > $1 ORDER BY m.changed LIMIT $2"
        ))
        .bind(after_change)
        .bind(limit_of(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        // As broadcast: the feedback marker is only for those who may know.
        let as_broadcast = |row: Row| ChatMessage {
            feedback: false,
            ..message(row)
        };
        Ok(LogTail {
            position,
            messages: messages.into_iter().map(as_broadcast).collect(),
            changed: changed.into_iter().map(as_broadcast).collect(),
        })
    }

    pub async fn latest_change(&self) -> Result<i64> {
        // Change numbers are log positions (migration 0002).
        let latest = sqlx::query_scalar::<_, i64>("SELECT last_position FROM log")
            .fetch_one(&self.pool)
            .await?;
        Ok(latest)
    }

    pub async fn changed_since(
        &self,
        user: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.changed > 0 AND m.changed > $2
               AND m.room_id IN ({ROOMS_OF_USER_PG})
             ORDER BY m.changed LIMIT $3"
        ))
        .bind(user)
        .bind(after)
        .bind(limit_of(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(message).collect())
    }

    pub async fn append_message(&self, message: &NewMessage, sent_at: i64) -> Result<Appended> {
        self.append_messages(std::slice::from_ref(message), sent_at)
            .await
    }

    pub async fn history(
        &self,
        room: i64,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool)> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.room_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3"
        ))
        .bind(room)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit_of(limit.saturating_add(1)))
        .fetch_all(&self.pool)
        .await?;
        let has_more = rows.len() > limit;
        let mut page: Vec<ChatMessage> = rows.into_iter().take(limit).map(message).collect();
        page.reverse();
        Ok((page, has_more))
    }

    pub async fn history_after(
        &self,
        room: i64,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool)> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.room_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3"
        ))
        .bind(room)
        .bind(after)
        .bind(limit_of(limit.saturating_add(1)))
        .fetch_all(&self.pool)
        .await?;
        let has_newer = rows.len() > limit;
        Ok((
            rows.into_iter().take(limit).map(message).collect(),
            has_newer,
        ))
    }

    pub async fn missed(&self, user: i64, after: i64, limit: usize) -> Result<Vec<ChatMessage>> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.id > $2
               AND m.room_id IN ({ROOMS_OF_USER_PG})
             ORDER BY m.id LIMIT $3"
        ))
        .bind(user)
        .bind(after)
        .bind(limit_of(limit))
        .fetch_all(&self.pool)
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
        let (ids, marks): (Vec<i64>, Vec<i64>) = rooms.iter().copied().unzip();
        sqlx::query_as::<_, (i64, String)>(
            r#"SELECT m.room_id, m.body
               FROM unnest($1::bigint[], $2::bigint[]) AS r(room, mark)
               JOIN messages m ON m.room_id = r.room
                AND m.id > GREATEST(r.mark, COALESCE(
                      (SELECT id FROM messages x WHERE x.room_id = r.room
                       ORDER BY x.id DESC OFFSET $6 - 1 LIMIT 1), 0))
               WHERE m.author_id <> $3 AND m.kind = 'text' AND m.deleted_at IS NULL
                 AND strpos(lower(m.body COLLATE "C"), lower($4 COLLATE "C")) > 0
               ORDER BY m.id DESC LIMIT $5"#,
        )
        .bind(ids)
        .bind(marks)
        .bind(user)
        .bind(needle)
        .bind(limit as i64)
        .bind(window as i64)
        .fetch_all(&self.pool)
        .await
    }
}
