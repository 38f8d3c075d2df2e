//! Delivery under faults: a send repeated with its nonce (after a lost acknowledgement, a
//! reconnect, a restart) is stored once and answered with the first one's id.

use app::protocol::{ClientFrame, LOBBY_ID, ServerFrame};

use crate::support::{Client, TestServer};

fn send(nonce: &str, text: &str) -> ClientFrame {
    ClientFrame::Send {
        room: LOBBY_ID,
        text: text.into(),
        nonce: Some(nonce.into()),
    }
}

/// The id the server acknowledged for `nonce`.
async fn acknowledged(client: &mut Client, nonce: &str) -> i64 {
    client
        .expect(|frame| match frame {
            ServerFrame::Sent { nonce: n, id } if n == nonce => Some(id),
            _ => None,
        })
        .await
}

async fn stored(server: &TestServer, text: &str) -> i64 {
    server
        .sql_number(&format!(
            "SELECT COUNT(*) FROM messages WHERE body = '{text}'"
        ))
        .await
}

#[tokio::test]
async fn the_same_nonce_sent_twice_is_stored_once_with_one_id() {
    let server = TestServer::start().await;
    let cookie = server.register("alice").await;
    let mut alice = server.connect(&cookie).await;
    alice.send(&send("n-1", "once")).await;
    let first = acknowledged(&mut alice, "n-1").await;
    alice.send(&send("n-1", "once")).await;
    let again = acknowledged(&mut alice, "n-1").await;
    assert_eq!(first, again);
    assert_eq!(stored(&server, "once").await, 1);
}

#[tokio::test]
async fn the_same_nonce_twice_in_one_burst_is_stored_once() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    // Both frames leave before either is answered, so they may share a commit batch.
    let frame = serde_json::to_string(&send("twin", "twice at once")).unwrap();
    alice.send_text(&frame).await;
    alice.send_text(&frame).await;
    let first = acknowledged(&mut alice, "twin").await;
    let second = acknowledged(&mut alice, "twin").await;
    assert_eq!(first, second);
    assert_eq!(stored(&server, "twice at once").await, 1);
}

#[tokio::test]
async fn a_resend_after_reconnecting_to_a_restarted_server_is_not_stored_again() {
    let mut server = TestServer::start().await;
    let cookie = server.register("alice").await;
    let mut alice = server.connect(&cookie).await;
    alice.send(&send("before-restart", "kept once")).await;
    let id = acknowledged(&mut alice, "before-restart").await;
    drop(alice);
    server.stop().await;
    let server = TestServer::start_on(server.db.clone()).await;
    let mut alice = server.connect(&cookie).await;
    alice.send(&send("before-restart", "kept once")).await;
    assert_eq!(acknowledged(&mut alice, "before-restart").await, id);
    assert_eq!(stored(&server, "kept once").await, 1);
}

#[tokio::test]
async fn one_persons_nonce_does_not_block_anothers() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    alice.send(&send("shared", "from alice")).await;
    let a = acknowledged(&mut alice, "shared").await;
    bob.send(&send("shared", "from bob")).await;
    let b = acknowledged(&mut bob, "shared").await;
    assert_ne!(a, b);
    assert_eq!(stored(&server, "from bob").await, 1);
}
