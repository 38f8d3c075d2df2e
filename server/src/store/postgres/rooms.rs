//! Rooms, direct conversations and who belongs to them. (PostgreSQL)

use crate::store::rooms::*;
use crate::store::{NameTaken, Result, is_unique_violation, now_ms, page_of};
use app::names::name_key;
use app::protocol::{Muted, RoomKind, RoomSummary, User, Visibility};
use std::collections::HashMap;

use super::Postgres;

/// [`UNREAD`] in PostgreSQL's words (`GREATEST` for SQLite's two-argument `MAX`).
const UNREAD_PG: &str = "GREATEST(r.texts - m.read_texts
        - (SELECT COUNT(*) FROM messages d
            WHERE d.room_id = r.id AND d.id > m.last_read AND d.author_id != m.user_id
              AND d.deleted_at IS NOT NULL AND d.kind = 'text'), 0)";

/// `limit` as a LIMIT: PostgreSQL refuses a negative one (SQLite reads it as no limit).
fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Postgres {
    pub async fn rooms_of(&self, users: &[i64]) -> Result<HashMap<i64, Vec<RoomSummary>>> {
        // `LIMIT 1`: a scalar subquery of two rows is an error here, not its first row.
        let rows = sqlx::query_as::<_, SummaryRow>(&format!(
            "SELECT m.user_id, r.id, r.kind, r.visibility,
                    CASE WHEN r.kind = 'direct' THEN
                        (SELECT u.username FROM memberships o JOIN users u ON u.id = o.user_id
                          WHERE o.room_id = r.id AND o.user_id != m.user_id LIMIT 1)
                    ELSE r.name END,
                    r.created_by, {UNREAD_PG}, r.latest, m.last_read,
                    (SELECT until FROM mutes x
                      WHERE x.room_id = r.id AND x.user_id = m.user_id AND x.until > $2)
             FROM memberships m JOIN rooms r ON r.id = m.room_id
             WHERE m.user_id = ANY($1) AND r.archived_at IS NULL"
        ))
        .bind(users)
        .bind(now_ms())
        .fetch_all(&self.pool)
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

    pub async fn room_directory(&self, user: i64) -> Result<Vec<RoomSummary>> {
        let rows = sqlx::query_as::<_, SummaryRow>(&format!(
            "SELECT (m.user_id IS NOT NULL)::int::bigint, r.id, r.kind, r.visibility, r.name,
                    r.created_by,
                    CASE WHEN m.user_id IS NULL THEN 0 ELSE {UNREAD_PG} END, r.latest,
                    COALESCE(m.last_read, 0),
                    (SELECT until FROM mutes x
                      WHERE x.room_id = r.id AND x.user_id = $1 AND x.until > $2)
             FROM rooms r LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = $1
             WHERE r.kind = 'room' AND r.archived_at IS NULL
               AND (r.visibility = 'public' OR m.user_id IS NOT NULL)
             ORDER BY r.id"
        ))
        .bind(user)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(directory_entry).collect())
    }

    /// The room and its first membership in one statement (one round trip, atomic).
    pub async fn create_room(
        &self,
        name: &str,
        visibility: Visibility,
        creator: i64,
    ) -> Result<Result<RoomRow, NameTaken>> {
        let inserted = sqlx::query_scalar::<_, i64>(
            "WITH room AS (
                 INSERT INTO rooms (kind, visibility, name, name_key, created_by, created_at)
                 VALUES ('room', $1, $2, $3, $4, $5) RETURNING id),
             member AS (
                 INSERT INTO memberships (room_id, user_id) SELECT id, $4 FROM room)
             SELECT id FROM room",
        )
        .bind(visibility_name(visibility))
        .bind(name)
        .bind(name_key(name))
        .bind(creator)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => return Ok(Err(NameTaken)),
            Err(e) => return Err(e),
        };
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
            "UPDATE rooms SET name = $2, name_key = $3
             WHERE id = $1 AND kind = 'room' AND archived_at IS NULL",
        )
        .bind(id)
        .bind(name)
        .bind(name_key(name))
        .execute(&self.pool)
        .await;
        match renamed {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_unique_violation(&e) => Ok(Err(NameTaken)),
            Err(e) => Err(e),
        }
    }

    pub async fn archive_room(&self, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE rooms SET archived_at = $2, name_key = NULL
             WHERE id = $1 AND archived_at IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn purge_room(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM rooms WHERE id = $1 AND archived_at IS NOT NULL")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn archived_rooms(&self) -> Result<Vec<ArchivedRoom>> {
        let rows = sqlx::query_as::<_, (i64, String, String, i64, i64)>(
            "SELECT r.id, r.name, r.visibility, r.archived_at,
                    (SELECT COUNT(*) FROM messages WHERE room_id = r.id)
             FROM rooms r WHERE r.archived_at IS NOT NULL ORDER BY r.archived_at DESC, r.id",
        )
        .fetch_all(&self.pool)
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

    pub async fn join(&self, room: i64, user: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO memberships (room_id, user_id, last_read, read_texts)
             SELECT id, $2, latest, texts FROM rooms WHERE id = $1
             ON CONFLICT DO NOTHING",
        )
        .bind(room)
        .bind(user)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn leave(&self, room: i64, user: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM memberships WHERE room_id = $1 AND user_id = $2")
            .bind(room)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn members(&self, room: i64) -> Result<(Vec<User>, Vec<Muted>)> {
        let (members, _) = self.members_page(room, None, usize::MAX).await?;
        Ok((members, self.muted_in(room).await?))
    }

    /// `COLLATE "C"`: bytes in order, as SQLite compares, and `lower` of ASCII only, as
    /// SQLite's.
    pub async fn members_page(
        &self,
        room: i64,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<User>, bool)> {
        let rows = sqlx::query_as::<_, (i64, String)>(
            r#"SELECT u.id, u.username
               FROM memberships m JOIN users u ON u.id = m.user_id
               WHERE m.room_id = $1
                 AND ($2::text IS NULL
                      OR lower(u.username COLLATE "C") > lower($2::text COLLATE "C"))
               ORDER BY lower(u.username COLLATE "C"), u.id LIMIT $3"#,
        )
        .bind(room)
        .bind(after)
        .bind(limit_of(limit.saturating_add(1)))
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(rows, limit))
    }

    pub async fn muted_in(&self, room: i64) -> Result<Vec<Muted>> {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT user_id, until FROM mutes WHERE room_id = $1 AND until > $2",
        )
        .bind(room)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map(|rows| {
            rows.into_iter()
                .map(|(user, until)| Muted { user, until })
                .collect()
        })
    }

    pub async fn mute(&self, room: i64, user: i64, until: i64, moderator: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO mutes (room_id, user_id, until, muted_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (room_id, user_id)
             DO UPDATE SET until = excluded.until, muted_by = excluded.muted_by",
        )
        .bind(room)
        .bind(user)
        .bind(until)
        .bind(moderator)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn unmute(&self, room: i64, user: i64) -> Result<bool> {
        let until = sqlx::query_scalar::<_, i64>(
            "DELETE FROM mutes WHERE room_id = $1 AND user_id = $2 RETURNING until",
        )
        .bind(room)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(until.is_some_and(|until| until > now_ms()))
    }

    /// Looked up first (no identity value spent on a conversation that exists); a new one is
    /// stored with both memberships in one statement. When two people open it at once, the
    /// loser's insert waits for the winner's commit and does nothing; its next statement, with
    /// a fresh snapshot (READ COMMITTED), finds the winner's room.
    pub async fn open_direct(&self, a: i64, b: i64) -> Result<(i64, bool)> {
        let pair = format!("{}:{}", a.min(b), a.max(b));
        let find = "SELECT id FROM rooms WHERE pair_key = $1";
        let found = sqlx::query_scalar::<_, i64>(find)
            .bind(&pair)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(id) = found {
            return Ok((id, false));
        }
        let created = sqlx::query_scalar::<_, i64>(
            "WITH room AS (
                 INSERT INTO rooms (kind, name, pair_key, created_at)
                 VALUES ('direct', $1, $1, $2)
                 ON CONFLICT (pair_key) DO NOTHING RETURNING id),
             members AS (
                 INSERT INTO memberships (room_id, user_id)
                 SELECT room.id, u.id FROM room, unnest($3::bigint[]) AS u(id))
             SELECT id FROM room",
        )
        .bind(&pair)
        .bind(now_ms())
        .bind([a, b].as_slice())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(id) = created {
            return Ok((id, true));
        }
        let id = sqlx::query_scalar::<_, i64>(find)
            .bind(&pair)
            .fetch_one(&self.pool)
            .await?;
        Ok((id, false))
    }

    pub async fn mark_read(&self, room: i64, user: i64, message: i64) -> Result<()> {
        sqlx::query(
            "UPDATE memberships SET last_read = mark.id, read_texts = mark.text_no
             FROM (SELECT id, text_no FROM messages WHERE room_id = $1 AND id <= $3
                   ORDER BY id DESC LIMIT 1) AS mark
             WHERE memberships.room_id = $1 AND memberships.user_id = $2
               AND memberships.last_read < mark.id",
        )
        .bind(room)
        .bind(user)
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
