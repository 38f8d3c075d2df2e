//! Preparing Hearth for a load run through its own interfaces, as any bot would
//! (docs/protocol.md): accounts through the sign-up form, rooms and memberships over the
//! WebSocket. All of it happens before the timed part.

use std::collections::HashMap;
use std::net::IpAddr;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::wire::{self, Socket};

const PASSWORD: &str = "load-test-password";
/// Preparation steps (joins, conversations) in flight at once.
const PREPARE_CONCURRENCY: usize = 32;

/// Signed-up accounts: their names and session cookies, by client number.
pub struct Accounts {
    pub names: Vec<String>,
    pub cookies: Vec<String>,
}

fn http() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// Signs up `count` accounts named `<prefix>x<n>`.
pub async fn sign_up(
    server: &str,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> Result<Accounts, String> {
    let client = http()?;
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}x{i}")).collect();
    let cookies = stream::iter(names.iter())
        .map(|name| {
            let client = client.clone();
            async move {
                let response = client
                    .post(format!("{server}/auth/register"))
                    .header("origin", server)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("username={name}&password={PASSWORD}"))
                    .send()
                    .await
                    .map_err(|e| format!("sign-up: {e}"))?;
                response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find(|v| {
                        v.starts_with("hearth_session=") && !v.starts_with("hearth_session=;")
                    })
                    .and_then(|v| v.split(';').next())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        format!("sign-up of {name} gave no session ({})", response.status())
                    })
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(Accounts { names, cookies })
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    me: Option<UserRef>,
    #[serde(default)]
    room: Option<Room>,
    #[serde(default)]
    message: Option<Notice>,
    #[serde(default)]
    users: Option<Vec<UserRef>>,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct UserRef {
    id: i64,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Room {
    id: i64,
    name: String,
}

#[derive(Deserialize)]
struct Notice {
    room: i64,
    kind: String,
    author: UserRef,
}

/// Reads frames until `pick` accepts one; an `error` frame fails.
async fn wait_for<T>(ws: &mut Socket, pick: impl Fn(Frame) -> Option<T>) -> Result<T, String> {
    loop {
        let text = wire::next_text(ws).await?;
        let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
            continue;
        };
        if frame.kind == "error" {
            return Err(format!("the server refused: {text} ({:?})", frame.code));
        }
        if let Some(found) = pick(frame) {
            return Ok(found);
        }
    }
}

/// Opens /ws with a session and says hello; returns the socket once welcomed, and who it is.
pub async fn connect(server: &str, cookie: &str, source: IpAddr) -> Result<(Socket, i64), String> {
    let mut ws = wire::dial(
        server,
        "/ws",
        source,
        &[("cookie", cookie), ("origin", server)],
    )
    .await?;
    wire::send(&mut ws, json!({"type": "hello", "protocol": 2}).to_string()).await?;
    let me = wait_for(&mut ws, |f| match f {
        Frame {
            me: Some(me), kind, ..
        } if kind == "welcome" => Some(me.id),
        _ => None,
    })
    .await?;
    Ok((ws, me))
}

async fn command(ws: &mut Socket, frame: serde_json::Value) -> Result<(), String> {
    wire::send(ws, frame.to_string()).await
}

/// Creates `count` named rooms as `accounts[organizer]`; returns their ids.
pub async fn create_rooms(
    server: &str,
    cookie: &str,
    label: &str,
    count: usize,
) -> Result<Vec<i64>, String> {
    let (mut ws, _) = connect(server, cookie, IpAddr::from([127, 0, 0, 1])).await?;
    let mut rooms = Vec::with_capacity(count);
    for r in 0..count {
        let name = format!("{label} {r}");
        command(&mut ws, json!({"type": "create_room", "name": name})).await?;
        rooms.push(
            wait_for(&mut ws, |f| match f.room {
                Some(room) if f.kind == "room_added" && room.name == name => Some(room.id),
                _ => None,
            })
            .await?,
        );
    }
    Ok(rooms)
}

/// Makes client `i` a member of `rooms[room_of(i)]`, for every client.
pub async fn join_rooms(
    server: &str,
    accounts: &Accounts,
    clients: usize,
    rooms: &[i64],
    room_of: impl Fn(usize) -> usize,
) -> Result<(), String> {
    stream::iter(0..clients)
        .map(|i| {
            let room = rooms[room_of(i)];
            async move {
                let (mut ws, me) =
                    connect(server, &accounts.cookies[i], IpAddr::from([127, 0, 0, 1])).await?;
                command(&mut ws, json!({"type": "join_room", "room": room})).await?;
                wait_for(&mut ws, |f| match f.message {
                    Some(m) if m.room == room && m.kind == "joined" && m.author.id == me => {
                        Some(())
                    }
                    _ => None,
                })
                .await?;
                let _ = ws.close(None).await;
                Ok::<(), String>(())
            }
        })
        .buffer_unordered(PREPARE_CONCURRENCY)
        .try_collect()
        .await
}

/// Opens a direct conversation between clients 2k and 2k+1 for each of `pairs`; returns the
/// conversations' room ids, by pair.
pub async fn open_conversations(
    server: &str,
    accounts: &Accounts,
    pairs: usize,
) -> Result<Vec<i64>, String> {
    // Account ids by name, from the user list.
    let (mut ws, _) = connect(server, &accounts.cookies[0], IpAddr::from([127, 0, 0, 1])).await?;
    command(&mut ws, json!({"type": "list_users"})).await?;
    let ids: HashMap<String, i64> = wait_for(&mut ws, |f| f.users)
        .await?
        .into_iter()
        .map(|u| (u.name, u.id))
        .collect();
    let _ = ws.close(None).await;
    stream::iter(0..pairs)
        .map(|pair| {
            let other = ids.get(&accounts.names[2 * pair + 1]).copied();
            async move {
                let other = other.ok_or("an account is missing from the user list")?;
                let (mut ws, _) = connect(
                    server,
                    &accounts.cookies[2 * pair],
                    IpAddr::from([127, 0, 0, 1]),
                )
                .await?;
                command(&mut ws, json!({"type": "open_direct", "user": other})).await?;
                let room = wait_for(&mut ws, |f| match f.room {
                    Some(room) if f.kind == "room_added" => Some(room.id),
                    _ => None,
                })
                .await?;
                let _ = ws.close(None).await;
                Ok::<i64, String>(room)
            }
        })
        .buffered(PREPARE_CONCURRENCY)
        .try_collect()
        .await
}
