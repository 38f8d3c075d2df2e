//! Throwaway databases, for tests and benchmarks: a fresh SQLite file, or a fresh database on
//! a PostgreSQL server, each dropped when done.
//!
//! Which one [`ScratchDatabase::new`] makes is the environment's choice:
//! `HEARTH_TEST_DATABASE=postgres` makes a PostgreSQL database on the server at
//! `HEARTH_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`); anything else a
//! SQLite file in the temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

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
