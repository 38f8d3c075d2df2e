//! Hearth's server: the axum application that serves the Leptos pages, the sign-in forms, the
//! administrator's pages, the teachers' review pages and the chat WebSocket, on top of the
//! store, the hub, the message log, the batched lookups and the rights policy.

#![recursion_limit = "256"]

pub mod account;
pub mod admin;
pub mod auth;
pub mod bots;
pub mod bus;
pub mod cli;
pub mod commands;
pub mod config;
pub mod headers;
pub mod hub;
pub mod limits;
pub mod lookups;
pub mod mentions;
pub mod message_log;
pub mod operations;
pub mod pages;
pub mod policy;
pub mod review;
pub mod scratch;
pub mod socket;
pub mod store;
pub mod typing;

use std::net::SocketAddr;
use std::sync::Arc;

use app::{App, shell};
use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use leptos::config::{Env, LeptosOptions};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;

use bus::Bus;
use hub::Hub;
use limits::Limits;
use lookups::Lookups;
use message_log::MessageLog;
use store::Store;

/// Everything a request handler can reach, behind one `Arc`: axum clones the state for every
/// handler and middleware a request passes through, and one reference count is cheaper than
/// cloning each service (the Leptos options alone are a dozen shared strings).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    pub store: Store,
    /// Fan-out: this node's connections, and the other nodes' (when there are several).
    pub bus: Arc<Bus>,
    pub log: MessageLog,
    /// Session and sidebar reads, batched across connections.
    pub lookups: Lookups,
    /// Abuse limits and the password-hashing budget.
    pub limits: Limits,
    /// Who is typing where, until the next announcement.
    pub typing: Arc<typing::Typing>,
    pub config: Config,
    pub leptos: LeptosOptions,
    /// Flips to true when the server is stopping; open sockets close with 1001.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

pub fn router(state: AppState) -> Router {
    let leptos = state.leptos.clone();
    let forms = Router::new()
        .route("/auth/login", post(auth::sign_in))
        .route("/auth/register", post(auth::register))
        .route("/auth/logout", post(auth::sign_out))
        .route("/auth/logout-everywhere", post(auth::sign_out_everywhere))
        .route("/account/password", post(account::change_password))
        .route("/invites", post(account::new_invite))
        .route("/admin/role", post(admin::change_role))
        .route("/admin/accounts/{id}/disable", post(admin::disable))
        .route("/admin/accounts/{id}/enable", post(admin::enable))
        .route("/admin/accounts/{id}/password", post(admin::set_password))
        .route("/admin/rooms/{id}/purge", post(admin::purge))
        .route("/admin/bots", post(bots::create))
        .route("/admin/bots/{id}/token", post(bots::new_token))
        .route("/admin/bots/{id}/revoke", post(bots::revoke))
        .route("/review/feedback", post(review::give_feedback))
        .route("/review/grade", post(review::save_grade))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::same_origin,
        ));
    Router::new()
        .route("/ws", get(socket::upgrade))
        .route("/auth/session", get(auth::session_status))
        .route("/healthz", get(operations::healthz))
        .route("/readyz", get(operations::readyz))
        .route("/metrics", get(operations::metrics))
        .route("/account", get(account::page))
        .route("/admin", get(admin::accounts_page))
        .route("/admin/rooms/{id}/purge", get(admin::confirm_purge))
        .route("/review", get(review::page))
        .route("/review/export.csv", get(review::export::csv))
        .route("/review/export.json", get(review::export::json))
        .route("/review/print", get(review::export::print))
        .route("/review/grades.csv", get(review::export::grades))
        .route("/feedback", get(review::feedback::page))
        .merge(forms)
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            headers::nonce_from_request,
            move || shell(leptos.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(headers::nonce_from_request, shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::page_guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::secure,
        ))
        .layer(middleware::from_fn(pages::theme_scope))
        .with_state(state)
}

/// TCP keepalive: first probe after this long without traffic, then one per interval.
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(60);
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);
/// How often expired sessions and day-old send nonces are deleted.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
/// How long a send's nonce makes a repeat of it a duplicate.
const NONCES_KEPT_MS: i64 = 24 * 3600 * 1000;

/// Deletes expired sessions (closing their sockets) and day-old send nonces now and then
/// every [`PURGE_EVERY`]; ends with the store.
async fn purge_expired(store: Store, bus: std::sync::Weak<Bus>) {
    let mut ticks = tokio::time::interval(PURGE_EVERY);
    loop {
        ticks.tick().await;
        let purged = match store.purge_expired_sessions().await {
            Ok(sessions) => store
                .purge_nonces(store::now_ms() - NONCES_KEPT_MS)
                .await
                .map(|nonces| (sessions, nonces)),
            Err(error) => Err(error),
        };
        match purged {
            Ok((sessions, nonces)) => {
                if let Some(bus) = bus.upgrade() {
                    for (user, token_hash) in &sessions {
                        let session = hub::Sessions::Only(auth::session_key(token_hash));
                        bus.kick_user(*user, session, hub::KickReason::SignedOut);
                    }
                }
                if !sessions.is_empty() || nonces > 0 {
                    tracing::info!(sessions = sessions.len(), nonces, "expired rows deleted");
                }
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => tracing::warn!(%error, "could not delete expired sessions or nonces"),
        }
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    store: Store,
    bus: Arc<Bus>,
}

/// How long a stopping server waits for its sockets to send their close frames.
const CLOSING_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Opens the store, binds `config.addr` (port 0 picks a free port) and starts serving.
pub async fn start(config: Config) -> Result<Server, Error> {
    operations::recorder();
    let store = Store::open(&config.database_url).await?;
    let hub = Arc::new(Hub::default());
    let bus = Bus::start(store.clone(), hub.clone(), &config).await?;
    tokio::spawn(purge_expired(store.clone(), Arc::downgrade(&bus)));
    let log = MessageLog::start(
        store.clone(),
        bus.clone(),
        std::time::Duration::from_micros(config.commit_linger_us),
    );
    // Several nodes share their counts through the bus instead.
    if !bus.is_cluster() {
        tokio::spawn(hub::announce_online_counts(
            Arc::downgrade(&hub),
            hub::ONLINE_COUNT_EVERY,
        ));
    }
    let typing = Arc::new(typing::Typing::default());
    tokio::spawn(typing::announce(
        Arc::downgrade(&typing),
        Arc::downgrade(&bus),
    ));
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    // Chat frames are small and must go out at once: no Nagle delay behind an unacked write.
    // TCP keepalive lets the kernel find a peer that vanished (a phone gone off the network)
    // even where nothing is being written.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    let listener = listener.tap_io(move |stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        if let Err(error) = socket2::SockRef::from(&*stream).set_tcp_keepalive(&keepalive) {
            tracing::debug!(%error, "could not set TCP keepalive");
        }
    });
    let leptos = LeptosOptions::builder()
        .output_name("hearth")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .env(Env::PROD)
        .site_addr(addr)
        .build();
    let (stop, shutdown) = watch::channel(false);
    // Nodes linked by Redis count their rate limits there, so each limit holds across them.
    let shared_limits = bus.redis();
    let running_bus = bus.clone();
    let state = AppState(Arc::new(Services {
        store: store.clone(),
        bus,
        log,
        lookups: Lookups::start(&store),
        limits: Limits::new(&config, shared_limits),
        typing,
        config,
        leptos,
        shutdown,
    }));
    let mut stopping = state.shutdown.clone();
    // Served through a make-service: each TCP connection then takes a reference to the router
    // (with its peer address, for the per-address limits). Served as a plain `Router`, axum
    // rebuilt the whole route table (every page route, cloned) for every connection, about a
    // tenth of a WebSocket connect's CPU.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(Server {
        addr,
        stop,
        task,
        store,
        bus: running_bus,
    })
}

impl Server {
    /// Closes every socket (code 1001), finishes requests in flight, takes this node out of the
    /// others' presence (when there are several) and closes the database.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        // Upgraded sockets outlive the HTTP server: wait (a little) for them to say goodbye.
        let deadline = tokio::time::Instant::now() + CLOSING_WAIT;
        while self.bus.hub().connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.bus.leave().await;
        self.store.close().await;
    }
}
