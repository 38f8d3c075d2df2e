//! A client that stops reading is disconnected instead of growing the server's memory.

use std::time::Duration;

use app::protocol::{CLOSE_TOO_SLOW, ClientFrame, LOBBY_ID, ServerFrame};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestServer, without_flood_limits};

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected() {
    let server = TestServer::start_with(without_flood_limits).await;
    let mut sleeper = server.connect(&server.register("sleeper").await).await;
    let sleeper_id = sleeper.me().id;
    // Eight posters, each reading everything it gets; the first also watches for the sleeper
    // to go offline. Big (multi-byte) messages fill the sleeper's queue and socket buffers soon.
    let text = "😀".repeat(4000);
    let mut watcher = None;
    let mut posting = Vec::new();
    for i in 0..8 {
        let mut poster = server
            .connect(&server.register(&format!("poster{i}")).await)
            .await;
        if i == 0 {
            // Presence comes to those watching a room's members.
            poster.send(&ClientFrame::Members { room: LOBBY_ID }).await;
        }
        let (mut send, mut receive) = poster.socket.split();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = receive.next().await {
                if let Message::Text(text) = message
                    && let Ok(ServerFrame::Presence {
                        user,
                        online: false,
                    }) = serde_json::from_str(text.as_str())
                    && user == sleeper_id
                {
                    return true;
                }
            }
            false
        });
        if i == 0 {
            watcher = Some(reader);
        }
        let text = text.clone();
        posting.push(tokio::spawn(async move {
            let frame = ClientFrame::Send {
                room: LOBBY_ID,
                text,
                nonce: None,
            };
            let json = serde_json::to_string(&frame).unwrap();
            for _ in 0..400 {
                if send.send(Message::text(json.clone())).await.is_err() {
                    break;
                }
            }
        }));
    }

    // The sleeper has read nothing: the server gives up on it and it goes offline.
    let gone = tokio::time::timeout(Duration::from_secs(60), watcher.expect("a watcher"))
        .await
        .expect("disconnected in time");
    assert!(gone.unwrap(), "the sleeper was reported offline");
    // What it can still read ends in a 1008 close, or (if even that could not be delivered) a cut.
    if let Some(close) = sleeper.closed().await {
        assert_eq!(u16::from(close.code), CLOSE_TOO_SLOW);
    }
    for task in posting {
        task.abort();
    }
}
