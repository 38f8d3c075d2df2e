//! The browser's WebSocket (gloo-net): connects, says hello with the resume and change
//! cursors, feeds server frames into [`Chat`], sends queued client frames, and reconnects by
//! itself with jittered exponential backoff when the connection drops.
//!
//! gloo-net's socket is not `Send` and exists only in the browser: it lives inside one local
//! task, and the rest of the app talks to it through the unbounded channel in `Chat::outbox`.

use futures::channel::mpsc;
use futures::future::{Either, select};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

use super::state::Chat;
use crate::protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame};

/// Starts the connection task once per page.
pub fn start(chat: Chat) {
    if chat.started.get_value() {
        return;
    }
    chat.started.set_value(true);
    let (tx, rx) = mpsc::unbounded();
    chat.outbox.set_value(Some(tx));
    leptos::task::spawn_local(run(chat, rx));
}

fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}/ws", location.host().ok()?))
}

/// Milliseconds to wait before reconnect attempt `attempt` (1, 2, …): doubling from half a
/// second up to ten, each scaled by a random factor in [0.5, 1) so that a server restart is not
/// met by every client at the same instant.
fn backoff_ms(attempt: u32) -> u32 {
    let base = 500f64 * 2f64.powi(attempt.saturating_sub(1).min(5) as i32);
    let capped = base.min(10_000.0);
    (capped * (0.5 + js_sys::Math::random() / 2.0)) as u32
}

async fn run(chat: Chat, mut outgoing: mpsc::UnboundedReceiver<ClientFrame>) {
    let mut attempt = 0u32;
    loop {
        if let Some(url) = socket_url()
            && let Ok(socket) = WebSocket::open(&url)
        {
            let (mut write, mut read) = socket.split();
            let hello = ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                resume_after: chat.resume_cursor(),
                changes_after: chat.change_cursor(),
            };
            if write.send(Message::Text(hello.to_json())).await.is_ok() {
                loop {
                    match select(read.next(), outgoing.next()).await {
                        Either::Left((Some(Ok(Message::Text(text))), _)) => {
                            if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                                if matches!(frame, ServerFrame::Welcome { .. }) {
                                    attempt = 0;
                                }
                                chat.apply(frame);
                            }
                        }
                        Either::Left((Some(Ok(Message::Bytes(_))), _)) => {}
                        Either::Left((Some(Err(_)) | None, _)) => break,
                        Either::Right((Some(frame), _)) => {
                            if write.send(Message::Text(frame.to_json())).await.is_err() {
                                break;
                            }
                        }
                        // The page is going away.
                        Either::Right((None, _)) => return,
                    }
                }
            }
        }
        chat.disconnected();
        attempt += 1;
        TimeoutFuture::new(backoff_ms(attempt)).await;
        // Frames queued while offline were for a connection that no longer exists; the
        // welcome of the next one re-requests what the screen needs.
        while outgoing.try_recv().is_ok() {}
    }
}
