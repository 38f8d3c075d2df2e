//! What teachers review: the rooms they may choose, a room's messages with every earlier version
//! and deleted text, filtered by author, dates and words (through the full-text index of
//! migration 0006), the per-student figures, and the same selection streamed for export.

use app::protocol::{RoomKind, User, Visibility};

/// Which messages of a room a review shows. Only text messages are reviewed: membership
/// notices say nothing a student wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub room: i64,
    pub author: Option<i64>,
    /// Sent at or after (Unix ms).
    pub from: Option<i64>,
    /// Sent before (Unix ms).
    pub to: Option<i64>,
    /// Words that every message shown contains (now or in an earlier version).
    pub words: Vec<String>,
}

/// A room a teacher may choose on the review page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRoom {
    pub id: i64,
    /// A direct conversation is named after its two people: "alice & bob".
    pub name: String,
    pub kind: RoomKind,
    pub visibility: Visibility,
    pub archived: bool,
}

/// A text a message had before an edit, or when it was deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub text: String,
    pub written_at: i64,
    /// When an edit replaced it, or when it was deleted.
    pub replaced_at: i64,
    pub replaced_by: Option<String>,
    pub deleted: bool,
}

/// A message as a teacher reviews it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewedMessage {
    pub id: i64,
    pub author: User,
    pub sent_at: i64,
    /// The current text; empty once deleted (the deleted text is the last version).
    pub text: String,
    pub edited_at: Option<i64>,
    /// Earlier versions, oldest first; for a deleted message, the last is the deleted text.
    pub versions: Vec<Version>,
}

impl StudentFigures {
    /// Someone who has written nothing here yet.
    pub fn none(user: User) -> Self {
        StudentFigures {
            user,
            messages: 0,
            words: 0,
            first: 0,
            last: 0,
            edits: 0,
            deletions: 0,
        }
    }
}

impl ReviewedMessage {
    /// The deletion, if deleted: the text it had, who deleted it and when.
    pub fn deletion(&self) -> Option<&Version> {
        self.versions.last().filter(|v| v.deleted)
    }

    /// The versions an edit replaced, oldest first (not the deleted text).
    pub fn earlier(&self) -> &[Version] {
        match self.deletion() {
            Some(_) => &self.versions[..self.versions.len() - 1],
            None => &self.versions,
        }
    }
}

/// One author's figures in a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudentFigures {
    pub user: User,
    /// Text messages written, deleted ones included.
    pub messages: i64,
    /// Words in the current text of those not deleted (each Chinese, Japanese or Korean
    /// character counts as a word: those scripts put no spaces between words).
    pub words: i64,
    pub first: i64,
    pub last: i64,
    pub edits: i64,
    pub deletions: i64,
}

pub(crate) type MessageRow = (i64, i64, String, i64, String, Option<i64>);
pub(crate) type VersionRow = (i64, String, i64, i64, Option<String>, String);

pub(crate) const MESSAGE_COLUMNS: &str = "m.id, u.id, u.username, m.sent_at, m.body, m.edited_at";

/// Versions of the messages `ids`, by message, oldest first.
pub(crate) const VERSIONS_OF: &str =
    "SELECT v.message_id, v.body, v.written_at, v.replaced_at, u.username, v.change
     FROM message_versions v LEFT JOIN users u ON u.id = v.replaced_by";

pub(crate) fn version(
    (_, text, written_at, replaced_at, replaced_by, change): VersionRow,
) -> Version {
    Version {
        text,
        written_at,
        replaced_at,
        replaced_by,
        deleted: change == "delete",
    }
}

pub(crate) fn reviewed(
    (id, author_id, author_name, sent_at, text, edited_at): MessageRow,
) -> ReviewedMessage {
    ReviewedMessage {
        id,
        author: User {
            id: author_id,
            name: author_name,
        },
        sent_at,
        text,
        edited_at,
        versions: Vec::new(),
    }
}
