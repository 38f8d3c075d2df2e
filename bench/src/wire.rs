//! The two wire protocols the generator speaks: Hearth's own JSON frames (docs/protocol.md) and
//! Socket.IO v4 (Engine.IO v4 packets over a plain WebSocket) for the peer servers.
//!
//! Everything above this module sees the same three things: open a connection that is in its
//! room, the frame that publishes a text to a room, and what an incoming frame means.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::load::{self, Outcome, Plan, Watched};

pub type Socket = WebSocketStream<TcpStream>;

/// How long any single step of a handshake may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// Each client's read buffer. tungstenite's default (128 KiB) is allocated up front for every
/// connection: a `mmap` per connect and 1.3 GB of address space at 10,000 clients, for
/// deliveries that are small frames.
const READ_BUFFER: usize = 4 * 1024;

/// Whether Hearth's sends carry a nonce (as a browser's do). Off only to measure what the
/// idempotent path costs (`hearth-load suite --no-nonce`): the bench sent none before 2026-12-02b.
static HEARTH_NONCE: AtomicBool = AtomicBool::new(true);

/// Makes Hearth's sends carry a nonce, or not, from now on.
pub fn send_nonces(on: bool) {
    HEARTH_NONCE.store(on, Ordering::Relaxed);
}

/// Which protocol a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    Hearth,
    #[value(name = "socketio")]
    SocketIo,
}

/// What an incoming frame means to a load client.
pub enum Incoming<'a> {
    /// A chat message delivered in `room`.
    Delivery {
        room: i64,
        text: Cow<'a, str>,
    },
    /// Engine.IO ping: answer with [`Wire::pong`].
    Ping,
    /// Hearth's `sent`: a send (with its nonce) was stored.
    Sent,
    /// Hearth's `typing`: people type in a room.
    Typing,
    /// Hearth's `error` for a send: `rate_limited`, or another refusal.
    Refused {
        rate_limited: bool,
    },
    Other,
}

#[derive(Deserialize)]
struct HearthFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    message: Option<HearthMessage<'a>>,
}

/// An `error` frame, whose `message` is text, not a chat message.
#[derive(Deserialize)]
struct HearthError<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    code: &'a str,
}

#[derive(Deserialize)]
struct HearthMessage<'a> {
    room: i64,
    #[serde(borrow)]
    kind: &'a str,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

#[derive(Deserialize)]
struct SocketIoMessage<'a> {
    #[serde(borrow)]
    room: &'a str,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// Socket.IO room names are strings: room `n` is "r<n>".
fn socketio_room(room: i64) -> String {
    format!("r{room}")
}

impl Wire {
    /// The frame that posts `text` to `room`. Hearth's carries `text` as its nonce too, as a
    /// browser's send carries one (unique per message: every text is a unique stamp), so the
    /// server takes the idempotent path (the nonce stored with the message) and answers the
    /// sender with `sent`. Socket.IO has no such thing.
    pub fn publish(self, room: i64, text: &str) -> String {
        match self {
            Wire::Hearth if HEARTH_NONCE.load(Ordering::Relaxed) => {
                serde_json::json!({"type": "send", "room": room, "text": text, "nonce": text})
                    .to_string()
            }
            Wire::Hearth => {
                serde_json::json!({"type": "send", "room": room, "text": text}).to_string()
            }
            Wire::SocketIo => format!(
                "42{}",
                serde_json::json!(["send", {"room": socketio_room(room), "text": text}])
            ),
        }
    }

    pub fn parse(self, frame: &str) -> Incoming<'_> {
        match self {
            Wire::Hearth => match serde_json::from_str::<HearthFrame>(frame) {
                Ok(HearthFrame {
                    kind: "message",
                    message: Some(m),
                }) if m.kind == "text" => Incoming::Delivery {
                    room: m.room,
                    text: m.text,
                },
                Ok(HearthFrame { kind: "sent", .. }) => Incoming::Sent,
                Ok(HearthFrame { kind: "typing", .. }) => Incoming::Typing,
                Ok(_) => Incoming::Other,
                Err(_) => match serde_json::from_str::<HearthError>(frame) {
                    Ok(HearthError {
                        kind: "error",
                        code,
                    }) => Incoming::Refused {
                        rate_limited: code == "rate_limited",
                    },
                    _ => Incoming::Other,
                },
            },
            Wire::SocketIo => {
                if frame == "2" {
                    return Incoming::Ping;
                }
                let Some(event) = frame.strip_prefix("42") else {
                    return Incoming::Other;
                };
                match serde_json::from_str::<(&str, SocketIoMessage)>(event) {
                    Ok(("message", m)) => match m.room.strip_prefix('r').map(str::parse) {
                        Some(Ok(room)) => Incoming::Delivery { room, text: m.text },
                        _ => Incoming::Other,
                    },
                    _ => Incoming::Other,
                }
            }
        }
    }

    /// The answer to a ping.
    pub fn pong(self) -> &'static str {
        "3"
    }
}

/// Opens a WebSocket to `server` (`http://host:port`) from the local address `source`.
pub async fn dial(
    server: &str,
    path: &str,
    source: IpAddr,
    headers: &[(&'static str, &str)],
) -> Result<Socket, String> {
    let authority = server.trim_start_matches("http://").trim_end_matches('/');
    let addr: SocketAddr = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = tokio::time::timeout(STEP_TIMEOUT, socket.connect(addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!("ws://{authority}{path}")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    for (name, value) in headers {
        request.headers_mut().insert(
            *name,
            HeaderValue::from_str(value).map_err(|e| e.to_string())?,
        );
    }
    let (ws, _) = tokio::time::timeout(
        STEP_TIMEOUT,
        client_async_with_config(
            request,
            stream,
            Some(WebSocketConfig::default().read_buffer_size(READ_BUFFER)),
        ),
    )
    .await
    .map_err(|_| "upgrade timed out".to_string())?
    .map_err(|e| format!("upgrade: {e}"))?;
    Ok(ws)
}

pub async fn send(ws: &mut Socket, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())
}

/// The next text frame (pings and pongs of the WebSocket layer are skipped).
pub async fn next_text(ws: &mut Socket) -> Result<String, String> {
    loop {
        match tokio::time::timeout(STEP_TIMEOUT, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(Message::Close(close)))) => {
                return Err(format!("the server closed the connection: {close:?}"));
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => return Err("the server closed the connection".into()),
            Err(_) => return Err(format!("no frame within {STEP_TIMEOUT:?}")),
        }
    }
}

/// Connects to a Socket.IO v4 server's default namespace and joins `room`, acknowledged.
pub async fn socketio_join(server: &str, room: i64, source: IpAddr) -> Result<Socket, String> {
    let mut ws = dial(server, "/socket.io/?EIO=4&transport=websocket", source, &[]).await?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        return Err(format!("expected the Engine.IO open packet, got {open:?}"));
    }
    send(&mut ws, "40".into()).await?;
    socketio_await(&mut ws, |frame| frame.starts_with("40")).await?;
    send(
        &mut ws,
        format!("420{}", serde_json::json!(["join", socketio_room(room)])),
    )
    .await?;
    socketio_await(&mut ws, |frame| frame.starts_with("430")).await?;
    Ok(ws)
}

/// Runs `plan` against a Socket.IO v4 server: client `i` joins room "r<i / members>" on node
/// `plan.node_of_client(i)` of `servers` (processes sharing their rooms through Redis).
pub async fn socketio_load(
    plan: &Plan,
    servers: &[String],
    watched: &Watched,
) -> Result<Outcome, String> {
    if servers.len() < plan.nodes.max(1) {
        return Err(format!(
            "{} nodes planned, {} given",
            plan.nodes,
            servers.len()
        ));
    }
    load::run(
        plan,
        Wire::SocketIo,
        watched,
        |r| r as i64,
        |i, room, source| {
            let server = servers[plan.node_of_client(i)].clone();
            async move { socketio_join(&server, room, source).await }.boxed()
        },
    )
    .await
}

/// Reads until `wanted` accepts a frame, answering pings meanwhile.
async fn socketio_await(ws: &mut Socket, wanted: impl Fn(&str) -> bool) -> Result<(), String> {
    loop {
        let frame = next_text(ws).await?;
        if wanted(&frame) {
            return Ok(());
        }
        if frame == "2" {
            send(ws, "3".into()).await?;
        } else if frame.starts_with("44") {
            return Err(format!("the server refused: {frame}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socketio_deliveries_and_pings_are_recognised() {
        let wire = Wire::SocketIo;
        let frame = r#"42["message",{"room":"r7","text":"0:1:2:3"}]"#;
        assert!(matches!(
            wire.parse(frame),
            Incoming::Delivery { room: 7, text } if text == "0:1:2:3"
        ));
        assert!(matches!(wire.parse("2"), Incoming::Ping));
        assert!(matches!(wire.parse("431[true]"), Incoming::Other));
        assert_eq!(
            wire.publish(7, "a"),
            r#"42["send",{"room":"r7","text":"a"}]"#
        );
    }

    #[test]
    fn hearth_text_messages_are_deliveries_and_notices_are_not() {
        let wire = Wire::Hearth;
        let text = r#"{"type":"message","message":{"id":1,"room":4,"author":{"id":1,"name":"a"},"kind":"text","text":"x","sent_at":0}}"#;
        assert!(matches!(
            wire.parse(text),
            Incoming::Delivery { room: 4, .. }
        ));
        let joined = text.replace(r#""kind":"text""#, r#""kind":"joined""#);
        assert!(matches!(wire.parse(&joined), Incoming::Other));
    }

    #[test]
    fn a_hearth_send_carries_its_text_as_nonce_and_its_answers_are_recognised() {
        let wire = Wire::Hearth;
        let frame: serde_json::Value =
            serde_json::from_str(&wire.publish(4, "0:1:2:3")).expect("JSON");
        assert_eq!(
            frame,
            serde_json::json!({"type": "send", "room": 4, "text": "0:1:2:3", "nonce": "0:1:2:3"})
        );
        assert!(matches!(
            wire.parse(r#"{"type":"sent","nonce":"0:1:2:3","id":131}"#),
            Incoming::Sent
        ));
        let limited = r#"{"type":"error","code":"rate_limited","message":"You are sending messages too fast; this one was not sent. Try again in 1 s.","nonce":"f1","room":4,"until":1}"#;
        assert!(matches!(
            wire.parse(limited),
            Incoming::Refused { rate_limited: true }
        ));
        assert!(matches!(
            wire.parse(&limited.replace("rate_limited", "forbidden")),
            Incoming::Refused {
                rate_limited: false
            }
        ));
    }
}
