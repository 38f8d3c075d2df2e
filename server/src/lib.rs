//! Hearth's server: the axum application that serves the Leptos pages, the sign-in forms, the
//! administrator's pages, the teachers' review pages and the chat WebSocket, on top of the
//! store, the hub, the message log, the batched lookups and the rights policy.

#![recursion_limit = "256"]

pub mod admin;
pub mod auth;
pub mod commands;
pub mod config;
pub mod hub;
pub mod lookups;
pub mod message_log;
pub mod pages;
pub mod policy;
pub mod review;
pub mod socket;
pub mod store;

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

use hub::Hub;
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
    pub hub: Arc<Hub>,
    pub log: MessageLog,
    /// Session and sidebar reads, batched across connections.
    pub lookups: Lookups,
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
        .route("/admin/role", post(admin::change_role))
        .route("/admin/rooms/{id}/purge", post(admin::purge))
        .route("/review/feedback", post(review::give_feedback))
        .route("/review/grade", post(review::save_grade))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::same_origin,
        ));
    Router::new()
        .route("/ws", get(socket::upgrade))
        .route("/admin", get(admin::accounts_page))
        .route("/admin/rooms/{id}/purge", get(admin::confirm_purge))
        .route("/review", get(review::page))
        .route("/review/export.csv", get(review::export::csv))
        .route("/review/export.json", get(review::export::json))
        .route("/review/print", get(review::export::print))
        .route("/review/grades.csv", get(review::export::grades))
        .route("/feedback", get(review::feedback::page))
        .merge(forms)
        .leptos_routes(&state, generate_route_list(App), move || {
            shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::page_guard,
        ))
        .with_state(state)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    store: Store,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Opens the store, binds `config.addr` (port 0 picks a free port) and starts serving.
pub async fn start(config: Config) -> Result<Server, Error> {
    let store = Store::open(&config.database_url).await?;
    let hub = Arc::new(Hub::default());
    let log = MessageLog::start(store.clone(), hub.clone()).await?;
    tokio::spawn(hub::announce_online_counts(
        Arc::downgrade(&hub),
        hub::ONLINE_COUNT_EVERY,
    ));
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    // Chat frames are small and must go out at once: no Nagle delay behind an unacked write.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
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
    let state = AppState(Arc::new(Services {
        store: store.clone(),
        hub,
        log,
        lookups: Lookups::start(&store),
        config,
        leptos,
        shutdown,
    }));
    let mut stopping = state.shutdown.clone();
    // Served through `into_make_service`: each TCP connection then takes a reference to the
    // router. Served as a plain `Router`, axum rebuilt the whole route table (every page route,
    // cloned) for every connection, about a tenth of a WebSocket connect's CPU.
    let app = router(state).into_make_service();
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
    })
}

impl Server {
    /// Closes every socket (code 1001), finishes requests in flight and closes the database.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.store.close().await;
    }
}
