//! Stored messages: appending in batches, history pages and catch-up after a reconnect.

use app::protocol::{ChatMessage, MessageKind, User};

use super::{Result, Store, json_array};

/// A message about to be stored.
pub struct NewMessage {
    pub room: i64,
    pub author: User,
    pub kind: MessageKind,
    pub text: String,
}

fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Text => "text",
        MessageKind::Joined => "joined",
        MessageKind::Left => "left",
    }
}

fn kind_of(kind: &str) -> MessageKind {
    match kind {
        "joined" => MessageKind::Joined,
        "left" => MessageKind::Left,
        _ => MessageKind::Text,
    }
}

type Row = (i64, i64, i64, String, String, String, i64);

const SELECT: &str = "SELECT m.id, m.room_id, u.id, u.username, m.kind, m.body, m.sent_at
                      FROM messages m JOIN users u ON u.id = m.author_id";

fn message((id, room, author_id, author_name, kind, text, sent_at): Row) -> ChatMessage {
    ChatMessage {
        id,
        room,
        author: User {
            id: author_id,
            name: author_name,
        },
        kind: kind_of(&kind),
        text,
        sent_at,
    }
}

impl Store {
    /// Stores a batch in one statement and one transaction (one fsync for all) and returns
    /// their ids in order.
    ///
    /// The batch travels as one JSON array bound to a single prepared statement: one round trip
    /// to SQLite's thread for the whole batch instead of one per message, which is what made
    /// the writer slow (each round trip is two thread switches).
    pub async fn append_messages(&self, batch: &[NewMessage], sent_at: i64) -> Result<Vec<i64>> {
        let rows: Vec<(i64, i64, &str, &str)> = batch
            .iter()
            .map(|m| (m.room, m.author.id, kind_name(m.kind), m.text.as_str()))
            .collect();
        let rows = json_array(&rows)?;
        let mut tx = self.pool.begin().await?;
        // One statement inserts the rows in array order, so their ids ascend in that order
        // (nothing else writes while the transaction holds the lock); RETURNING yields them in
        // no set order, hence the sort.
        let mut ids = sqlx::query_scalar::<_, i64>(
            "INSERT INTO messages (room_id, author_id, kind, body, sent_at)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?2
             FROM json_each(?1) ORDER BY key
             RETURNING id",
        )
        .bind(rows)
        .bind(sent_at)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        ids.sort_unstable();
        if ids.len() != batch.len() {
            return Err(sqlx::Error::RowNotFound);
        }
        Ok(ids)
    }

    /// Stores one message on its own; returns its id.
    pub async fn append_message(&self, message: &NewMessage, sent_at: i64) -> Result<i64> {
        let ids = self
            .append_messages(std::slice::from_ref(message), sent_at)
            .await?;
        ids.first().copied().ok_or(sqlx::Error::RowNotFound)
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
        .fetch_all(&self.pool)
        .await?;
        let has_more = rows.len() > limit;
        let mut page: Vec<ChatMessage> = rows.into_iter().take(limit).map(message).collect();
        page.reverse();
        Ok((page, has_more))
    }

    /// Messages after `after` in the rooms `user` belongs to, oldest first: what a reconnecting
    /// client missed.
    pub async fn missed(&self, user: i64, after: i64, limit: usize) -> Result<Vec<ChatMessage>> {
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE m.id > ?2
               AND m.room_id IN (SELECT room_id FROM memberships WHERE user_id = ?1)
             ORDER BY m.id LIMIT ?3"
        ))
        .bind(user)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(message).collect())
    }
}
