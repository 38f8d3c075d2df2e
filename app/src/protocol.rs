//! The WebSocket wire protocol: every frame the browser, the server, the tests and bots exchange.
//!
//! Frames are JSON text, tagged by `"type"`. The client's first frame is [`ClientFrame::Hello`]
//! carrying [`PROTOCOL_VERSION`]; the server answers [`ServerFrame::Welcome`] and then streams
//! events. docs/protocol.md shows an example of every kind.

use serde::{Deserialize, Serialize};

/// Bumped whenever a frame changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 3;

/// Largest frame the server reads; a bigger one closes the socket with code 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Messages per history page.
pub const HISTORY_PAGE: usize = 50;

/// The room every account belongs to; it can be renamed but never left or deleted.
pub const LOBBY_ID: i64 = 1;

/// WebSocket close code sent when a frame exceeds [`MAX_FRAME_BYTES`].
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a protocol violation (first frame not a matching `hello`).
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code for a client that does not read its frames fast enough.
pub const CLOSE_TOO_SLOW: u16 = 1008;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// A named room anyone signed in can see and join.
    Room,
    /// A private conversation between exactly two people.
    Direct,
}

/// A room as one user sees it in the sidebar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: i64,
    /// The room's name, or for a direct conversation the other person's name.
    pub name: String,
    pub kind: RoomKind,
    pub created_by: Option<i64>,
    pub joined: bool,
    /// Messages by others this user has not read yet.
    pub unread: u32,
    /// Id of the newest message in the room (0 if none), so a client counts each new one once.
    pub latest: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    /// "alice joined": the author joined the room.
    Joined,
    /// "alice left": the author left the room.
    Left,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Unique and increasing across the whole server: the resume cursor.
    pub id: i64,
    pub room: i64,
    pub author: User,
    pub kind: MessageKind,
    pub text: String,
    /// Unix time in milliseconds.
    pub sent_at: i64,
}

/// Frames the client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame of every connection. `resume_after` is the newest message id the client
    /// has; the server then sends every later message of the client's rooms.
    Hello {
        protocol: u32,
        #[serde(default)]
        resume_after: Option<i64>,
    },
    /// Post `text` to `room`. `nonce` is echoed in the `sent` acknowledgement or the error.
    Send {
        room: i64,
        text: String,
        #[serde(default)]
        nonce: Option<String>,
    },
    /// A page of up to [`HISTORY_PAGE`] messages older than `before` (or the newest).
    History {
        room: i64,
        #[serde(default)]
        before: Option<i64>,
    },
    /// Who belongs to `room` and who of them is online. From then on this connection hears
    /// `presence` for the members of `room` (and no other room's) until it asks for another.
    Members {
        room: i64,
    },
    CreateRoom {
        name: String,
    },
    RenameRoom {
        room: i64,
        name: String,
    },
    DeleteRoom {
        room: i64,
    },
    JoinRoom {
        room: i64,
    },
    LeaveRoom {
        room: i64,
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
    /// Every account, for starting a conversation.
    ListUsers,
    /// Every named room, for browsing rooms to join.
    ListRooms,
}

/// Frames the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        protocol: u32,
        me: User,
        is_admin: bool,
        /// The rooms and conversations this user belongs to; `list_rooms` shows the others.
        rooms: Vec<RoomSummary>,
    },
    /// A new message (or join/leave notice) in a room the client belongs to.
    Message {
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
    Members {
        room: i64,
        members: Vec<User>,
        /// Ids of the members online now.
        online: Vec<i64>,
    },
    /// A room appeared for this client: created by someone, or a conversation opened.
    RoomAdded {
        room: RoomSummary,
    },
    RoomRenamed {
        room: i64,
        name: String,
    },
    RoomDeleted {
        room: i64,
        name: String,
    },
    /// A member of the room whose members this connection asked for last came online or went
    /// offline (first tab opened, last tab closed).
    Presence {
        user: i64,
        online: bool,
    },
    Users {
        users: Vec<User>,
    },
    /// Reply to `list_rooms`: every named room, in creation order, as this user sees it.
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
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known kind.
    BadFrame,
    /// A field was out of bounds (empty or too long text, bad name).
    Invalid,
    /// No such room or user.
    NotFound,
    /// The room exists but this user may not do that there.
    Forbidden,
    /// The name is already in use.
    Conflict,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_round_trip() {
        let frames = vec![
            ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                resume_after: Some(41),
            },
            ClientFrame::Send {
                room: 1,
                text: "hi <b>".into(),
                nonce: Some("n1".into()),
            },
            ClientFrame::History {
                room: 1,
                before: None,
            },
            ClientFrame::Members { room: 2 },
            ClientFrame::CreateRoom {
                name: "rust".into(),
            },
            ClientFrame::RenameRoom {
                room: 2,
                name: "rustaceans".into(),
            },
            ClientFrame::DeleteRoom { room: 2 },
            ClientFrame::JoinRoom { room: 2 },
            ClientFrame::LeaveRoom { room: 2 },
            ClientFrame::OpenDirect { user: 3 },
            ClientFrame::MarkRead {
                room: 1,
                message: 9,
            },
            ClientFrame::ListUsers,
            ClientFrame::ListRooms,
        ];
        for frame in frames {
            let json = frame.to_json();
            assert_eq!(
                serde_json::from_str::<ClientFrame>(&json).unwrap(),
                frame,
                "{json}"
            );
        }
    }

    #[test]
    fn server_frames_round_trip() {
        let alice = User {
            id: 1,
            name: "alice".into(),
        };
        let message = ChatMessage {
            id: 7,
            room: 1,
            author: alice.clone(),
            kind: MessageKind::Text,
            text: "hello".into(),
            sent_at: 1_700_000_000_000,
        };
        let room = RoomSummary {
            id: 1,
            name: "lobby".into(),
            kind: RoomKind::Room,
            created_by: None,
            joined: true,
            unread: 2,
            latest: 7,
        };
        let frames = vec![
            ServerFrame::Welcome {
                protocol: PROTOCOL_VERSION,
                me: alice.clone(),
                is_admin: true,
                rooms: vec![room.clone()],
            },
            ServerFrame::Message {
                message: message.clone(),
            },
            ServerFrame::Sent {
                nonce: "n1".into(),
                id: 7,
            },
            ServerFrame::History {
                room: 1,
                messages: vec![message],
                has_more: false,
            },
            ServerFrame::Members {
                room: 1,
                members: vec![alice.clone()],
                online: vec![1],
            },
            ServerFrame::Rooms {
                rooms: vec![room.clone()],
            },
            ServerFrame::RoomAdded { room },
            ServerFrame::RoomRenamed {
                room: 2,
                name: "b".into(),
            },
            ServerFrame::RoomDeleted {
                room: 2,
                name: "b".into(),
            },
            ServerFrame::Presence {
                user: 1,
                online: false,
            },
            ServerFrame::Users { users: vec![alice] },
            ServerFrame::Read {
                room: 1,
                message: 7,
            },
            ServerFrame::error(ErrorCode::Invalid, "too long"),
        ];
        for frame in frames {
            let json = frame.to_json();
            assert_eq!(
                serde_json::from_str::<ServerFrame>(&json).unwrap(),
                frame,
                "{json}"
            );
        }
    }

    #[test]
    fn hello_is_tagged_by_type() {
        let frame: ClientFrame = serde_json::from_str(r#"{"type":"hello","protocol":1}"#).unwrap();
        assert_eq!(
            frame,
            ClientFrame::Hello {
                protocol: 1,
                resume_after: None
            }
        );
    }

    #[test]
    fn unknown_kind_is_rejected() {
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"explode"}"#).is_err());
    }
}
