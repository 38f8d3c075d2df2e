//! Server configuration: command-line flags, each with an environment-variable equivalent.

use std::net::SocketAddr;

use clap::Parser;

#[derive(Parser, Clone, Debug)]
#[command(name = "hearth", about = "Hearth: self-hosted real-time chat", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HEARTH_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Where messages and accounts are stored.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/hearth.db")]
    pub database_url: String,

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

    /// Folder holding the built site (the wasm bundle, CSS and public files).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
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
