//! Stored messages: appending in batches, edits and deletions that keep every earlier version,
//! history pages, and catch-up after a reconnect.

use app::protocol::{ChatMessage, MessageKind, User};

/// A message about to be stored.
pub struct NewMessage {
    pub room: i64,
    pub author: User,
    pub kind: MessageKind,
    pub text: String,
    /// The sender's nonce: the same one again (within a day) is a duplicate, not stored.
    pub nonce: Option<String>,
}

impl NewMessage {
    /// The words it adds to its author's count (a review's figure): a text's words; a
    /// membership notice's none.
    pub fn words(&self) -> i64 {
        match self.kind {
            MessageKind::Text => crate::store::search::count_words(&self.text),
            _ => 0,
        }
    }
}

/// What storing a batch of new messages gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// The messages' ids, in batch order.
    pub ids: Vec<i64>,
    /// The batch's position in the cluster's log (PostgreSQL; SQLite serves one node and keeps
    /// no log).
    pub position: Option<i64>,
}

/// A message's new state after an edit or a deletion, and the change's position in the
/// cluster's log.
#[derive(Clone, Debug)]
pub struct Changed {
    /// Its `change` is the number the change was given.
    pub message: ChatMessage,
    /// On PostgreSQL, the change's number (its place in the log, migration 0002); SQLite serves
    /// one node and keeps no log.
    pub position: Option<i64>,
}

/// Where the cluster's log stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogHead {
    pub position: i64,
    /// The newest message id (0 if none).
    pub last_message: i64,
    /// The newest change number (0 if none).
    pub last_change: i64,
}

/// What was committed after a point of the cluster's log, read in one snapshot: a node that
/// missed a position fills it from here.
#[derive(Debug, Default)]
pub struct LogTail {
    /// The log's last position in that snapshot.
    pub position: i64,
    /// Messages after the id asked for, oldest first (feedback markers off, as broadcast).
    pub messages: Vec<ChatMessage>,
    /// The current state of messages changed after the change number asked for, in change
    /// order.
    pub changed: Vec<ChatMessage>,
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
    pub(crate) fn parse(reason: &str) -> Option<Refused> {
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
pub(crate) fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Text => "text",
        MessageKind::Joined | MessageKind::Added => "joined",
        MessageKind::Left | MessageKind::Removed => "left",
    }
}

pub(crate) fn kind_of(kind: &str, body: &str) -> MessageKind {
    match (kind, body.is_empty()) {
        ("joined", true) => MessageKind::Joined,
        ("joined", false) => MessageKind::Added,
        ("left", true) => MessageKind::Left,
        ("left", false) => MessageKind::Removed,
        _ => MessageKind::Text,
    }
}

/// The columns of a [`Row`], from `messages m` and its author `users u`.
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, u.id, u.username, m.kind, m.body, m.sent_at,
         m.edited_at, m.deleted_at IS NOT NULL, m.changed,
         EXISTS (SELECT 1 FROM feedback f WHERE f.message_id = m.id)"
    };
}
pub(crate) use message_columns;

pub(crate) type Row = (
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
pub(crate) const SELECT: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m JOIN users u ON u.id = m.author_id"
);

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
pub(crate) const ROOMS_OF_USER: &str =
    "SELECT ms.room_id FROM memberships ms JOIN rooms r ON r.id = ms.room_id
                             WHERE ms.user_id = ?1 AND r.archived_at IS NULL";

pub(crate) fn message(
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
