//! Server configuration: command-line flags, each with an environment-variable equivalent.

use std::net::{IpAddr, SocketAddr};

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Clone, Debug)]
#[command(name = "hearth", about = "Hearth: self-hosted real-time chat", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HEARTH_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Where messages and accounts are stored: `sqlite://PATH` (a file, created if missing) or
    /// `postgres://USER@HOST/DATABASE` (an existing database; its tables are made at start).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/hearth.db")]
    pub database_url: String,

    /// Redis linking several Hearth nodes (`redis://HOST:PORT`): each node's messages, room
    /// changes, kicks, presence and rate limits reach the others through it. Needs a
    /// `postgres://` database shared by the nodes. Without it, this node is on its own.
    #[arg(long, env = "HEARTH_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Origins (scheme://host[:port]) allowed to open the WebSocket and post forms, besides the
    /// server's own. Comma-separated in the environment variable.
    #[arg(
        long = "allowed-origin",
        env = "HEARTH_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Mark the session cookie Secure even when no proxy says the request came over https.
    #[arg(long, env = "HEARTH_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Let teachers and the administrator review direct conversations too (each review is
    /// logged, and both people in every conversation are told that teachers can review it).
    #[arg(long, env = "HEARTH_REVIEW_DIRECT_MESSAGES")]
    pub review_direct_messages: bool,

    /// Failed sign-ins allowed per account in 15 minutes before sign-in is refused for it
    /// ("Too many attempts"); 0 turns the limit off.
    #[arg(long, env = "HEARTH_SIGN_IN_FAILURES", default_value_t = 10)]
    pub sign_in_failures: u32,

    /// Failed sign-ins allowed per client address in 15 minutes (any accounts); 0 is off.
    #[arg(
        long,
        env = "HEARTH_SIGN_IN_FAILURES_PER_ADDRESS",
        default_value_t = 100
    )]
    pub sign_in_failures_per_address: u32,

    /// New accounts per client address per hour; 0 is off.
    #[arg(long, env = "HEARTH_SIGN_UPS_PER_HOUR", default_value_t = 30)]
    pub sign_ups_per_hour: u32,

    /// Messages one person may post at once before the sustained rate applies; 0 is off.
    #[arg(long, env = "HEARTH_MESSAGE_BURST", default_value_t = 30)]
    pub message_burst: u32,

    /// Messages per second one person may post, sustained, once the burst is spent.
    #[arg(long, env = "HEARTH_MESSAGES_PER_SECOND", default_value_t = 5.0)]
    pub messages_per_second: f64,

    /// Room creations and renames per person per hour; 0 is off.
    #[arg(long, env = "HEARTH_ROOM_CHANGES_PER_HOUR", default_value_t = 30)]
    pub room_changes_per_hour: u32,

    /// Open sockets (tabs, devices) per account; the next one is closed with code 4008.
    /// 0 is unlimited.
    #[arg(long, env = "HEARTH_SOCKETS_PER_USER", default_value_t = 20)]
    pub sockets_per_user: usize,

    /// Memory password hashing may hold at once, in MiB (each argon2 hash takes 19 MiB);
    /// more sign-ins and sign-ups than fit wait their turn.
    #[arg(long, env = "HEARTH_HASHING_MEMORY_MIB", default_value_t = 256)]
    pub hashing_memory_mib: usize,

    /// A reverse proxy whose `X-Forwarded-For` is believed (its address; repeat for several).
    /// Without it the header is ignored and the peer's address is the client's.
    /// Comma-separated in the environment variable.
    #[arg(
        long = "trusted-proxy",
        env = "HEARTH_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// Who may create an account: anyone (open), only with an invite link made by a teacher
    /// or the administrator (invite), or nobody (closed; `hearth admin create-user` still can).
    #[arg(long, env = "HEARTH_REGISTRATION", value_enum, default_value_t = Registration::Open)]
    pub registration: Registration,

    /// A token that lets `/metrics` be read from other machines (`Authorization: Bearer …`);
    /// without it, only this machine may read it.
    #[arg(long, env = "HEARTH_METRICS_TOKEN")]
    pub metrics_token: Option<String>,

    /// Log lines as text or as JSON objects (one per line).
    #[arg(long, env = "HEARTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// How often the server pings each socket, in milliseconds; a socket silent for two of
    /// these (no pong, no frame) is closed and its user goes offline. (For tests: people keep
    /// the default, 30 s.)
    #[arg(long, env = "HEARTH_PING_MS", default_value_t = 30_000, hide = true)]
    pub ping_ms: u64,

    /// With several nodes: how long a node's presence entries live in Redis unless renewed (a
    /// third of it apart), in milliseconds; a node that dies takes its users offline within
    /// about this long. (For tests: people keep the default, 30 s.)
    #[arg(
        long,
        env = "HEARTH_PRESENCE_TTL_MS",
        default_value_t = 30_000,
        hide = true
    )]
    pub presence_ttl_ms: u64,

    /// How long the message log may hold a small commit open for more messages, in
    /// microseconds, while it is busy (it committed within the last 100 ms). A commit costs
    /// about as much for one message as for dozens (its fsync, its pages, its hand-offs to the
    /// database), so a busy server commits fewer, fuller batches; a quiet one never waits.
    /// 0 commits at once.
    #[arg(long, env = "HEARTH_COMMIT_LINGER_US", default_value_t = 2_000)]
    pub commit_linger_us: u64,

    /// Folder holding the built site (the wasm bundle, CSS and public files).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Without a command, the server runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Who may sign up.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Registration {
    #[default]
    Open,
    Invite,
    Closed,
}

#[derive(Subcommand, Clone, Debug)]
pub enum Command {
    /// Administration from the command line, on the configured database.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Clone, Debug)]
pub enum AdminCommand {
    /// Creates an account. The password is read from HEARTH_PASSWORD, or else from the first
    /// line of standard input.
    CreateUser {
        /// The new account's name.
        name: String,
        /// Its role: member, teacher or admin.
        #[arg(long, default_value = "member")]
        role: String,
    },
}

impl Config {
    /// The defaults with an address and database, for tests and embedding.
    pub fn new(addr: SocketAddr, database_url: impl Into<String>) -> Self {
        let mut config = Config::parse_from(["hearth"]);
        config.addr = addr;
        config.database_url = database_url.into();
        config
    }
}
