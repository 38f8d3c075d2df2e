//! The SQLite backend: the embedded default, one file and no other service. Its migrations live
//! in `server/migrations/sqlite`.

mod bots;
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

use super::{Result, now_ms};

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
pub struct Sqlite {
    pub(super) readers: SqlitePool,
    pub(super) writer: SqlitePool,
}

impl Sqlite {
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
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        // Names are unique by their confusable skeleton: keys stored under an older
        // definition (or older Unicode tables) are recomputed.
        name_keys::rekey(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(common.read_only(true))
            .await?;
        Ok(Sqlite { readers, writer })
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
