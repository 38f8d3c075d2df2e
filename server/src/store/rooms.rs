//! Rooms, direct conversations and who belongs to them.

use std::collections::HashMap;

use app::names::name_key;
use app::protocol::{RoomKind, RoomSummary, User};

use super::{NameTaken, Result, Store, is_unique_violation, json_array, now_ms};

#[derive(Clone, Debug)]
pub struct RoomRow {
    pub id: i64,
    pub kind: RoomKind,
    pub name: String,
    pub created_by: Option<i64>,
}

fn kind_of(kind: &str) -> RoomKind {
    if kind == "direct" {
        RoomKind::Direct
    } else {
        RoomKind::Room
    }
}

/// Unread messages of membership `m` in room `r`: text messages after the member's read mark
/// (notices don't count), from the running counts kept by [`Store::append_messages`].
const UNREAD: &str = "MAX(r.texts - m.read_texts, 0)";

impl Store {
    pub async fn room(&self, id: i64) -> Result<Option<RoomRow>> {
        let row = sqlx::query_as::<_, (i64, String, String, Option<i64>)>(
            "SELECT id, kind, name, created_by FROM rooms WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(|(id, kind, name, created_by)| RoomRow {
            id,
            kind: kind_of(&kind),
            name,
            created_by,
        }))
    }

    pub async fn is_member(&self, room: i64, user: i64) -> Result<bool> {
        let found = sqlx::query_scalar::<_, i64>(
            "SELECT 1 FROM memberships WHERE room_id = ?1 AND user_id = ?2",
        )
        .bind(room)
        .bind(user)
        .fetch_optional(&self.readers)
        .await?;
        Ok(found.is_some())
    }

    /// The sidebars of `users`, by user: the named rooms each belongs to, in creation order,
    /// then their direct conversations named after the other person, each with its unread count.
    ///
    /// One query over the users' memberships, so a connect costs the same however many rooms
    /// the server has; the others are listed by [`Store::room_directory`] when asked for.
    pub async fn rooms_of(&self, users: &[i64]) -> Result<HashMap<i64, Vec<RoomSummary>>> {
        let rows =
            sqlx::query_as::<_, (i64, i64, String, String, Option<i64>, i64, i64)>(&format!(
                "SELECT m.user_id, r.id, r.kind,
                        CASE WHEN r.kind = 'direct' THEN
                            (SELECT u.username FROM memberships o JOIN users u ON u.id = o.user_id
                              WHERE o.room_id = r.id AND o.user_id != m.user_id)
                        ELSE r.name END,
                        r.created_by, {UNREAD}, r.latest
                 FROM memberships m JOIN rooms r ON r.id = m.room_id
                 WHERE m.user_id IN (SELECT value FROM json_each(?1))"
            ))
            .bind(json_array(users)?)
            .fetch_all(&self.readers)
            .await?;
        let mut sidebars: HashMap<i64, Vec<RoomSummary>> = HashMap::new();
        for (user, id, kind, name, created_by, unread, latest) in rows {
            sidebars.entry(user).or_default().push(RoomSummary {
                id,
                name,
                kind: kind_of(&kind),
                created_by,
                joined: true,
                unread: unread as u32,
                latest,
            });
        }
        for rooms in sidebars.values_mut() {
            rooms.sort_by_cached_key(|r| match r.kind {
                RoomKind::Room => (0, r.id, String::new()),
                RoomKind::Direct => (1, 0, r.name.to_lowercase()),
            });
        }
        Ok(sidebars)
    }

    /// Every named room, in creation order, as `user` sees it: whether they belong to it and,
    /// if so, its unread count.
    pub async fn room_directory(&self, user: i64) -> Result<Vec<RoomSummary>> {
        let rows = sqlx::query_as::<_, (i64, String, Option<i64>, bool, i64, i64)>(&format!(
            "SELECT r.id, r.name, r.created_by, m.user_id IS NOT NULL,
                    CASE WHEN m.user_id IS NULL THEN 0 ELSE {UNREAD} END, r.latest
             FROM rooms r LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = ?1
             WHERE r.kind = 'room' ORDER BY r.id"
        ))
        .bind(user)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, created_by, joined, unread, latest)| RoomSummary {
                    id,
                    name,
                    kind: RoomKind::Room,
                    created_by,
                    joined,
                    unread: unread as u32,
                    latest,
                },
            )
            .collect())
    }

    /// Creates a named room with its creator as the first member.
    pub async fn create_room(
        &self,
        name: &str,
        creator: i64,
    ) -> Result<Result<RoomRow, NameTaken>> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO rooms (kind, name, name_key, created_by, created_at)
             VALUES ('room', ?1, ?2, ?3, ?4) RETURNING id",
        )
        .bind(name)
        .bind(name_key(name))
        .bind(creator)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => return Ok(Err(NameTaken)),
            Err(e) => return Err(e),
        };
        sqlx::query("INSERT INTO memberships (room_id, user_id) VALUES (?1, ?2)")
            .bind(id)
            .bind(creator)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(RoomRow {
            id,
            kind: RoomKind::Room,
            name: name.to_owned(),
            created_by: Some(creator),
        }))
    }

    pub async fn rename_room(&self, id: i64, name: &str) -> Result<Result<(), NameTaken>> {
        let renamed = sqlx::query(
            "UPDATE rooms SET name = ?2, name_key = ?3 WHERE id = ?1 AND kind = 'room'",
        )
        .bind(id)
        .bind(name)
        .bind(name_key(name))
        .execute(&self.writer)
        .await;
        match renamed {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_unique_violation(&e) => Ok(Err(NameTaken)),
            Err(e) => Err(e),
        }
    }

    /// Deletes a room with its memberships and messages.
    pub async fn delete_room(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM rooms WHERE id = ?1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Adds `user` to `room`; false if already a member. New members start with everything read.
    pub async fn join(&self, room: i64, user: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO memberships (room_id, user_id, last_read, read_texts)
             SELECT id, ?2, latest, texts FROM rooms WHERE id = ?1
             ON CONFLICT DO NOTHING",
        )
        .bind(room)
        .bind(user)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes `user` from `room`; false if not a member.
    pub async fn leave(&self, room: i64, user: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM memberships WHERE room_id = ?1 AND user_id = ?2")
            .bind(room)
            .bind(user)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn members(&self, room: i64) -> Result<Vec<User>> {
        let rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT u.id, u.username FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = ?1 ORDER BY u.username_key",
        )
        .bind(room)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| User { id, name })
            .collect())
    }

    /// The conversation between `a` and `b`, created (with both as members) if new.
    /// Returns its id and whether it was created now.
    pub async fn open_direct(&self, a: i64, b: i64) -> Result<(i64, bool)> {
        let pair = format!("{}:{}", a.min(b), a.max(b));
        let mut tx = self.writer.begin().await?;
        let created = sqlx::query_scalar::<_, i64>(
            "INSERT INTO rooms (kind, name, pair_key, created_at) VALUES ('direct', ?1, ?1, ?2)
             ON CONFLICT (pair_key) DO NOTHING RETURNING id",
        )
        .bind(&pair)
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        let result = match created {
            Some(id) => {
                for user in [a, b] {
                    sqlx::query("INSERT INTO memberships (room_id, user_id) VALUES (?1, ?2)")
                        .bind(id)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?;
                }
                (id, true)
            }
            None => {
                let id = sqlx::query_scalar::<_, i64>("SELECT id FROM rooms WHERE pair_key = ?1")
                    .bind(&pair)
                    .fetch_one(&mut *tx)
                    .await?;
                (id, false)
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    /// Moves the read mark forward (never back) to the room's newest message up to `message`.
    pub async fn mark_read(&self, room: i64, user: i64, message: i64) -> Result<()> {
        sqlx::query(
            "UPDATE memberships SET last_read = mark.id, read_texts = mark.text_no
             FROM (SELECT id, text_no FROM messages WHERE room_id = ?1 AND id <= ?3
                   ORDER BY id DESC LIMIT 1) AS mark
             WHERE room_id = ?1 AND user_id = ?2 AND last_read < mark.id",
        )
        .bind(room)
        .bind(user)
        .bind(message)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
