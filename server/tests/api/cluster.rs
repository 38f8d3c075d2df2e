//! Two nodes on one PostgreSQL database and one Redis: people on different nodes talk, see the
//! same messages in the same order, are kicked on every node, and lose nothing when a client
//! moves to the other node or Redis restarts.

use std::collections::HashSet;
use std::time::Duration;

use app::protocol::{CLOSE_RESYNC, CLOSE_SIGNED_OUT, ClientFrame, LOBBY_ID, ServerFrame};

use crate::support::cluster::Cluster;
use crate::support::{Client, TestServer, message_of, text_of};

/// The next text in `room` that `client` receives.
async fn heard(client: &mut Client, room: i64) -> app::protocol::ChatMessage {
    client
        .expect(|f| text_of(f).filter(|m| m.room == room))
        .await
}

/// The next text in `room` that `client` receives from someone else.
async fn heard_from_others(client: &mut Client, room: i64) -> app::protocol::ChatMessage {
    let me = client.me().id;
    client
        .expect(|f| text_of(f).filter(|m| m.room == room && m.author.id != me))
        .await
}

/// Sends `text` to the lobby until the server confirms it, reconnecting (with the same nonce,
/// so it is stored once) whenever the socket is told to resync.
async fn say_surely(node: &TestServer, cookie: &str, client: &mut Client, text: &str) -> i64 {
    let nonce = format!("surely-{text}");
    let send = ClientFrame::Send {
        room: LOBBY_ID,
        text: text.into(),
        nonce: Some(nonce.clone()),
    };
    loop {
        if client.try_send(&send).await {
            loop {
                match tokio::time::timeout(Duration::from_secs(10), client.next_or_close()).await {
                    Ok(Ok(ServerFrame::Sent { nonce: sent, id })) if sent == nonce => return id,
                    Ok(Ok(ServerFrame::Error { message, .. })) => panic!("not sent: {message}"),
                    Ok(Ok(_)) => continue,
                    Ok(Err(code)) => {
                        assert_eq!(code, Some(CLOSE_RESYNC), "closed only to resync");
                        break;
                    }
                    Err(_) => panic!("no answer to {text}"),
                }
            }
        }
        *client = node.connect(cookie).await;
    }
}

#[tokio::test]
async fn people_on_different_nodes_talk_in_a_room() {
    let cluster = Cluster::start().await;
    let alice = cluster.a.register("alice").await;
    let bob = cluster.b.register("bob").await;
    let mut on_a = cluster.a.connect(&alice).await;
    let mut on_b = cluster.b.connect(&bob).await;

    let chess = on_a.create_room("chess").await;
    let added = on_b
        .expect(|f| match f {
            ServerFrame::RoomAdded { room } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!(
        added.id, chess,
        "the new public room shows on the other node"
    );
    on_b.join_room(chess).await;

    let e4 = on_a.say(chess, "e4").await;
    let got = heard_from_others(&mut on_b, chess).await;
    assert_eq!((got.id, got.text.as_str()), (e4, "e4"));
    let e5 = on_b.say(chess, "e5").await;
    let got = heard_from_others(&mut on_a, chess).await;
    assert_eq!((got.id, got.text.as_str()), (e5, "e5"));
}

#[tokio::test]
async fn a_direct_conversation_crosses_nodes() {
    let cluster = Cluster::start().await;
    let alice = cluster.a.register("alice").await;
    let bob = cluster.b.register("bob").await;
    let mut on_a = cluster.a.connect(&alice).await;
    let mut on_b = cluster.b.connect(&bob).await;

    let direct = on_a.open_direct(on_b.me().id).await;
    let shown = on_b
        .expect(|f| match f {
            ServerFrame::RoomAdded { room } => Some(room.id),
            _ => None,
        })
        .await;
    assert_eq!(shown, direct);
    let id = on_a.say(direct, "psst").await;
    assert_eq!(heard_from_others(&mut on_b, direct).await.id, id);
    let reply = on_b.say(direct, "yes?").await;
    assert_eq!(heard_from_others(&mut on_a, direct).await.id, reply);
}

#[tokio::test]
async fn a_private_room_stays_invisible_on_the_other_node() {
    let cluster = Cluster::start().await;
    let alice = cluster.a.register("alice").await;
    let bob = cluster.b.register("bob").await;
    let carol = cluster.b.register("carol").await;
    let mut on_a = cluster.a.connect(&alice).await;
    let mut bob_on_b = cluster.b.connect(&bob).await;
    let mut carol_on_b = cluster.b.connect(&carol).await;

    let secret = on_a.create_private_room("plans").await;
    on_a.add_member(secret, "bob").await;
    let id = on_a.say(secret, "the plan").await;
    assert_eq!(heard(&mut bob_on_b, secret).await.id, id);

    // A lobby message after it: once Carol has it, she would have had the private one too.
    let after = on_a.say(LOBBY_ID, "hello all").await;
    let seen = carol_on_b.drain(Duration::from_millis(500)).await;
    assert!(
        seen.iter()
            .any(|f| message_of(f.clone()).is_some_and(|m| m.id == after)),
        "Carol hears the lobby"
    );
    assert!(
        !seen.iter().any(|f| match f {
            ServerFrame::RoomAdded { room } => room.id == secret,
            other => message_of(other.clone()).is_some_and(|m| m.room == secret),
        }),
        "nothing of the private room reaches Carol: {seen:?}"
    );
}

#[tokio::test]
async fn an_edit_on_one_node_reaches_the_other() {
    let cluster = Cluster::start().await;
    let alice = cluster.a.register("alice").await;
    let bob = cluster.b.register("bob").await;
    let mut on_a = cluster.a.connect(&alice).await;
    let mut on_b = cluster.b.connect(&bob).await;

    let id = on_a.say(LOBBY_ID, "helo").await;
    heard(&mut on_b, LOBBY_ID).await;
    on_a.send(&ClientFrame::EditMessage {
        message: id,
        text: "hello".into(),
    })
    .await;
    let changed = on_b
        .expect(|f| match f {
            ServerFrame::MessageChanged { message } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!((changed.id, changed.text.as_str()), (id, "hello"));
    assert!(changed.change > 0);
}

#[tokio::test]
async fn signing_out_everywhere_closes_sockets_on_the_other_node() {
    let cluster = Cluster::start().await;
    let cookie = cluster.a.register("bob").await;
    let mut on_b = cluster.b.connect(&cookie).await;
    let mut on_a = cluster.a.connect(&cookie).await;

    cluster.a.post("/auth/logout-everywhere", &cookie, "").await;
    for socket in [&mut on_a, &mut on_b] {
        let close = socket.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), CLOSE_SIGNED_OUT);
    }
}

/// Everyone gets every message in the same order (rising ids), whichever node sent it.
#[tokio::test]
async fn messages_sent_on_both_nodes_arrive_in_one_order_everywhere() {
    let cluster = Cluster::start().await;
    let cookies = [
        cluster.a.register("alice").await,
        cluster.b.register("bob").await,
        cluster.a.register("carol").await,
        cluster.b.register("dave").await,
    ];
    let mut alice = cluster.a.connect(&cookies[0]).await;
    let mut bob = cluster.b.connect(&cookies[1]).await;
    let mut carol = cluster.a.connect(&cookies[2]).await;
    let mut dave = cluster.b.connect(&cookies[3]).await;

    const EACH: usize = 60;
    for n in 0..EACH {
        for (sender, who) in [(&mut alice, "a"), (&mut bob, "b")] {
            sender
                .send(&ClientFrame::Send {
                    room: LOBBY_ID,
                    text: format!("{who}{n}"),
                    nonce: None,
                })
                .await;
        }
    }
    for listener in [&mut carol, &mut dave] {
        let mut ids = Vec::new();
        while ids.len() < 2 * EACH {
            ids.push(heard(listener, LOBBY_ID).await.id);
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "rising ids, no repeats: {ids:?}"
        );
    }
}

#[tokio::test]
async fn a_client_that_moves_to_the_other_node_resumes_without_gap_or_repeat() {
    let cluster = Cluster::start().await;
    let alice = cluster.a.register("alice").await;
    let bob = cluster.b.register("bob").await;
    let mut on_a = cluster.a.connect(&alice).await;
    let mut bob_on_b = cluster.b.connect(&bob).await;

    let first = on_a.say(LOBBY_ID, "one").await;
    let cursor = heard(&mut bob_on_b, LOBBY_ID).await.id;
    assert_eq!(cursor, first);
    bob_on_b.close().await;
    let mut missed = Vec::new();
    for text in ["two", "three", "four"] {
        missed.push(on_a.say(LOBBY_ID, text).await);
    }

    let mut bob_on_a = cluster.a.connect_after(&bob, Some(cursor)).await;
    let mut replayed = Vec::new();
    while replayed.len() < missed.len() {
        replayed.push(heard(&mut bob_on_a, LOBBY_ID).await.id);
    }
    assert_eq!(replayed, missed);
    let five = on_a.say(LOBBY_ID, "five").await;
    assert_eq!(
        heard(&mut bob_on_a, LOBBY_ID).await.id,
        five,
        "no repeat before it"
    );
}

/// Bob, on node B, follows Alice's messages from node A while Redis is killed and restarted:
/// his socket is told to resync (close 1012), he reconnects with his cursor, and ends with every
/// message once, in order.
#[tokio::test]
async fn restarting_redis_mid_traffic_loses_nothing() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.a.register("alice").await;
    let bob = cluster.b.register("bob").await;
    let mut on_a = cluster.a.connect(&alice).await;
    let mut bob_on_b = cluster.b.connect(&bob).await;

    const TOTAL: usize = 120;
    let mut sent = Vec::new();
    for n in 0..TOTAL {
        if n == TOTAL / 3 {
            cluster.redis.restart().await;
        }
        sent.push(say_surely(&cluster.a, &alice, &mut on_a, &format!("m{n}")).await);
    }

    let mut got: Vec<i64> = Vec::new();
    let mut reconnects = 0;
    while got.len() < TOTAL {
        match tokio::time::timeout(Duration::from_secs(10), bob_on_b.next_or_close()).await {
            Ok(Ok(frame)) => {
                if let Some(message) = text_of(frame) {
                    got.push(message.id);
                }
            }
            Ok(Err(code)) => {
                assert_eq!(code, Some(CLOSE_RESYNC), "closed only to resync");
                reconnects += 1;
                assert!(reconnects < 5, "reconnected too often");
                bob_on_b = cluster.b.connect_after(&bob, got.last().copied()).await;
            }
            Err(_) => panic!("stalled after {} of {TOTAL}: {got:?}", got.len()),
        }
    }
    assert_eq!(got, sent, "every message once, in order");
    let unique: HashSet<i64> = got.iter().copied().collect();
    assert_eq!(unique.len(), TOTAL);
}

/// A membership change and a room's archiving on node A reach node B: Bob, removed there,
/// hears nothing more from the room; everyone sees the archived room go.
#[tokio::test]
async fn removals_and_archived_rooms_reach_the_other_node() {
    let cluster = Cluster::start().await;
    let owner = cluster.a.register("owner").await;
    let bob = cluster.b.register("bob").await;
    let carol = cluster.b.register("carol").await;
    let mut on_a = cluster.a.connect(&owner).await;
    let mut bob_on_b = cluster.b.connect(&bob).await;
    let mut carol_on_b = cluster.b.connect(&carol).await;

    let club = on_a.create_private_room("club").await;
    on_a.add_member(club, "bob").await;
    let id = on_a.say(club, "welcome").await;
    assert_eq!(heard_from_others(&mut bob_on_b, club).await.id, id);

    let bob_id = bob_on_b.me().id;
    on_a.send(&ClientFrame::RemoveMember {
        room: club,
        user: bob_id,
    })
    .await;
    let gone = bob_on_b
        .expect(|f| match f {
            ServerFrame::RoomRemoved { room, .. } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!(gone, club);
    on_a.say(club, "after bob left").await;
    // A lobby message after it: once Bob has it, he would have had the club's too.
    let marker = on_a.say(LOBBY_ID, "marker").await;
    let heard = bob_on_b.drain(Duration::from_millis(500)).await;
    assert!(
        heard
            .iter()
            .any(|f| message_of(f.clone()).is_some_and(|m| m.id == marker)),
        "Bob hears the lobby"
    );
    assert!(
        !heard
            .iter()
            .any(|f| message_of(f.clone()).is_some_and(|m| m.room == club)),
        "nothing from the club reaches Bob after his removal: {heard:?}"
    );

    let chess = on_a.create_room("chess").await;
    carol_on_b
        .expect(|f| match f {
            ServerFrame::RoomAdded { room } if room.id == chess => Some(()),
            _ => None,
        })
        .await;
    on_a.send(&ClientFrame::DeleteRoom { room: chess }).await;
    let deleted = carol_on_b
        .expect(|f| match f {
            ServerFrame::RoomDeleted { room, .. } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!(
        deleted, chess,
        "the archived room goes on the other node too"
    );
}
