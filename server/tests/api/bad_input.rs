//! Hostile or broken input: each gets a clear error frame or close code, and the server
//! carries on.

use crate::support::{TestServer, error_code, text_of};
use app::protocol::{
    CLOSE_PROTOCOL, CLOSE_TOO_BIG, ClientFrame, ErrorCode, LOBBY_ID, MAX_FRAME_BYTES,
    PROTOCOL_VERSION, ServerFrame,
};
use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn malformed_json_gets_a_bad_frame_error_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    alice.send_text("{not json").await;
    assert_eq!(alice.expect(error_code).await, ErrorCode::BadFrame);
    alice
        .send(&ClientFrame::Send {
            room: LOBBY_ID,
            text: "still works".into(),
            nonce: None,
        })
        .await;
    assert_eq!(alice.expect(text_of).await.text, "still works");
}

#[tokio::test]
async fn an_unknown_kind_gets_a_bad_frame_error() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    alice.send_text(r#"{"type":"self_destruct"}"#).await;
    assert_eq!(alice.expect(error_code).await, ErrorCode::BadFrame);
    alice
        .send_text(r#"{"type":"send","room":"lobby","text":1}"#)
        .await;
    assert_eq!(alice.expect(error_code).await, ErrorCode::BadFrame);
}

#[tokio::test]
async fn a_binary_frame_gets_a_bad_frame_error() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    alice
        .socket
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(alice.expect(error_code).await, ErrorCode::BadFrame);
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_with_1009() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let huge = format!(
        r#"{{"type":"send","room":1,"text":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    alice.send_text(&huge).await;
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_TOO_BIG);
}

#[tokio::test]
async fn empty_and_too_long_messages_are_refused_with_the_nonce() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    for (text, nonce) in [("   ".to_owned(), "empty"), ("y".repeat(4001), "long")] {
        alice
            .send(&ClientFrame::Send {
                room: LOBBY_ID,
                text,
                nonce: Some(nonce.into()),
            })
            .await;
        let (code, echoed) = alice
            .expect(|f| match f {
                ServerFrame::Error { code, nonce, .. } => Some((code, nonce)),
                _ => None,
            })
            .await;
        assert_eq!(code, ErrorCode::Invalid);
        assert_eq!(echoed.as_deref(), Some(nonce));
    }
    // Exactly 4000 characters (multi-byte ones, too) is fine.
    let longest = "é".repeat(4000);
    alice
        .send(&ClientFrame::Send {
            room: LOBBY_ID,
            text: longest.clone(),
            nonce: None,
        })
        .await;
    assert_eq!(alice.expect(text_of).await.text, longest);
}

#[tokio::test]
async fn an_unknown_room_is_not_found() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    for frame in [
        ClientFrame::Send {
            room: 424242,
            text: "anyone?".into(),
            nonce: None,
        },
        ClientFrame::History {
            room: 424242,
            before: None,
        },
        ClientFrame::JoinRoom { room: 424242 },
    ] {
        alice.send(&frame).await;
        assert_eq!(
            alice.expect(error_code).await,
            ErrorCode::NotFound,
            "{frame:?}"
        );
    }
}

#[tokio::test]
async fn the_first_frame_must_be_hello_with_our_protocol_version() {
    let server = TestServer::start().await;
    let cookie = server.register("alice").await;

    let mut early = server
        .open_socket(Some(&cookie), Some(&server.origin))
        .await
        .unwrap();
    early.send(&ClientFrame::ListUsers).await;
    assert_eq!(
        u16::from(early.closed().await.unwrap().code),
        CLOSE_PROTOCOL
    );

    let mut future = server
        .open_socket(Some(&cookie), Some(&server.origin))
        .await
        .unwrap();
    future
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION + 1,
            resume_after: None,
            changes_after: None,
        })
        .await;
    assert_eq!(
        u16::from(future.closed().await.unwrap().code),
        CLOSE_PROTOCOL
    );
}
