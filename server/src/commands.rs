//! What a signed-in client can ask for over its socket: post, read history, manage rooms,
//! open conversations, mark messages read. Each command checks its input and the user's
//! rights, changes storage, and announces the change through the hub.

use app::names::{check_message, parse_room_name};
use app::protocol::{
    ClientFrame, ErrorCode, HISTORY_PAGE, LOBBY_ID, MessageKind, RoomKind, RoomSummary,
    ServerFrame, User,
};

use crate::AppState;
use crate::hub::{ConnId, encode};
use crate::store::RoomRow;

/// The connection a command arrived on.
pub struct Client {
    pub me: User,
    pub is_admin: bool,
    pub conn: ConnId,
}

/// Why a command was refused: becomes an `error` frame for the sender only.
#[derive(Debug)]
pub struct Refusal {
    code: ErrorCode,
    message: String,
    room: Option<i64>,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            room: None,
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
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "storage failed");
        Refusal::new(
            ErrorCode::Internal,
            "The server could not do that; nothing was changed. Try again.",
        )
    }
}

type Outcome = Result<Option<ServerFrame>, Refusal>;

/// Runs one command; the result is the reply for this connection alone, if any.
pub async fn run(state: &AppState, client: &Client, frame: ClientFrame) -> Outcome {
    match frame {
        ClientFrame::Hello { .. } => Err(Refusal::new(
            ErrorCode::BadFrame,
            "hello is only the first frame",
        )),
        ClientFrame::Send { room, text, nonce } => send(state, client, room, text, nonce).await,
        ClientFrame::History { room, before } => history(state, client, room, before).await,
        ClientFrame::Members { room } => members(state, client, room).await,
        ClientFrame::CreateRoom { name } => create_room(state, client, &name).await,
        ClientFrame::RenameRoom { room, name } => rename_room(state, client, room, &name).await,
        ClientFrame::DeleteRoom { room } => delete_room(state, client, room).await,
        ClientFrame::JoinRoom { room } => join_room(state, client, room).await,
        ClientFrame::LeaveRoom { room } => leave_room(state, client, room).await,
        ClientFrame::OpenDirect { user } => open_direct(state, client, user).await,
        ClientFrame::MarkRead { room, message } => mark_read(state, client, room, message).await,
        ClientFrame::ListUsers => Ok(Some(ServerFrame::Users {
            users: state.store.users().await?,
        })),
        ClientFrame::ListRooms => Ok(Some(ServerFrame::Rooms {
            rooms: state.store.room_directory(client.me.id).await?,
        })),
    }
}

fn not_found(room: i64) -> Refusal {
    Refusal::new(ErrorCode::NotFound, "There is no such room.").in_room(room)
}

/// A room this client may read: any named room, or a conversation it is part of. A
/// conversation of others is reported as missing, so its existence is not revealed.
async fn readable_room(state: &AppState, client: &Client, room: i64) -> Result<RoomRow, Refusal> {
    let row = state
        .store
        .room(room)
        .await?
        .ok_or_else(|| not_found(room))?;
    if row.kind == RoomKind::Direct && !state.store.is_member(room, client.me.id).await? {
        return Err(not_found(room));
    }
    Ok(row)
}

/// A named room this client may rename or delete: its creator's, or any for the administrator.
async fn managed_room(state: &AppState, client: &Client, room: i64) -> Result<RoomRow, Refusal> {
    let row = readable_room(state, client, room).await?;
    if row.kind != RoomKind::Room {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            "Conversations cannot be renamed or deleted.",
        )
        .in_room(room));
    }
    if !(client.is_admin || row.created_by == Some(client.me.id)) {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            "Only the room's creator or the administrator can do that.",
        )
        .in_room(room));
    }
    Ok(row)
}

const NONCE_MAX: usize = 64;

async fn send(
    state: &AppState,
    client: &Client,
    room: i64,
    text: String,
    nonce: Option<String>,
) -> Outcome {
    let refuse = |refusal: Refusal| Err(refusal.in_room(room));
    if nonce.as_ref().is_some_and(|n| n.len() > NONCE_MAX) {
        return refuse(Refusal::new(
            ErrorCode::Invalid,
            format!("nonce is at most {NONCE_MAX} bytes"),
        ));
    }
    if let Err(why) = check_message(&text) {
        return refuse(Refusal::new(ErrorCode::Invalid, why));
    }
    // The hub knows this connection's rooms: no database round trip on the hot path.
    if !state.hub.is_subscribed(client.conn, room) {
        readable_room(state, client, room).await?;
        return refuse(Refusal::new(
            ErrorCode::Forbidden,
            "Join the room to post in it.",
        ));
    }
    match state
        .log
        .append(room, client.me.clone(), MessageKind::Text, text)
        .await
    {
        Ok(message) => Ok(nonce.map(|nonce| ServerFrame::Sent {
            nonce,
            id: message.id,
        })),
        Err(_) => refuse(Refusal::new(
            ErrorCode::Internal,
            "The message was not stored; try again.",
        )),
    }
}

async fn history(state: &AppState, client: &Client, room: i64, before: Option<i64>) -> Outcome {
    readable_room(state, client, room).await?;
    let (messages, has_more) = state.store.history(room, before, HISTORY_PAGE).await?;
    Ok(Some(ServerFrame::History {
        room,
        messages,
        has_more,
    }))
}

async fn members(state: &AppState, client: &Client, room: i64) -> Outcome {
    readable_room(state, client, room).await?;
    // Watch first, then read who is online: a change in between arrives after this reply.
    state.hub.watch(client.conn, room);
    let members = state.store.members(room).await?;
    let online = state.hub.online_among(members.iter().map(|u| u.id));
    Ok(Some(ServerFrame::Members {
        room,
        members,
        online,
    }))
}

fn invalid(why: String) -> Refusal {
    Refusal::new(ErrorCode::Invalid, why)
}

fn name_taken(name: &str) -> Refusal {
    Refusal::new(
        ErrorCode::Conflict,
        format!("A room named “{name}” already exists."),
    )
}

async fn create_room(state: &AppState, client: &Client, name: &str) -> Outcome {
    let name = parse_room_name(name).map_err(invalid)?;
    let room = state
        .store
        .create_room(&name, client.me.id)
        .await?
        .map_err(|_| name_taken(&name))?;
    state.hub.subscribe_user(client.me.id, room.id);
    let summary = RoomSummary {
        id: room.id,
        name: room.name,
        kind: RoomKind::Room,
        created_by: room.created_by,
        joined: false,
        unread: 0,
        latest: 0,
    };
    state
        .hub
        .to_all(&encode(&ServerFrame::RoomAdded { room: summary }));
    announce(state, client, room.id, MessageKind::Joined).await;
    Ok(None)
}

async fn rename_room(state: &AppState, client: &Client, room: i64, name: &str) -> Outcome {
    managed_room(state, client, room).await?;
    let name = parse_room_name(name).map_err(|why| invalid(why).in_room(room))?;
    state
        .store
        .rename_room(room, &name)
        .await?
        .map_err(|_| name_taken(&name).in_room(room))?;
    state
        .hub
        .to_all(&encode(&ServerFrame::RoomRenamed { room, name }));
    Ok(None)
}

async fn delete_room(state: &AppState, client: &Client, room: i64) -> Outcome {
    let row = managed_room(state, client, room).await?;
    if room == LOBBY_ID {
        return Err(
            Refusal::new(ErrorCode::Forbidden, "The lobby cannot be deleted.").in_room(room),
        );
    }
    state.store.delete_room(room).await?;
    state.hub.to_all(&encode(&ServerFrame::RoomDeleted {
        room,
        name: row.name,
    }));
    state.hub.drop_room(room);
    Ok(None)
}

async fn join_room(state: &AppState, client: &Client, room: i64) -> Outcome {
    let row = readable_room(state, client, room).await?;
    if row.kind == RoomKind::Direct {
        return Ok(None); // readable_room proved membership already
    }
    if state.store.join(room, client.me.id).await? {
        state.hub.subscribe_user(client.me.id, room);
        announce(state, client, room, MessageKind::Joined).await;
    }
    Ok(None)
}

async fn leave_room(state: &AppState, client: &Client, room: i64) -> Outcome {
    let row = readable_room(state, client, room).await?;
    if room == LOBBY_ID || row.kind == RoomKind::Direct {
        let why = if room == LOBBY_ID {
            "Everyone stays in the lobby."
        } else {
            "Conversations cannot be left."
        };
        return Err(Refusal::new(ErrorCode::Forbidden, why).in_room(room));
    }
    if state.store.leave(room, client.me.id).await? {
        // The notice goes out while the leaver is still subscribed, so their tabs see it too.
        announce(state, client, room, MessageKind::Left).await;
        state.hub.unsubscribe_user(client.me.id, room);
    }
    Ok(None)
}

/// Stores and publishes "alice joined" / "alice left".
async fn announce(state: &AppState, client: &Client, room: i64, kind: MessageKind) {
    if state
        .log
        .append(room, client.me.clone(), kind, String::new())
        .await
        .is_err()
    {
        tracing::warn!(room, "join/leave notice not stored");
    }
}

async fn open_direct(state: &AppState, client: &Client, user: i64) -> Outcome {
    if user == client.me.id {
        return Err(Refusal::new(
            ErrorCode::Invalid,
            "Pick someone else to talk to.",
        ));
    }
    let other = state
        .store
        .user(user)
        .await?
        .ok_or_else(|| Refusal::new(ErrorCode::NotFound, "There is no such user."))?;
    let (room, created) = state.store.open_direct(client.me.id, other.id).await?;
    let summary_for = |peer: &User| ServerFrame::RoomAdded {
        room: RoomSummary {
            id: room,
            name: peer.name.clone(),
            kind: RoomKind::Direct,
            created_by: None,
            joined: true,
            unread: 0,
            latest: 0,
        },
    };
    if created {
        state.hub.subscribe_user(client.me.id, room);
        state.hub.subscribe_user(other.id, room);
        state
            .hub
            .to_user(other.id, &encode(&summary_for(&client.me)));
        state
            .hub
            .to_user(client.me.id, &encode(&summary_for(&other)));
        Ok(None)
    } else {
        Ok(Some(summary_for(&other)))
    }
}

async fn mark_read(state: &AppState, client: &Client, room: i64, message: i64) -> Outcome {
    if !state.hub.is_subscribed(client.conn, room) {
        return Ok(None); // nothing to mark outside one's rooms
    }
    state.store.mark_read(room, client.me.id, message).await?;
    state
        .hub
        .to_user(client.me.id, &encode(&ServerFrame::Read { room, message }));
    Ok(None)
}
