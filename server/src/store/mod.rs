//! Storage: accounts and roles, sessions, rooms, memberships and mutes, messages and their
//! earlier versions, the search index, feedback, grades and the review log, in SQLite (sqlx).
//!
//! Migrations live in `server/migrations` and run at start. Every query is here; the rest of
//! the server speaks in chat terms and never writes SQL.

mod feedback;
mod messages;
mod name_keys;
mod review;
mod rights;
mod rooms;
mod search;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use feedback::{Feedback, FeedbackItem, FeedbackTarget, Grade, ReviewEntry};
pub use messages::{Change, NewMessage, Refused, is_duplicate, only_for};
pub use review::{ReviewRoom, ReviewedMessage, Selection, StudentFigures, Version};
pub use rights::MessageFacts;
pub use rooms::{ArchivedRoom, RoomRow};
pub use search::count_words;
pub use users::Account;

pub type Result<T, E = sqlx::Error> = std::result::Result<T, E>;

/// The name is already taken (case-insensitively).
#[derive(Debug)]
pub struct NameTaken;

/// The database, through two pools: one connection that makes every write, and several that
/// only read.
///
/// SQLite lets one connection write at a time whatever the pool size, so a single writer loses
/// nothing, and gains two things. Writes queue in the pool instead of spinning on a busy lock.
/// And the writer keeps its page cache between commits: a commit by *another* connection makes
/// SQLite drop a connection's whole cache, so with writes spread over eight connections every
/// commit batch first read back, from the file, the pages of the room index it was about to
/// change. Readers run beside the writer (WAL), and are opened read-only so that no write can
/// take the wrong pool.
#[derive(Clone)]
pub struct Store {
    readers: SqlitePool,
    writer: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let common = SqliteConnectOptions::from_str(url)?
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Rows come back from SQLite's thread through a bounded channel; at the default 50
            // a batched lookup of thousands of rows stops and wakes that thread every 50 rows,
            // two thread switches each time.
            .row_buffer_size(4096);
        let writer_options = common
            .clone()
            // Statement journals stay in memory. On disk, every multi-row write in a
            // transaction (each commit batch) created, wrote and deleted a temporary file
            // holding a copy of each page it changed. (Not for the readers: a review's sort of
            // a million messages held tens of MB of heap each, and the heap kept them: 440 MB
            // of RSS after a few. On disk, a large sort spills past its cache.)
            .pragma("temp_store", "memory")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A message is acknowledged only once it is on disk.
            .synchronous(SqliteSynchronous::Full)
            // Room for the writer's working set, which it now keeps between commits: a batch of
            // messages in many rooms can change a page of the room index per message, and the
            // default cache is 500 pages. Fewer, larger checkpoints (every 10,000 WAL pages, not
            // 1,000) copy a page that many commits changed into the database once. Measured
            // alone, before the single writer, these two were within this machine's noise.
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "10000");
        if let Some(dir) = writer_options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(writer_options)
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        // Names are unique by their confusable skeleton: keys stored under an older
        // definition (or older Unicode tables) are recomputed.
        name_keys::rekey(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(common.read_only(true))
            .await?;
        Ok(Store { readers, writer })
    }

    /// Writes one row, to show that the database takes writes (`/readyz`).
    pub async fn probe_write(&self) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO readiness (id, checked_at) VALUES (1, ?1)")
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
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

/// The first `limit` of `rows` (which hold one more if more follow) as users, and whether more
/// follow.
fn page_of(mut rows: Vec<(i64, String)>, limit: usize) -> (Vec<app::protocol::User>, bool) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let users = rows
        .into_iter()
        .map(|(id, name)| app::protocol::User { id, name })
        .collect();
    (users, more)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Stores on throwaway database files, for the tests of the store and of its users.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    use super::Store;

    /// A store on a fresh database file, and the path to delete afterwards.
    pub async fn fresh_store(name: &str) -> (Store, PathBuf) {
        let path = std::env::temp_dir().join(format!("hearth-{name}-{}.db", std::process::id()));
        delete(&path);
        let store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        (store, path)
    }

    /// Closes the store and deletes its files.
    pub async fn remove(store: Store, path: PathBuf) {
        store.close().await;
        delete(&path);
    }

    fn delete(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
