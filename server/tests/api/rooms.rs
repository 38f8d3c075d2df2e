//! Rooms: posting, join/leave notices, and the live room list.

use std::time::Duration;

use crate::support::{TestServer, error_code, message_of, text_of};
use app::protocol::{
    ClientFrame, ErrorCode, LOBBY_ID, MessageKind, RoomKind, ServerFrame, Visibility,
};

#[tokio::test]
async fn a_message_reaches_everyone_in_the_room() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let mut carol = server.connect(&server.register("carol").await).await;

    alice
        .send(&ClientFrame::Send {
            room: LOBBY_ID,
            text: "hello <b>all</b>".into(),
            nonce: Some("n1".into()),
        })
        .await;

    for client in [&mut bob, &mut carol] {
        let message = client.expect(text_of).await;
        assert_eq!(message.text, "hello <b>all</b>");
        assert_eq!(message.author.name, "alice");
        assert_eq!(message.room, LOBBY_ID);
        assert_eq!(message.kind, MessageKind::Text);
    }
    // The sender gets the message like everyone else, and an acknowledgement (in either order).
    let (mut echoed, mut acked) = (None, None);
    while echoed.is_none() || acked.is_none() {
        match alice.next().await {
            ServerFrame::Message { message } if message.kind == MessageKind::Text => {
                echoed = Some(message)
            }
            ServerFrame::Sent { nonce, id } => acked = Some((nonce, id)),
            _ => {}
        }
    }
    let (echoed, (nonce, id)) = (echoed.unwrap(), acked.unwrap());
    assert_eq!(nonce, "n1");
    assert_eq!(id, echoed.id);
    assert_eq!(echoed.text, "hello <b>all</b>");
}

#[tokio::test]
async fn joining_and_leaving_show_notices_to_the_room() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = alice.create_room("rust").await;

    bob.send(&ClientFrame::JoinRoom { room }).await;
    for client in [&mut alice, &mut bob] {
        let notice = client
            .expect(|f| {
                message_of(f).filter(|m| m.kind == MessageKind::Joined && m.author.name == "bob")
            })
            .await;
        assert_eq!(notice.room, room);
    }

    bob.send(&ClientFrame::LeaveRoom { room }).await;
    for client in [&mut alice, &mut bob] {
        client
            .expect(|f| {
                message_of(f).filter(|m| m.kind == MessageKind::Left && m.author.name == "bob")
            })
            .await;
    }

    // Having left, bob no longer receives the room.
    alice
        .send(&ClientFrame::Send {
            room,
            text: "still here?".into(),
            nonce: None,
        })
        .await;
    alice
        .expect(|f| text_of(f).filter(|m| m.text == "still here?"))
        .await;
    let after = bob.drain(Duration::from_millis(300)).await;
    assert!(
        after
            .iter()
            .all(|f| !matches!(f, ServerFrame::Message { .. })),
        "bob got {after:?}"
    );
}

#[tokio::test]
async fn posting_needs_membership() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = alice.create_room("members-only").await;
    bob.send(&ClientFrame::Send {
        room,
        text: "let me in".into(),
        nonce: Some("b1".into()),
    })
    .await;
    let (code, nonce) = bob
        .expect(|f| match f {
            ServerFrame::Error { code, nonce, .. } => Some((code, nonce)),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Forbidden);
    assert_eq!(nonce.as_deref(), Some("b1"));
}

#[tokio::test]
async fn the_room_list_updates_live_for_everyone() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;

    let room = alice.create_room("book club").await;
    let seen = bob
        .expect(|f| match f {
            ServerFrame::RoomAdded { room } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!(
        (seen.id, seen.name.as_str(), seen.kind),
        (room, "book club", RoomKind::Room)
    );

    alice
        .send(&ClientFrame::RenameRoom {
            room,
            name: "reading group".into(),
        })
        .await;
    let renamed = bob
        .expect(|f| match f {
            ServerFrame::RoomRenamed { room, name } => Some((room, name)),
            _ => None,
        })
        .await;
    assert_eq!(renamed, (room, "reading group".to_owned()));

    alice.send(&ClientFrame::DeleteRoom { room }).await;
    let deleted = bob
        .expect(|f| match f {
            ServerFrame::RoomDeleted { room, .. } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!(deleted, room);

    // A new connection no longer finds it among the rooms to join.
    let mut fresh = server.connect(&server.register("carol").await).await;
    let rooms = fresh.list_rooms().await;
    assert!(rooms.iter().all(|r| r.id != room));
}

#[tokio::test]
async fn the_welcome_lists_my_rooms_and_the_others_are_listed_on_request() {
    let server = TestServer::start().await;
    let bob_account = server.register("bob").await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let room = alice.create_room("book club").await;

    // Bob's sidebar starts with the rooms he is in: the lobby only.
    let mut bob = server.connect(&bob_account).await;
    let ids: Vec<(i64, bool)> = bob.sidebar().iter().map(|r| (r.id, r.joined)).collect();
    assert_eq!(ids, vec![(LOBBY_ID, true)]);

    // Browsing shows every named room and whether he is in it.
    let listed: Vec<(i64, String, bool)> = bob
        .list_rooms()
        .await
        .into_iter()
        .map(|r| (r.id, r.name, r.joined))
        .collect();
    assert_eq!(
        listed,
        vec![
            (LOBBY_ID, "lobby".to_owned(), true),
            (room, "book club".to_owned(), false)
        ]
    );

    // Once he joins, the room is in his next welcome, with what he missed counted.
    bob.join_room(room).await;
    bob.close().await;
    alice.say(room, "chapter one tonight").await;
    let rooms = server.connect(&bob_account).await.sidebar();
    let book_club = rooms.iter().find(|r| r.id == room).expect("joined room");
    assert!(book_club.joined);
    assert_eq!(book_club.unread, 1);
}

#[tokio::test]
async fn only_the_creator_or_the_administrator_renames_or_deletes() {
    let server = TestServer::start().await;
    let mut admin = server.connect(&server.register("admin").await).await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = alice.create_room("alices").await;

    bob.send(&ClientFrame::RenameRoom {
        room,
        name: "bobs".into(),
    })
    .await;
    let code = bob.expect(error_code).await;
    assert_eq!(code, ErrorCode::Forbidden);
    bob.send(&ClientFrame::DeleteRoom { room }).await;
    let code = bob.expect(error_code).await;
    assert_eq!(code, ErrorCode::Forbidden);

    admin.send(&ClientFrame::DeleteRoom { room }).await;
    admin
        .expect(|f| match f {
            ServerFrame::RoomDeleted { room: r, .. } if r == room => Some(()),
            _ => None,
        })
        .await;
}

#[tokio::test]
async fn room_names_are_unique_ignoring_case() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    alice.create_room("Games").await;
    alice
        .send(&ClientFrame::CreateRoom {
            name: "gAMES".into(),
            visibility: Visibility::Public,
        })
        .await;
    let code = alice.expect(error_code).await;
    assert_eq!(code, ErrorCode::Conflict);
}

#[tokio::test]
async fn the_lobby_cannot_be_left_or_deleted() {
    let server = TestServer::start().await;
    let mut admin = server.connect(&server.register("admin").await).await;
    admin.send(&ClientFrame::LeaveRoom { room: LOBBY_ID }).await;
    let code = admin.expect(error_code).await;
    assert_eq!(code, ErrorCode::Forbidden);
    admin
        .send(&ClientFrame::DeleteRoom { room: LOBBY_ID })
        .await;
    let code = admin.expect(error_code).await;
    assert_eq!(code, ErrorCode::Forbidden);
}

/// The unread count of `room` in the sidebar `cookie`'s owner gets on connecting.
async fn unread_on_return(server: &TestServer, cookie: &str, room: i64) -> u32 {
    let client = server.connect(cookie).await;
    let rooms = client.sidebar();
    client.close().await;
    rooms
        .iter()
        .find(|r| r.id == room)
        .expect("a room of mine")
        .unread
}

#[tokio::test]
async fn posting_in_a_room_marks_it_read_up_to_my_message() {
    let server = TestServer::start().await;
    let alice_cookie = server.register("alice").await;
    let mut alice = server.connect(&alice_cookie).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = alice.create_room("book club").await;
    bob.join_room(room).await;
    alice.close().await;

    bob.say(room, "chapter one?").await;
    bob.say(room, "or two").await;
    assert_eq!(unread_on_return(&server, &alice_cookie, room).await, 2);

    // Answering without marking anything read: she has read what she answered.
    let mut alice = server.connect(&alice_cookie).await;
    alice.say(room, "two").await;
    alice.close().await;
    assert_eq!(unread_on_return(&server, &alice_cookie, room).await, 0);

    bob.say(room, "see you there").await;
    assert_eq!(unread_on_return(&server, &alice_cookie, room).await, 1);
}

#[tokio::test]
async fn reading_up_to_a_message_leaves_the_later_ones_unread() {
    let server = TestServer::start().await;
    let alice_cookie = server.register("alice").await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = bob.create_room("chess").await;
    let mut alice = server.connect(&alice_cookie).await;
    alice.join_room(room).await;
    let first = bob.say(room, "e4").await;
    bob.say(room, "your move").await;
    bob.say(room, "still there?").await;

    alice
        .send(&ClientFrame::MarkRead {
            room,
            message: first,
        })
        .await;
    alice
        .expect(|f| matches!(f, ServerFrame::Read { .. }).then_some(()))
        .await;
    alice.close().await;
    assert_eq!(unread_on_return(&server, &alice_cookie, room).await, 2);
}
