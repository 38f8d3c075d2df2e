//! Every frame survives a round trip through JSON, with the field defaults clients rely on.

use super::*;

fn round_trips<T>(frames: Vec<T>)
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    for frame in frames {
        let json = serde_json::to_string(&frame).unwrap();
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), frame, "{json}");
    }
}

#[test]
fn client_frames_round_trip() {
    round_trips(vec![
        ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            resume_after: Some(41),
            changes_after: Some(3),
        },
        ClientFrame::Send {
            room: 1,
            text: "hi <b>".into(),
            nonce: Some("n1".into()),
        },
        ClientFrame::EditMessage {
            message: 7,
            text: "fixed".into(),
        },
        ClientFrame::DeleteMessage { message: 7 },
        ClientFrame::History {
            room: 1,
            before: None,
        },
        ClientFrame::Members { room: 2 },
        ClientFrame::MoreMembers {
            room: 2,
            after: "bob".into(),
        },
        ClientFrame::MoreUsers {
            after: "bob".into(),
        },
        ClientFrame::CreateRoom {
            name: "rust".into(),
            visibility: Visibility::Private,
        },
        ClientFrame::RenameRoom {
            room: 2,
            name: "rustaceans".into(),
        },
        ClientFrame::DeleteRoom { room: 2 },
        ClientFrame::JoinRoom { room: 2 },
        ClientFrame::LeaveRoom { room: 2 },
        ClientFrame::AddMember {
            room: 2,
            username: "bob".into(),
        },
        ClientFrame::RemoveMember { room: 2, user: 3 },
        ClientFrame::MuteMember {
            room: 2,
            user: 3,
            length: MuteLength::OneHour,
        },
        ClientFrame::UnmuteMember { room: 2, user: 3 },
        ClientFrame::OpenDirect { user: 3 },
        ClientFrame::MarkRead {
            room: 1,
            message: 9,
        },
        ClientFrame::ListUsers,
        ClientFrame::ListRooms,
        ClientFrame::GiveFeedback {
            message: 7,
            text: "Good point; cite a source next time.".into(),
        },
    ]);
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
        edited_at: None,
        deleted: false,
        change: 0,
        feedback: false,
    };
    let edited = ChatMessage {
        text: "hello!".into(),
        edited_at: Some(1_700_000_001_000),
        change: 4,
        ..message.clone()
    };
    let room = RoomSummary {
        id: 1,
        name: "lobby".into(),
        kind: RoomKind::Room,
        visibility: Visibility::Public,
        created_by: None,
        joined: true,
        unread: 2,
        mentions: 0,
        latest: 7,
        last_read: 5,
        online: 3,
        muted_until: Some(MUTED_INDEFINITELY),
    };
    round_trips(vec![
        ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            me: alice.clone(),
            role: Role::Teacher,
            rooms: vec![room.clone()],
            changes: 4,
            feedback_unread: 2,
            direct_reviewable: true,
            replay_truncated: true,
        },
        ServerFrame::Message {
            message: message.clone(),
        },
        ServerFrame::MessageChanged { message: edited },
        ServerFrame::FeedbackGiven {
            room: 1,
            message: 7,
        },
        ServerFrame::FeedbackUnread { count: 3 },
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
            muted: vec![Muted { user: 1, until: 9 }],
            more: true,
        },
        ServerFrame::MoreMembers {
            room: 1,
            members: vec![alice.clone()],
            online: vec![],
            more: false,
        },
        ServerFrame::MoreUsers {
            users: vec![alice.clone()],
            more: true,
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
        ServerFrame::RoomRemoved {
            room: 2,
            name: "b".into(),
        },
        ServerFrame::Presence {
            user: 1,
            online: false,
        },
        ServerFrame::OnlineCount { room: 1, online: 4 },
        ServerFrame::MemberMuted {
            room: 1,
            user: 2,
            until: Some(5),
        },
        ServerFrame::MemberMuted {
            room: 1,
            user: 2,
            until: None,
        },
        ServerFrame::RoleChanged { role: Role::Admin },
        ServerFrame::Users {
            users: vec![alice],
            more: false,
        },
        ServerFrame::Read {
            room: 1,
            message: 7,
        },
        ServerFrame::error(ErrorCode::Invalid, "too long"),
    ]);
}

#[test]
fn an_unchanged_message_carries_no_change_fields() {
    let json = ServerFrame::Message {
        message: ChatMessage {
            id: 1,
            room: 1,
            author: User {
                id: 1,
                name: "a".into(),
            },
            kind: MessageKind::Text,
            text: "hi".into(),
            sent_at: 0,
            edited_at: None,
            deleted: false,
            change: 0,
            feedback: false,
        },
    }
    .to_json();
    assert!(!json.contains("edited_at") && !json.contains("deleted") && !json.contains("change"));
}

#[test]
fn hello_is_tagged_by_type() {
    let frame: ClientFrame = serde_json::from_str(r#"{"type":"hello","protocol":1}"#).unwrap();
    assert_eq!(
        frame,
        ClientFrame::Hello {
            protocol: 1,
            resume_after: None,
            changes_after: None,
        }
    );
}

#[test]
fn a_room_is_public_unless_asked_otherwise() {
    let frame: ClientFrame = serde_json::from_str(r#"{"type":"create_room","name":"x"}"#).unwrap();
    assert_eq!(
        frame,
        ClientFrame::CreateRoom {
            name: "x".into(),
            visibility: Visibility::Public
        }
    );
}

#[test]
fn unknown_kind_is_rejected() {
    assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"explode"}"#).is_err());
}

#[test]
fn roles_read_back_from_their_stored_names() {
    for role in Role::ALL {
        assert_eq!(Role::parse(role.as_str()), Some(role));
    }
    assert_eq!(Role::parse("root"), None);
}
