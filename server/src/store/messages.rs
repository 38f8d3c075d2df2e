//! Stored messages: appending in batches, edits and deletions that keep every earlier version,
//! history pages, and catch-up after a reconnect.

use app::protocol::{ChatMessage, MessageKind, User};

use super::search::count_words;
use super::{Result, Store, json_array};

/// A message about to be stored.
pub struct NewMessage {
    pub room: i64,
    pub author: User,
    pub kind: MessageKind,
    pub text: String,
    /// The sender's nonce: the same one again (within a day) is a duplicate, not stored.
    pub nonce: Option<String>,
}

/// A change to a stored message.
#[derive(Clone, Debug)]
pub enum Change {
    Edit(String),
    Delete,
}

/// Why a message of a batch cannot be stored, as the batch's trigger (migration 0005) says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The room is gone (archived or purged) or never was.
    NoRoom,
    /// The author is not a member (a text; membership notices are exempt).
    NotMember,
    /// The author is muted there.
    Muted,
}

/// One message as the commit batch's trigger reads it: room, author, kind, body, word count and
/// nonce (migrations 0004, 0006 and 0008).
type BatchRow<'m> = (i64, i64, &'static str, &'m str, i64, Option<&'m str>);

/// Whether a failed batch statement says a message's nonce was used before (migration 0008).
pub fn is_duplicate(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.message() == "duplicate nonce")
}

impl Refused {
    /// The refusal a failed batch statement reports, if it is one of these.
    pub fn of(error: &sqlx::Error) -> Option<Refused> {
        Refused::parse(error.as_database_error()?.message())
    }

    /// The trigger's words for each refusal (also those of [`Store::refused`]).
    fn parse(reason: &str) -> Option<Refused> {
        match reason {
            "room not found" => Some(Refused::NoRoom),
            "not a member" => Some(Refused::NotMember),
            "muted" => Some(Refused::Muted),
            _ => None,
        }
    }
}

/// Membership notices are stored as `joined`/`left`; one a moderator caused keeps the
/// moderator's name as its body.
fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Text => "text",
        MessageKind::Joined | MessageKind::Added => "joined",
        MessageKind::Left | MessageKind::Removed => "left",
    }
}

pub(super) fn kind_of(kind: &str, body: &str) -> MessageKind {
    match (kind, body.is_empty()) {
        ("joined", true) => MessageKind::Joined,
        ("joined", false) => MessageKind::Added,
        ("left", true) => MessageKind::Left,
        ("left", false) => MessageKind::Removed,
        _ => MessageKind::Text,
    }
}

type Row = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    i64,
    Option<i64>,
    bool,
    i64,
    bool,
);

/// `feedback`: whether a teacher gave feedback on the message; callers pass it on only to
/// those who may know ([`only_for`]).
const SELECT: &str = "SELECT m.id, m.room_id, u.id, u.username, m.kind, m.body, m.sent_at,
                             m.edited_at, m.deleted_at IS NOT NULL, m.changed,
                             EXISTS (SELECT 1 FROM feedback f WHERE f.message_id = m.id)
                      FROM messages m JOIN users u ON u.id = m.author_id";

/// `messages` as `reader` may see them: the feedback marker stays on their own messages only
/// (teachers, `staff`, see it on every message).
pub fn only_for(mut messages: Vec<ChatMessage>, reader: i64, staff: bool) -> Vec<ChatMessage> {
    if !staff {
        for message in &mut messages {
            message.feedback &= message.author.id == reader;
        }
    }
    messages
}

/// The rooms (not archived) that user `?1` belongs to.
const ROOMS_OF_USER: &str =
    "SELECT ms.room_id FROM memberships ms JOIN rooms r ON r.id = ms.room_id
                             WHERE ms.user_id = ?1 AND r.archived_at IS NULL";

fn message(
    (id, room, author_id, author_name, kind, text, sent_at, edited_at, deleted, change, feedback): Row,
) -> ChatMessage {
    ChatMessage {
        id,
        room,
        author: User {
            id: author_id,
            name: author_name,
        },
        kind: kind_of(&kind, &text),
        text,
        sent_at,
        edited_at,
        deleted,
        change,
        feedback,
    }
}

impl Store {
    /// Stores a batch in one transaction (one fsync for all) and returns their ids in order.
    ///
    /// The batch travels as one JSON array in one statement, an insert into the view
    /// `message_batches` (migration 0004), whose trigger stores the messages and brings the
    /// running counts up to date: each room's text count and newest id, and each author's read
    /// mark, since posting in a room means having read it. In autocommit mode that statement is
    /// one transaction. Two round trips to SQLite's thread in all (two thread switches each):
    /// the batch, then its last id.
    pub async fn append_messages(&self, batch: &[NewMessage], sent_at: i64) -> Result<Vec<i64>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<BatchRow> = batch
            .iter()
            .map(|m| {
                let words = match m.kind {
                    MessageKind::Text => count_words(&m.text),
                    _ => 0,
                };
                (
                    m.room,
                    m.author.id,
                    kind_name(m.kind),
                    m.text.as_str(),
                    words,
                    m.nonce.as_deref(),
                )
            })
            .collect();
        let rows = json_array(&rows)?;
        // Held for both statements, so that no other write comes between the batch and the
        // reading of its ids. (The pool has this one connection: every write waits for it.)
        let mut writer = self.writer.acquire().await?;
        sqlx::query("INSERT INTO message_batches (rows, sent_at) VALUES (?1, ?2)")
            .bind(rows)
            .bind(sent_at)
            .execute(&mut *writer)
            .await?;
        // AUTOINCREMENT gave the batch the ids after every id ever used, in array order: the
        // run ending at the sequence's new value.
        let (last,): (i64,) =
            sqlx::query_as("SELECT seq FROM sqlite_sequence WHERE name = 'messages'")
                .fetch_one(&mut *writer)
                .await?;
        let first = last - batch.len() as i64 + 1;
        Ok((first..=last).collect())
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

    /// Edits or deletes message `id` as change number `change`, made by `by` at `at`: the
    /// replaced text is kept in `message_versions`, the message keeps only its current text
    /// (none once deleted). Returns the message's new state; `None` if it does not exist or is
    /// deleted already.
    pub async fn change_message(
        &self,
        id: i64,
        by: i64,
        change: &Change,
        at: i64,
        number: i64,
    ) -> Result<Option<ChatMessage>> {
        let mut tx = self.writer.begin().await?;
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
        Ok(Some(ChatMessage {
            feedback: false,
            ..message(row)
        }))
    }

    /// The newest change number given so far (0 if no message was ever changed).
    pub async fn latest_change(&self) -> Result<i64> {
        let latest = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(changed) FROM messages WHERE changed > 0",
        )
        .fetch_one(&self.writer)
        .await?;
        Ok(latest.unwrap_or(0))
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
}

#[cfg(test)]
mod tests {
    use app::protocol::{LOBBY_ID, RoomSummary, Visibility};

    use super::*;
    use crate::store::test_support::{fresh_store, remove};

    async fn person(store: &Store, name: &str) -> User {
        store.create_user(name, "x").await.unwrap().unwrap().user
    }

    fn text(room: i64, author: &User, text: &str) -> NewMessage {
        NewMessage {
            nonce: None,
            room,
            author: author.clone(),
            kind: MessageKind::Text,
            text: text.into(),
        }
    }

    fn texts(page: &[ChatMessage]) -> Vec<(i64, &str)> {
        page.iter().map(|m| (m.id, m.text.as_str())).collect()
    }

    /// `room` as it appears in `user`'s sidebar.
    async fn summary(store: &Store, user: &User, room: i64) -> RoomSummary {
        let mut sidebars = store.rooms_of(&[user.id]).await.unwrap();
        let sidebar = sidebars.remove(&user.id).unwrap();
        sidebar.into_iter().find(|r| r.id == room).unwrap()
    }

    async fn unread(store: &Store, user: &User, room: i64) -> u32 {
        summary(store, user, room).await.unread
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
                let room = store
                    .create_room(&format!("room{i}"), Visibility::Public, me.id)
                    .await?;
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
            .create_room("chess", Visibility::Public, bob.id)
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
        // And each room's newest message is the batch's last one there.
        assert_eq!(summary(&store, &bob, LOBBY_ID).await.latest, ids[2]);
        assert_eq!(summary(&store, &bob, chess).await.latest, ids[1]);

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
