//! What a signed-in client can ask for over its socket. Each command checks its input, asks
//! the policy (`crate::policy`) whether this person may do it, changes storage, and announces
//! the change through the hub. By concern: `messages` (post, edit, delete, history, read
//! marks), `rooms` (create, rename, archive, join, leave, conversations, listings),
//! `moderation` (add and remove members, mute) and `search` (messages across rooms).

mod messages;
mod moderation;
mod rooms;
mod search;

use app::protocol::{ClientFrame, ErrorCode, ServerFrame, User, muted_notice};

use crate::AppState;
use crate::hub::ConnId;
use crate::policy::{self, Action, Denial, Standing};
use crate::store::{RoomRow, now_ms};

/// The connection a command arrived on. (The person's role is read from storage when a command
/// needs it, so a role change applies to open sockets at once.)
pub struct Client {
    pub me: User,
    pub conn: ConnId,
}

/// Why a command was refused: becomes an `error` frame for the sender only.
#[derive(Debug)]
pub struct Refusal {
    code: ErrorCode,
    message: String,
    room: Option<i64>,
    until: Option<i64>,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            room: None,
            until: None,
        }
    }

    fn in_room(mut self, room: i64) -> Self {
        self.room = Some(room);
        self
    }

    pub fn into_frame(self, nonce: Option<String>) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message,
            nonce,
            room: self.room,
            until: self.until,
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "storage failed");
        internal()
    }
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Self {
        let message = match (denial.code, denial.until) {
            // The server does not know the reader's time zone: it says UTC, and the browser
            // writes the time again in local time from `until`.
            (ErrorCode::Muted, Some(until)) => muted_notice(until, utc_clock) + ".",
            _ => denial.message.to_owned(),
        };
        Refusal {
            code: denial.code,
            message,
            room: None,
            until: denial.until,
        }
    }
}

/// Refused by a limit (`what`, for the metrics): "try again after `until`".
fn rate_limited(what: &'static str, wait: crate::limits::RetryAfter, message: &str) -> Refusal {
    crate::operations::refused(what);
    let mut refusal = Refusal::new(
        ErrorCode::RateLimited,
        format!("{message} Try again in {} s.", wait.seconds()),
    );
    refusal.until = Some(now_ms() + wait.0.as_millis() as i64);
    refusal
}

fn internal() -> Refusal {
    Refusal::new(
        ErrorCode::Internal,
        "The server could not do that; nothing was changed. Try again.",
    )
}

/// "14:05 UTC".
fn utc_clock(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000);
    format!(
        "{:02}:{:02} UTC",
        minutes.div_euclid(60).rem_euclid(24),
        minutes.rem_euclid(60)
    )
}

type Outcome = Result<Option<ServerFrame>, Refusal>;

/// Runs one command; the result is the reply for this connection alone, if any.
pub async fn run(state: &AppState, client: &Client, frame: ClientFrame) -> Outcome {
    match frame {
        ClientFrame::Hello { .. } => Err(Refusal::new(
            ErrorCode::BadFrame,
            "hello is only the first frame",
        )),
        ClientFrame::Send { room, text, nonce } => {
            messages::send(state, client, room, text, nonce).await
        }
        ClientFrame::EditMessage { message, text } => {
            messages::edit(state, client, message, text).await
        }
        ClientFrame::DeleteMessage { message } => messages::delete(state, client, message).await,
        ClientFrame::History { room, before } => {
            messages::history(state, client, room, before).await
        }
        ClientFrame::HistoryAround { room, message } => {
            messages::history_around(state, client, room, message).await
        }
        ClientFrame::HistoryNewer { room, after } => {
            messages::history_newer(state, client, room, after).await
        }
        ClientFrame::Search { query, before } => search::search(state, client, query, before).await,
        ClientFrame::Typing { room } => messages::typing(state, client, room).await,
        ClientFrame::MarkRead { room, message } => {
            messages::mark_read(state, client, room, message).await
        }
        ClientFrame::Members { room } => rooms::members(state, client, room).await,
        ClientFrame::CreateRoom { name, visibility } => {
            rooms::create(state, client, &name, visibility).await
        }
        ClientFrame::RenameRoom { room, name } => rooms::rename(state, client, room, &name).await,
        ClientFrame::DeleteRoom { room } => rooms::archive(state, client, room).await,
        ClientFrame::JoinRoom { room } => rooms::join(state, client, room).await,
        ClientFrame::LeaveRoom { room } => rooms::leave(state, client, room).await,
        ClientFrame::OpenDirect { user } => rooms::open_direct(state, client, user).await,
        ClientFrame::ListUsers => rooms::users(state, None).await,
        ClientFrame::MoreUsers { after } => rooms::users(state, Some(&after)).await,
        ClientFrame::MoreMembers { room, after } => {
            rooms::more_members(state, client, room, &after).await
        }
        ClientFrame::ListRooms => rooms::list(state, client).await,
        ClientFrame::AddMember { room, username } => {
            moderation::add(state, client, room, &username).await
        }
        ClientFrame::RemoveMember { room, user } => {
            moderation::remove(state, client, room, user).await
        }
        ClientFrame::MuteMember { room, user, length } => {
            moderation::mute(state, client, room, user, Some(length)).await
        }
        ClientFrame::UnmuteMember { room, user } => {
            moderation::mute(state, client, room, user, None).await
        }
        ClientFrame::GiveFeedback { message, text } => {
            messages::give_feedback(state, client, message, text).await
        }
    }
}

fn not_found(room: i64) -> Refusal {
    Refusal::new(ErrorCode::NotFound, policy::NO_SUCH_ROOM).in_room(room)
}

/// The client's stored standing in `room`, and the room, once the policy allows `action`.
async fn allowed(
    state: &AppState,
    client: &Client,
    room: i64,
    action: Action,
) -> Result<(Standing, RoomRow), Refusal> {
    let (standing, row) = state.store.standing(client.me.id, room).await?;
    let (Some(standing), Some(row)) = (standing, row) else {
        return Err(not_found(room));
    };
    policy::decide(&standing, &row, action, now_ms())
        .map_err(|denial| Refusal::from(denial).in_room(room))?;
    Ok((standing, row))
}
