//! Hearth as a load target, driven through its own interfaces as any bot would
//! (docs/protocol.md, with the shared frame types of `app::protocol`): accounts through the
//! sign-up form and rooms and memberships over the WebSocket, all before the timed part; then
//! the load itself, each client connecting with its account's session.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use app::protocol::{
    ClientFrame, MessageKind, PROTOCOL_VERSION, RoomKind, ServerFrame, Visibility,
};
use futures::FutureExt;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::load::{self, Outcome, Plan, Watched};
use crate::wire::{self, Socket, Wire};

const PASSWORD: &str = "load-test-password";
/// Preparation steps (joins, conversations) in flight at once.
const PREPARE_CONCURRENCY: usize = 32;

/// The protocol version the clients' `hello` carries: this build's, unless told to speak an
/// older server's (`hearth-load suite --hearth-protocol`, to measure an older binary; a server
/// closes a socket whose hello names another version).
static PROTOCOL: AtomicU32 = AtomicU32::new(PROTOCOL_VERSION);

/// Makes every client's `hello` carry `version` from now on.
pub fn speak_protocol(version: u32) {
    PROTOCOL.store(version, Ordering::Relaxed);
}

/// Signed-up accounts: their names and session cookies, by client number.
pub struct Accounts {
    pub names: Vec<String>,
    pub cookies: Vec<String>,
}

impl Accounts {
    /// Writes the accounts to `path`, a line each: name, tab, cookie.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text: String = self
            .names
            .iter()
            .zip(&self.cookies)
            .map(|(name, cookie)| format!("{name}\t{cookie}\n"))
            .collect();
        std::fs::write(path, text)
    }

    /// The accounts saved at `path`, if there are at least `count`.
    pub fn load(path: &std::path::Path, count: usize) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        let (names, cookies): (Vec<String>, Vec<String>) = text
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(name, cookie)| (name.to_owned(), cookie.to_owned()))
            .unzip();
        (names.len() >= count).then_some(Accounts { names, cookies })
    }
}

/// An HTTP client that does not follow redirects (a refused page answers with one).
pub fn http() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// Signs `name` up (`action` "register") or in ("login") through the form; returns the session
/// cookie (`hearth_session=…`).
pub async fn session(
    client: &reqwest::Client,
    server: &str,
    action: &str,
    name: &str,
) -> Result<String, String> {
    let response = client
        .post(format!("{server}/auth/{action}"))
        .header("origin", server)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username={name}&password={PASSWORD}"))
        .send()
        .await
        .map_err(|e| format!("{action}: {e}"))?;
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hearth_session=") && !v.starts_with("hearth_session=;"))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| format!("{action} of {name} gave no session ({})", response.status()))
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
        .map(|name| session(&client, server, "register", name))
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(Accounts { names, cookies })
}

/// Reads frames until `pick` accepts one; an `error` frame fails.
async fn wait_for<T>(
    ws: &mut Socket,
    mut pick: impl FnMut(ServerFrame) -> Option<T>,
) -> Result<T, String> {
    loop {
        let text = wire::next_text(ws).await?;
        match serde_json::from_str::<ServerFrame>(&text) {
            Ok(ServerFrame::Error { code, message, .. }) => {
                return Err(format!("the server refused ({code:?}): {message}"));
            }
            Ok(frame) => {
                if let Some(found) = pick(frame) {
                    return Ok(found);
                }
            }
            Err(error) => return Err(format!("not a Hearth frame ({error}): {text}")),
        }
    }
}

async fn command(ws: &mut Socket, frame: &ClientFrame) -> Result<(), String> {
    wire::send(ws, serde_json::to_string(frame).map_err(|e| e.to_string())?).await
}

/// Opens /ws with a session and says hello; returns the socket once welcomed, and who it is.
async fn connect(server: &str, cookie: &str, source: IpAddr) -> Result<(Socket, i64), String> {
    let mut ws = wire::dial(
        server,
        "/ws",
        source,
        &[("cookie", cookie), ("origin", server)],
    )
    .await?;
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL.load(Ordering::Relaxed),
        resume_after: None,
        changes_after: None,
    };
    command(&mut ws, &hello).await?;
    let me = wait_for(&mut ws, |f| match f {
        ServerFrame::Welcome { me, .. } => Some(me.id),
        _ => None,
    })
    .await?;
    Ok((ws, me))
}

/// Opens a connection for preparation work (from the default local address).
async fn connect_to_prepare(server: &str, cookie: &str) -> Result<(Socket, i64), String> {
    connect(server, cookie, IpAddr::from([127, 0, 0, 1])).await
}

/// Creates `count` named rooms as the account with `cookie`; returns their ids.
async fn create_rooms(
    server: &str,
    cookie: &str,
    label: &str,
    count: usize,
) -> Result<Vec<i64>, String> {
    let (mut ws, _) = connect_to_prepare(server, cookie).await?;
    let mut rooms = Vec::with_capacity(count);
    for r in 0..count {
        let name = format!("{label} {r}");
        let create = ClientFrame::CreateRoom {
            name: name.clone(),
            visibility: Visibility::Public,
        };
        command(&mut ws, &create).await?;
        rooms.push(
            wait_for(&mut ws, |f| match f {
                ServerFrame::RoomAdded { room } if room.name == name => Some(room.id),
                _ => None,
            })
            .await?,
        );
    }
    Ok(rooms)
}

/// Makes each client `i` of `joins` a member of its room.
async fn join_rooms(
    server: &str,
    accounts: &Accounts,
    joins: impl Iterator<Item = (usize, i64)>,
) -> Result<(), String> {
    stream::iter(joins)
        .map(|(i, room)| async move {
            let (mut ws, me) = connect_to_prepare(server, &accounts.cookies[i]).await?;
            command(&mut ws, &ClientFrame::JoinRoom { room }).await?;
            wait_for(&mut ws, |f| match f {
                ServerFrame::Message { message }
                    if message.room == room
                        && message.kind == MessageKind::Joined
                        && message.author.id == me =>
                {
                    Some(())
                }
                _ => None,
            })
            .await?;
            let _ = ws.close(None).await;
            Ok::<(), String>(())
        })
        .buffer_unordered(PREPARE_CONCURRENCY)
        .try_collect()
        .await
}

/// Opens a direct conversation between clients 2k and 2k+1 for each of `pairs`; returns the
/// conversations' room ids, by pair.
async fn open_conversations(
    server: &str,
    accounts: &Accounts,
    pairs: usize,
) -> Result<Vec<i64>, String> {
    // Account ids by name, from the user list, page after page.
    let (mut ws, _) = connect_to_prepare(server, &accounts.cookies[0]).await?;
    command(&mut ws, &ClientFrame::ListUsers).await?;
    let mut ids = HashMap::new();
    loop {
        let (users, more) = wait_for(&mut ws, |f| match f {
            ServerFrame::Users { users, more } | ServerFrame::MoreUsers { users, more } => {
                Some((users, more))
            }
            _ => None,
        })
        .await?;
        let last = users.last().map(|u| u.name.clone());
        ids.extend(users.into_iter().map(|u| (u.name, u.id)));
        match last {
            Some(after) if more => command(&mut ws, &ClientFrame::MoreUsers { after }).await?,
            _ => break,
        }
    }
    let _ = ws.close(None).await;
    stream::iter(0..pairs)
        .map(|pair| {
            let other = ids.get(&accounts.names[2 * pair + 1]).copied();
            async move {
                let user = other.ok_or("an account is missing from the user list")?;
                let (mut ws, _) = connect_to_prepare(server, &accounts.cookies[2 * pair]).await?;
                command(&mut ws, &ClientFrame::OpenDirect { user }).await?;
                let room = wait_for(&mut ws, |f| match f {
                    ServerFrame::RoomAdded { room } if room.kind == RoomKind::Direct => {
                        Some(room.id)
                    }
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

/// Prepares the rooms of `plan`: named rooms (created by the last account) that client `i`
/// joins as a member of room `i / members` (and the flooder, if any, the first room), or, for
/// `private`, a direct conversation for each pair of clients. Returns the rooms' ids.
pub async fn prepare(
    server: &str,
    accounts: &Accounts,
    label: &str,
    plan: &Plan,
    private: bool,
) -> Result<Vec<i64>, String> {
    if private {
        return open_conversations(server, accounts, plan.rooms).await;
    }
    let organizer = accounts.cookies.last().ok_or("no accounts")?;
    let rooms = create_rooms(server, organizer, label, plan.rooms).await?;
    let members = plan.members;
    let clients = (0..plan.clients()).map(|i| (i, rooms[i / members]));
    let flooder = plan.flood.then(|| (plan.clients(), rooms[0]));
    join_rooms(server, accounts, clients.chain(flooder)).await?;
    Ok(rooms)
}

/// Runs `plan` against a prepared Hearth: client `i` is account `i`, already in its room (the
/// flooder is the account after the clients'), connected to node `plan.node_of_client(i)` of
/// `servers` (the base URLs of the nodes, which share one database).
pub async fn load(
    plan: &Plan,
    servers: &[String],
    watched: &Watched,
    rooms: &[i64],
    accounts: &Accounts,
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
        Wire::Hearth,
        watched,
        |r| rooms[r],
        |i, _, source| {
            let server = servers[plan.node_of_client(i)].clone();
            let cookie = accounts.cookies[i].clone();
            async move { connect(&server, &cookie, source).await.map(|(ws, _)| ws) }.boxed()
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_accounts_are_reused_only_when_there_are_enough() {
        let path = std::env::temp_dir().join(format!("hearth-accounts-{}.tsv", std::process::id()));
        let accounts = Accounts {
            names: vec!["benchx0".into(), "benchx1".into()],
            cookies: vec!["hearth_session=a".into(), "hearth_session=b".into()],
        };
        accounts.save(&path).unwrap();
        let loaded = Accounts::load(&path, 2).expect("two kept");
        assert_eq!(loaded.names, accounts.names);
        assert_eq!(loaded.cookies, accounts.cookies);
        assert!(
            Accounts::load(&path, 3).is_none(),
            "too few for three clients"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(Accounts::load(&path, 1).is_none(), "nothing kept");
    }
}
