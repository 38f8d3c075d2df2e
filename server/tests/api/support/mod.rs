//! Test harness: a real server on port 0 with its own database (a SQLite file, or a PostgreSQL
//! database when `HEARTH_TEST_DATABASE=postgres`: see `server::scratch`), accounts made through
//! the real sign-up form, and real WebSocket clients.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use app::protocol::{ClientFrame, PROTOCOL_VERSION, Role, ServerFrame, Visibility};
use futures::{SinkExt, StreamExt};
use server::scratch::ScratchDatabase;
use server::{Config, Server};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod cluster;
pub mod redis;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub const WAIT: Duration = Duration::from_secs(5);

/// A fresh database of the kind the run asks for.
pub async fn temp_db() -> ScratchDatabase {
    ScratchDatabase::new("test")
        .await
        .expect("a scratch database")
}

/// Whether this run's databases are PostgreSQL's.
pub fn on_postgres() -> bool {
    std::env::var("HEARTH_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// Turns off the per-person message and room limits, for tests that post or create rooms
/// faster than a person could (their subject is something else).
pub fn without_flood_limits(config: &mut Config) {
    config.message_burst = 0;
    config.room_changes_per_hour = 0;
}

pub struct TestServer {
    pub server: Option<Server>,
    pub db: ScratchDatabase,
    pub base: String,
    pub origin: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_on(temp_db().await).await
    }

    /// Starts a server with a configuration changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::launch(temp_db().await, adjust).await
    }

    /// Starts a server on an existing database file (to test restarts).
    pub async fn start_on(db: ScratchDatabase) -> Self {
        Self::launch(db, |_| {}).await
    }

    /// Starts a server on `db` with a configuration changed by `adjust`.
    pub async fn launch(db: ScratchDatabase, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), db.url());
        adjust(&mut config);
        let server = server::start(config).await.expect("server starts");
        let base = format!("http://{}", server.addr);
        TestServer {
            origin: base.clone(),
            base,
            server: Some(server),
            db,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Posts the sign-in page's form to `action`; returns the response.
    pub async fn post_form(
        &self,
        action: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let body = format!(
            "username={}&password={}",
            encode(username),
            encode(password)
        );
        self.http()
            .post(format!("{}{action}", self.base))
            .header("origin", &self.origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates an account through the sign-up form; returns its session cookie ("name=value").
    pub async fn register(&self, username: &str) -> String {
        let response = self
            .post_form("/auth/register", username, "correct horse battery")
            .await;
        session_cookie(&response)
            .unwrap_or_else(|| panic!("sign-up of {username} gave no session: {response:?}"))
    }

    /// The administrator (signed in with `admin_cookie`) gives account `user` a role through
    /// the /admin form.
    pub async fn set_role(&self, admin_cookie: &str, user: i64, role: Role) {
        let response = self
            .http()
            .post(format!("{}/admin/role", self.base))
            .header("origin", &self.origin)
            .header("cookie", admin_cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("user={user}&role={}", role.as_str()))
            .send()
            .await
            .unwrap();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            location,
            format!("/admin?saved={user}"),
            "role change refused: {response:?}"
        );
    }

    /// Runs one SQL statement on the server's database directly: for states a test cannot reach
    /// through the protocol in time (a race's outcome, a mute about to end).
    pub async fn sql(&self, statement: &str) {
        match &self.db {
            ScratchDatabase::Sqlite(_) => {
                let pool = sqlx::SqlitePool::connect(&self.db.url()).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
            ScratchDatabase::Postgres { .. } => {
                let pool = sqlx::PgPool::connect(&self.db.url()).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// One number read from the server's database directly (what the protocol never shows).
    pub async fn sql_number(&self, query: &str) -> i64 {
        match &self.db {
            ScratchDatabase::Sqlite(_) => {
                let pool = sqlx::SqlitePool::connect(&self.db.url()).await.unwrap();
                let number = sqlx::query_scalar::<_, i64>(query)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                number
            }
            ScratchDatabase::Postgres { .. } => {
                let pool = sqlx::PgPool::connect(&self.db.url()).await.unwrap();
                // COUNT and MIN of a BIGINT are BIGINT; a SUM would need a cast.
                let number = sqlx::query_scalar::<_, Option<i64>>(query)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .unwrap_or(0);
                pool.close().await;
                number
            }
        }
    }

    /// A GET of `path` with the session `cookie`.
    pub async fn get(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http()
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    /// A same-origin form POST of `body` (url-encoded) to `path` with the session `cookie`.
    pub async fn post(&self, path: &str, cookie: &str, body: &str) -> reqwest::Response {
        self.http()
            .post(format!("{}{path}", self.base))
            .header("origin", &self.origin)
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// The body of a GET of `path` that must succeed.
    pub async fn page(&self, path: &str, cookie: &str) -> String {
        let response = self.get(path, cookie).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    pub async fn connect(&self, cookie: &str) -> Client {
        self.connect_after(cookie, None).await
    }

    /// Connects and says hello with a resume cursor; returns the client after its welcome.
    pub async fn connect_after(&self, cookie: &str, resume_after: Option<i64>) -> Client {
        self.connect_resuming(cookie, resume_after, None).await
    }

    /// Connects and says hello with both cursors: messages after `resume_after`, changes
    /// after `changes_after`.
    pub async fn connect_resuming(
        &self,
        cookie: &str,
        resume_after: Option<i64>,
        changes_after: Option<i64>,
    ) -> Client {
        let client = self
            .open_socket(Some(cookie), Some(&self.origin))
            .await
            .expect("socket opens");
        client.welcomed(resume_after, changes_after).await
    }

    /// Opens the socket without saying hello.
    pub async fn open_socket(
        &self,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Client, WsError> {
        let mut headers = Vec::new();
        headers.extend(cookie.map(|cookie| ("cookie", cookie.to_owned())));
        headers.extend(origin.map(|origin| ("origin", origin.to_owned())));
        self.open_socket_with(&headers).await
    }

    /// Opens the socket as a bot does: `Authorization: Bearer <token>`, no cookie, no Origin.
    pub async fn open_bot_socket(&self, token: &str) -> Result<Client, WsError> {
        self.open_socket_with(&[("authorization", format!("Bearer {token}"))])
            .await
    }

    /// A bot's socket after its welcome.
    pub async fn connect_bot(&self, token: &str) -> Client {
        let client = self.open_bot_socket(token).await.expect("socket opens");
        client.welcomed(None, None).await
    }

    /// Opens the socket with these request headers, without saying hello.
    pub async fn open_socket_with(
        &self,
        headers: &[(&'static str, String)],
    ) -> Result<Client, WsError> {
        let mut request = format!("ws://{}/ws", self.base.trim_start_matches("http://"))
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, HeaderValue::from_str(value).unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Client {
            socket,
            welcome: None,
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Dropped from a runtime's thread, which must not block on its own runtime: the
        // database goes on a thread of its own.
        let db = self.db.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let _ = runtime.block_on(db.drop_now());
        })
        .join();
    }
}

pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("__Host-").unwrap_or(v))
        .find(|v| v.starts_with("hearth_session=") && !v.starts_with("hearth_session=;"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub struct Client {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Option<ServerFrame>,
}

impl Client {
    /// Says hello with these cursors; the client after its welcome.
    async fn welcomed(mut self, resume_after: Option<i64>, changes_after: Option<i64>) -> Self {
        self.send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            resume_after,
            changes_after,
        })
        .await;
        let welcome = self.next().await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "first frame is the welcome: {welcome:?}"
        );
        self.welcome = Some(welcome);
        self
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_text(&serde_json::to_string(frame).unwrap()).await;
    }

    /// Sends `frame`; false if the socket is closed.
    pub async fn try_send(&mut self, frame: &ClientFrame) -> bool {
        let text = serde_json::to_string(frame).expect("client frames serialize");
        self.socket.send(Message::text(text)).await.is_ok()
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("frame sent");
    }

    /// The next server frame, within [`WAIT`].
    pub async fn next(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame arrives in time")
                .expect("socket still open")
                .expect("socket healthy");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).expect("server frames parse");
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next server frame, or how the socket closed (its close code, if it sent one).
    /// Waits as long as it takes: the caller bounds it.
    pub async fn next_or_close(&mut self) -> Result<ServerFrame, Option<u16>> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).expect("server frames parse"));
                }
                Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Reads frames until one matches, skipping others.
    pub async fn expect<T>(&mut self, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.next())
                .await
                .expect("expected frame arrives in time");
            if let Some(found) = pick(frame) {
                return found;
            }
        }
    }

    /// Every frame that arrives within `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, self.socket.next()).await {
            if let Message::Text(text) = message {
                frames.push(serde_json::from_str(text.as_str()).unwrap());
            }
        }
        frames
    }

    /// Waits for the server to close the socket; returns its close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            match tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("closes in time")
            {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Creates a public room (its creator joins it); returns its id.
    pub async fn create_room(&mut self, name: &str) -> i64 {
        self.create_room_as(name, Visibility::Public).await
    }

    /// Creates a private room (only its creator is in it); returns its id.
    pub async fn create_private_room(&mut self, name: &str) -> i64 {
        self.create_room_as(name, Visibility::Private).await
    }

    async fn create_room_as(&mut self, name: &str, visibility: Visibility) -> i64 {
        self.send(&ClientFrame::CreateRoom {
            name: name.into(),
            visibility,
        })
        .await;
        let wanted = name.to_owned();
        self.expect(|f| match f {
            ServerFrame::RoomAdded { room } if room.name == wanted => Some(room.id),
            _ => None,
        })
        .await
    }

    /// Posts `text` to `room` and waits until the server has stored it; returns its id.
    pub async fn say(&mut self, room: i64, text: &str) -> i64 {
        // A nonce of its own: the same nonce again would be a repeat of the same message.
        let said = format!("said-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        self.send(&ClientFrame::Send {
            room,
            text: text.into(),
            nonce: Some(said.clone()),
        })
        .await;
        self.expect(|f| match f {
            ServerFrame::Sent { nonce, id } if nonce == said => Some(id),
            ServerFrame::Error { message, .. } => panic!("not sent: {message}"),
            _ => None,
        })
        .await
    }

    /// Joins `room` and waits for the server's notice that this user joined.
    pub async fn join_room(&mut self, room: i64) {
        self.send(&ClientFrame::JoinRoom { room }).await;
        let me = self.me().id;
        self.expect(|f| match f {
            ServerFrame::Message { message }
                if message.room == room
                    && message.kind == app::protocol::MessageKind::Joined
                    && message.author.id == me =>
            {
                Some(())
            }
            _ => None,
        })
        .await
    }

    /// The rooms the welcome listed: this user's sidebar when it connected.
    pub fn sidebar(&self) -> Vec<app::protocol::RoomSummary> {
        match &self.welcome {
            Some(ServerFrame::Welcome { rooms, .. }) => rooms.clone(),
            _ => panic!("no welcome"),
        }
    }

    /// Sends `frame`, then `list_users` as a barrier (commands are answered in order): the code
    /// of the error `frame` got, or `None` if it was carried out.
    pub async fn outcome(&mut self, frame: &ClientFrame) -> Option<app::protocol::ErrorCode> {
        self.send(frame).await;
        self.send(&ClientFrame::ListUsers).await;
        let mut code = None;
        loop {
            match self.next().await {
                ServerFrame::Error { code: got, .. } => code = Some(got),
                ServerFrame::Users { .. } => return code,
                _ => {}
            }
        }
    }

    /// Adds the person named `name` to `room` (as a moderator), and checks it was done.
    pub async fn add_member(&mut self, room: i64, name: &str) {
        let frame = ClientFrame::AddMember {
            room,
            username: name.into(),
        };
        assert_eq!(self.outcome(&frame).await, None, "{name} added");
    }

    /// Opens (or creates) the direct conversation with `user`; returns its id.
    pub async fn open_direct(&mut self, user: i64) -> i64 {
        self.send(&ClientFrame::OpenDirect { user }).await;
        self.expect(|f| match f {
            ServerFrame::RoomAdded { room } => Some(room.id),
            _ => None,
        })
        .await
    }

    /// Every named room, as `list_rooms` returns them.
    pub async fn list_rooms(&mut self) -> Vec<app::protocol::RoomSummary> {
        self.send(&ClientFrame::ListRooms).await;
        self.expect(|f| match f {
            ServerFrame::Rooms { rooms } => Some(rooms),
            _ => None,
        })
        .await
    }

    pub fn me(&self) -> app::protocol::User {
        match &self.welcome {
            Some(ServerFrame::Welcome { me, .. }) => me.clone(),
            _ => panic!("no welcome"),
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        // Let the server see the close before the test goes on.
        let _ =
            tokio::time::timeout(WAIT, async { while self.socket.next().await.is_some() {} }).await;
    }
}

/// Picks `message` frames of any kind (texts and join/leave notices).
/// Picks the presence news about `user`: whether they came online.
pub fn presence_of(user: i64) -> impl FnMut(ServerFrame) -> Option<bool> {
    move |f| match f {
        ServerFrame::Presence { user: u, online } if u == user => Some(online),
        _ => None,
    }
}

/// Asks for a room's members (which starts presence for them); returns who is online, in id
/// order.
pub async fn online_members(client: &mut Client, room: i64) -> Vec<i64> {
    client.send(&ClientFrame::Members { room }).await;
    let mut online = client
        .expect(|f| match f {
            ServerFrame::Members { online, .. } => Some(online),
            _ => None,
        })
        .await;
    online.sort();
    online
}

/// Sends a lobby message from `client`, then says which reaches it first: its own message, or
/// presence news about `user` ("message" or "presence"). A message first shows that no news
/// was on its way.
pub async fn message_or_presence_first(client: &mut Client, user: i64) -> &'static str {
    client
        .send(&ClientFrame::Send {
            room: app::protocol::LOBBY_ID,
            text: "marker".into(),
            nonce: None,
        })
        .await;
    client
        .expect(|f| match f {
            ServerFrame::Presence { user: u, .. } if u == user => Some("presence"),
            ServerFrame::Message { .. } => Some("message"),
            _ => None,
        })
        .await
}

pub fn message_of(frame: ServerFrame) -> Option<app::protocol::ChatMessage> {
    match frame {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    }
}

/// Picks text messages, skipping notices such as "bob joined".
pub fn text_of(frame: ServerFrame) -> Option<app::protocol::ChatMessage> {
    message_of(frame).filter(|m| m.kind == app::protocol::MessageKind::Text)
}

/// Picks the code of an `error` frame.
pub fn error_code(frame: ServerFrame) -> Option<app::protocol::ErrorCode> {
    match frame {
        ServerFrame::Error { code, .. } => Some(code),
        _ => None,
    }
}
