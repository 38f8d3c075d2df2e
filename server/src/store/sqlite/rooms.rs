//! Rooms, direct conversations and who belongs to them.

use crate::store::rooms::*;
use crate::store::{NameTaken, Result, is_unique_violation, json_array, now_ms};
use app::names::name_key;
use app::protocol::{Muted, RoomKind, RoomSummary, User, Visibility};
use std::collections::HashMap;

use super::Sqlite;

impl Sqlite {
    /// The sidebars of `users`, by user: the rooms each belongs to (not archived), in creation
    /// order, then their direct conversations named after the other person, each with its
    /// unread count and the user's read mark and mute. (`online` is the hub's to fill in.)
    ///
    /// One query over the users' memberships, so a connect costs the same however many rooms
    /// the server has; the others are listed by [`Store::room_directory`] when asked for.
    pub async fn rooms_of(&self, users: &[i64]) -> Result<HashMap<i64, Vec<RoomSummary>>> {
        let rows = sqlx::query_as::<_, SummaryRow>(&format!(
            "SELECT m.user_id, r.id, r.kind, r.visibility,
                    CASE WHEN r.kind = 'direct' THEN
                        (SELECT u.username FROM memberships o JOIN users u ON u.id = o.user_id
                          WHERE o.room_id = r.id AND o.user_id != m.user_id)
                    ELSE r.name END,
                    r.created_by, {UNREAD}, r.latest, m.last_read,
                    (SELECT until FROM mutes x
                      WHERE x.room_id = r.id AND x.user_id = m.user_id AND x.until > ?2)
             FROM memberships m JOIN rooms r ON r.id = m.room_id
             WHERE m.user_id IN (SELECT value FROM json_each(?1)) AND r.archived_at IS NULL"
        ))
        .bind(json_array(users)?)
        .bind(now_ms())
        .fetch_all(&self.readers)
        .await?;
        let mut sidebars: HashMap<i64, Vec<RoomSummary>> = HashMap::new();
        for (user, id, kind, visibility, name, created_by, unread, latest, last_read, muted) in rows
        {
            sidebars.entry(user).or_default().push(RoomSummary {
                id,
                name,
                kind: kind_of(&kind),
                visibility: visibility_of(&visibility),
                created_by,
                joined: true,
                unread: unread as u32,
                mentions: 0,
                latest,
                last_read,
                online: 0,
                muted_until: muted,
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

    /// The named rooms `user` may see, in creation order: every public room, and the private
    /// ones they belong to; whether they belong to each and, if so, its unread count.
    pub async fn room_directory(&self, user: i64) -> Result<Vec<RoomSummary>> {
        let rows = sqlx::query_as::<_, SummaryRow>(&format!(
            "SELECT m.user_id IS NOT NULL, r.id, r.kind, r.visibility, r.name, r.created_by,
                    CASE WHEN m.user_id IS NULL THEN 0 ELSE {UNREAD} END, r.latest,
                    COALESCE(m.last_read, 0),
                    (SELECT until FROM mutes x
                      WHERE x.room_id = r.id AND x.user_id = ?1 AND x.until > ?2)
             FROM rooms r LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = ?1
             WHERE r.kind = 'room' AND r.archived_at IS NULL
               AND (r.visibility = 'public' OR m.user_id IS NOT NULL)
             ORDER BY r.id"
        ))
        .bind(user)
        .bind(now_ms())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(directory_entry).collect())
    }

    /// Creates a named room with its creator as the first member.
    pub async fn create_room(
        &self,
        name: &str,
        visibility: Visibility,
        creator: i64,
    ) -> Result<Result<RoomRow, NameTaken>> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO rooms (kind, visibility, name, name_key, created_by, created_at)
             VALUES ('room', ?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(visibility_name(visibility))
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
            visibility,
            name: name.to_owned(),
            created_by: Some(creator),
            archived: false,
        }))
    }

    pub async fn rename_room(&self, id: i64, name: &str) -> Result<Result<(), NameTaken>> {
        let renamed = sqlx::query(
            "UPDATE rooms SET name = ?2, name_key = ?3
             WHERE id = ?1 AND kind = 'room' AND archived_at IS NULL",
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

    /// Archives a room: it is gone for its members, its messages and memberships stay for
    /// review, and its name is free for a new room. False if it was archived already.
    pub async fn archive_room(&self, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE rooms SET archived_at = ?2, name_key = NULL
             WHERE id = ?1 AND archived_at IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes an archived room for good, with its memberships, messages and their versions.
    /// False if there is no such archived room.
    pub async fn purge_room(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM rooms WHERE id = ?1 AND archived_at IS NOT NULL")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Archived rooms, newest archived first, with how many messages each keeps.
    pub async fn archived_rooms(&self) -> Result<Vec<ArchivedRoom>> {
        let rows = sqlx::query_as::<_, (i64, String, String, i64, i64)>(
            "SELECT r.id, r.name, r.visibility, r.archived_at,
                    (SELECT COUNT(*) FROM messages WHERE room_id = r.id)
             FROM rooms r WHERE r.archived_at IS NOT NULL ORDER BY r.archived_at DESC, r.id",
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, visibility, archived_at, messages)| ArchivedRoom {
                    id,
                    name,
                    visibility: visibility_of(&visibility),
                    archived_at,
                    messages,
                },
            )
            .collect())
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

    /// The members of `room` by name, and those of them muted now.
    /// Every member of `room` by name, and those muted now.
    pub async fn members(&self, room: i64) -> Result<(Vec<User>, Vec<Muted>)> {
        let (members, _) = self.members_page(room, None, usize::MAX).await?;
        Ok((members, self.muted_in(room).await?))
    }

    /// Up to `limit` members of `room` by name, after the one named `after`, and whether more
    /// follow.
    pub async fn members_page(
        &self,
        room: i64,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<User>, bool)> {
        let rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT u.id, u.username
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = ?1 AND (?2 IS NULL OR lower(u.username) > lower(?2))
             ORDER BY lower(u.username), u.id LIMIT ?3",
        )
        .bind(room)
        .bind(after)
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.readers)
        .await?;
        Ok(crate::store::page_of(rows, limit))
    }

    /// The members of `room` muted now.
    pub async fn muted_in(&self, room: i64) -> Result<Vec<Muted>> {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT user_id, until FROM mutes WHERE room_id = ?1 AND until > ?2",
        )
        .bind(room)
        .bind(now_ms())
        .fetch_all(&self.readers)
        .await
        .map(|rows| {
            rows.into_iter()
                .map(|(user, until)| Muted { user, until })
                .collect()
        })
    }

    /// Mutes `user` in `room` until `until` (Unix ms), by `moderator`.
    pub async fn mute(&self, room: i64, user: i64, until: i64, moderator: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO mutes (room_id, user_id, until, muted_by) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (room_id, user_id) DO UPDATE SET until = ?3, muted_by = ?4",
        )
        .bind(room)
        .bind(user)
        .bind(until)
        .bind(moderator)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Lifts `user`'s mute in `room`; false if they were not muted (or it had ended).
    pub async fn unmute(&self, room: i64, user: i64) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM mutes WHERE room_id = ?1 AND user_id = ?2 RETURNING until")
                .bind(room)
                .bind(user)
                .fetch_optional(&self.writer)
                .await?;
        Ok(done.is_some_and(|row| sqlx::Row::get::<i64, _>(&row, 0) > now_ms()))
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
