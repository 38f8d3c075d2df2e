//! The browser's WebSocket (gloo-net): connects, says hello with the resume and change
//! cursors, feeds server frames into [`Chat`], sends queued client frames, and reconnects by
//! itself with jittered exponential backoff when the connection drops.
//!
//! How a connection ends decides what comes next: a session that ended (close code 4001, or
//! 4003 for a disabled account) goes to the sign-in page; too many sockets (4008) retries
//! slowly; a failed catch-up (4011) comes back after a pause with the same cursors (nothing
//! was applied, as the welcome never came). A socket that closes before its welcome may have
//! been refused for an expired session, which the browser cannot see (an HTTP 401 on the
//! upgrade looks like any failure), so the page asks `GET /auth/session`: a 401 goes to the
//! sign-in page; anything else (the server is away) keeps retrying.
//!
//! gloo-net's socket is not `Send` and exists only in the browser: it lives inside one local
//! task, and the rest of the app talks to it through the unbounded channel in `Chat::sender`.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::future::{Either, select};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;

use super::state::{Chat, Status};
use crate::protocol::{
    CLOSE_CATCH_UP_FAILED, CLOSE_DISABLED, CLOSE_SIGNED_OUT, CLOSE_TOO_MANY_SOCKETS, ClientFrame,
    PROTOCOL_VERSION, ServerFrame,
};

/// How long a tab beyond the account's socket limit waits before trying again.
const TOO_MANY_SOCKETS_RETRY_MS: u32 = 30_000;
/// The shortest pause before coming back after a failed catch-up.
const CATCH_UP_RETRY_MS: u32 = 2_000;
/// How long the session check may take before it counts as "the server is away".
const SESSION_CHECK_MS: u32 = 10_000;

/// Starts the connection task once per page.
pub fn start(chat: Chat) {
    if chat.started.get_value() {
        return;
    }
    chat.started.set_value(true);
    // This page's nonces differ from every other page's (see `Chat::nonce_prefix`).
    let page = format!(
        "{:x}{:06x}-",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * f64::from(1u32 << 24)) as u32
    );
    chat.nonce_prefix.set_value(page);
    let (tx, rx) = mpsc::unbounded();
    chat.sender.set_value(Some(tx));
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

/// How one connection ended.
struct Ended {
    /// The close code, if the socket closed (rather than failing to be created).
    code: Option<u16>,
    /// Whether the server's welcome came.
    welcomed: bool,
}

/// One connection, from opening the socket to its close. `None` when the page is going away.
async fn connect(
    chat: Chat,
    outgoing: &mut mpsc::UnboundedReceiver<ClientFrame>,
    attempt: &mut u32,
) -> Option<Ended> {
    let mut ended = Ended {
        code: None,
        welcomed: false,
    };
    let Some(url) = socket_url() else {
        return Some(ended);
    };
    let Ok(socket) = WebSocket::open(&url) else {
        return Some(ended);
    };
    let (mut write, mut read) = socket.split();
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        resume_after: chat.resume_cursor(),
        changes_after: chat.change_cursor(),
    };
    // Sending waits for the socket to open. A socket that closes instead (refused, or closed
    // before it opened) may not wake the sending side at all: its close event ends the wait.
    let mut writable = {
        let mut sending = write.send(Message::Text(hello.to_json()));
        loop {
            match select(&mut sending, read.next()).await {
                Either::Left((sent, _)) => break sent.is_ok(),
                Either::Right((Some(Err(WebSocketError::ConnectionClose(event))), _)) => {
                    ended.code = Some(event.code);
                    return Some(ended);
                }
                Either::Right((None, _)) => return Some(ended),
                // An error event (its close event follows), or a frame before the hello went
                // out (none is sent before it).
                Either::Right((Some(_), _)) => {}
            }
        }
    };
    loop {
        match select(read.next(), outgoing.next()).await {
            Either::Left((Some(Ok(Message::Text(text))), _)) => {
                if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                    if matches!(frame, ServerFrame::Welcome { .. }) {
                        *attempt = 0;
                        ended.welcomed = true;
                    }
                    chat.apply(frame);
                }
            }
            Either::Left((Some(Ok(Message::Bytes(_))), _)) => {}
            Either::Left((Some(Err(WebSocketError::ConnectionClose(event))), _)) => {
                ended.code = Some(event.code);
                return Some(ended);
            }
            // An error event comes before the close event (which carries the code): read on.
            Either::Left((Some(Err(_)), _)) => writable = false,
            Either::Left((None, _)) => return Some(ended),
            // Frames written to a socket that is not open would be lost: they wait in the
            // channel, which is emptied before the next connection (the welcome asks again for
            // what the screen needs, and the outbox resends messages).
            Either::Right((Some(frame), _)) => {
                if writable && write.send(Message::Text(frame.to_json())).await.is_err() {
                    writable = false;
                }
            }
            // The page is going away.
            Either::Right((None, _)) => return None,
        }
    }
}

async fn run(chat: Chat, mut outgoing: mpsc::UnboundedReceiver<ClientFrame>) {
    let mut attempt = 0u32;
    loop {
        let Some(ended) = connect(chat, &mut outgoing, &mut attempt).await else {
            return;
        };
        let pause = match ended.code {
            Some(CLOSE_SIGNED_OUT) => return sign_in_again(chat, false),
            Some(CLOSE_DISABLED) => return sign_in_again(chat, true),
            Some(CLOSE_TOO_MANY_SOCKETS) => {
                chat.disconnected();
                chat.status.set(Status::TooManyTabs);
                TOO_MANY_SOCKETS_RETRY_MS
            }
            Some(CLOSE_CATCH_UP_FAILED) => {
                chat.disconnected();
                attempt += 1;
                backoff_ms(attempt).max(CATCH_UP_RETRY_MS)
            }
            _ => {
                chat.disconnected();
                if !ended.welcomed && session_live().await == Some(false) {
                    return sign_in_again(chat, false);
                }
                attempt += 1;
                backoff_ms(attempt)
            }
        };
        TimeoutFuture::new(pause).await;
        // Frames queued while offline were for a connection that no longer exists; the
        // welcome of the next one re-requests what the screen needs, and messages wait in the
        // outbox, not here.
        while outgoing.try_recv().is_ok() {}
    }
}

/// The session ended: off to the sign-in page, which brings the reader back here after.
fn sign_in_again(chat: Chat, disabled: bool) {
    chat.disconnected();
    chat.status.set(Status::SignedOut);
    if chat.leaving.get_value() {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let next = String::from(js_sys::encode_uri_component(&here));
    let error = if disabled { "error=disabled&" } else { "" };
    let _ = location.assign(&format!("/login?{error}next={next}"));
}

/// Asks the server whether this page's session is still live: `Some(false)` on a 401, `None`
/// if the server could not be asked (it is away, or slow).
async fn session_live() -> Option<bool> {
    let window = web_sys::window()?;
    let fetch = settled(window.fetch_with_str("/auth/session"));
    let timeout = TimeoutFuture::new(SESSION_CHECK_MS);
    let response = match select(Box::pin(fetch), timeout).await {
        Either::Left((Ok(response), _)) => response,
        _ => return None,
    };
    let status = js_sys::Reflect::get(&response, &JsValue::from_str("status"))
        .ok()?
        .as_f64()?;
    match status as u16 {
        401 => Some(false),
        200..=299 => Some(true),
        _ => None,
    }
}

/// What a promise settles to (app has no wasm-bindgen-futures of its own).
async fn settled(promise: js_sys::Promise) -> Result<JsValue, JsValue> {
    let (tx, rx) = oneshot::channel();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let resolve = {
        let tx = Rc::clone(&tx);
        Closure::once(move |value: JsValue| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(Ok(value));
            }
        })
    };
    let reject = Closure::once(move |error: JsValue| {
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(Err(error));
        }
    });
    let _ = promise.then2(&resolve, &reject);
    // The closures live until the promise settles.
    let result = rx.await.unwrap_or(Err(JsValue::NULL));
    drop((resolve, reject));
    result
}
