//! Teachers' feedback on messages, grades per student per room, and the log of reviews.

use app::protocol::User;

/// Feedback given on a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feedback {
    pub id: i64,
    pub message: i64,
    pub teacher: Option<String>,
    pub text: String,
    pub given_at: i64,
    pub read: bool,
}

/// Feedback as its reader (the message's author) finds it on /feedback: with the message it is
/// about and where that was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedbackItem {
    pub feedback: Feedback,
    pub room: i64,
    pub room_name: String,
    /// The message's current text (empty if it was deleted since).
    pub quoted: String,
    pub quoted_deleted: bool,
    pub sent_at: i64,
}

/// Where feedback was given: the message's room and author.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedbackTarget {
    pub room: i64,
    pub author: i64,
}

/// A student's grade in a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grade {
    pub room: i64,
    pub room_name: String,
    pub user: User,
    pub grade: String,
    pub comment: String,
    pub graded_by: Option<String>,
    pub graded_at: i64,
}

/// One review of a private room or direct conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewEntry {
    pub reviewer: Option<String>,
    pub room: Option<i64>,
    pub room_name: String,
    pub what: String,
    pub at: i64,
}

pub(crate) type FeedbackRow = (i64, i64, Option<String>, String, i64, bool);

pub(crate) fn feedback((id, message, teacher, text, given_at, read): FeedbackRow) -> Feedback {
    Feedback {
        id,
        message,
        teacher,
        text,
        given_at,
        read,
    }
}

pub(crate) const FEEDBACK_COLUMNS: &str =
    "f.id, f.message_id, t.username, f.body, f.given_at, f.read_at IS NOT NULL";
