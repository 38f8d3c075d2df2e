//! `hearth-load`: many WebSocket clients against a running Hearth server.
//!
//! It prepares accounts through the sign-up form (before the timed part), connects every
//! client and has it join its room, then publishes at a fixed total rate and reports how long
//! connecting took, deliveries per second, publish→delivery latency (a send timestamp travels
//! inside each message; one clock, one machine), lost and duplicated deliveries (counted, not
//! assumed), and the server's CPU time and memory read from /proc.

mod hearth;
mod measure;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use clap::Parser;

use measure::{ProcStats, Tally};

#[derive(Parser, Debug, Clone)]
#[command(name = "hearth-load", about = "Load generator for Hearth")]
pub struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub server: String,
    /// Rooms to spread the clients over.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Clients (members) per room.
    #[arg(long, default_value_t = 100)]
    pub members: usize,
    /// Messages per second, in total over all rooms (0: idle).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Publishers per room (the first members of each room).
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// How long to publish.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// PID of the server, for its CPU time and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Local addresses to spread client connections over (each has its own ephemeral ports).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1")]
    pub source: Vec<IpAddr>,
    /// Concurrent sign-ups while preparing accounts.
    #[arg(long, default_value_t = 8)]
    pub signup_concurrency: usize,
    /// Exit non-zero if any delivery was lost or duplicated.
    #[arg(long)]
    pub strict: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(&args).await {
        Ok(tally) => {
            println!("{}", tally.report(&args));
            if args.strict && (tally.lost() != 0 || tally.duplicated != 0) {
                eprintln!("lost or duplicated deliveries");
                std::process::exit(1);
            }
        }
        Err(error) => {
            eprintln!("hearth-load: {error}");
            std::process::exit(2);
        }
    }
}

async fn run(args: &Args) -> Result<Tally, String> {
    let clients = args.rooms * args.members;
    if clients == 0 || args.publishers > args.members {
        return Err("need at least one client, and no more publishers than members".into());
    }
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            % 0xffff_ffff
    );

    // Untimed: accounts and rooms.
    let cookies = hearth::prepare_accounts(args, &run_id, clients).await?;
    let rooms = hearth::prepare_rooms(args, &run_id, &cookies).await?;

    let before = args.server_pid.map(ProcStats::read).transpose()?;
    let started = Instant::now();
    let connected = hearth::connect_all(args, &cookies, &rooms).await?;
    let connect_time = started.elapsed();

    let publish_started = Instant::now();
    let tally = hearth::exchange(
        args,
        connected,
        &rooms,
        Duration::from_secs_f64(args.seconds),
    )
    .await?;
    let publish_time = publish_started.elapsed();
    let after = args.server_pid.map(ProcStats::read).transpose()?;

    Ok(tally.finish(connect_time, publish_time, before, after))
}
