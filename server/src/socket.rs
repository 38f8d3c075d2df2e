//! One WebSocket connection: the checks before the upgrade, the `hello` handshake, the
//! welcome and catch-up, then a loop that writes hub frames out and runs incoming commands.

use app::protocol::{
    CHANGES_MAX, CLOSE_CATCH_UP_FAILED, CLOSE_DISABLED, CLOSE_PROTOCOL, CLOSE_RESYNC,
    CLOSE_SIGNED_OUT, CLOSE_TOO_BIG, CLOSE_TOO_MANY_SOCKETS, CLOSE_TOO_SLOW, CLOSE_UNRESPONSIVE,
    ClientFrame, ErrorCode, MAX_FRAME_BYTES, PROTOCOL_VERSION, Role, ServerFrame,
};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::SinkExt;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::AppState;
use crate::auth::{self, SignedIn};
use crate::bots;
use crate::commands::{self, Client};
use crate::hub::{Frame, KickReason, Registration, encode};
use crate::store::only_for;

/// A client must say hello within this time.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Most missed messages replayed on reconnect; older ones remain in history.
const MISSED_MAX: usize = 1000;
/// Frames written before one flush, so a burst costs one syscall.
const WRITE_BATCH: usize = 64;
/// The socket's read buffer, allocated up front for every connection: tungstenite's default
/// (128 KiB) made an idle connection cost 160 KiB. Chat frames are small; a larger frame (up to
/// [`MAX_FRAME_BYTES`]) grows the buffer as it arrives.
const READ_BUFFER: usize = 4 * 1024;
/// Frames are written out once this much is buffered (and at every flush).
const WRITE_BUFFER: usize = 16 * 1024;
/// How long the final close frame may take to send.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_SERVER_ERROR: u16 = 1011;

/// `GET /ws`: upgrades a bot's request with a live API token (`Authorization: Bearer`), or a
/// signed-in person's from an allowed Origin.
///
/// The Origin check protects the cookie, which a browser would send along from any page; a
/// page cannot set the Authorization header of a WebSocket, so a bot's token needs no Origin.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let who = if let Some(token) = bots::bearer_token(&headers) {
        let Some(bot) = bots::signed_in(&state, token).await else {
            return (StatusCode::UNAUTHORIZED, "unknown or revoked token").into_response();
        };
        bot
    } else {
        let Some(who) = auth::signed_in(&state, &headers).await else {
            return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
        };
        if !auth::origin_allowed(&state, &headers) {
            return (StatusCode::FORBIDDEN, "this origin may not connect").into_response();
        }
        who
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| connection(socket, state, who))
}

fn close(code: u16, reason: impl Into<axum::extract::ws::Utf8Bytes>) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

fn too_big(error: &axum::Error) -> bool {
    use std::error::Error as _;
    matches!(
        error
            .source()
            .and_then(|inner| inner.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
    )
}

async fn connection(mut socket: WebSocket, state: AppState, who: SignedIn) {
    let resume = match handshake(&mut socket).await {
        Ok(resume) => resume,
        Err(frame) => {
            let _ = socket.send(Message::Close(Some(frame))).await;
            return;
        }
    };
    let most = state.limits.sockets_per_user;
    let Ok(registration) = state.bus.hub().connect(who.user.id, who.session(), most) else {
        crate::operations::refused("sockets");
        let reason = format!("too many open connections for this account (at most {most})");
        let frame = close(CLOSE_TOO_MANY_SOCKETS, reason);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
        return;
    };
    let client = Client {
        me: who.user,
        conn: registration.id,
    };
    let ending = serve(&mut socket, &state, &client, who.role, registration, resume).await;
    if let Some(rooms) = state.bus.hub().disconnect(client.conn) {
        state.bus.left(client.me.id, &rooms).await;
    }
    if let Some(frame) = ending {
        // A client that stopped reading may never take the close frame: don't wait for it.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
    }
}

/// Where a reconnecting client resumes: after this message id, and after this change number.
#[derive(Clone, Copy)]
struct Resume {
    messages: Option<i64>,
    changes: Option<i64>,
}

async fn handshake(socket: &mut WebSocket) -> Result<Resume, CloseFrame> {
    let say_hello = || close(CLOSE_PROTOCOL, "the first frame must be hello");
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.recv())
        .await
        .map_err(|_| say_hello())?;
    match first {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                resume_after,
                changes_after,
            }) => Ok(Resume {
                messages: resume_after,
                changes: changes_after,
            }),
            Ok(ClientFrame::Hello { .. }) => {
                Err(close(CLOSE_PROTOCOL, "unsupported protocol version"))
            }
            _ => Err(say_hello()),
        },
        Some(Err(error)) if too_big(&error) => Err(close(CLOSE_TOO_BIG, "frame too large")),
        _ => Err(say_hello()),
    }
}

/// How a connection ends: with this close frame, or (`None`) with the socket already gone.
type End = Option<CloseFrame>;

/// The close frame for a connection kicked for `reason`.
fn kicked_out(reason: KickReason) -> End {
    Some(match reason {
        KickReason::TooSlow => {
            crate::operations::slow_reader();
            close(CLOSE_TOO_SLOW, "too slow: frames were not read")
        }
        KickReason::SignedOut => close(CLOSE_SIGNED_OUT, "signed out"),
        KickReason::Disabled => close(CLOSE_DISABLED, "this account was disabled"),
        KickReason::Resync => close(CLOSE_RESYNC, "lost touch with the other servers: reconnect"),
    })
}

/// Resolves when the connection must close (too slow, or its session ended); the kick says why.
struct Kicked<'p, 'n> {
    notified: std::pin::Pin<&'p mut tokio::sync::futures::Notified<'n>>,
    kick: &'n crate::hub::Kick,
}

impl Kicked<'_, '_> {
    async fn wait(&mut self) -> End {
        self.notified.as_mut().await;
        kicked_out(self.kick.reason())
    }
}

/// Runs socket I/O unless the connection is kicked first: a client that stops reading must not
/// hold its task in a blocked write.
async fn unless_kicked(
    kicked: &mut Kicked<'_, '_>,
    io: impl Future<Output = Result<(), axum::Error>>,
) -> Result<(), End> {
    tokio::select! {
        done = io => done.map_err(|_| None),
        end = kicked.wait() => Err(end),
    }
}

/// Writes `frames`, then flushes once: a burst costs one syscall, not one per frame.
async fn write_all(
    socket: &mut WebSocket,
    kicked: &mut Kicked<'_, '_>,
    frames: impl IntoIterator<Item = Frame>,
) -> Result<(), End> {
    let burst = async {
        for frame in frames {
            socket.feed(Message::Text(frame)).await?;
        }
        socket.flush().await
    };
    unless_kicked(kicked, burst).await
}

/// Writes `first` and whatever else is already queued (up to [`WRITE_BATCH`] in all).
async fn write_queued(
    socket: &mut WebSocket,
    kicked: &mut Kicked<'_, '_>,
    queue: &mut mpsc::Receiver<Frame>,
    first: Frame,
) -> Result<(), End> {
    let queued = std::iter::from_fn(|| queue.try_recv().ok());
    let frames = std::iter::once(first).chain(queued).take(WRITE_BATCH);
    write_all(socket, kicked, frames).await
}

/// Runs the connection until it ends; returns the close frame to send, if any.
async fn serve(
    socket: &mut WebSocket,
    state: &AppState,
    client: &Client,
    role: Role,
    registration: Registration,
    resume: Resume,
) -> Option<CloseFrame> {
    let Registration {
        mut queue,
        kicked: kick,
        came_online,
        ..
    } = registration;
    // One waiter each for the whole connection (not one per loop turn: registering a waiter
    // takes a lock, and this loop turns once per delivered frame).
    let notified = std::pin::pin!(kick.notified());
    let kicked = &mut Kicked {
        notified,
        kick: &kick,
    };
    let mut shutdown = state.shutdown.clone();
    let mut shutting_down = std::pin::pin!(shutdown.changed());
    // The sidebar, and the count of unread feedback (both batched lookups, at once). Subscribe
    // before reading what was missed and the change cursor, so nothing falls between the two;
    // the client drops the duplicates (by id, and by change number). A membership that changed
    // between reading the rooms and subscribing (a leave in another tab) makes the rooms stale:
    // read them again.
    let (mut rooms, feedback_unread, joined) = loop {
        let seen = state.bus.hub().membership_changes(client.me.id);
        let (rooms, unread_feedback) = tokio::join!(
            state.lookups.rooms.get(client.me.id),
            state.lookups.unread_feedback.get(client.me.id)
        );
        let (rooms, unread) = match (rooms, unread_feedback) {
            (Ok(rooms), Ok(unread)) => (rooms.unwrap_or_default(), unread.unwrap_or(0)),
            // The lookup task logged why.
            _ => return Some(close(CLOSE_SERVER_ERROR, "server error")),
        };
        let joined: Vec<i64> = rooms.iter().map(|r| r.id).collect();
        if state
            .bus
            .hub()
            .subscribe_if_unchanged(client.conn, client.me.id, &joined, seen)
        {
            break (rooms, unread, joined);
        }
    };
    if came_online {
        state.bus.arrived(client.me.id, &joined).await;
    }
    state.bus.count_online(&mut rooms).await;
    if let Err(error) = crate::mentions::count(&state.store, &client.me, &mut rooms).await {
        // The counts are a help, not the chat: connect without them.
        tracing::warn!(%error, "could not count unread mentions");
    }
    let changes = state.bus.published_change();
    // A catch-up that cannot be read closes the connection before the welcome, with a code
    // that tells the client to come back with the same cursors: it never believes itself up
    // to date when it is not.
    let catch_up_failed = |what: &str, error: sqlx::Error| {
        tracing::error!(%error, "could not load {what}");
        Some(close(
            CLOSE_CATCH_UP_FAILED,
            "could not catch up; reconnect",
        ))
    };
    let missed = match resume.messages {
        Some(after) => match state.store.missed(client.me.id, after, MISSED_MAX).await {
            Ok(missed) => missed,
            Err(error) => return catch_up_failed("missed messages", error),
        },
        None => Vec::new(),
    };
    let replay_truncated = missed.len() >= MISSED_MAX;
    let missed = only_for(missed, client.me.id, role.is_staff());
    let changed = match resume.changes {
        Some(after) => match state
            .store
            .changed_since(client.me.id, after, CHANGES_MAX)
            .await
        {
            Ok(changed) => changed,
            Err(error) => return catch_up_failed("changed messages", error),
        },
        None => Vec::new(),
    };
    let changed = only_for(changed, client.me.id, role.is_staff());
    let welcome = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        me: client.me.clone(),
        role,
        rooms,
        changes,
        feedback_unread,
        direct_reviewable: state.config.review_direct_messages,
        replay_truncated,
    };
    // The welcome and the catch-up go out in one burst, before any live frame: new messages,
    // then the current state of those edited or deleted meanwhile.
    let catch_up = missed
        .into_iter()
        .map(|message| encode(&ServerFrame::Message { message }))
        .chain(
            changed
                .into_iter()
                .map(|message| encode(&ServerFrame::MessageChanged { message })),
        );
    if let Err(end) = write_all(
        socket,
        kicked,
        std::iter::once(encode(&welcome)).chain(catch_up),
    )
    .await
    {
        return end;
    }
    // Liveness: a ping every `ping_ms` (30 s); anything heard from the client (a pong
    // included) proves it is there. A connection silent for two pings is closed: its user goes
    // offline instead of staying "online" behind a half-open connection.
    let ping_every = Duration::from_millis(state.config.ping_ms.max(1));
    let silent_max = 2 * ping_every;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = tokio::time::Instant::now();
    let mut paused_until: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            end = kicked.wait() => return end,
            _ = pings.tick() => {
                if last_heard.elapsed() >= silent_max {
                    return Some(close(CLOSE_UNRESPONSIVE, "no answer to pings"));
                }
                if let Err(end) = unless_kicked(kicked, socket.send(Message::Ping(Default::default()))).await {
                    return end;
                }
            }
            _ = shutting_down.as_mut() => return Some(close(CLOSE_GOING_AWAY, "server shutting down")),
            frame = queue.recv() => {
                let frame = frame?;
                if let Err(end) = write_queued(socket, kicked, &mut queue, frame).await {
                    return end;
                }
            }
            // Paused after a rate-limited send: see `pause_after`.
            () = tokio::time::sleep_until(paused_until.unwrap_or_else(tokio::time::Instant::now)), if paused_until.is_some() => {
                paused_until = None;
            }
            incoming = socket.recv(), if paused_until.is_none() => {
                last_heard = tokio::time::Instant::now();
                let reply = match incoming? {
                    // Boxed: the command futures (database queries) would otherwise make every
                    // idle connection's task as large as the largest command.
                    Ok(Message::Text(text)) => Box::pin(respond(state, client, text.as_str())).await,
                    Ok(Message::Binary(_)) => Some(ServerFrame::error(ErrorCode::BadFrame, "frames are JSON text, not binary")),
                    Ok(Message::Close(_)) => return None,
                    Ok(_) => None, // ping and pong are answered by the WebSocket layer
                    Err(error) => return too_big(&error).then(|| close(CLOSE_TOO_BIG, "frame too large")),
                };
                paused_until = reply.as_ref().and_then(pause_after);
                // Whatever the hub queued meanwhile (for a `send`, often the message itself)
                // goes out in the same write as the reply.
                if let Some(reply) = reply
                    && let Err(end) = write_queued(socket, kicked, &mut queue, encode(&reply)).await
                {
                    return end;
                }
            }
        }
    }
}

/// Longest pause in reading a connection after a refusal by a rate limit.
const RATE_PAUSE_MAX: Duration = Duration::from_secs(2);

/// After `reply` refuses a command by a short rate limit (a message sent too fast), the
/// connection is not read again until the limit admits the next one: what a flooder sends
/// meanwhile waits in its own socket buffers (TCP pushes back), instead of costing the server a
/// refusal per frame, which took a core and raised everyone else's latency. Frames to the
/// client keep flowing. A long wait (room changes, minutes) pauses nothing.
fn pause_after(reply: &ServerFrame) -> Option<tokio::time::Instant> {
    let ServerFrame::Error {
        code: ErrorCode::RateLimited,
        until: Some(until),
        ..
    } = reply
    else {
        return None;
    };
    // One millisecond more: `until` is rounded to the millisecond.
    let wait = Duration::from_millis(u64::try_from(until - crate::store::now_ms() + 1).ok()?);
    (wait <= RATE_PAUSE_MAX).then(|| tokio::time::Instant::now() + wait)
}

async fn respond(state: &AppState, client: &Client, text: &str) -> Option<ServerFrame> {
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame,
        Err(error) => {
            return Some(ServerFrame::error(
                ErrorCode::BadFrame,
                format!("not a frame this server understands: {error}"),
            ));
        }
    };
    let nonce = match &frame {
        ClientFrame::Send { nonce, .. } => nonce.clone(),
        _ => None,
    };
    commands::run(state, client, frame)
        .await
        .unwrap_or_else(|refusal| Some(refusal.into_frame(nonce)))
}
