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
    /// Stores a batch in one transaction (one fsync for all) and returns their ids in order.
    ///
    /// The batch travels as one JSON array bound to a single prepared statement: one round trip
    /// to SQLite's thread for the whole batch instead of one per message, which is what made
    /// the writer slow (each round trip is two thread switches). Two more statements bring the
    /// running counts up to date for the whole batch: each room's text count and newest id, and
    /// each author's read mark, since posting in a room means having read it.
    pub async fn append_messages(&self, batch: &[NewMessage], sent_at: i64) -> Result<Vec<i64>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i64, &str, &str)> = batch
            .iter()
            .map(|m| (m.room, m.author.id, kind_name(m.kind), m.text.as_str()))
            .collect();
        let rows = json_array(&rows)?;
        let mut tx = self.writer.begin().await?;
        // One statement inserts the rows in array order. AUTOINCREMENT gives each row one more
        // than the largest id ever used and nothing else writes while the transaction holds the
        // lock, so the batch's ids are the run ending at the last one inserted: no RETURNING,
        // whose rows would come back from SQLite's thread in channel-sized hand-offs. A row
        // whose room is gone joins nothing and goes missing from the count: the transaction is
        // then dropped, which rolls it back.
        let inserted = sqlx::query(
            "INSERT INTO messages (room_id, author_id, kind, body, sent_at, text_no)
             SELECT b.room, b.author, b.kind, b.body, ?2,
                    r.texts + SUM(b.kind = 'text') OVER (PARTITION BY b.room ORDER BY b.key)
             FROM (SELECT key, value ->> 0 AS room, value ->> 1 AS author,
                          value ->> 2 AS kind, value ->> 3 AS body
                   FROM json_each(?1)) AS b
             JOIN rooms r ON r.id = b.room
             ORDER BY b.key",
        )
        .bind(rows)
        .bind(sent_at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != batch.len() as u64 {
            return Err(sqlx::Error::RowNotFound);
        }
        let last = inserted.last_insert_rowid();
        let first = last - batch.len() as i64 + 1;
        // Both updates read the batch back by id. NOT INDEXED keeps SQLite on that id range:
        // left to itself it groups by room by walking the whole room index, every message ever
        // stored, once per batch.
        sqlx::query(
            "UPDATE rooms SET texts = batch.texts, latest = batch.latest
             FROM (SELECT room_id, MAX(text_no) AS texts, MAX(id) AS latest
                   FROM messages NOT INDEXED WHERE id >= ?1 GROUP BY room_id) AS batch
             WHERE rooms.id = batch.room_id",
        )
        .bind(first)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE memberships SET last_read = batch.id, read_texts = batch.text_no
             FROM (SELECT room_id, author_id, MAX(id) AS id, MAX(text_no) AS text_no
                   FROM messages NOT INDEXED WHERE id >= ?1 AND kind = 'text'
                   GROUP BY room_id, author_id) AS batch
             WHERE memberships.room_id = batch.room_id AND memberships.user_id = batch.author_id
               AND memberships.last_read < batch.id",
        )
        .bind(first)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((first..=last).collect())
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
        .fetch_all(&self.readers)
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
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(message).collect())
    }
}

#[cfg(test)]
mod tests {
    use app::protocol::LOBBY_ID;

    use super::*;

    async fn person(store: &Store, name: &str) -> User {
        store.create_user(name, "x").await.unwrap().unwrap().user
    }

    fn text(room: i64, author: &User, text: &str) -> NewMessage {
        NewMessage {
            room,
            author: author.clone(),
            kind: MessageKind::Text,
            text: text.into(),
        }
    }

    fn texts(page: &[ChatMessage]) -> Vec<(i64, &str)> {
        page.iter().map(|m| (m.id, m.text.as_str())).collect()
    }

    async fn unread(store: &Store, user: &User, room: i64) -> u32 {
        let sidebars = store.rooms_of(&[user.id]).await.unwrap();
        sidebars[&user.id]
            .iter()
            .find(|r| r.id == room)
            .unwrap()
            .unread
    }

    /// A store on a fresh database file, and the path to delete afterwards.
    async fn fresh_store(name: &str) -> (Store, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("hearth-{name}-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        (store, path)
    }

    async fn remove(store: Store, path: std::path::PathBuf) {
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_from_many_people_at_once_all_land_and_reads_see_them() {
        let (store, path) = fresh_store("many-writers").await;
        let mut people = Vec::new();
        for i in 0..20 {
            people.push(person(&store, &format!("p{i}")).await);
        }
        // Each person, at the same moment: creates a room, posts in the lobby, and marks it read.
        let writes = people.iter().enumerate().map(|(i, me)| {
            let store = store.clone();
            let me = me.clone();
            tokio::spawn(async move {
                let room = store.create_room(&format!("room{i}"), me.id).await?;
                let room = room.expect("a fresh name").id;
                let id = store
                    .append_message(&text(LOBBY_ID, &me, "hello"), 0)
                    .await?;
                store.join(room, me.id).await?;
                store.mark_read(LOBBY_ID, me.id, id).await?;
                Ok::<_, sqlx::Error>(room)
            })
        });
        let rooms: Vec<i64> = futures::future::join_all(writes)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().unwrap())
            .collect();
        assert_eq!(rooms.len(), 20);
        let (lobby, _) = store.history(LOBBY_ID, None, 100).await.unwrap();
        assert_eq!(lobby.iter().filter(|m| m.text == "hello").count(), 20);
        for (me, room) in people.iter().zip(&rooms) {
            let sidebar = &store.rooms_of(&[me.id]).await.unwrap()[&me.id];
            assert!(
                sidebar.iter().any(|r| r.id == *room),
                "{} sees their room",
                me.name
            );
        }
        remove(store, path).await;
    }

    #[tokio::test]
    async fn a_batch_is_stored_whole_in_its_order_or_not_at_all() {
        let (store, path) = fresh_store("batch").await;
        let alice = person(&store, "alice").await;
        let bob = person(&store, "bob").await;
        let chess = store
            .create_room("chess", bob.id)
            .await
            .unwrap()
            .unwrap()
            .id;

        let ids = store
            .append_messages(
                &[
                    text(LOBBY_ID, &alice, "one"),
                    text(chess, &bob, "e4"),
                    text(LOBBY_ID, &alice, "two"),
                ],
                0,
            )
            .await
            .unwrap();
        // The ids are the batch's own, rising in its order, as each room's history shows.
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let (lobby, _) = store.history(LOBBY_ID, None, 10).await.unwrap();
        assert_eq!(texts(&lobby), [(ids[0], "one"), (ids[2], "two")]);
        let (board, _) = store.history(chess, None, 10).await.unwrap();
        assert_eq!(texts(&board), [(ids[1], "e4")]);
        // The counts moved with it: Bob has Alice's two to read, Alice wrote them.
        assert_eq!(unread(&store, &bob, LOBBY_ID).await, 2);
        assert_eq!(unread(&store, &alice, LOBBY_ID).await, 0);

        // One message to a room that is gone sinks its batch, and nothing of it is kept.
        let failed = store
            .append_messages(
                &[text(LOBBY_ID, &alice, "three"), text(9999, &bob, "lost")],
                0,
            )
            .await;
        assert!(failed.is_err());
        let (after, _) = store.history(LOBBY_ID, None, 10).await.unwrap();
        assert_eq!(texts(&after), texts(&lobby));
        assert_eq!(unread(&store, &bob, LOBBY_ID).await, 2);
        remove(store, path).await;
    }
}
