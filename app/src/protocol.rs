//! The WebSocket wire protocol: every frame the browser, the server, the tests and bots exchange.
//!
//! Frames are JSON text, tagged by `"type"`. The client's first frame is [`ClientFrame::Hello`]
//! carrying [`PROTOCOL_VERSION`]; the server answers [`ServerFrame::Welcome`] and then streams
//! events. docs/protocol.md shows an example of every kind.

use serde::{Deserialize, Serialize};

/// Bumped whenever a frame changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 6;

/// Largest frame the server reads; a bigger one closes the socket with code 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Messages per history page.
pub const HISTORY_PAGE: usize = 50;

/// How long the browser shows that someone is typing after the last `typing` frame naming
/// them (the server passes one on at most every 3 s while they type).
pub const TYPING_SHOWN_MS: i64 = 6_000;

/// Found messages per page of search results.
pub const SEARCH_PAGE: usize = 20;

/// People per page of `members` and `list_users` replies (a school's lobby holds thousands):
/// `more` says whether another page follows, which `more_members` / `more_users` ask for.
pub const PEOPLE_PAGE: usize = 200;

/// Most changed messages (edits, deletions) replayed on reconnect.
pub const CHANGES_MAX: usize = 1000;

/// The room every account belongs to; it can be renamed but never left or deleted.
pub const LOBBY_ID: i64 = 1;

/// `muted_until` of a member muted until a moderator unmutes them.
pub const MUTED_INDEFINITELY: i64 = i64::MAX;

/// WebSocket close code sent when a frame exceeds [`MAX_FRAME_BYTES`].
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a protocol violation (first frame not a matching `hello`).
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code for a client that does not read its frames fast enough.
pub const CLOSE_TOO_SLOW: u16 = 1008;
/// Close code when the socket's session ended (signed out here or everywhere, the password
/// changed, or the session expired): the browser goes to the sign-in page.
pub const CLOSE_SIGNED_OUT: u16 = 4001;
/// Close code when the administrator disabled the account.
pub const CLOSE_DISABLED: u16 = 4003;
/// Close code for a client that did not answer the server's pings for a minute.
pub const CLOSE_UNRESPONSIVE: u16 = 4004;
/// Close code for a socket beyond the account's limit of open sockets.
pub const CLOSE_TOO_MANY_SOCKETS: u16 = 4008;
/// Close code when a server of several lost track of the others for a moment (its link to
/// them broke): the client reconnects at once with its cursors and misses nothing.
pub const CLOSE_RESYNC: u16 = 1012;
/// Close code when the server could not read what the client missed: it should reconnect
/// with the same cursors, after a pause.
pub const CLOSE_CATCH_UP_FAILED: u16 = 4011;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
}

/// What an account may do beyond posting: the administrator runs the server (the first account),
/// teachers moderate every room they can see, members moderate the rooms they created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Teacher,
    #[default]
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Teacher, Role::Member];

    /// The name people read ("Administrator", "Teacher", "Member").
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Teacher => "Teacher",
            Role::Member => "Member",
        }
    }

    /// The name in storage and on the wire ("admin", "teacher", "member").
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Teacher => "teacher",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Teachers and the administrator moderate every room they can see.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Teacher)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// A named room: public (anyone may see and join it) or private (only its members see it).
    Room,
    /// A private conversation between exactly two people.
    Direct,
}

/// Who can see a named room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Listed by `list_rooms`; anyone may read and join it.
    #[default]
    Public,
    /// Seen only by the people added to it; everyone else is told it does not exist.
    Private,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A room as one user sees it in the sidebar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: i64,
    /// The room's name, or for a direct conversation the other person's name.
    pub name: String,
    pub kind: RoomKind,
    /// Public or private (a direct conversation is always private).
    #[serde(default)]
    pub visibility: Visibility,
    pub created_by: Option<i64>,
    pub joined: bool,
    /// Messages by others this user has not read yet.
    pub unread: u32,
    /// Of those, the ones that mention this user (`@name`, see [`crate::format::mentions`]),
    /// counted apart in the sidebar. Absent when none.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mentions: u32,
    /// Id of the newest message in the room (0 if none), so a client counts each new one once.
    pub latest: i64,
    /// Id of the newest message this user has read here (their read mark): a message deleted
    /// after it was unread.
    #[serde(default)]
    pub last_read: i64,
    /// Members online now.
    #[serde(default)]
    pub online: u32,
    /// Until when (Unix ms) this user is muted here; [`MUTED_INDEFINITELY`] until unmuted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    /// "alice joined": the author joined the room.
    Joined,
    /// "alice left": the author left the room.
    Left,
    /// "bob was added by alice": the author was added; `text` is who added them.
    Added,
    /// "bob was removed by alice": the author was removed; `text` is who removed them.
    Removed,
}

impl MessageKind {
    /// Whether the notice makes its author a member (true) or ends their membership (false);
    /// `None` for text.
    pub fn membership(self) -> Option<bool> {
        match self {
            MessageKind::Text => None,
            MessageKind::Joined | MessageKind::Added => Some(true),
            MessageKind::Left | MessageKind::Removed => Some(false),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Unique and increasing across the whole server: the resume cursor.
    pub id: i64,
    pub room: i64,
    pub author: User,
    pub kind: MessageKind,
    /// The current text; empty once deleted (earlier versions never leave the server).
    pub text: String,
    /// Unix time in milliseconds.
    pub sent_at: i64,
    /// When the text was last edited, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// The message was deleted: show "Message deleted".
    #[serde(default, skip_serializing_if = "is_default")]
    pub deleted: bool,
    /// The number of the last change (edit or deletion) to this message, 0 if never changed.
    /// Change numbers rise across the whole server: the change cursor.
    #[serde(default, skip_serializing_if = "is_default")]
    pub change: i64,
    /// A teacher gave feedback on this message. Set only in what the message's author and
    /// teachers receive (history pages, catch-up); never in a room-wide broadcast.
    #[serde(default, skip_serializing_if = "is_default")]
    pub feedback: bool,
}

/// How long a moderator mutes someone for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MuteLength {
    TenMinutes,
    OneHour,
    OneDay,
    UntilUnmuted,
}

impl MuteLength {
    pub const ALL: [MuteLength; 4] = [
        MuteLength::TenMinutes,
        MuteLength::OneHour,
        MuteLength::OneDay,
        MuteLength::UntilUnmuted,
    ];

    /// The choice people read ("10 minutes", …, "Until unmuted").
    pub fn label(self) -> &'static str {
        match self {
            MuteLength::TenMinutes => "10 minutes",
            MuteLength::OneHour => "1 hour",
            MuteLength::OneDay => "1 day",
            MuteLength::UntilUnmuted => "Until unmuted",
        }
    }

    /// The end of a mute starting at `now` (Unix ms).
    pub fn until(self, now: i64) -> i64 {
        const MINUTE: i64 = 60_000;
        match self {
            MuteLength::TenMinutes => now + 10 * MINUTE,
            MuteLength::OneHour => now + 60 * MINUTE,
            MuteLength::OneDay => now + 24 * 60 * MINUTE,
            MuteLength::UntilUnmuted => MUTED_INDEFINITELY,
        }
    }
}

/// A muted member, in a `members` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Muted {
    pub user: i64,
    /// Unix ms, or [`MUTED_INDEFINITELY`].
    pub until: i64,
}

/// Frames the client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame of every connection. `resume_after` is the newest message id the client
    /// has; the server then sends every later message of the client's rooms. `changes_after`
    /// is the client's change cursor (the welcome's `changes`, raised by every
    /// `message_changed` since); the server then sends the current state of every message of
    /// the client's rooms changed since.
    Hello {
        protocol: u32,
        #[serde(default)]
        resume_after: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changes_after: Option<i64>,
    },
    /// Post `text` to `room`. `nonce` is echoed in the `sent` acknowledgement or the error.
    Send {
        room: i64,
        text: String,
        #[serde(default)]
        nonce: Option<String>,
    },
    /// Replace the text of one's own message.
    EditMessage {
        message: i64,
        text: String,
    },
    /// Delete one's own message, or (moderators) anyone's in a room they manage.
    DeleteMessage {
        message: i64,
    },
    /// A page of up to [`HISTORY_PAGE`] messages older than `before` (or the newest).
    History {
        room: i64,
        #[serde(default)]
        before: Option<i64>,
    },
    /// The messages of `room` around message `message` (a search result): up to half a
    /// [`HISTORY_PAGE`] before it, and it with those after it. Answered by `history_around`.
    HistoryAround {
        room: i64,
        message: i64,
    },
    /// A page of up to [`HISTORY_PAGE`] messages newer than `after`, oldest first: scrolling
    /// down from a page fetched around a message. Answered by `history_newer`.
    HistoryNewer {
        room: i64,
        after: i64,
    },
    /// Messages of every room and conversation this user may read whose current text holds
    /// every word of `query` (ignoring case; Chinese needs no spaces: a run of characters is
    /// found inside longer text), newest first, a page of [`SEARCH_PAGE`]; `before` asks for
    /// the page after the one ending with that message. Answered by `search_results`.
    Search {
        query: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<i64>,
    },
    /// This user is writing in `room` (sent while they type, at most every 3 s). Never stored;
    /// the room's members hear `typing`.
    Typing {
        room: i64,
    },
    /// Who belongs to `room` and who of them is online. From then on this connection hears
    /// `presence` for the members of `room` (and no other room's) until it asks for another.
    Members {
        room: i64,
    },
    CreateRoom {
        name: String,
        #[serde(default)]
        visibility: Visibility,
    },
    RenameRoom {
        room: i64,
        name: String,
    },
    /// Archives the room: it disappears for everyone, its messages are kept for review.
    DeleteRoom {
        room: i64,
    },
    JoinRoom {
        room: i64,
    },
    LeaveRoom {
        room: i64,
    },
    /// Adds the person named `username` to `room` (moderators).
    AddMember {
        room: i64,
        username: String,
    },
    /// Removes `user` from the private `room` (moderators).
    RemoveMember {
        room: i64,
        user: i64,
    },
    /// Stops `user` posting in `room` for `length` (moderators).
    MuteMember {
        room: i64,
        user: i64,
        length: MuteLength,
    },
    UnmuteMember {
        room: i64,
        user: i64,
    },
    /// Open (or create) the private conversation with `user`.
    OpenDirect {
        user: i64,
    },
    /// Everything in `room` up to `message` has been seen.
    MarkRead {
        room: i64,
        message: i64,
    },
    /// The accounts, by name, for starting a conversation: the first [`PEOPLE_PAGE`].
    ListUsers,
    /// The next page of accounts, after the one named `after` (the last name shown).
    MoreUsers {
        after: String,
    },
    /// The next page of a room's members, after the one named `after`.
    MoreMembers {
        room: i64,
        after: String,
    },
    /// Every public room, and the private ones this user is in, for browsing rooms to join.
    ListRooms,
    /// Private feedback on a message, from a teacher (or the administrator) who may review its
    /// room: only the author and teachers ever see it.
    GiveFeedback {
        message: i64,
        text: String,
    },
}

/// Frames the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        protocol: u32,
        me: User,
        role: Role,
        /// The rooms and conversations this user belongs to; `list_rooms` shows the others.
        rooms: Vec<RoomSummary>,
        /// The server's newest change number now: the client's change cursor from here on.
        changes: i64,
        /// Feedback on this user's messages they have not read yet (on /feedback).
        #[serde(default, skip_serializing_if = "is_default")]
        feedback_unread: u32,
        /// The server runs with `--review-direct-messages`: teachers can review direct
        /// conversations, and both people are told so in each.
        #[serde(default, skip_serializing_if = "is_default")]
        direct_reviewable: bool,
        /// More was missed than the catch-up replays (its first 1,000 messages follow): the
        /// client's logs have a gap, which it fills from history.
        #[serde(default, skip_serializing_if = "is_default")]
        replay_truncated: bool,
    },
    /// A new message (or membership notice) in a room the client belongs to.
    Message {
        message: ChatMessage,
    },
    /// A message was edited or deleted: `message` is its new state (a deleted one has no text).
    MessageChanged {
        message: ChatMessage,
    },
    /// The client's `send` with this nonce was stored as message `id`.
    Sent {
        nonce: String,
        id: i64,
    },
    History {
        room: i64,
        messages: Vec<ChatMessage>,
        /// Whether older messages exist before the first one in `messages`.
        has_more: bool,
    },
    /// Reply to `history_around`: the messages of `room` around `message`, oldest first.
    HistoryAround {
        room: i64,
        message: i64,
        messages: Vec<ChatMessage>,
        /// Whether older messages exist before the first one in `messages`.
        has_more: bool,
        /// Whether newer messages exist after the last one in `messages`.
        has_newer: bool,
    },
    /// Reply to `history_newer`: the messages of `room` after `after`, oldest first.
    HistoryNewer {
        room: i64,
        after: i64,
        messages: Vec<ChatMessage>,
        /// Whether newer messages exist after the last one in `messages`.
        has_newer: bool,
    },
    /// Reply to `search`: the messages found, newest first, with the rooms they are in as this
    /// user would list them (a public room they have not joined has `joined: false`).
    SearchResults {
        /// The query asked, as sent: a client that asked again since drops an older answer.
        query: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<i64>,
        messages: Vec<ChatMessage>,
        rooms: Vec<RoomSummary>,
        /// Another page follows (`search` with `before` the last message's id).
        #[serde(default, skip_serializing_if = "is_default")]
        more: bool,
    },
    /// These people are writing in `room` now (the server gathers a room's typists for a
    /// quarter of a second, and takes one frame a person every 3 s): show it for
    /// [`TYPING_SHOWN_MS`], or until their message arrives.
    Typing {
        room: i64,
        users: Vec<User>,
    },
    Members {
        room: i64,
        members: Vec<User>,
        /// Ids of the members online now.
        online: Vec<i64>,
        /// The members muted now (all of them, on every page).
        #[serde(default)]
        muted: Vec<Muted>,
        /// Another page of members follows (`more_members`); `members` is the first
        /// [`PEOPLE_PAGE`], by name.
        #[serde(default, skip_serializing_if = "is_default")]
        more: bool,
    },
    /// A room appeared for this client: created, joined elsewhere, added to, or a conversation
    /// opened.
    RoomAdded {
        room: RoomSummary,
    },
    RoomRenamed {
        room: i64,
        name: String,
    },
    /// The room was deleted (archived): it is gone for everyone.
    RoomDeleted {
        room: i64,
        name: String,
    },
    /// This user is no longer in the private `room` (removed by a moderator, or left it from
    /// another tab): it is gone for them.
    RoomRemoved {
        room: i64,
        name: String,
    },
    /// A member of the room whose members this connection asked for last came online or went
    /// offline (first tab opened, last tab closed).
    Presence {
        user: i64,
        online: bool,
    },
    /// How many members of `room` are online now (coalesced: at most about one a second).
    OnlineCount {
        room: i64,
        online: u32,
    },
    /// `user` was muted in `room` until `until` (Unix ms, or [`MUTED_INDEFINITELY`]), or
    /// unmuted (`until` absent). Sent to the room's members.
    MemberMuted {
        room: i64,
        user: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
    },
    /// This user's role changed (by the administrator): it applies at once.
    RoleChanged {
        role: Role,
    },
    /// A teacher gave feedback on `message` in `room`. Sent to the message's author and to the
    /// teacher who gave it (their other tabs too): the message gets its marker.
    FeedbackGiven {
        room: i64,
        message: i64,
    },
    /// How much feedback this user has not read yet: after new feedback, and after they read
    /// it on /feedback (in any tab).
    FeedbackUnread {
        count: u32,
    },
    /// Reply to `list_users`: the first page of accounts, by name.
    Users {
        users: Vec<User>,
        /// Another page follows (`more_users`).
        #[serde(default, skip_serializing_if = "is_default")]
        more: bool,
    },
    /// Reply to `more_users`: the next page.
    MoreUsers {
        users: Vec<User>,
        #[serde(default, skip_serializing_if = "is_default")]
        more: bool,
    },
    /// Reply to `more_members`: the next page of the room's members, and which of them are
    /// online.
    MoreMembers {
        room: i64,
        members: Vec<User>,
        online: Vec<i64>,
        #[serde(default, skip_serializing_if = "is_default")]
        more: bool,
    },
    /// Reply to `list_rooms`: every room this user may see, in creation order.
    Rooms {
        rooms: Vec<RoomSummary>,
    },
    /// Another tab of the same user read `room` up to `message`.
    Read {
        room: i64,
        message: i64,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<i64>,
        /// For `muted`: until when (Unix ms, or [`MUTED_INDEFINITELY`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known kind.
    BadFrame,
    /// A field was out of bounds (empty or too long text, bad name).
    Invalid,
    /// No such room, message or user (or one this user may not know of).
    NotFound,
    /// The room exists but this user may not do that there.
    Forbidden,
    /// A moderator muted this user in the room; `until` says until when.
    Muted,
    /// The name is already in use.
    Conflict,
    /// Too many in too short a time (messages, room creations and renames); `until` says
    /// when the next one will be accepted. Nothing was stored.
    RateLimited,
    /// Something went wrong on the server; nothing was changed.
    Internal,
}

impl ServerFrame {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            nonce: None,
            room: None,
            until: None,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing these plain data types cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ClientFrame {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// "You are muted in this room until 14:05" (`clock` formats a time), or "… until a moderator
/// unmutes you".
pub fn muted_notice(until: i64, clock: impl Fn(i64) -> String) -> String {
    if until == MUTED_INDEFINITELY {
        "You are muted in this room until a moderator unmutes you".to_owned()
    } else {
        format!("You are muted in this room until {}", clock(until))
    }
}

#[cfg(test)]
mod tests;
