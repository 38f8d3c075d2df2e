//! Storage: accounts, sessions, rooms, memberships and messages in SQLite (sqlx).
//!
//! Migrations live in `server/migrations` and run at start. Every query is here; the rest of
//! the server speaks in chat terms and never writes SQL.

mod messages;
mod rooms;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use messages::NewMessage;
pub use rooms::RoomRow;
pub use users::Account;

pub type Result<T, E = sqlx::Error> = std::result::Result<T, E>;

/// The name is already taken (case-insensitively).
#[derive(Debug)]
pub struct NameTaken;

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A message is acknowledged only once it is on disk.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Rows come back from SQLite's thread through a bounded channel; at the default 50
            // a batched lookup of thousands of rows stops and wakes that thread every 50 rows,
            // two thread switches each time.
            .row_buffer_size(4096);
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `values` as one JSON array, to bind a whole list to one parameter and read it back in SQL
/// with `json_each`: one prepared statement for any number of values.
fn json_array<T: serde::Serialize + ?Sized>(values: &T) -> Result<String> {
    serde_json::to_string(values).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
