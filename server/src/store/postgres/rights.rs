//! What the policy needs to know before it decides: a person's role, membership and mute in a
//! room, and who wrote a message. (PostgreSQL)

use crate::policy::Standing;
use crate::store::rights::*;
use crate::store::rooms::{RoomRow, kind_of, visibility_of};
use crate::store::{Result, now_ms};
use app::protocol::Role;

use super::Postgres;

impl Postgres {
    /// `user`'s standing in `room`, and the room (archived or not); `None` for an account or a
    /// room that does not exist. One query.
    pub async fn standing(
        &self,
        user: i64,
        room: i64,
    ) -> Result<(Option<Standing>, Option<RoomRow>)> {
        let row = sqlx::query_as::<_, StandingRow>(
            "SELECT u.role, r.id, r.kind, r.visibility, r.name, r.created_by,
                    r.archived_at IS NOT NULL, m.user_id IS NOT NULL,
                    (SELECT until FROM mutes x
                      WHERE x.room_id = $2 AND x.user_id = $1 AND x.until > $3)
             FROM users u
             LEFT JOIN rooms r ON r.id = $2
             LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = u.id
             WHERE u.id = $1",
        )
        .bind(user)
        .bind(room)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        let Some((role, id, kind, visibility, name, created_by, archived, member, muted)) = row
        else {
            return Ok((None, None));
        };
        let room = match (id, kind, visibility, name) {
            (Some(id), Some(kind), Some(visibility), Some(name)) => Some(RoomRow {
                id,
                kind: kind_of(&kind),
                visibility: visibility_of(&visibility),
                name,
                created_by,
                archived,
            }),
            _ => None,
        };
        let standing = Standing {
            user,
            role: Role::parse(&role).unwrap_or_default(),
            member,
            muted_until: muted,
        };
        Ok((Some(standing), room))
    }

    /// Room `id`, archived or not.
    pub async fn room(&self, id: i64) -> Result<Option<RoomRow>> {
        let row = sqlx::query_as::<_, (i64, String, String, String, Option<i64>, bool)>(
            "SELECT id, kind, visibility, name, created_by, archived_at IS NOT NULL
             FROM rooms WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, kind, visibility, name, created_by, archived)| RoomRow {
                id,
                kind: kind_of(&kind),
                visibility: visibility_of(&visibility),
                name,
                created_by,
                archived,
            },
        ))
    }

    /// Where a message is and who wrote it.
    pub async fn message_facts(&self, id: i64) -> Result<Option<MessageFacts>> {
        let row = sqlx::query_as::<_, (i64, i64, i64, String, String, bool)>(
            "SELECT id, room_id, author_id, kind, body, deleted_at IS NOT NULL
             FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(id, room, author, kind, body, deleted)| MessageFacts {
                id,
                room,
                author,
                kind: crate::store::messages::kind_of(&kind, &body),
                deleted,
            }),
        )
    }
}
