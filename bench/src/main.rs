//! `hearth-load`: many WebSocket clients against a chat server, measured.
//!
//! - `hearth-load run`: one load against a server that is already running (Hearth, or a
//!   Socket.IO v4 server), printing its figures. `bench/smoke.sh` runs it in `make test`.
//! - `hearth-load suite`: the whole benchmark (`make bench`): every scenario against Hearth and
//!   the peer servers in bench/peers/, written to bench/results/<date>/report.md.
//! - `hearth-load review`: the teachers' review page over a million messages (searches, and the
//!   server's memory while it streams the exports), written to bench/results/<date>/review.md.
//!
//! Per scenario it reports the time for every client to connect and join, deliveries per
//! second, publish→delivery latency (p50, p99, max), lost and duplicated deliveries (counted,
//! never assumed), and the server's CPU time and memory from /proc.

mod hearth;
mod load;
mod measure;
mod postgres;
mod redis;
mod report;
mod review;
mod suite;
mod wire;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use load::{Plan, Watched};
use suite::Server;
use wire::Wire;

#[derive(Parser)]
#[command(
    name = "hearth-load",
    about = "Load generator for Hearth and its peers"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// One load against a running server.
    Run(RunArgs),
    /// Every scenario against Hearth and the peers; writes a report.
    Suite(SuiteArgs),
    /// Searches and exports on the review page over a million messages; writes review.md.
    Review(review::Args),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The server's base URL; several, comma-separated: the nodes of one server (sharing its
    /// database and bus), the clients split over them and the deliveries that cross from one
    /// node to another timed apart.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:3000")]
    server: Vec<String>,
    /// The protocol it speaks.
    #[arg(long, value_enum, default_value = "hearth")]
    protocol: Wire,
    /// Rooms to spread the clients over.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Clients (members) per room.
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Publishers per room (its first members).
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Total messages per second over all rooms, one step per value.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    rate: Vec<f64>,
    /// How long each step publishes.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// PID of the server, for its CPU time and memory; one per node, comma-separated, added up.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// PID of the bus between the nodes (Redis), for its CPU time, reported apart.
    #[arg(long)]
    bus_pid: Option<u32>,
    /// Local addresses to spread client connections over.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1")]
    source: Vec<IpAddr>,
    /// Exit non-zero if any delivery was lost or duplicated.
    #[arg(long)]
    strict: bool,
    /// One more client floods the first room (Hearth only): each rate runs without it, then
    /// with it sending as fast as the server answers, ignoring `rate_limited`. Run against a
    /// server with its limits on to see what they spare the others.
    #[arg(long)]
    flood: bool,
    /// Members per room, after the publishers, that say they type every half second during
    /// each step (Hearth only): the server passes on one a typist every 3 s, a room's typists
    /// gathered into one frame.
    #[arg(long, default_value_t = 0)]
    typists: usize,
}

#[derive(clap::Args)]
struct SuiteArgs {
    /// Where the report goes (default: bench/results/<today>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fraction of the full client counts, for a quick trial (1: the real suite).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Servers to run: hearth, node, flask.
    #[arg(long, value_delimiter = ',', default_value = "hearth,node,flask")]
    servers: Vec<String>,
    /// Only these scenarios (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The core the servers are pinned to (the generator should be on another).
    #[arg(long, default_value = "0")]
    server_cpu: String,
    /// The cores the two-node scenarios' Redis is pinned to (default: the servers' core).
    #[arg(long)]
    bus_cpu: Option<String>,
    /// How many source addresses (127.0.0.2 and up) clients connect from.
    #[arg(long, default_value_t = 8)]
    sources: u8,
    /// The port the servers listen on.
    #[arg(long, default_value_t = 3300)]
    port: u16,
    /// Keep the signed-up Hearth accounts in this directory and reuse them next time (signing
    /// up 10,001 accounts takes minutes).
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// The Hearth binary to measure (another build, for a before/after comparison). The kept
    /// accounts' database must be one it can open: a binary refuses a database with migrations
    /// it does not know, so keep separate accounts for an older binary.
    #[arg(long, default_value = suite::HEARTH_BINARY)]
    hearth_binary: PathBuf,
    /// The protocol version the clients' `hello` names (default: this build's); an older
    /// binary closes a socket that names a version it does not speak.
    #[arg(long)]
    hearth_protocol: Option<u32>,
    /// Hearth's publishers send without a nonce (a browser always sends one), to measure what
    /// the idempotent path costs.
    #[arg(long)]
    no_nonce: bool,
    /// Run Hearth on PostgreSQL instead of SQLite: the server (a URL of any database on it, e.g.
    /// postgres://postgres@127.0.0.1:5432/test) to make a template database on from the
    /// signed-up accounts, and a database per scenario from that template.
    #[arg(long, value_name = "URL")]
    hearth_postgres: Option<String>,
    /// Every step lasts this many seconds instead of the scenario's own (a quick trial).
    #[arg(long)]
    seconds: Option<f64>,
    /// Only each scenario's first publish steps, at most this many (a quick trial).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    max_steps: Option<u16>,
    /// Hearth's two-node scenarios run on PostgreSQL (nodes share a database only there): on
    /// this server (a URL of any database on it), unless --hearth-postgres names one. A database
    /// per scenario is made there from a template of the accounts, as with --hearth-postgres.
    #[arg(long, value_name = "URL", default_value = suite::TWO_NODE_POSTGRES)]
    two_node_postgres: String,
    /// Exit non-zero if a scenario failed or lost or duplicated a delivery (the report is
    /// written anyway).
    #[arg(long)]
    strict: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = match Cli::parse().command {
        Commands::Run(args) => run(args).await,
        Commands::Suite(args) => suite(args).await,
        Commands::Review(args) => review::run(args).await,
    };
    if let Err(error) = result {
        eprintln!("hearth-load: {error}");
        std::process::exit(1);
    }
}

async fn run(args: RunArgs) -> Result<(), String> {
    if args.rooms * args.members == 0 || args.publishers > args.members {
        return Err("need at least one client, and no more publishers than members".into());
    }
    if args.typists > 0
        && (args.protocol != Wire::Hearth || args.publishers + args.typists > args.members)
    {
        return Err("--typists is for Hearth, and fits in a room after the publishers".into());
    }
    if args.flood && args.protocol != Wire::Hearth {
        return Err("--flood is for Hearth (its answers are counted)".into());
    }
    let plan = Plan {
        rooms: args.rooms,
        members: args.members,
        publishers: args.publishers,
        rates: args.rate.clone(),
        step_seconds: args.seconds,
        closed_loop: false,
        stop_above_p99: None,
        sources: args.source.clone(),
        flood: args.flood,
        nodes: args.server.len().max(1),
        typists: args.typists,
    };
    if plan.flood && plan.nodes > 1 {
        return Err("--flood is for one server".into());
    }
    let servers: Vec<String> = args
        .server
        .iter()
        .map(|s| s.trim_end_matches('/').to_owned())
        .collect();
    let watched = Watched {
        servers: args.server_pid.clone(),
        bus: args.bus_pid,
    };
    let outcome = match args.protocol {
        Wire::Hearth => {
            // Untimed: accounts, rooms, memberships (through the first node).
            let prefix = format!("L{:x}", std::process::id());
            let first = &servers[0];
            let accounts = hearth::sign_up(first, &prefix, plan.accounts() + 1, 8).await?;
            let rooms = hearth::prepare(first, &accounts, &prefix, &plan, false).await?;
            hearth::load(&plan, &servers, &watched, &rooms, &accounts).await?
        }
        Wire::SocketIo => wire::socketio_load(&plan, &servers, &watched).await?,
    };
    println!(
        "clients={} connect_and_join_s={:.3} generator_cpu_us_per_connection={:.0}",
        outcome.clients,
        outcome.connect_seconds,
        outcome.generator_cpu_us_per_connection()
    );
    let mut faulty = false;
    for step in &outcome.steps {
        println!(
            "rate={}/s{} published={} expected={} delivered={} lost={} duplicated={} deliveries_per_s={:.0} latency_ms p50={:.2} p99={:.2} max={:.2}{}",
            step.rate,
            step.flood
                .map(|f| format!(
                    " flood_sent={} flood_stored={} flood_rate_limited={} flood_refused={}",
                    f.sent, f.stored, f.rate_limited, f.refused
                ))
                .unwrap_or_default(),
            step.published,
            step.expected,
            step.received,
            step.lost(),
            step.duplicated,
            step.deliveries_per_second(),
            step.p(0.5),
            step.p(0.99),
            step.max_ms(),
            step.cpu_seconds
                .map(|c| format!(" server_cpu_s={c:.2}"))
                .unwrap_or_default(),
        );
        if let Some(crossing) = &step.crossing {
            println!(
                "  across nodes: delivered={} latency_ms p50={:.2} p99={:.2}; within a node: p50={:.2} p99={:.2}{}{}",
                crossing.received,
                crossing.p(0.5),
                crossing.p(0.99),
                crossing.local_p(0.5),
                crossing.local_p(0.99),
                if step.node_cpu_seconds.is_empty() {
                    String::new()
                } else {
                    let each: Vec<String> = step
                        .node_cpu_seconds
                        .iter()
                        .map(|c| format!("{c:.2}"))
                        .collect();
                    format!(" node_cpu_s={}", each.join(","))
                },
                step.bus_cpu_seconds
                    .map(|c| format!(" bus_cpu_s={c:.2}"))
                    .unwrap_or_default(),
            );
        }
        if plan.typists > 0 {
            println!(
                "  typing: sent={} received={} received_per_client_per_s={:.2}",
                step.typing_sent,
                step.typing_received,
                step.typing_received as f64
                    / outcome.clients as f64
                    / step.seconds.max(f64::EPSILON)
            );
        }
        faulty |= step.lost() != 0 || step.duplicated != 0;
    }
    if let Some(last) = outcome.last {
        println!(
            "server peak_rss_kib={} pss_kib={}",
            last.peak_rss_kib, last.pss_kib
        );
    }
    if args.strict && faulty {
        return Err("lost or duplicated deliveries".into());
    }
    Ok(())
}

/// Today's date, YYYY-MM-DD: the default report directory's name.
fn today() -> Result<String, String> {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .map_err(|e| e.to_string())
}

async fn suite(args: SuiteArgs) -> Result<(), String> {
    let servers = args
        .servers
        .iter()
        .map(|s| match s.as_str() {
            "hearth" => Ok(Server::Hearth),
            "node" => Ok(Server::Node),
            "flask" => Ok(Server::Flask),
            other => Err(format!("unknown server {other:?} (hearth, node, flask)")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let today = today()?;
    let options = suite::Options {
        out: args
            .out
            .unwrap_or_else(|| PathBuf::from("bench/results").join(today)),
        scale: args.scale,
        servers,
        only: args.only,
        bus_cpu: args.bus_cpu.unwrap_or_else(|| args.server_cpu.clone()),
        server_cpu: args.server_cpu,
        sources: (2..2 + args.sources.max(1))
            .map(|n| IpAddr::from([127, 0, 0, n]))
            .collect(),
        base_port: args.port,
        accounts_dir: args.accounts,
        hearth_binary: args.hearth_binary,
        hearth_postgres: args.hearth_postgres,
        seconds: args.seconds,
        max_steps: args.max_steps.map(usize::from),
        two_node_postgres: args.two_node_postgres,
        strict: args.strict,
    };
    if let Some(version) = args.hearth_protocol {
        hearth::speak_protocol(version);
    }
    wire::send_nonces(!args.no_nonce);
    let started = std::time::Instant::now();
    let report = suite::run(&options).await?;
    eprintln!(
        "report: {} ({:.0} s)",
        report.display(),
        Duration::from_secs_f64(started.elapsed().as_secs_f64()).as_secs_f64()
    );
    Ok(())
}
