//! Storage: accounts and roles, sessions, rooms, memberships and mutes, messages and their
//! earlier versions, the search index, feedback, grades and the review log.
//!
//! [`Store`] is the one interface the rest of the server uses, in chat terms; it never sees
//! SQL. Two backends stand behind it: SQLite ([`sqlite`], the embedded default: one file, no
//! other service) and PostgreSQL ([`postgres`], for several nodes sharing one database). Each
//! keeps its own migrations (`server/migrations/sqlite`, `server/migrations/postgres`) and
//! runs them at start. The types both return live beside this file, one module per concern.

mod bots;
mod feedback;
mod messages;
mod postgres;
mod review;
mod rights;
mod rooms;
mod search;
mod sqlite;
#[cfg(test)]
mod tests;
mod users;

use std::collections::HashMap;

use app::protocol::{ChatMessage, Muted, Role, RoomSummary, User, Visibility};
use futures::Stream;
use futures::future::Either;

pub use bots::{Bot, NO_PASSWORD};
pub use feedback::{Feedback, FeedbackItem, FeedbackTarget, Grade, ReviewEntry};
pub use messages::{
    Appended, Change, Changed, LogHead, LogTail, NewMessage, Refused, is_duplicate, only_for,
};
pub use review::{ReviewRoom, ReviewedMessage, Selection, StudentFigures, Version};
pub use rights::MessageFacts;
pub use rooms::{ArchivedRoom, RoomRow};
pub use search::count_words;
pub use users::Account;

use crate::policy::Standing;

pub type Result<T, E = sqlx::Error> = std::result::Result<T, E>;

/// The name is already taken (case-insensitively).
#[derive(Debug)]
pub struct NameTaken;

/// The database: SQLite or PostgreSQL, chosen by the URL's scheme.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

impl Store {
    /// Opens the database at `url` (`sqlite://…`, created if missing, or `postgres://…`) and
    /// brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(postgres::Postgres::open(url).await?))
        } else {
            Ok(Store::Sqlite(sqlite::Sqlite::open(url).await?))
        }
    }

    /// Which backend this is, for logs: "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Writes one row, to show that the database takes writes (`/readyz`).
    pub async fn probe_write(&self) -> Result<()> {
        match self {
            Store::Sqlite(db) => db.probe_write().await,
            Store::Postgres(db) => db.probe_write().await,
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(db) => db.close().await,
            Store::Postgres(db) => db.close().await,
        }
    }

    /// One room as `user`'s sidebar shows it (after they were added to it, say): the one
    /// sidebar query ([`Store::rooms_of`]), whatever the backend.
    pub async fn summary(&self, room: i64, user: i64) -> Result<Option<RoomSummary>> {
        let mut sidebars = self.rooms_of(&[user]).await?;
        Ok(sidebars
            .remove(&user)
            .and_then(|rooms| rooms.into_iter().find(|r| r.id == room)))
    }

    /// Whether this database can be shared by several nodes (PostgreSQL keeps the cluster's
    /// log; SQLite is one node's file).
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// The cluster log's last position, with the newest message id and change number, from
    /// one snapshot: a node starts following the log there.
    pub async fn log_head(&self) -> Result<LogHead> {
        match self {
            Store::Postgres(db) => db.log_head().await,
            Store::Sqlite(_) => Err(no_log()),
        }
    }

    /// Up to `limit` messages after id `after_message` and changes after number `after_change`,
    /// in every room, with the log's position, from one snapshot.
    pub async fn log_tail(
        &self,
        after_message: i64,
        after_change: i64,
        limit: usize,
    ) -> Result<LogTail> {
        match self {
            Store::Postgres(db) => db.log_tail(after_message, after_change, limit).await,
            Store::Sqlite(_) => Err(no_log()),
        }
    }

    /// The selection's messages in id order, with their versions, read as they are sent (an
    /// export of a whole room never sits in memory).
    pub fn review_stream(
        &self,
        selection: &Selection,
    ) -> impl Stream<Item = Result<ReviewedMessage>> + Send + 'static {
        match self {
            Store::Sqlite(db) => Either::Left(db.review_stream(selection)),
            Store::Postgres(db) => Either::Right(db.review_stream(selection)),
        }
    }
}

fn no_log() -> sqlx::Error {
    sqlx::Error::Configuration("SQLite serves one node: several nodes need PostgreSQL".into())
}

/// Every operation of [`Store`], each forwarded to the backend: both must offer all of them,
/// with these signatures, or the server does not compile.
macro_rules! operations {
    ($( $(#[$doc:meta])* async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Store::Sqlite(db) => db.$name($($arg),*).await,
                        Store::Postgres(db) => db.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

operations! {
    // users

    /// Creates a member's account and puts it in the lobby. The very first account is the
    /// administrator.
    async fn create_user(&self, username: &str, password_hash: &str) -> Result<Result<Account, NameTaken>>;

    /// Creates an account with `role` and puts it in the lobby; with `first_is_admin`, the very
    /// first account is the administrator whatever `role` says.
    async fn create_account(&self, username: &str, password_hash: &str, role: Role, first_is_admin: bool) -> Result<Result<Account, NameTaken>>;

    async fn account_by_name(&self, username: &str) -> Result<Option<Account>>;

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>>;

    /// Disables (signing in is refused, every session ends) or enables an account; false if
    /// there is no such account.
    async fn set_disabled(&self, user: i64, disabled: bool) -> Result<bool>;

    /// Sets a new password and ends every session of the account but `keep` (the one that
    /// changed it, if any); false if there is no such account.
    async fn set_password(&self, user: i64, password_hash: &str, keep: Option<&str>) -> Result<bool>;

    /// Ends every session of `user` (sign out everywhere).
    async fn delete_sessions_of(&self, user: i64) -> Result<()>;

    /// Deletes the sessions that have expired; returns whose they were (account, token hash).
    async fn purge_expired_sessions(&self) -> Result<Vec<(i64, String)>>;

    /// Stores an invite link's token hash, valid until `expires_at`.
    async fn create_invite(&self, token_hash: &str, by: i64, expires_at: i64) -> Result<()>;

    /// Counts one sign-up with the invite; false if there is no such live invite.
    async fn use_invite(&self, token_hash: &str) -> Result<bool>;

    async fn user(&self, id: i64) -> Result<Option<User>>;

    /// Up to `limit` accounts by name, after the one named `after`, and whether more follow.
    async fn users_page(&self, after: Option<&str>, limit: usize) -> Result<(Vec<User>, bool)>;

    /// The account named `username` (ignoring case).
    async fn user_by_name(&self, username: &str) -> Result<Option<User>>;

    /// Every account with its role and whether it is disabled, by name: the administrator's
    /// accounts page.
    async fn accounts(&self) -> Result<Vec<(User, Role, bool)>>;

    /// Gives `user` a role; false if there is no such account.
    async fn set_role(&self, user: i64, role: Role) -> Result<bool>;

    async fn create_session(&self, token_hash: &str, user_id: i64, expires_at: i64) -> Result<()>;

    /// The accounts behind those of `token_hashes` that are live sessions, with their roles,
    /// by token hash.
    async fn session_users(&self, token_hashes: &[String]) -> Result<HashMap<String, (User, Role)>>;

    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    // bots

    /// Creates a bot's account (a member, in the lobby, with no password) holding the token
    /// whose hash is `token_hash`, made by the administrator `by`.
    async fn create_bot(&self, name: &str, token_hash: &str, by: i64) -> Result<Result<User, NameTaken>>;

    /// Every bot, by name: the administrator's page.
    async fn bots(&self) -> Result<Vec<Bot>>;

    /// Gives the bot `user` a new token, replacing the old one, or none (revoked); the bot's
    /// name, or `None` if there is no such bot.
    async fn set_bot_token(&self, user: i64, token_hash: Option<&str>) -> Result<Option<String>>;

    /// The bot whose live token has `token_hash`, with its role, unless it is disabled.
    async fn bot_by_token(&self, token_hash: &str) -> Result<Option<(User, Role)>>;

    // rooms

    /// The sidebars of `users`, by user: the rooms each belongs to (not archived), in creation
    /// order, then their direct conversations named after the other person, each with its
    /// unread count and the user's read mark and mute. (`online` is the hub's to fill in.)
    ///
    /// One query over the users' memberships, so a connect costs the same however many rooms
    /// the server has; the others are listed by [`Store::room_directory`] when asked for.
    async fn rooms_of(&self, users: &[i64]) -> Result<HashMap<i64, Vec<RoomSummary>>>;

    /// The named rooms `user` may see, in creation order: every public room, and the private
    /// ones they belong to; whether they belong to each and, if so, its unread count.
    async fn room_directory(&self, user: i64) -> Result<Vec<RoomSummary>>;

    /// Creates a named room with its creator as the first member.
    async fn create_room(&self, name: &str, visibility: Visibility, creator: i64) -> Result<Result<RoomRow, NameTaken>>;

    async fn rename_room(&self, id: i64, name: &str) -> Result<Result<(), NameTaken>>;

    /// Archives a room: it is gone for its members, its messages and memberships stay for
    /// review, and its name is free for a new room. False if it was archived already.
    async fn archive_room(&self, id: i64) -> Result<bool>;

    /// Deletes an archived room for good, with its memberships, messages and their versions.
    /// False if there is no such archived room.
    async fn purge_room(&self, id: i64) -> Result<bool>;

    /// Archived rooms, newest archived first, with how many messages each keeps.
    async fn archived_rooms(&self) -> Result<Vec<ArchivedRoom>>;

    /// Adds `user` to `room`; false if already a member. New members start with everything read.
    async fn join(&self, room: i64, user: i64) -> Result<bool>;

    /// Removes `user` from `room`; false if not a member.
    async fn leave(&self, room: i64, user: i64) -> Result<bool>;

    /// The members of `room` by name, and those of them muted now.
    /// Every member of `room` by name, and those muted now.
    async fn members(&self, room: i64) -> Result<(Vec<User>, Vec<Muted>)>;

    /// Up to `limit` members of `room` by name, after the one named `after`, and whether more
    /// follow.
    async fn members_page(&self, room: i64, after: Option<&str>, limit: usize) -> Result<(Vec<User>, bool)>;

    /// The members of `room` muted now.
    async fn muted_in(&self, room: i64) -> Result<Vec<Muted>>;

    /// Mutes `user` in `room` until `until` (Unix ms), by `moderator`.
    async fn mute(&self, room: i64, user: i64, until: i64, moderator: i64) -> Result<()>;

    /// Lifts `user`'s mute in `room`; false if they were not muted (or it had ended).
    async fn unmute(&self, room: i64, user: i64) -> Result<bool>;

    /// The conversation between `a` and `b`, created (with both as members) if new.
    /// Returns its id and whether it was created now.
    async fn open_direct(&self, a: i64, b: i64) -> Result<(i64, bool)>;

    /// Moves the read mark forward (never back) to the room's newest message up to `message`.
    async fn mark_read(&self, room: i64, user: i64, message: i64) -> Result<()>;

    // rights

    /// `user`'s standing in `room`, and the room (archived or not); `None` for an account or a
    /// room that does not exist. One query.
    async fn standing(&self, user: i64, room: i64) -> Result<(Option<Standing>, Option<RoomRow>)>;

    /// Room `id`, archived or not.
    async fn room(&self, id: i64) -> Result<Option<RoomRow>>;

    /// Where a message is and who wrote it.
    async fn message_facts(&self, id: i64) -> Result<Option<MessageFacts>>;

    // messages

    /// The unread text messages by others among the newest `window` of each of `rooms` (room,
    /// the user's read mark) whose text holds `needle` (ASCII case ignored), newest first, at
    /// most `limit`: the candidates for the user's unread mentions, which the caller checks with
    /// `app::format::mentions`. The window bounds the rows read, however far behind the user is.
    async fn unread_texts_holding(&self, user: i64, rooms: &[(i64, i64)], needle: &str, window: usize, limit: usize) -> Result<Vec<(i64, String)>>;

    /// Stores a batch in one transaction (one fsync for all) and returns their ids in order.
    ///
    /// The batch travels as one JSON array in one statement, an insert into the view
    /// `message_batches` (migration 0004), whose trigger stores the messages and brings the
    /// running counts up to date: each room's text count and newest id, and each author's read
    /// mark, since posting in a room means having read it. In autocommit mode that statement is
    /// one transaction. Two round trips to SQLite's thread in all (two thread switches each):
    /// the batch, then its last id. On PostgreSQL, one call of `store_messages`, which also
    /// gives the batch its position in the cluster's log.
    async fn append_messages(&self, batch: &[NewMessage], sent_at: i64) -> Result<Appended>;

    /// Which messages of `batch` the batch's trigger would refuse now, and why (by position):
    /// asked after a batch failed, so that the rest can be stored together again.
    async fn refused(&self, batch: &[NewMessage], sent_at: i64) -> Result<Vec<(usize, Refused)>>;

    /// Which messages of `batch` repeat a nonce their author used before, with the id stored
    /// then (by position): asked after a batch failed as a duplicate.
    async fn already_sent(&self, batch: &[NewMessage]) -> Result<Vec<(usize, i64)>>;

    /// Forgets the nonces of sends older than `before`: sending one of those again stores it.
    async fn purge_nonces(&self, before: i64) -> Result<u64>;

    /// Edits or deletes message `id`, made by `by` at `at`, as the next change number (above
    /// every earlier one; on PostgreSQL, the change's position in the cluster's log): the
    /// replaced text is kept in `message_versions`, the message keeps only its current text
    /// (none once deleted). Returns the message's new state, its `change` the number given,
    /// and the change's position in the log; `None` if it does not exist or is deleted already
    /// (no number is used up then).
    async fn change_message(&self, id: i64, by: i64, change: &Change, at: i64) -> Result<Option<Changed>>;

    /// The newest change number given so far (0 if no message was ever changed).
    async fn latest_change(&self) -> Result<i64>;

    /// The current state of the messages changed after change `after` in the rooms `user`
    /// belongs to, in change order: what a reconnecting client missed of edits and deletions.
    async fn changed_since(&self, user: i64, after: i64, limit: usize) -> Result<Vec<ChatMessage>>;

    /// Stores one message on its own: a batch of one.
    async fn append_message(&self, message: &NewMessage, sent_at: i64) -> Result<Appended>;

    /// Up to `limit` messages of `room` older than `before` (or the newest), oldest first, and
    /// whether older ones exist.
    async fn history(&self, room: i64, before: Option<i64>, limit: usize) -> Result<(Vec<ChatMessage>, bool)>;

    /// Up to `limit` messages of `room` newer than `after`, oldest first, and whether newer
    /// ones follow.
    async fn history_after(&self, room: i64, after: i64, limit: usize) -> Result<(Vec<ChatMessage>, bool)>;

    /// Up to `limit` text messages, not deleted, of `rooms` whose current text holds every one
    /// of `words` (ignoring case), older than message `before`, newest first, and whether more
    /// follow. Earlier versions are never searched: they are for reviewers only.
    async fn search_messages(&self, rooms: &[i64], words: &[String], before: Option<i64>, limit: usize) -> Result<(Vec<ChatMessage>, bool)>;

    /// Messages after `after` in the rooms `user` belongs to, oldest first: what a reconnecting
    /// client missed.
    async fn missed(&self, user: i64, after: i64, limit: usize) -> Result<Vec<ChatMessage>>;

    // feedback

    /// Stores feedback by `teacher` on text message `message`; `None` if there is no such
    /// text message.
    async fn give_feedback(&self, message: i64, teacher: i64, text: &str) -> Result<Option<FeedbackTarget>>;

    /// How much feedback each of `users` has not read, by user (those with none are absent).
    async fn unread_feedback(&self, users: &[i64]) -> Result<HashMap<i64, u32>>;

    /// The feedback on `user`'s messages, newest first.
    async fn feedback_for(&self, user: i64) -> Result<Vec<FeedbackItem>>;

    /// Marks all of `user`'s feedback read; how many were unread.
    async fn mark_feedback_read(&self, user: i64) -> Result<u64>;

    /// The feedback on the messages `ids`, by message, oldest first.
    async fn feedback_on(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Feedback>>>;

    /// Sets `user`'s grade in `room` (an empty grade and comment remove it).
    async fn set_grade(&self, room: i64, user: i64, grade: &str, comment: &str, by: i64) -> Result<()>;

    /// Grades in `room` (`Some`), or of `user` in every room (`None` room), by room then name.
    async fn grades(&self, room: Option<i64>, user: Option<i64>) -> Result<Vec<Grade>>;

    /// Records that `reviewer` reviewed `room` (`what`: read, csv, json, print or grades).
    async fn log_review(&self, reviewer: i64, room: i64, room_name: &str, what: &str) -> Result<()>;

    /// The newest `limit` entries of the review log, newest first.
    async fn review_log(&self, limit: usize) -> Result<Vec<ReviewEntry>>;

    // review

    /// Every room a review may choose, named rooms first (by name, archived last), then direct
    /// conversations if `with_direct`.
    async fn reviewable_rooms(&self, with_direct: bool) -> Result<Vec<ReviewRoom>>;

    /// The members of `room` who are students (role member), by name.
    async fn room_students(&self, room: i64) -> Result<Vec<User>>;

    /// Up to `limit` messages of `selection` after message `after`, oldest first, each with its
    /// versions, and whether more follow.
    ///
    /// With words to look up, the index is read in id order and the other conditions checked
    /// as it goes, so a page stops at its `limit + 1`th match however many messages match in
    /// all; messages whose earlier versions match (few: only edited and deleted ones) are read
    /// apart and merged in.
    async fn review_page(&self, selection: &Selection, after: i64, limit: usize) -> Result<(Vec<ReviewedMessage>, bool)>;

    /// Each author's figures in `room`, by name.
    ///
    /// Counts and words (counted when each text was stored or edited) from one pass over the
    /// room's texts; first and last activity from the two messages at each author's ends;
    /// edits and deletions from the few messages that have any.
    async fn student_figures(&self, room: i64) -> Result<Vec<StudentFigures>>;
}

/// The first `limit` of `rows` (which hold one more if more follow) as users, and whether more
/// follow.
pub(crate) fn page_of(mut rows: Vec<(i64, String)>, limit: usize) -> (Vec<User>, bool) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let users = rows
        .into_iter()
        .map(|(id, name)| User { id, name })
        .collect();
    (users, more)
}

/// `values` as one JSON array, to bind a whole list to one parameter and read it back in SQL
/// (`json_each` in SQLite, `jsonb_array_elements` in PostgreSQL): one prepared statement for any
/// number of values.
pub(crate) fn json_array<T: serde::Serialize + ?Sized>(values: &T) -> Result<String> {
    serde_json::to_string(values).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
/// Stores on throwaway databases, for the tests of the store and of its users: SQLite, or
/// PostgreSQL when the environment asks (see [`crate::scratch`]).
#[cfg(test)]
pub(crate) mod test_support {
    use super::Store;
    use crate::scratch::ScratchDatabase;

    /// A store on a fresh database, and the database to drop afterwards.
    pub async fn fresh_store(name: &str) -> (Store, ScratchDatabase) {
        let database = ScratchDatabase::new(name).await.unwrap();
        (Store::open(&database.url()).await.unwrap(), database)
    }

    /// A store on a fresh SQLite file, whatever the environment asks.
    pub async fn fresh_sqlite_store(name: &str) -> (Store, ScratchDatabase) {
        let database = ScratchDatabase::sqlite(name);
        (Store::open(&database.url()).await.unwrap(), database)
    }

    /// Closes the store and drops its database.
    pub async fn remove(store: Store, database: ScratchDatabase) {
        store.close().await;
        database.drop_now().await.unwrap();
    }
}
