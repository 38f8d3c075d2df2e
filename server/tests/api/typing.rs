//! Typing indicators: at most one frame a typist every 3 s, a room's typists gathered into one
//! frame, never stored, and only in one's own rooms.

use std::time::Duration;

use crate::support::{Client, TestServer};
use app::protocol::{ClientFrame, ErrorCode, LOBBY_ID, ServerFrame, User};

/// The `typing` frames `client` hears in `room` until `quiet` passes without one.
async fn typing_frames(client: &mut Client, room: i64, quiet: Duration) -> Vec<Vec<User>> {
    client
        .drain(quiet)
        .await
        .into_iter()
        .filter_map(|f| match f {
            ServerFrame::Typing { room: r, users } if r == room => Some(users),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_typist_reaches_the_room_once_every_three_seconds_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    bob.drain(Duration::from_millis(200)).await;
    let stored_before = server.sql_number("SELECT count(*) FROM messages").await;

    // A burst of keystrokes: one frame reaches Bob, naming Alice.
    for _ in 0..5 {
        alice.send(&ClientFrame::Typing { room: LOBBY_ID }).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let heard = typing_frames(&mut bob, LOBBY_ID, Duration::from_millis(800)).await;
    assert_eq!(heard, [vec![alice.me()]]);

    // Still typing three seconds later: another one.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    alice.send(&ClientFrame::Typing { room: LOBBY_ID }).await;
    let heard = typing_frames(&mut bob, LOBBY_ID, Duration::from_millis(800)).await;
    assert_eq!(heard, [vec![alice.me()]]);

    assert_eq!(
        server.sql_number("SELECT count(*) FROM messages").await,
        stored_before,
        "typing is never stored"
    );
}

#[tokio::test]
async fn the_typists_of_a_room_are_announced_together() {
    let server = TestServer::start().await;
    let mut listener = server.connect(&server.register("listener").await).await;
    let mut typists = Vec::new();
    for n in 0..6 {
        typists.push(
            server
                .connect(&server.register(&format!("typist{n}")).await)
                .await,
        );
    }
    listener.drain(Duration::from_millis(300)).await;
    for typist in &mut typists {
        typist.send(&ClientFrame::Typing { room: LOBBY_ID }).await;
    }
    let heard = typing_frames(&mut listener, LOBBY_ID, Duration::from_millis(800)).await;
    let mut named: Vec<i64> = heard.iter().flatten().map(|u| u.id).collect();
    named.sort_unstable();
    let mut expected: Vec<i64> = typists.iter().map(|t| t.me().id).collect();
    expected.sort_unstable();
    assert_eq!(named, expected, "each typist named once");
    // Gathered a quarter of a second at a time: far fewer frames than typists.
    assert!(heard.len() <= 2, "{} frames for 6 typists", heard.len());
}

#[tokio::test]
async fn typing_in_a_room_one_is_not_in_is_refused_and_heard_by_nobody() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut eve = server.connect(&server.register("eve").await).await;
    let room = alice.create_private_room("secret").await;
    alice.drain(Duration::from_millis(200)).await;
    assert_eq!(
        eve.outcome(&ClientFrame::Typing { room }).await,
        Some(ErrorCode::NotFound)
    );
    assert!(
        typing_frames(&mut alice, room, Duration::from_millis(600))
            .await
            .is_empty()
    );
}
