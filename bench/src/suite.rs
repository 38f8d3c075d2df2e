//! `hearth-load suite`: every scenario against Hearth and the peer servers, interleaved in one
//! run, each server started fresh for each scenario and pinned to one core.
//!
//! Hearth's accounts are signed up once (argon2 makes that the slow part) into a template
//! database; each scenario starts from a copy of it, prepares its rooms and memberships through
//! the product's own interfaces, then restarts the server so the timed part sees a fresh process.
//! With `--hearth-postgres`, Hearth runs on PostgreSQL instead: a template database made from
//! the SQLite one once per run, and a database per scenario made from it (src/postgres.rs).
//!
//! The two-node scenarios run each server as two processes sharing a private Redis
//! (src/redis.rs): two Hearth nodes on one PostgreSQL database (made as above, on
//! `--hearth-postgres` or `--two-node-postgres`), or two Node Socket.IO processes with the Redis
//! adapter. Both processes are pinned to the servers' one core, so they have the CPU a single
//! server has in the other scenarios; so is Redis unless `--bus-cpu` says otherwise (left to
//! inherit the generator's affinity, it would run on the generator's core), its CPU counted
//! apart. The clients alternate between the two nodes (`Plan::node_of_client`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::hearth::{self, Accounts};
use crate::load::{Outcome, Plan, Watched};
use crate::postgres::PgServer;
use crate::redis::{self, Redis};
use crate::report::{self, Machine, Run};
use crate::wire;

/// Hearth's settings that turn off the per-address and per-person rate limits
/// (`--sign-ups-per-hour 0 --message-burst 0 --room-changes-per-hour 0
/// --sign-in-failures-per-address 0`), given as the flags' environment variables: a binary from
/// before the limits ignores them, where it would refuse the flags, so the suite can measure it
/// too (`--hearth-binary`).
pub(crate) const HEARTH_LIMITS_OFF: [(&str, &str); 4] = [
    ("HEARTH_SIGN_UPS_PER_HOUR", "0"),
    ("HEARTH_MESSAGE_BURST", "0"),
    ("HEARTH_ROOM_CHANGES_PER_HOUR", "0"),
    ("HEARTH_SIGN_IN_FAILURES_PER_ADDRESS", "0"),
];

/// The Hearth binary the suite measures unless told otherwise.
pub(crate) const HEARTH_BINARY: &str = "target/release/hearth";

/// The PostgreSQL server Hearth's two-node scenarios run on unless `--hearth-postgres` names
/// another: the machine's (`make postgres`).
pub(crate) const TWO_NODE_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How a server is started.
#[derive(Clone, Debug)]
pub(crate) struct Launch {
    /// Hearth's binary.
    pub binary: PathBuf,
    /// Hearth with its default limits (else [`HEARTH_LIMITS_OFF`]).
    pub limits: bool,
    /// One of several nodes sharing this Redis (Hearth's `--redis-url`, the Node peer's
    /// `--redis-url`); `None`: on its own.
    pub redis: Option<String>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            binary: PathBuf::from(HEARTH_BINARY),
            limits: false,
            redis: None,
        }
    }
}

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Hearth,
    Node,
    Flask,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Hearth => "Hearth",
            Server::Node => "Node Socket.IO",
            Server::Flask => "Flask-SocketIO",
        }
    }
}

/// One scenario of the suite.
#[derive(Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub title: &'static str,
    pub plan: Plan,
    /// Rooms are direct conversations (Hearth) between client pairs.
    pub private: bool,
    /// Only Hearth stores messages; the peers have nothing to compare.
    pub hearth_only: bool,
    /// The timed Hearth keeps its default rate limits (preparing it still runs without them:
    /// one account creates every room).
    pub limits: bool,
}

pub struct Options {
    pub out: PathBuf,
    /// Fraction of the full client counts (1.0: the real suite).
    pub scale: f64,
    pub servers: Vec<Server>,
    pub only: Vec<String>,
    pub server_cpu: String,
    /// The cores the two-node scenarios' Redis is pinned to.
    pub bus_cpu: String,
    pub sources: Vec<IpAddr>,
    pub base_port: u16,
    /// Where to keep the signed-up accounts (database and session cookies) for the next run;
    /// `None`: a fresh sign-up each run, in a temporary directory.
    pub accounts_dir: Option<PathBuf>,
    /// The Hearth binary to run.
    pub hearth_binary: PathBuf,
    /// Run Hearth on PostgreSQL: the server to make its databases on (a URL of any database
    /// there); `None`: on SQLite.
    pub hearth_postgres: Option<String>,
    /// Every step's length in seconds, instead of each scenario's own.
    pub seconds: Option<f64>,
    /// Only each scenario's first publish steps, at most this many.
    pub max_steps: Option<usize>,
    /// The PostgreSQL server (a URL of any database there) for Hearth's two-node scenarios, when
    /// `hearth_postgres` is `None`.
    pub two_node_postgres: String,
    /// Fail if a scenario failed or lost or duplicated a delivery.
    pub strict: bool,
}

pub fn scenarios(scale: f64, sources: &[IpAddr]) -> Vec<Scenario> {
    let n = |count: usize| ((count as f64 * scale).round() as usize).max(1);
    let plan = |rooms, members, publishers, rates: Vec<f64>, step_seconds| Plan {
        rooms,
        members,
        publishers,
        rates,
        step_seconds,
        closed_loop: false,
        stop_above_p99: None,
        sources: sources.to_vec(),
        flood: false,
        nodes: 1,
        typists: 0,
    };
    let big_room_rates = vec![10.0, 50.0, 100.0, 150.0, 200.0, 500.0, 1000.0, 2000.0];
    vec![
        Scenario {
            name: "idle",
            title: "Idle: 10,000 clients in 100 rooms, nothing sent",
            plan: plan(n(100), 100, 0, vec![], 5.0),
            private: false,
            hearth_only: false,
            limits: false,
        },
        Scenario {
            name: "big-room",
            title: "Big room: 1 room × 1,000 members, 10 publishers, rate stepped up",
            plan: Plan {
                stop_above_p99: Some(Duration::from_millis(100)),
                ..plan(1, n(1000), 10, big_room_rates.clone(), 5.0)
            },
            private: false,
            hearth_only: false,
            limits: false,
        },
        Scenario {
            name: "big-room-10k",
            title: "Big room: 1 room × 10,000 members at 1 message/s",
            plan: plan(1, n(10_000), 1, vec![1.0], 10.0),
            private: false,
            hearth_only: false,
            limits: false,
        },
        Scenario {
            name: "many-rooms",
            title: "Many rooms: 1,000 rooms × 10 members, 1 message/s per room",
            plan: plan(n(1000), 10, 1, vec![n(1000) as f64], 10.0),
            private: false,
            hearth_only: false,
            limits: false,
        },
        Scenario {
            name: "private",
            title: "Private: 5,000 pairs, each person sending 1 message every 2 s",
            plan: plan(n(5000), 2, 2, vec![n(5000) as f64], 10.0),
            private: true,
            hearth_only: false,
            limits: false,
        },
        Scenario {
            name: "persist",
            title: "Persist: 1,000 publishers, each sending its next message once the last is stored",
            plan: Plan {
                closed_loop: true,
                ..plan(n(1000), 1, 1, vec![0.0], 10.0)
            },
            private: false,
            hearth_only: true,
            limits: false,
        },
        Scenario {
            name: "flood",
            title: "Flood: 1 room × 1,000 members, 20 publishers at 50 messages/s, default limits; \
                    one more member floods the room in every other step",
            plan: Plan {
                flood: true,
                ..plan(1, n(1000), 20, vec![50.0, 50.0], 10.0)
            },
            private: false,
            hearth_only: true,
            limits: true,
        },
        Scenario {
            name: "two-node-big-room",
            title: "Two nodes, big room: 1 room × 1,000 members, half on each node, 10 publishers \
                    (5 on each), rate stepped up",
            plan: Plan {
                stop_above_p99: Some(Duration::from_millis(100)),
                nodes: 2,
                ..plan(1, n(1000), 10, big_room_rates, 5.0)
            },
            private: false,
            hearth_only: false,
            limits: false,
        },
        Scenario {
            name: "two-node-many-rooms",
            title: "Two nodes, many rooms: 1,000 rooms × 10 members, half of each room on each \
                    node, 1 message/s per room (half the rooms' publishers on each node)",
            plan: Plan {
                nodes: 2,
                ..plan(n(1000), 10, 1, vec![n(1000) as f64], 10.0)
            },
            private: false,
            hearth_only: false,
            limits: false,
        },
    ]
}

/// A server process under test.
pub(crate) struct Running {
    child: Child,
    pub(crate) url: String,
}

impl Running {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `server` on `port` (Hearth on the SQLite database `database`, as `hearth` says),
    /// pinned to `cpu` if given, and waits until it listens.
    pub(crate) async fn start(
        server: Server,
        port: u16,
        database: Option<&Path>,
        cpu: Option<&str>,
        hearth: &Launch,
    ) -> Result<Running, String> {
        let url = database.map(|d| format!("sqlite://{}", d.display()));
        Running::start_on(server, port, url.as_deref(), cpu, hearth).await
    }

    /// [`Running::start`], Hearth on the database at `database_url` (SQLite or PostgreSQL).
    pub(crate) async fn start_on(
        server: Server,
        port: u16,
        database_url: Option<&str>,
        cpu: Option<&str>,
        hearth: &Launch,
    ) -> Result<Running, String> {
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpu]);
                c
            }
            None => Command::new("env"),
        };
        let port_text = port.to_string();
        match server {
            Server::Hearth => {
                let database = database_url.ok_or("Hearth needs a database")?;
                command.arg(&hearth.binary).args([
                    "--addr",
                    &format!("127.0.0.1:{port}"),
                    "--database-url",
                    database,
                ]);
                // The flag, not its variable: a binary without it refuses to start, where it
                // would ignore the variable and run on its own.
                match &hearth.redis {
                    Some(url) => command.args(["--redis-url", url]),
                    None => command.env_remove("HEARTH_REDIS_URL"),
                };
                // The load comes from one address, far faster than people type, from accounts
                // that each post and create rooms at machine speed: the abuse limits would
                // refuse the benchmark itself (the peers have none). Turned off here only,
                // except where a scenario measures them.
                for (name, value) in HEARTH_LIMITS_OFF {
                    if hearth.limits {
                        command.env_remove(name);
                    } else {
                        command.env(name, value);
                    }
                }
                &mut command
            }
            Server::Node => {
                command.args(["node", "bench/peers/node/server.js", "--port", &port_text]);
                if let Some(url) = &hearth.redis {
                    command.args(["--redis-url", url]);
                }
                &mut command
            }
            Server::Flask if hearth.redis.is_some() => {
                return Err("the Flask peer has no setup for several processes here".into());
            }
            Server::Flask => command.args([
                "bench/peers/flask/.venv/bin/python",
                "bench/peers/flask/app.py",
                "--port",
                &port_text,
            ]),
        };
        command.env("RUST_LOG", "warn");
        Running::spawn(
            command,
            port,
            server.name(),
            format!("http://127.0.0.1:{port}"),
        )
        .await
    }

    /// Runs `command`, a server called `name` that listens on `port` of 127.0.0.1 (reached at
    /// `url`), and waits until it listens.
    pub(crate) async fn spawn(
        mut command: Command,
        port: u16,
        name: &str,
        url: String,
    ) -> Result<Running, String> {
        // Something still listening there (a server left running) would be measured instead.
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Err(format!("port {port} is already in use"));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        let mut running = Running { child, url };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(format!("{name} exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("{name} did not start listening"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(running)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
    pub(crate) async fn stop(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child process by its pid.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server is never left running behind the generator, whatever error or panic ends a run
/// (after `stop`, the child has been waited for and this does nothing).
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_database(from: &Path, to: &Path) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm"] {
        let source = PathBuf::from(format!("{}{suffix}", from.display()));
        let target = PathBuf::from(format!("{}{suffix}", to.display()));
        let _ = std::fs::remove_file(&target);
        if source.exists() {
            std::fs::copy(&source, &target).map_err(|e| format!("copying the database: {e}"))?;
        }
    }
    Ok(())
}

/// `count` signed-up Hearth accounts in the template database: the ones kept in `dir` by an
/// earlier run if there are enough, else new ones (kept there for the next run).
async fn accounts_for(
    dir: &Path,
    template: &Path,
    count: usize,
    port: u16,
    hearth: &Launch,
) -> Result<hearth::Accounts, String> {
    let kept = dir.join("accounts.tsv");
    if template.exists()
        && let Some(accounts) = hearth::Accounts::load(&kept, count)
    {
        eprintln!(
            "using {} kept Hearth accounts in {}",
            accounts.names.len(),
            dir.display()
        );
        return Ok(accounts);
    }
    for stale in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{stale}", template.display()));
    }
    eprintln!("signing up {count} Hearth accounts (untimed)…");
    let started = Instant::now();
    let server = Running::start(Server::Hearth, port, Some(template), None, hearth).await?;
    let accounts = hearth::sign_up(&server.url, "bench", count, 16).await;
    server.stop().await;
    let accounts = accounts?;
    eprintln!("  done in {:.0} s", started.elapsed().as_secs_f64());
    accounts
        .save(&kept)
        .map_err(|e| format!("keeping the accounts: {e}"))?;
    Ok(accounts)
}

/// Runs the suite and writes the report; returns its path.
pub async fn run(options: &Options) -> Result<PathBuf, String> {
    let scenarios: Vec<Scenario> = scenarios(options.scale, &options.sources)
        .into_iter()
        .filter(|s| options.only.is_empty() || options.only.iter().any(|o| o == s.name))
        .map(|mut s| {
            if let Some(seconds) = options.seconds {
                s.plan.step_seconds = seconds;
            }
            if let Some(steps) = options.max_steps {
                s.plan.rates.truncate(steps.max(1));
            }
            s
        })
        .collect();
    let work = std::env::temp_dir().join(format!("hearth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let accounts_dir = options.accounts_dir.clone().unwrap_or_else(|| work.clone());
    std::fs::create_dir_all(&accounts_dir).map_err(|e| e.to_string())?;
    let template = accounts_dir.join("accounts.db");
    let port = options.base_port;
    let mut runs = Vec::new();
    let hearth = Launch {
        binary: options.hearth_binary.clone(),
        limits: false,
        redis: None,
    };
    let two_nodes = scenarios.iter().any(|s| s.plan.nodes > 1);

    // Untimed: Hearth accounts for the largest scenario, plus one organizer for the rooms.
    let accounts = if options.servers.contains(&Server::Hearth) {
        let most = scenarios
            .iter()
            .map(|s| s.plan.accounts())
            .max()
            .unwrap_or(0);
        Some(accounts_for(&accounts_dir, &template, most + 1, port, &hearth).await?)
    } else {
        None
    };

    // Untimed: on PostgreSQL, the accounts copied into a template database there: for every
    // scenario with --hearth-postgres, else for the two-node ones alone (nodes share a database
    // only on PostgreSQL). Without --hearth-postgres, a PostgreSQL that cannot be had fails the
    // two-node scenarios only.
    let postgres_url = match &options.hearth_postgres {
        Some(url) => Some(url.as_str()),
        None => two_nodes.then_some(options.two_node_postgres.as_str()),
    };
    let mut no_postgres = None;
    let postgres = match (postgres_url, &accounts) {
        (Some(url), Some(_)) => match postgres_template(url, &template, port, &hearth).await {
            Ok(pg) => Some(pg),
            Err(error) if options.hearth_postgres.is_none() => {
                eprintln!("warning: Hearth's two-node scenarios will fail: {error}");
                no_postgres = Some(error);
                None
            }
            Err(error) => return Err(error),
        },
        _ => None,
    };

    for scenario in &scenarios {
        for &server in &options.servers {
            if scenario.hearth_only && server != Server::Hearth {
                continue;
            }
            if scenario.plan.nodes > 1 && server == Server::Flask {
                // Flask-SocketIO scales out through a message queue too, but the suite compares
                // the two-node setups with Node's official one only.
                continue;
            }
            eprintln!("{} — {}", scenario.name, server.name());
            let outcome = match server {
                Server::Hearth => {
                    let accounts = accounts.as_ref().ok_or("no accounts")?;
                    let launch = Launch {
                        limits: scenario.limits,
                        ..hearth.clone()
                    };
                    let on_postgres = scenario.plan.nodes > 1 || options.hearth_postgres.is_some();
                    let database = match &postgres {
                        Some(pg) if on_postgres => Ok(HearthDatabase::Postgres(pg)),
                        None if on_postgres => Err(format!(
                            "several nodes need PostgreSQL: {}",
                            no_postgres.as_deref().unwrap_or("none given")
                        )),
                        _ => Ok(HearthDatabase::Sqlite {
                            template: &template,
                            work: &work,
                        }),
                    };
                    match database {
                        Ok(database) => {
                            run_hearth(options, scenario, accounts, database, port, &launch).await
                        }
                        Err(error) => Err(error),
                    }
                }
                _ => run_peer(options, scenario, server, port).await,
            };
            if let Err(error) = &outcome {
                eprintln!("  failed: {error}");
            }
            runs.push(Run {
                scenario: scenario.clone(),
                server,
                outcome,
            });
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let mut machine = Machine::read(&options.server_cpu);
    machine.bus_cpu = options.bus_cpu.clone();
    if options.hearth_binary != Path::new(HEARTH_BINARY) {
        // The commit above is the generator's; the Hearth measured is another build.
        machine.versions.push((
            "Hearth binary measured".into(),
            options.hearth_binary.display().to_string(),
        ));
    }
    if let Some(pg) = postgres {
        if let Err(error) = pg.server.drop_database(&pg.template).await {
            eprintln!("warning: {error}");
        }
        if options.hearth_postgres.is_some() {
            machine
                .versions
                .push(("PostgreSQL (Hearth's database)".into(), pg.description.long));
            machine.hearth_database = Some(pg.description.short.clone());
        } else {
            machine.versions.push((
                "PostgreSQL (Hearth's database in the two-node scenarios)".into(),
                pg.description.long,
            ));
        }
        if two_nodes {
            machine.two_node_database = Some(pg.description.short);
        }
    }
    if two_nodes {
        machine.versions.extend([
            (
                "Redis (the two-node scenarios' bus)".into(),
                redis::version(),
            ),
            (
                "@socket.io/redis-adapter (npm)".into(),
                report::npm_version(
                    "bench/peers/node/node_modules/@socket.io/redis-adapter/package.json",
                ),
            ),
            (
                "redis (npm)".into(),
                report::npm_version("bench/peers/node/node_modules/redis/package.json"),
            ),
        ]);
    }
    let path = report::write(&options.out, &machine, &runs)?;
    if options.strict {
        let faults: Vec<String> = runs
            .iter()
            .filter_map(|run| {
                let what = match &run.outcome {
                    Err(error) => format!("failed: {error}"),
                    Ok(o) => {
                        let lost: u64 = o.steps.iter().map(|s| s.lost()).sum();
                        let duplicated: u64 = o.steps.iter().map(|s| s.duplicated).sum();
                        if lost + duplicated == 0 {
                            return None;
                        }
                        format!("lost {lost}, duplicated {duplicated}")
                    }
                };
                Some(format!(
                    "{} on {}: {what}",
                    run.scenario.name,
                    run.server.name()
                ))
            })
            .collect();
        if !faults.is_empty() {
            return Err(format!(
                "{} (report: {})",
                faults.join("; "),
                path.display()
            ));
        }
    }
    Ok(path)
}

/// Makes the run's PostgreSQL template on the server `url` reaches, from the accounts in the
/// SQLite `template`.
async fn postgres_template(
    url: &str,
    template: &Path,
    port: u16,
    hearth: &Launch,
) -> Result<Postgres, String> {
    let server = PgServer::new(url, port)?;
    let description = server.describe().await?;
    eprintln!("Hearth on PostgreSQL {}", description.long);
    let name = server.make_template(template, port, hearth).await?;
    Ok(Postgres {
        server,
        template: name,
        description,
    })
}

/// The run's PostgreSQL template, where Hearth runs on PostgreSQL.
struct Postgres {
    server: PgServer,
    template: String,
    description: crate::postgres::Description,
}

/// Where a scenario's Hearth keeps its data: a copy of the SQLite template in `work`, or a
/// database made from the PostgreSQL template.
#[derive(Clone, Copy)]
enum HearthDatabase<'a> {
    Sqlite { template: &'a Path, work: &'a Path },
    Postgres(&'a Postgres),
}

async fn run_peer(
    options: &Options,
    scenario: &Scenario,
    server: Server,
    port: u16,
) -> Result<Outcome, String> {
    let nodes = Nodes::start(
        server,
        port,
        None,
        Pinning::of(options),
        &Launch::default(),
        scenario.plan.nodes,
    )
    .await?;
    let outcome = wire::socketio_load(&scenario.plan, &nodes.urls(), &nodes.watched()).await;
    nodes.stop().await;
    outcome
}

/// The cores the servers, and the Redis between their nodes, are pinned to.
#[derive(Clone, Copy)]
struct Pinning<'a> {
    servers: &'a str,
    bus: &'a str,
}

impl<'a> Pinning<'a> {
    fn of(options: &'a Options) -> Self {
        Pinning {
            servers: &options.server_cpu,
            bus: &options.bus_cpu,
        }
    }
}

/// A server under test, as one process or as several nodes sharing a private Redis.
struct Nodes {
    servers: Vec<Running>,
    bus: Option<Redis>,
}

impl Nodes {
    /// Starts `count` processes of `server` on ports `port`, `port + 1`…, each pinned to the
    /// servers' cores (Hearth on the database at `database`), sharing a Redis started for them
    /// (on the bus's cores) if there are several; waits until all listen.
    async fn start(
        server: Server,
        port: u16,
        database: Option<&str>,
        cpu: Pinning<'_>,
        launch: &Launch,
        count: usize,
    ) -> Result<Nodes, String> {
        let mut nodes = Nodes {
            servers: Vec::new(),
            bus: None,
        };
        let mut launch = launch.clone();
        if count > 1 {
            let redis = Redis::start(Some(cpu.bus)).await?;
            launch.redis = Some(redis.url.clone());
            nodes.bus = Some(redis);
        }
        for n in 0..count.max(1) {
            let port = port + u16::try_from(n).map_err(|_| "too many nodes")?;
            // On an error, what started is stopped as `nodes` drops (Running's Drop).
            let running =
                Running::start_on(server, port, database, Some(cpu.servers), &launch).await?;
            nodes.servers.push(running);
        }
        Ok(nodes)
    }

    fn urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url.clone()).collect()
    }

    fn watched(&self) -> Watched {
        Watched {
            servers: self.servers.iter().map(Running::pid).collect(),
            bus: self.bus.as_ref().map(Redis::pid),
        }
    }

    /// Stops the servers, all at once, then their Redis.
    async fn stop(self) {
        futures::future::join_all(self.servers.into_iter().map(Running::stop)).await;
        if let Some(redis) = self.bus {
            redis.stop().await;
        }
    }
}

async fn run_hearth(
    options: &Options,
    scenario: &Scenario,
    accounts: &Accounts,
    database: HearthDatabase<'_>,
    port: u16,
    hearth: &Launch,
) -> Result<Outcome, String> {
    match database {
        HearthDatabase::Sqlite { template, work } => {
            let database = work.join(format!("{}.db", scenario.name));
            copy_database(template, &database)?;
            let url = format!("sqlite://{}", database.display());
            run_hearth_on(options, scenario, accounts, &url, port, hearth).await
        }
        HearthDatabase::Postgres(pg) => {
            let name = pg.server.database_name(scenario.name);
            let url = pg.server.create(&name, Some(&pg.template)).await?;
            let outcome = run_hearth_on(options, scenario, accounts, &url, port, hearth).await;
            if let Err(error) = pg.server.drop_database(&name).await {
                eprintln!("  warning: {error}");
            }
            outcome
        }
    }
}

/// One scenario on Hearth, on the database at `database` (a fresh copy of the template).
async fn run_hearth_on(
    options: &Options,
    scenario: &Scenario,
    accounts: &Accounts,
    database: &str,
    port: u16,
    hearth: &Launch,
) -> Result<Outcome, String> {
    let plan = &scenario.plan;

    // Untimed: rooms and memberships, through the product's own interfaces (one node alone, for
    // a two-node scenario too: its nodes start afterwards, on the database this one prepared).
    let started = Instant::now();
    let unlimited = Launch {
        limits: false,
        ..hearth.clone()
    };
    let server = Running::start_on(Server::Hearth, port, Some(database), None, &unlimited).await?;
    let prepared =
        hearth::prepare(&server.url, accounts, scenario.name, plan, scenario.private).await;
    server.stop().await;
    let rooms = prepared?;
    eprintln!(
        "  prepared rooms and memberships in {:.0} s (untimed)",
        started.elapsed().as_secs_f64()
    );

    let nodes = Nodes::start(
        Server::Hearth,
        port,
        Some(database),
        Pinning::of(options),
        hearth,
        plan.nodes,
    )
    .await?;
    let outcome = hearth::load(plan, &nodes.urls(), &nodes.watched(), &rooms, accounts).await;
    nodes.stop().await;
    outcome
}
