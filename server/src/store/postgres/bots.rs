//! Bots and their API tokens. (PostgreSQL)

use crate::store::bots::{Bot, NO_PASSWORD};
use crate::store::users::role_of;
use crate::store::{NameTaken, Result, is_unique_violation, now_ms};
use app::names::name_key;
use app::protocol::{LOBBY_ID, Role, User};

use super::Postgres;

impl Postgres {
    /// Creates a bot's account (a member, in the lobby, with no password) holding the token
    /// whose hash is `token_hash`.
    pub async fn create_bot(
        &self,
        name: &str,
        token_hash: &str,
        by: i64,
    ) -> Result<Result<User, NameTaken>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, username_key, password_hash, role, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(name_key(name))
        .bind(NO_PASSWORD)
        .bind(Role::Member.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => return Ok(Err(NameTaken)),
            Err(e) => return Err(e),
        };
        sqlx::query("INSERT INTO memberships (room_id, user_id) VALUES ($1, $2)")
            .bind(LOBBY_ID)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO bots (user_id, token_hash, token_at, created_by) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(token_hash)
        .bind(now)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(User {
            id,
            name: name.to_owned(),
        }))
    }

    /// Every bot, by name.
    pub async fn bots(&self) -> Result<Vec<Bot>> {
        let rows = sqlx::query_as::<_, (i64, String, Option<i64>, bool)>(
            r#"SELECT u.id, u.username, b.token_at, u.disabled_at IS NOT NULL
               FROM bots b JOIN users u ON u.id = b.user_id
               ORDER BY lower(u.username COLLATE "C"), u.id"#,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, token_at, disabled)| Bot {
                user: User { id, name },
                token_at,
                disabled,
            })
            .collect())
    }

    /// Gives the bot `user` a new token (replacing the old one), or none (`None`: revoked);
    /// its name, or `None` if there is no such bot.
    pub async fn set_bot_token(
        &self,
        user: i64,
        token_hash: Option<&str>,
    ) -> Result<Option<String>> {
        sqlx::query_scalar::<_, String>(
            "UPDATE bots SET token_hash = $2, token_at = CASE WHEN $2 IS NULL THEN NULL ELSE $3 END
             WHERE user_id = $1
             RETURNING (SELECT username FROM users WHERE id = user_id)",
        )
        .bind(user)
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
    }

    /// The bot whose live token has `token_hash`, with its role, unless it is disabled.
    pub async fn bot_by_token(&self, token_hash: &str) -> Result<Option<(User, Role)>> {
        let row = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT u.id, u.username, u.role
             FROM bots b JOIN users u ON u.id = b.user_id
             WHERE b.token_hash = $1 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, name, role)| (User { id, name }, role_of(&role))))
    }
}
