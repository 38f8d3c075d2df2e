//! History: pages of 50, persistence across restarts, and catching up after a reconnect.

use crate::support::{TestServer, text_of, without_flood_limits};
use app::protocol::{ClientFrame, HISTORY_PAGE, LOBBY_ID, ServerFrame};

async fn post_all(client: &mut crate::support::Client, texts: impl IntoIterator<Item = String>) {
    for text in texts {
        client
            .send(&ClientFrame::Send {
                room: LOBBY_ID,
                text: text.clone(),
                nonce: None,
            })
            .await;
        client
            .expect(|f| text_of(f).filter(|m| m.text == text))
            .await;
    }
}

async fn page(
    client: &mut crate::support::Client,
    before: Option<i64>,
) -> (Vec<app::protocol::ChatMessage>, bool) {
    client
        .send(&ClientFrame::History {
            room: LOBBY_ID,
            before,
        })
        .await;
    client
        .expect(|f| match f {
            ServerFrame::History {
                messages, has_more, ..
            } => Some((messages, has_more)),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn history_comes_in_pages_of_fifty_newest_first() {
    let server = TestServer::start_with(without_flood_limits).await;
    let mut alice = server.connect(&server.register("alice").await).await;
    post_all(&mut alice, (1..=120).map(|i| format!("message {i}"))).await;

    let (newest, more) = page(&mut alice, None).await;
    assert_eq!(newest.len(), HISTORY_PAGE);
    assert!(more);
    assert_eq!(newest.last().unwrap().text, "message 120");
    assert_eq!(newest.first().unwrap().text, "message 71");

    let (older, more) = page(&mut alice, Some(newest[0].id)).await;
    assert_eq!(older.len(), HISTORY_PAGE);
    assert!(more);
    assert_eq!(older.last().unwrap().text, "message 70");

    // The oldest page holds the remaining 20 and alice's "joined" notice from signing up.
    let (oldest, more) = page(&mut alice, Some(older[0].id)).await;
    assert_eq!(oldest.len(), 21);
    assert!(!more);
    assert_eq!(oldest[0].kind, app::protocol::MessageKind::Joined);
    assert_eq!(oldest[1].text, "message 1");
}

#[tokio::test]
async fn history_survives_a_server_restart() {
    let mut server = TestServer::start().await;
    let cookie = server.register("alice").await;
    let mut alice = server.connect(&cookie).await;
    post_all(&mut alice, ["before the restart".to_owned()]).await;
    alice.close().await;
    server.stop().await;

    let server = TestServer::start_on(server.db.clone()).await;
    // The session survives too.
    let mut alice = server.connect(&cookie).await;
    let (messages, _) = page(&mut alice, None).await;
    assert_eq!(messages.last().unwrap().text, "before the restart");
}

#[tokio::test]
async fn a_reconnecting_client_gets_what_it_missed_without_duplicates() {
    let server = TestServer::start().await;
    let alice_cookie = server.register("alice").await;
    let mut alice = server.connect(&alice_cookie).await;
    let mut bob = server.connect(&server.register("bob").await).await;

    post_all(&mut bob, ["one".to_owned()]).await;
    let last_seen = alice
        .expect(|f| text_of(f).filter(|m| m.text == "one"))
        .await
        .id;
    alice.close().await;

    post_all(&mut bob, ["two".to_owned(), "three".to_owned()]).await;

    let mut alice = server.connect_after(&alice_cookie, Some(last_seen)).await;
    let first = alice.expect(text_of).await;
    let second = alice.expect(text_of).await;
    assert_eq!(
        (first.text.as_str(), second.text.as_str()),
        ("two", "three")
    );
    let rest = alice.drain(std::time::Duration::from_millis(300)).await;
    assert!(
        rest.iter()
            .all(|f| !matches!(f, ServerFrame::Message { .. })),
        "duplicates: {rest:?}"
    );
}

#[tokio::test]
async fn messages_sent_at_once_by_many_people_are_all_stored_in_one_order() {
    const PEOPLE: usize = 10;
    const EACH: usize = 20;
    let server = TestServer::start_with(without_flood_limits).await;
    let mut reader = server.connect(&server.register("reader").await).await;
    let mut senders = Vec::new();
    for i in 0..PEOPLE {
        senders.push(
            server
                .connect(&server.register(&format!("sender{i}")).await)
                .await,
        );
    }
    // Everyone fires without waiting, so the server stores them in shared batches.
    for (i, sender) in senders.iter_mut().enumerate() {
        for j in 0..EACH {
            sender
                .send(&ClientFrame::Send {
                    room: LOBBY_ID,
                    text: format!("{i}/{j}"),
                    nonce: Some(format!("{i}/{j}")),
                })
                .await;
        }
    }
    let mut acknowledged = std::collections::HashMap::new();
    for sender in &mut senders {
        for _ in 0..EACH {
            let (nonce, id) = sender
                .expect(|f| match f {
                    ServerFrame::Sent { nonce, id } => Some((nonce, id)),
                    _ => None,
                })
                .await;
            acknowledged.insert(nonce, id);
        }
    }

    // The reader gets each exactly once, ids rising, each sender's in the order sent, each with
    // the id its sender was given.
    let mut received = Vec::new();
    while received.len() < PEOPLE * EACH {
        received.push(reader.expect(text_of).await);
    }
    assert!(received.windows(2).all(|w| w[0].id < w[1].id));
    for m in &received {
        assert_eq!(acknowledged.get(&m.text), Some(&m.id), "{}", m.text);
    }
    for i in 0..PEOPLE {
        let order: Vec<usize> = received
            .iter()
            .filter_map(|m| m.text.strip_prefix(&format!("{i}/")))
            .map(|j| j.parse().unwrap())
            .collect();
        assert_eq!(order, (0..EACH).collect::<Vec<_>>());
    }

    // And the history holds the same messages in the same order.
    let (newest, _) = page(&mut reader, None).await;
    let tail: Vec<i64> = received[received.len() - HISTORY_PAGE..]
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(newest.iter().map(|m| m.id).collect::<Vec<_>>(), tail);
}
