//! Throwaway databases, for tests and benchmarks: a fresh SQLite file, or a fresh database on
//! a PostgreSQL server, each dropped when done.
//!
//! Which one [`ScratchDatabase::new`] makes is the environment's choice:
//! `HEARTH_TEST_DATABASE=postgres` makes a PostgreSQL database on the server at
//! `HEARTH_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`); anything else a
//! SQLite file in the temporary directory.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The server the PostgreSQL scratch databases are made on, unless `HEARTH_TEST_POSTGRES` says.
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists until [`ScratchDatabase::drop_now`] (or the end of the process, for
/// a file left behind in the temporary directory).
#[derive(Clone, Debug)]
pub enum ScratchDatabase {
    Sqlite(PathBuf),
    Postgres { server: String, name: String },
}

impl ScratchDatabase {
    /// A new, empty database of the kind the environment asks for (see the module's header).
    pub async fn new(label: &str) -> Result<Self, sqlx::Error> {
        if std::env::var("HEARTH_TEST_DATABASE").is_ok_and(|v| v == "postgres") {
            Self::shared(label).await
        } else {
            Ok(Self::sqlite(label))
        }
    }

    /// A new PostgreSQL database, whatever the environment asks for: several nodes share one.
    pub async fn shared(label: &str) -> Result<Self, sqlx::Error> {
        let server =
            std::env::var("HEARTH_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        Self::postgres(&server, label).await
    }

    /// A new SQLite file (its directory is made fresh).
    pub fn sqlite(label: &str) -> Self {
        let dir = std::env::temp_dir().join(unique("hearth", label));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        ScratchDatabase::Sqlite(dir.join("hearth.db"))
    }

    /// A new database on the PostgreSQL server that `server` (a URL of any database there)
    /// reaches.
    pub async fn postgres(server: &str, label: &str) -> Result<Self, sqlx::Error> {
        let name = unique("hearth", label)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(63)
            .collect::<String>();
        let mut admin = PgConnection::connect(server).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(ScratchDatabase::Postgres {
            server: server.to_owned(),
            name,
        })
    }

    /// The URL the server opens it by.
    pub fn url(&self) -> String {
        match self {
            ScratchDatabase::Sqlite(path) => format!("sqlite://{}", path.display()),
            ScratchDatabase::Postgres { server, name } => {
                let base = server.split('?').next().unwrap_or(server);
                let cut = base.rfind('/').map_or(base.len(), |i| i);
                format!("{}/{name}", &base[..cut])
            }
        }
    }

    /// Deletes it: the SQLite file and its journals, or the PostgreSQL database (closing any
    /// connection still open to it).
    pub async fn drop_now(&self) -> Result<(), sqlx::Error> {
        match self {
            ScratchDatabase::Sqlite(path) => {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::remove_dir_all(dir);
                }
                Ok(())
            }
            ScratchDatabase::Postgres { server, name } => {
                let mut admin = PgConnection::connect(server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            }
        }
    }
}

/// `prefix_label_pid_n`: unique within this machine while the process lives.
fn unique(prefix: &str, label: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{label}_{}_{n}", std::process::id())
}

/// A redis-server of a test's own on a free port, keeping nothing on disk (Debian's
/// redis-server package): tests that stop or restart Redis never touch the machine's shared
/// one. Killed when dropped.
pub struct ScratchRedis {
    port: u16,
    child: Option<Child>,
}

impl ScratchRedis {
    /// Starts redis-server on a free port (keeping nothing on disk) and waits until it answers.
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut redis = ScratchRedis { port, child: None };
        redis.launch().await;
        redis
    }

    /// Its URL, speaking RESP3 as the nodes do.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/?protocol=resp3", self.port)
    }

    async fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (everything it held is gone, as in a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts an empty one on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}

impl Drop for ScratchRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
