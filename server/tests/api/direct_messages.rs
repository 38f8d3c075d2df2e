//! Private one-to-one conversations: privacy, offline delivery and unread counts.

use std::time::Duration;

use crate::support::{TestServer, error_code, text_of};
use app::protocol::{ClientFrame, ErrorCode, RoomKind, ServerFrame};

async fn open_direct(client: &mut crate::support::Client, user: i64) -> i64 {
    client.send(&ClientFrame::OpenDirect { user }).await;
    client
        .expect(|f| match f {
            ServerFrame::RoomAdded { room } if room.kind == RoomKind::Direct => Some(room.id),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn only_the_two_people_can_read_a_conversation() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let mut eve = server.connect(&server.register("eve").await).await;

    let room = open_direct(&mut alice, bob.me().id).await;
    let bobs_view = bob
        .expect(|f| match f {
            ServerFrame::RoomAdded { room } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!((bobs_view.id, bobs_view.name.as_str()), (room, "alice"));

    alice
        .send(&ClientFrame::Send {
            room,
            text: "just between us".into(),
            nonce: None,
        })
        .await;
    assert_eq!(bob.expect(text_of).await.text, "just between us");

    // Eve receives nothing live…
    let eve_saw = eve.drain(Duration::from_millis(400)).await;
    assert!(
        eve_saw.iter().all(|f| !matches!(
            f,
            ServerFrame::Message { .. } | ServerFrame::RoomAdded { .. }
        )),
        "eve saw {eve_saw:?}"
    );
    // …is refused the history, the member list, joining and posting.
    for frame in [
        ClientFrame::History { room, before: None },
        ClientFrame::Members { room },
        ClientFrame::JoinRoom { room },
        ClientFrame::Send {
            room,
            text: "hi".into(),
            nonce: None,
        },
    ] {
        eve.send(&frame).await;
        let reply = eve
            .expect(|f| matches!(f, ServerFrame::Error { .. }).then_some(f))
            .await;
        assert!(
            matches!(
                reply,
                ServerFrame::Error {
                    code: ErrorCode::NotFound | ErrorCode::Forbidden,
                    ..
                }
            ),
            "{frame:?} gave {reply:?}"
        );
    }
    // And joining did not let her in.
    alice
        .send(&ClientFrame::Send {
            room,
            text: "second".into(),
            nonce: None,
        })
        .await;
    bob.expect(|f| text_of(f).filter(|m| m.text == "second"))
        .await;
    let eve_saw = eve.drain(Duration::from_millis(300)).await;
    assert!(
        eve_saw
            .iter()
            .all(|f| !matches!(f, ServerFrame::Message { .. })),
        "eve saw {eve_saw:?}"
    );
}

#[tokio::test]
async fn messages_wait_for_an_offline_person_with_an_unread_count() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let bob_cookie = server.register("bob").await;
    let bob_id = {
        let bob = server.connect(&bob_cookie).await;
        let id = bob.me().id;
        bob.close().await;
        id
    };

    let room = open_direct(&mut alice, bob_id).await;
    for text in ["are you there?", "call me"] {
        alice
            .send(&ClientFrame::Send {
                room,
                text: text.into(),
                nonce: None,
            })
            .await;
        alice
            .expect(|f| text_of(f).filter(|m| m.text == text))
            .await;
    }

    let mut bob = server.connect(&bob_cookie).await;
    let rooms = bob.sidebar();
    let conversation = rooms
        .iter()
        .find(|r| r.id == room)
        .expect("bob has the conversation");
    assert_eq!(conversation.name, "alice");
    assert_eq!(conversation.unread, 2);

    bob.send(&ClientFrame::History { room, before: None }).await;
    let texts = bob
        .expect(|f| match f {
            ServerFrame::History { messages, .. } => {
                Some(messages.into_iter().map(|m| m.text).collect::<Vec<_>>())
            }
            _ => None,
        })
        .await;
    assert_eq!(texts, ["are you there?", "call me"]);

    // Reading clears the count, also for the next visit.
    let latest = conversation.latest;
    bob.send(&ClientFrame::MarkRead {
        room,
        message: latest,
    })
    .await;
    bob.expect(|f| matches!(f, ServerFrame::Read { .. }).then_some(()))
        .await;
    bob.close().await;
    let rooms = server.connect(&bob_cookie).await.sidebar();
    assert_eq!(rooms.iter().find(|r| r.id == room).unwrap().unread, 0);
}

#[tokio::test]
async fn nobody_can_message_themselves_or_a_missing_user() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let me = alice.me().id;
    alice.send(&ClientFrame::OpenDirect { user: me }).await;
    assert_eq!(alice.expect(error_code).await, ErrorCode::Invalid);
    alice.send(&ClientFrame::OpenDirect { user: 9999 }).await;
    assert_eq!(alice.expect(error_code).await, ErrorCode::NotFound);
}

#[tokio::test]
async fn people_connecting_at_the_same_moment_each_get_their_own_rooms_and_counts() {
    let server = TestServer::start().await;
    let cookies = [
        server.register("alice").await,
        server.register("bob").await,
        server.register("carol").await,
    ];
    let mut alice = server.connect(&cookies[0]).await;
    let mut bob = server.connect(&cookies[1]).await;
    let carol_id = server.connect(&cookies[2]).await.me().id;
    alice.create_room("book club").await;
    let chess = bob.create_room("chess").await;
    let to_carol = open_direct(&mut alice, carol_id).await;
    alice.say(to_carol, "are you coming?").await;
    bob.say(chess, "e4").await;
    alice.close().await;
    bob.close().await;

    // All three at once: their sessions and sidebars are looked up together.
    let welcomes =
        futures::future::join_all(cookies.iter().map(|cookie| server.connect(cookie))).await;
    let sidebars: Vec<Vec<(String, u32)>> = welcomes
        .into_iter()
        .map(|client| {
            client
                .sidebar()
                .into_iter()
                .map(|r| (r.name, r.unread))
                .collect()
        })
        .collect();
    let lobby = || ("lobby".to_owned(), 0);
    assert_eq!(
        sidebars,
        vec![
            vec![lobby(), ("book club".into(), 0), ("carol".into(), 0)],
            vec![lobby(), ("chess".into(), 0)],
            vec![lobby(), ("alice".into(), 1)],
        ]
    );
}
