//! The PostgreSQL backend: for several Hearth nodes sharing one database. Its migrations live in
//! `server/migrations/postgres`; the schema is SQLite's, table for table, in PostgreSQL's types.

mod bots;
mod feedback;
mod messages;
mod review;
mod rights;
mod rooms;
mod search;
mod users;

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::Result;

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct Postgres {
    pool: PgPool,
}

impl Postgres {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Postgres { pool })
    }

    /// Writes one row, to show that the database takes writes (`/readyz`).
    pub async fn probe_write(&self) -> Result<()> {
        sqlx::query(
            "INSERT INTO readiness (id, checked_at) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(super::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
