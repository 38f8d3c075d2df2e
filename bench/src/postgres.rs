//! Hearth on PostgreSQL (`hearth-load suite --hearth-postgres URL`).
//!
//! The accounts are signed up once into the SQLite template, as for a run on SQLite (argon2 is
//! the slow part, and the kept accounts serve both). From it, once per run, a PostgreSQL
//! template database: made fresh, its schema made by the Hearth binary itself (started on it
//! once, so the schema is that binary's), then every table the SQLite template has rows in
//! copied column for column, and each identity sequence moved past the copied ids. Each scenario
//! then runs on its own database, `CREATE DATABASE … TEMPLATE` of it (a file copy, as fast as
//! copying the SQLite file), dropped afterwards.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures::TryStreamExt;
use reqwest::Url;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

use crate::suite::{Launch, Running, Server};

/// Rows per insert statement while copying.
const CHUNK: usize = 5_000;

fn pg(error: sqlx::Error) -> String {
    format!("PostgreSQL: {error}")
}

fn lite(error: sqlx::Error) -> String {
    format!("the SQLite template: {error}")
}

/// `name` as an SQL identifier (double-quoted).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The PostgreSQL server the suite makes its databases on.
pub struct PgServer {
    /// The URL given: the database it names is where databases are created and dropped from.
    admin: Url,
    /// The names of this run's databases start with it.
    prefix: String,
}

/// What the report says of the database Hearth ran on.
pub struct Description {
    /// E.g. "PostgreSQL 15.8 at 127.0.0.1:5432".
    pub short: String,
    /// The server's full version (without the word PostgreSQL), where it is, and its
    /// durability settings.
    pub long: String,
}

impl PgServer {
    /// The server `url` reaches; this run's databases are named `hearth_bench_<port>_…`, so
    /// that runs on different ports do not meet, and a run's leftovers are replaced by the next
    /// run on its port.
    pub fn new(url: &str, port: u16) -> Result<Self, String> {
        let admin = Url::parse(url).map_err(|e| format!("--hearth-postgres {url:?}: {e}"))?;
        if !matches!(admin.scheme(), "postgres" | "postgresql") {
            return Err(format!("--hearth-postgres {url:?}: not a postgres:// URL"));
        }
        Ok(PgServer {
            admin,
            prefix: format!("hearth_bench_{port}"),
        })
    }

    /// The name of this run's database for `label` (lowercase letters, digits and `_`).
    pub fn database_name(&self, label: &str) -> String {
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}_{label}", self.prefix)
            .chars()
            .take(63)
            .collect()
    }

    /// The URL of the database `name` on this server (user, host and options as given).
    pub fn url_of(&self, name: &str) -> String {
        let mut url = self.admin.clone();
        url.set_path(&format!("/{name}"));
        url.to_string()
    }

    async fn admin(&self) -> Result<PgConnection, String> {
        PgConnection::connect(self.admin.as_str())
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.admin))
    }

    /// Its version and durability settings.
    pub async fn describe(&self) -> Result<Description, String> {
        let mut admin = self.admin().await?;
        let mut settings = Vec::new();
        for setting in ["server_version", "fsync", "synchronous_commit"] {
            settings.push(
                sqlx::query_scalar::<_, String>(&format!("SHOW {setting}"))
                    .fetch_one(&mut admin)
                    .await
                    .map_err(pg)?,
            );
        }
        let _ = admin.close().await;
        let [version, fsync, synchronous_commit] = <[String; 3]>::try_from(settings)
            .map_err(|_| "PostgreSQL: SHOW answered nothing".to_owned())?;
        let number = version.split_whitespace().next().unwrap_or(&version);
        let host = match (self.admin.host_str(), self.admin.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => "its default host".to_owned(),
        };
        Ok(Description {
            short: format!("PostgreSQL {number} at {host}"),
            long: format!(
                "{version}, at {host} (fsync {fsync}, synchronous_commit {synchronous_commit})"
            ),
        })
    }

    /// Makes the database `name` afresh (dropping any left by an earlier run), as a copy of
    /// `template` if given; returns its URL. A template must have no other connection: those
    /// of a server that just stopped may take a moment to go.
    pub async fn create(&self, name: &str, template: Option<&str>) -> Result<String, String> {
        let mut admin = self.admin().await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quoted(name)
        ))
        .execute(&mut admin)
        .await
        .map_err(pg)?;
        let create = match template {
            Some(template) => format!(
                "CREATE DATABASE {} TEMPLATE {}",
                quoted(name),
                quoted(template)
            ),
            None => format!("CREATE DATABASE {}", quoted(name)),
        };
        let mut tries = 0;
        let created = loop {
            match sqlx::query(&create).execute(&mut admin).await {
                // 55006, object_in_use: the template still has a connection.
                Err(sqlx::Error::Database(error))
                    if error.code().as_deref() == Some("55006") && tries < 20 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => break other,
            }
        };
        let _ = admin.close().await;
        created.map_err(|e| format!("creating the database {name}: {e}"))?;
        Ok(self.url_of(name))
    }

    /// Drops the database `name`, ending any connection still open to it.
    pub async fn drop_database(&self, name: &str) -> Result<(), String> {
        let mut admin = self.admin().await?;
        let dropped = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quoted(name)
        ))
        .execute(&mut admin)
        .await;
        let _ = admin.close().await;
        dropped
            .map(|_| ())
            .map_err(|e| format!("dropping the database {name}: {e}"))
    }

    /// The run's template: a fresh database with the schema of the Hearth binary `hearth`
    /// (started on it once, on `port`) and the rows of the SQLite template at `sqlite`.
    /// Returns its name.
    pub async fn make_template(
        &self,
        sqlite: &Path,
        port: u16,
        hearth: &Launch,
    ) -> Result<String, String> {
        let name = self.database_name("template");
        let url = self.create(&name, None).await?;
        let made = async {
            let server = Running::start_on(Server::Hearth, port, Some(&url), None, hearth).await?;
            server.stop().await;
            copy(sqlite, &url).await
        };
        let copied = match made.await {
            Ok(copied) => copied,
            Err(error) => {
                let _ = self.drop_database(&name).await;
                return Err(format!("making the PostgreSQL template: {error}"));
            }
        };
        eprintln!(
            "PostgreSQL template {name}: {}",
            copied
                .iter()
                .map(|(table, rows)| format!("{table} {rows}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(name)
    }
}

/// Copies the rows of every table of the SQLite database at `sqlite` into the PostgreSQL
/// database at `url`, whose schema is Hearth's: every table both have is emptied there first,
/// then the tables with rows are filled column for column, each after the tables it refers
/// to, in one transaction; then each identity sequence is moved past the ids copied, and the
/// tables analyzed. Returns the tables copied, with their row counts.
async fn copy(sqlite: &Path, url: &str) -> Result<Vec<(String, u64)>, String> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", sqlite.display()))
        .map_err(lite)?
        .create_if_missing(false);
    let mut from = SqliteConnection::connect_with(&options)
        .await
        .map_err(lite)?;
    let mut to = PgConnection::connect(url).await.map_err(pg)?;

    // Plain tables only: not FTS5's virtual tables nor their shadow tables (PostgreSQL indexes
    // the texts themselves), nor what each backend keeps for itself: its migrations, and the
    // counter of change numbers (SQLite's `change_numbers`; PostgreSQL's `log`, moved past the
    // change numbers copied at the end).
    let lite_tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_list
         WHERE schema = 'main' AND type = 'table'
           AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
           AND name NOT IN ('_sqlx_migrations', 'change_numbers')",
    )
    .fetch_all(&mut from)
    .await
    .map_err(lite)?;
    let pg_tables: HashSet<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
           AND c.relname != '_sqlx_migrations'",
    )
    .fetch_all(&mut to)
    .await
    .map_err(pg)?
    .into_iter()
    .collect();

    let mut shared = Vec::new();
    let mut filled = Vec::new();
    for table in lite_tables {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quoted(&table)))
            .fetch_one(&mut from)
            .await
            .map_err(lite)?;
        if !pg_tables.contains(&table) {
            if rows > 0 {
                return Err(format!(
                    "the SQLite template's table {table} ({rows} rows) has no counterpart on \
                     PostgreSQL"
                ));
            }
            continue;
        }
        shared.push(table.clone());
        if rows > 0 {
            filled.push((table, rows as u64));
        }
    }

    // Each table after those it refers to.
    let references: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, r.relname::text FROM pg_constraint k
         JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(&mut to)
    .await
    .map_err(pg)?;
    let filled = in_reference_order(filled, &references)?;

    let mut tx = to.begin().await.map_err(pg)?;
    if !shared.is_empty() {
        let all: Vec<String> = shared.iter().map(|t| quoted(t)).collect();
        sqlx::query(&format!(
            "TRUNCATE {} RESTART IDENTITY CASCADE",
            all.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
    }
    for (table, _) in &filled {
        let lite_columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
                .bind(table)
                .fetch_all(&mut from)
                .await
                .map_err(lite)?;
        let pg_columns: Vec<(String, bool)> = sqlx::query_as(
            "SELECT column_name::text, is_identity = 'YES' FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1
             ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await
        .map_err(pg)?;
        if let Some(missing) = lite_columns
            .iter()
            .find(|c| !pg_columns.iter().any(|(p, _)| p == *c))
        {
            return Err(format!(
                "column {missing} of the SQLite template's table {table} has no counterpart on \
                 PostgreSQL"
            ));
        }
        let columns = lite_columns
            .iter()
            .map(|c| quoted(c))
            .collect::<Vec<_>>()
            .join(", ");
        let select = format!(
            "SELECT json_object({}) FROM {}",
            lite_columns
                .iter()
                .map(|c| format!("'{}', {}", c.replace('\'', "''"), quoted(c)))
                .collect::<Vec<_>>()
                .join(", "),
            quoted(table)
        );
        // The rows as JSON objects, read into the table's own row type: every column gets its
        // PostgreSQL type, whatever SQLite stored.
        let insert = format!(
            "INSERT INTO {t} ({columns}) OVERRIDING SYSTEM VALUE
             SELECT {columns} FROM jsonb_populate_recordset(NULL::{t}, $1::jsonb)",
            t = quoted(table)
        );
        let mut rows = sqlx::query_scalar::<_, String>(&select).fetch(&mut from);
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let row = rows.try_next().await.map_err(lite)?;
            let end = row.is_none();
            chunk.extend(row);
            if chunk.len() == CHUNK || (end && !chunk.is_empty()) {
                sqlx::query(&insert)
                    .bind(format!("[{}]", chunk.join(",")))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| format!("copying {table} to PostgreSQL: {e}"))?;
                chunk.clear();
            }
            if end {
                break;
            }
        }
        drop(rows);
        // Ids go on after the copied ones (after every id SQLite ever gave, for an
        // AUTOINCREMENT table: one never reused there is never reused here).
        for (column, _) in pg_columns.iter().filter(|(_, identity)| *identity) {
            let used: i64 = sqlx::query("SELECT seq FROM sqlite_sequence WHERE name = ?1")
                .bind(table)
                .fetch_optional(&mut from)
                .await
                .ok()
                .flatten()
                .and_then(|row| row.try_get::<i64, _>(0).ok())
                .unwrap_or(0);
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence($1, $2),
                               GREATEST((SELECT MAX({c}) FROM {t}), $3))",
                c = quoted(column),
                t = quoted(table)
            ))
            .bind(quoted(table))
            .bind(column)
            .bind(used)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("advancing {table}.{column}'s sequence: {e}"))?;
        }
    }
    // The log's position (migration 0002) stays above every change number copied.
    sqlx::query(
        "UPDATE log SET last_position = GREATEST(last_position,
             (SELECT COALESCE(MAX(changed), 0) FROM messages))",
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| format!("moving the log's position: {e}"))?;
    tx.commit().await.map_err(pg)?;
    // Fresh statistics, so that the planner sees the copied rows from the first query on.
    sqlx::query("ANALYZE").execute(&mut to).await.map_err(pg)?;
    let _ = to.close().await;
    let _ = from.close().await;
    Ok(filled)
}

/// `tables` ordered so that each comes after the tables it refers to (`references`: referring
/// table, referred table), among those in `tables`.
fn in_reference_order<T>(
    tables: Vec<(String, T)>,
    references: &[(String, String)],
) -> Result<Vec<(String, T)>, String> {
    let names: HashSet<String> = tables.iter().map(|(t, _)| t.clone()).collect();
    let mut needs: HashMap<String, HashSet<String>> = HashMap::new();
    for (from, to) in references {
        if from != to && names.contains(from) && names.contains(to) {
            needs.entry(from.clone()).or_default().insert(to.clone());
        }
    }
    let mut left = tables;
    let mut done: HashSet<String> = HashSet::new();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let (ready, waiting): (Vec<_>, Vec<_>) = left.into_iter().partition(|(t, _)| {
            needs
                .get(t)
                .is_none_or(|n| n.iter().all(|needed| done.contains(needed)))
        });
        if ready.is_empty() {
            let stuck: Vec<_> = waiting.iter().map(|(t, _)| t.as_str()).collect();
            return Err(format!(
                "the tables {} refer to each other: no order to copy them in",
                stuck.join(", ")
            ));
        }
        done.extend(ready.iter().map(|(t, _)| t.clone()));
        ordered.extend(ready);
        left = waiting;
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_copied_after_the_tables_they_refer_to() {
        let references = [
            ("sessions", "users"),
            ("memberships", "rooms"),
            ("memberships", "users"),
            ("rooms", "users"),
            ("messages", "rooms"),
            ("messages", "users"),
            ("feedback", "messages"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let tables = ["messages", "memberships", "sessions", "rooms", "users"]
            .map(|t| (t.to_owned(), ()))
            .to_vec();
        let ordered: Vec<String> = in_reference_order(tables, &references)
            .expect("an order")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let at = |t: &str| ordered.iter().position(|o| o == t).expect("copied");
        assert!(at("users") < at("sessions"));
        assert!(at("users") < at("rooms"));
        assert!(at("rooms") < at("memberships"));
        assert!(at("rooms") < at("messages"));
        assert_eq!(ordered.len(), 5, "feedback has no rows: not copied");

        let cycle = [("a", "b"), ("b", "a")].map(|(a, b)| (a.to_owned(), b.to_owned()));
        let tables = vec![("a".to_owned(), ()), ("b".to_owned(), ())];
        assert!(in_reference_order(tables, &cycle).is_err());
    }

    #[test]
    fn databases_are_named_for_the_run_and_reached_with_the_given_credentials() {
        let server = PgServer::new(
            "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
            3300,
        )
        .expect("a postgres URL");
        let name = server.database_name("big-room-10k");
        assert_eq!(name, "hearth_bench_3300_big_room_10k");
        assert_eq!(
            server.url_of(&name),
            "postgres://postgres@127.0.0.1:5432/hearth_bench_3300_big_room_10k?sslmode=disable"
        );
        assert!(PgServer::new("sqlite://x.db", 3300).is_err());
    }
}
