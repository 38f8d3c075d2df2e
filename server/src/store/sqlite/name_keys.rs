//! Brings the stored name keys (`users.username_key`, `rooms.name_key`) up to the definition of
//! [`name_key`], which SQL cannot compute: run at every start, after the migrations.
//!
//! Keys were once the lowercased name; now they are confusable skeletons, and they move again
//! whenever the Unicode tables behind [`name_key`] do. A start with nothing to change reads
//! both name columns and writes nothing.
//!
//! Two names stored before may now share a key ("name" and "nаme" with a Cyrillic "а"). They
//! keep both rows: the earlier one (lower id) takes the shared key, and the later one keeps the
//! key it had, with a warning in the log. Lookups by name then find the earlier one; nothing
//! stops the start.

use std::collections::{HashMap, HashSet};

use app::names::name_key;
use sqlx::SqlitePool;

/// One table's name column and key column.
struct Keyed {
    table: &'static str,
    name: &'static str,
    key: &'static str,
    /// Rows that have a key: an archived room or a direct conversation has none.
    rows: &'static str,
}

const USERS: Keyed = Keyed {
    table: "users",
    name: "username",
    key: "username_key",
    rows: "TRUE",
};

const ROOMS: Keyed = Keyed {
    table: "rooms",
    name: "name",
    key: "name_key",
    rows: "name_key IS NOT NULL",
};

/// Recomputes every username key and room name key that differs from [`name_key`] of its name.
pub async fn rekey(pool: &SqlitePool) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for keyed in [USERS, ROOMS] {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(&format!(
            "SELECT id, {}, {} FROM {} WHERE {} ORDER BY id",
            keyed.name, keyed.key, keyed.table, keyed.rows
        ))
        .fetch_all(&mut *tx)
        .await?;
        let changes = new_keys(keyed.table, &rows);
        if changes.is_empty() {
            continue;
        }
        // Two steps, so that no row meets a key another row is about to give up: first every
        // changing row gets a key no name has (names hold no control characters), then its own.
        let update = format!(
            "UPDATE {} SET {} = ?2 WHERE id = ?1",
            keyed.table, keyed.key
        );
        for (id, _) in &changes {
            sqlx::query(&update)
                .bind(id)
                .bind(format!("\u{1}rekey\u{1}{id}"))
                .execute(&mut *tx)
                .await?;
        }
        for (id, key) in &changes {
            sqlx::query(&update)
                .bind(id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tracing::info!(
            table = keyed.table,
            rows = changes.len(),
            "name keys recomputed"
        );
    }
    tx.commit().await
}

/// The rows of `rows` (id, name, stored key; by id) whose key must change, with their new key.
///
/// Of the rows whose names now share a key, the first takes it. Each later one keeps its stored
/// key if it is free; if another row now takes that key (the later row's stored key *is* the
/// shared key), it gets one made from it and its id, which no name has.
fn new_keys(table: &str, rows: &[(i64, String, String)]) -> Vec<(i64, String)> {
    let mut owner: HashMap<String, i64> = HashMap::new();
    for (id, name, _) in rows {
        owner.entry(name_key(name)).or_insert(*id);
    }
    let mut taken: HashSet<String> = owner.keys().cloned().collect();
    let mut changes = Vec::new();
    for (id, name, stored) in rows {
        let key = name_key(name);
        let first = owner[&key];
        let wanted = if first == *id {
            key
        } else {
            let kept = if taken.insert(stored.clone()) {
                stored.clone()
            } else {
                let made = format!("{stored}\u{1}{id}");
                taken.insert(made.clone());
                made
            };
            tracing::warn!(
                table,
                id,
                name = name.as_str(),
                like = first,
                "name looks like an earlier one's: it keeps its old key, and lookups by name \
                 find the earlier one"
            );
            kept
        };
        if wanted != *stored {
            changes.push((*id, wanted));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::test_support::{fresh_sqlite_store, remove};

    fn row(id: i64, name: &str, key: &str) -> (i64, String, String) {
        (id, name.to_owned(), key.to_owned())
    }

    #[test]
    fn old_lowercase_keys_become_skeletons() {
        let rows = [row(1, "Alice", "alice"), row(2, "Maria", "maria")];
        assert_eq!(
            new_keys("users", &rows),
            [(2, name_key("Maria"))],
            "alice's skeleton is alice; maria's is rnaria"
        );
    }

    #[test]
    fn up_to_date_keys_are_left_alone() {
        let rows = [
            row(1, "Alice", &name_key("Alice")),
            row(2, "Maria", &name_key("Maria")),
        ];
        assert!(new_keys("users", &rows).is_empty());
    }

    #[test]
    fn of_two_names_that_now_collide_the_later_keeps_its_old_key() {
        let rows = [row(1, "name", "name"), row(2, "n\u{430}me", "n\u{430}me")];
        assert_eq!(new_keys("users", &rows), [(1, name_key("name"))]);
        // And the next start changes nothing.
        let after = [
            row(1, "name", &name_key("name")),
            row(2, "n\u{430}me", "n\u{430}me"),
        ];
        assert!(new_keys("users", &after).is_empty());
    }

    #[test]
    fn a_later_name_holding_the_shared_key_gives_it_to_the_earlier() {
        // "oscar" already has its skeleton as its key; the earlier "0scar" now wants it too.
        let rows = [row(1, "0scar", "0scar"), row(2, "oscar", "oscar")];
        assert_eq!(
            new_keys("users", &rows),
            [(1, "oscar".to_owned()), (2, "oscar\u{1}2".to_owned())]
        );
    }

    #[tokio::test]
    async fn rekey_rewrites_stored_keys_and_survives_collisions() {
        let (store, path) = fresh_sqlite_store("name-keys").await;
        let Store::Sqlite(db) = &store else {
            unreachable!("a SQLite store")
        };
        let pool = &db.writer;
        for (name, key) in [
            ("Maria", "maria"),
            ("name", "name"),
            ("n\u{430}me", "n\u{430}me"),
        ] {
            sqlx::query(
                "INSERT INTO users (username, username_key, password_hash, created_at)
                 VALUES (?1, ?2, 'x', 0)",
            )
            .bind(name)
            .bind(key)
            .execute(pool)
            .await
            .unwrap();
        }
        for (name, key) in [("Rooms", Some("rooms")), ("Old", None)] {
            sqlx::query(
                "INSERT INTO rooms (kind, name, name_key, created_at) VALUES ('room', ?1, ?2, 0)",
            )
            .bind(name)
            .bind(key)
            .execute(pool)
            .await
            .unwrap();
        }

        rekey(pool).await.unwrap();
        rekey(pool).await.unwrap();

        let users: Vec<(String, String)> =
            sqlx::query_as("SELECT username, username_key FROM users ORDER BY id")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(
            users,
            [
                ("Maria".into(), name_key("Maria")),
                ("name".into(), name_key("name")),
                ("n\u{430}me".into(), "n\u{430}me".into()),
            ]
        );
        let rooms: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, name_key FROM rooms ORDER BY id")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(
            rooms,
            [
                ("lobby".into(), Some("lobby".into())),
                ("Rooms".into(), Some(name_key("Rooms"))),
                ("Old".into(), None),
            ]
        );
        assert_eq!(
            store.user_by_name("Maria").await.unwrap().map(|u| u.name),
            Some("Maria".into())
        );
        assert_eq!(
            store.user_by_name("NAME").await.unwrap().map(|u| u.name),
            Some("name".into())
        );
        remove(store, path).await;
    }
}
