//! Hearth's own protocol, spoken as any bot would (docs/protocol.md): sign up through the form,
//! open /ws with the session cookie and the Origin header, say hello, join, send and read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt, TryStreamExt};
use futures::{SinkExt, stream::SplitSink};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::Args;
use crate::measure::{Receiver, Tally};

const PASSWORD: &str = "load-test-password";
/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 256;
/// How long to wait for the last deliveries after publishing stops.
const DRAIN: Duration = Duration::from_secs(5);

type Socket = WebSocketStream<TcpStream>;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn http() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// Signs up `count + 1` accounts (the last creates the rooms); returns their session cookies.
pub async fn prepare_accounts(
    args: &Args,
    run_id: &str,
    count: usize,
) -> Result<Vec<String>, String> {
    let client = http()?;
    stream::iter(0..=count)
        .map(|i| {
            let client = client.clone();
            async move {
                let response = client
                    .post(format!("{}/auth/register", args.server))
                    .header("origin", &args.server)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("username=L{run_id}x{i}&password={PASSWORD}"))
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
                        format!(
                            "sign-up of account {i} gave no session ({})",
                            response.status()
                        )
                    })
            }
        })
        .buffered(args.signup_concurrency)
        .try_collect()
        .await
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    message: Option<Posted<'a>>,
    #[serde(default)]
    me: Option<Me>,
    #[serde(default)]
    room: Option<RoomAdded>,
}

#[derive(Deserialize)]
struct Posted<'a> {
    room: i64,
    #[serde(borrow)]
    kind: &'a str,
    #[serde(borrow)]
    text: std::borrow::Cow<'a, str>,
    author: Me,
}

#[derive(Deserialize)]
struct Me {
    id: i64,
}

#[derive(Deserialize)]
struct RoomAdded {
    id: i64,
    name: String,
}

async fn open(args: &Args, cookie: &str, index: usize) -> Result<(Socket, i64), String> {
    let authority = args
        .server
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let addr: SocketAddr = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let source = args.source[index % args.source.len()];
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!("ws://{authority}/ws")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert(
        "cookie",
        HeaderValue::from_str(cookie).map_err(|e| e.to_string())?,
    );
    headers.insert(
        "origin",
        HeaderValue::from_str(&args.server).map_err(|e| e.to_string())?,
    );
    let (mut ws, _) = client_async(request, stream)
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    ws.send(Message::text(
        json!({"type": "hello", "protocol": 1}).to_string(),
    ))
    .await
    .map_err(|e| e.to_string())?;
    let me = wait_for(&mut ws, |frame| match frame {
        Frame {
            kind: "welcome",
            me: Some(me),
            ..
        } => Some(me.id),
        _ => None,
    })
    .await?;
    Ok((ws, me))
}

/// Reads frames until `pick` accepts one.
async fn wait_for<T>(ws: &mut Socket, pick: impl Fn(Frame<'_>) -> Option<T>) -> Result<T, String> {
    loop {
        let text = next_text(ws).await?;
        if let Some(found) = serde_json::from_str::<Frame>(&text).ok().and_then(&pick) {
            return Ok(found);
        }
    }
}

async fn next_text(ws: &mut Socket) -> Result<String, String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => return Err("the server closed the connection".into()),
            Err(_) => return Err("no frame within 30 s".into()),
        }
    }
}

/// Creates the rooms with the extra account (which then stays offline); returns their ids.
pub async fn prepare_rooms(
    args: &Args,
    run_id: &str,
    cookies: &[String],
) -> Result<Vec<i64>, String> {
    let creator = cookies.last().ok_or("no accounts")?;
    let (mut ws, _) = open(args, creator, 0).await?;
    let mut rooms = Vec::with_capacity(args.rooms);
    for r in 0..args.rooms {
        let name = format!("load {run_id} {r}");
        ws.send(Message::text(
            json!({"type": "create_room", "name": name}).to_string(),
        ))
        .await
        .map_err(|e| e.to_string())?;
        let id = wait_for(&mut ws, |frame| match frame {
            Frame {
                kind: "room_added",
                room: Some(room),
                ..
            } if room.name == name => Some(room.id),
            _ => None,
        })
        .await?;
        rooms.push(id);
    }
    let _ = ws.close(None).await;
    Ok(rooms)
}

pub struct Client {
    ws: Socket,
    room: i64,
}

/// Connects every client and has it join its room; returns once each has seen its own join.
pub async fn connect_all(
    args: &Args,
    cookies: &[String],
    rooms: &[i64],
) -> Result<Vec<Client>, String> {
    let clients = args.rooms * args.members;
    stream::iter(0..clients)
        .map(|i| {
            let room = rooms[i / args.members];
            async move {
                let (mut ws, me) = open(args, &cookies[i], i).await?;
                ws.send(Message::text(
                    json!({"type": "join_room", "room": room}).to_string(),
                ))
                .await
                .map_err(|e| e.to_string())?;
                wait_for(&mut ws, |frame| match frame {
                    Frame {
                        kind: "message",
                        message: Some(m),
                        ..
                    } if m.room == room && m.kind == "joined" && m.author.id == me => Some(()),
                    _ => None,
                })
                .await?;
                Ok(Client { ws, room })
            }
        })
        .buffered(CONNECT_CONCURRENCY)
        .try_collect()
        .await
}

/// Publishes for `duration` at the configured rate, then waits for the deliveries to arrive.
pub async fn exchange(
    args: &Args,
    clients: Vec<Client>,
    rooms: &[i64],
    duration: Duration,
) -> Result<Tally, String> {
    let (stop, stopped) = watch::channel(false);
    let delivered = Arc::new(AtomicU64::new(0));
    let mut receivers = Vec::with_capacity(clients.len());
    let mut writers: Vec<(i64, SplitSink<Socket, Message>)> = Vec::new();
    let mut seen_in_room = std::collections::HashMap::<i64, u64>::new();
    for (index, client) in clients.into_iter().enumerate() {
        let (sink, stream) = client.ws.split();
        *seen_in_room.entry(client.room).or_default() += 1;
        if index % args.members < args.publishers {
            writers.push((client.room, sink));
        } else {
            drop(sink); // the read half keeps the connection open
        }
        receivers.push(tokio::spawn(receive(
            stream,
            client.room,
            stopped.clone(),
            delivered.clone(),
        )));
    }

    let publishers = writers.len().max(1);
    let per_publisher = args.rate / publishers as f64;
    let published_per_room = Arc::new(std::sync::Mutex::new(
        std::collections::HashMap::<i64, u64>::new(),
    ));
    let mut publishing = Vec::new();
    for (number, (room, mut sink)) in writers.into_iter().enumerate() {
        let published = published_per_room.clone();
        publishing.push(tokio::spawn(async move {
            let mut sent = 0u64;
            if per_publisher > 0.0 {
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_publisher));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let until = tokio::time::Instant::now() + duration;
                loop {
                    tick.tick().await;
                    if tokio::time::Instant::now() >= until {
                        break;
                    }
                    sent += 1;
                    let text = format!("{number}:{sent}:{}", now_us());
                    let frame = json!({"type": "send", "room": room, "text": text}).to_string();
                    if sink.send(Message::text(frame)).await.is_err() {
                        sent -= 1;
                        break;
                    }
                }
            } else {
                tokio::time::sleep(duration).await;
            }
            if let Ok(mut map) = published.lock() {
                *map.entry(room).or_default() += sent;
            }
            sink
        }));
    }
    let mut sinks = Vec::new();
    for task in publishing {
        sinks.push(task.await.map_err(|e| e.to_string())?);
    }

    let mut tally = Tally::new();
    let published = published_per_room
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    for room in rooms {
        let count = published.get(room).copied().unwrap_or(0);
        tally.published += count;
        tally.expected += count * seen_in_room.get(room).copied().unwrap_or(0);
    }
    let deadline = tokio::time::Instant::now() + DRAIN;
    while delivered.load(Ordering::Relaxed) < tally.expected
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    for receiver in receivers {
        tally.add(&receiver.await.map_err(|e| e.to_string())?);
    }
    drop(sinks);
    Ok(tally)
}

async fn receive(
    mut stream: futures::stream::SplitStream<Socket>,
    room: i64,
    mut stop: watch::Receiver<bool>,
    delivered: Arc<AtomicU64>,
) -> Receiver {
    let mut seen = Receiver::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            next = stream.next() => match next {
                Some(Ok(Message::Text(text))) => {
                    let Ok(Frame { kind: "message", message: Some(m), .. }) = serde_json::from_str::<Frame>(text.as_str()) else {
                        continue;
                    };
                    if m.room != room || m.kind != "text" {
                        continue;
                    }
                    let mut parts = m.text.split(':').map(|p| p.parse::<u64>().unwrap_or(0));
                    let (publisher, seq, sent) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                    seen.record(publisher as u32, seq, sent, now_us());
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    }
    seen
}
