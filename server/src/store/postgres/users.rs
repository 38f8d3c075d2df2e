//! Accounts and sign-in sessions. (PostgreSQL)
//!
//! Names are ordered by `lower(username COLLATE "C")`: in the C collation `lower` changes only
//! ASCII letters, as SQLite's does, and the result compares bytewise, as SQLite's does; so
//! pages of names come in the same order on both backends, whatever the database's locale.

use crate::store::users::*;
use crate::store::{NameTaken, Result, is_unique_violation, now_ms, page_of};
use app::names::name_key;
use app::protocol::{LOBBY_ID, Role, User};
use std::collections::HashMap;

use super::Postgres;

/// The advisory lock that makes "the very first account is the administrator" hold when
/// several nodes sign people up at once.
const FIRST_ACCOUNT_LOCK: i64 = 4_732_101;

impl Postgres {
    /// Creates a member's account and puts it in the lobby; the very first is the administrator.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<Result<Account, NameTaken>> {
        self.create_account(username, password_hash, Role::Member, true)
            .await
    }

    /// Creates an account with `role` and puts it in the lobby (one statement); with
    /// `first_is_admin`, the very first account is the administrator whatever `role` says.
    ///
    /// SQLite's single writer makes "no account yet" and the insert one step. Here two
    /// transactions could both see no account, so while there is none the insert first takes
    /// an advisory lock: the second then waits, and its insert (a new snapshot) sees the first.
    pub async fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        first_is_admin: bool,
    ) -> Result<Result<Account, NameTaken>> {
        let mut tx = self.pool.begin().await?;
        if first_is_admin {
            sqlx::query("SELECT pg_advisory_xact_lock($1) WHERE NOT EXISTS (SELECT 1 FROM users)")
                .bind(FIRST_ACCOUNT_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let inserted = sqlx::query_as::<_, (i64, String)>(
            "WITH account AS (
                 INSERT INTO users (username, username_key, password_hash, role, created_at)
                 VALUES ($1, $2, $3,
                         CASE WHEN $5 AND NOT EXISTS (SELECT 1 FROM users) THEN 'admin'
                              ELSE $6 END,
                         $4)
                 RETURNING id, role
             ),
             lobby AS (
                 INSERT INTO memberships (room_id, user_id) SELECT $7, id FROM account
             )
             SELECT id, role FROM account",
        )
        .bind(username)
        .bind(name_key(username))
        .bind(password_hash)
        .bind(now_ms())
        .bind(first_is_admin)
        .bind(role.as_str())
        .bind(LOBBY_ID)
        .fetch_one(&mut *tx)
        .await;
        let (id, role) = match inserted {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => return Ok(Err(NameTaken)),
            Err(e) => return Err(e),
        };
        tx.commit().await?;
        Ok(Ok(Account {
            user: User {
                id,
                name: username.to_owned(),
            },
            password_hash: password_hash.to_owned(),
            role: role_of(&role),
            disabled: false,
        }))
    }

    /// The account whose name has the same key as `username`.
    pub async fn account_by_name(&self, username: &str) -> Result<Option<Account>> {
        self.account_where("username_key = $1", name_key(username))
            .await
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.account_where("id = $1", id).await
    }

    async fn account_where<T>(&self, condition: &str, value: T) -> Result<Option<Account>>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        let row = sqlx::query_as::<_, (i64, String, String, String, bool)>(&format!(
            "SELECT id, username, password_hash, role, disabled_at IS NOT NULL
             FROM users WHERE {condition}"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(id, name, password_hash, role, disabled)| Account {
                user: User { id, name },
                password_hash,
                role: role_of(&role),
                disabled,
            }),
        )
    }

    /// Disables (every session ends) or enables an account; false if there is no such account.
    /// One statement: the update and the deletion land together.
    pub async fn set_disabled(&self, user: i64, disabled: bool) -> Result<bool> {
        let (updated,) = sqlx::query_as::<_, (i64,)>(
            "WITH account AS (
                 UPDATE users SET disabled_at = CASE WHEN $2 THEN $3 END WHERE id = $1
                 RETURNING id
             ),
             ended AS (DELETE FROM sessions WHERE user_id = $1 AND $2)
             SELECT COUNT(*) FROM account",
        )
        .bind(user)
        .bind(disabled)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(updated == 1)
    }

    /// Sets a new password and ends every session of the account but `keep`; false if there is
    /// no such account. One statement: the update and the deletion land together.
    pub async fn set_password(
        &self,
        user: i64,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool> {
        let (updated,) = sqlx::query_as::<_, (i64,)>(
            "WITH account AS (
                 UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id
             ),
             ended AS (
                 DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $3
             )
             SELECT COUNT(*) FROM account",
        )
        .bind(user)
        .bind(password_hash)
        .bind(keep)
        .fetch_one(&self.pool)
        .await?;
        Ok(updated == 1)
    }

    /// Ends every session of `user` (sign out everywhere).
    pub async fn delete_sessions_of(&self, user: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the sessions that have expired; returns whose they were (account, token hash).
    pub async fn purge_expired_sessions(&self) -> Result<Vec<(i64, String)>> {
        sqlx::query_as("DELETE FROM sessions WHERE expires_at <= $1 RETURNING user_id, token_hash")
            .bind(now_ms())
            .fetch_all(&self.pool)
            .await
    }

    /// Stores an invite link's token hash, valid until `expires_at`.
    pub async fn create_invite(&self, token_hash: &str, by: i64, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(by)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Counts one sign-up with the invite; false if there is no such live invite.
    pub async fn use_invite(&self, token_hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE invites SET uses = uses + 1 WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row =
            sqlx::query_as::<_, (i64, String)>("SELECT id, username FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, name)| User { id, name }))
    }

    /// Up to `limit` accounts by name, after the one named `after`, and whether more follow.
    pub async fn users_page(&self, after: Option<&str>, limit: usize) -> Result<(Vec<User>, bool)> {
        let rows = sqlx::query_as::<_, (i64, String)>(
            r#"SELECT id, username FROM users
               WHERE $1::text IS NULL OR lower(username COLLATE "C") > lower($1 COLLATE "C")
               ORDER BY lower(username COLLATE "C"), id LIMIT $2"#,
        )
        .bind(after)
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(rows, limit))
    }

    /// The account named `username` (ignoring case).
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query_as::<_, (i64, String)>(
            "SELECT id, username FROM users WHERE username_key = $1",
        )
        .bind(name_key(username))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, name)| User { id, name }))
    }

    /// Every account with its role and whether it is disabled, by name.
    pub async fn accounts(&self) -> Result<Vec<(User, Role, bool)>> {
        let rows = sqlx::query_as::<_, (i64, String, String, bool)>(
            r#"SELECT id, username, role, disabled_at IS NOT NULL FROM users
               ORDER BY lower(username COLLATE "C"), id"#,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, role, disabled)| (User { id, name }, role_of(&role), disabled))
            .collect())
    }

    /// Gives `user` a role; false if there is no such account.
    pub async fn set_role(&self, user: i64, role: Role) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
            .bind(user)
            .bind(role.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, expires_at, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(expires_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The accounts behind those of `token_hashes` that are live sessions, with their roles,
    /// by token hash.
    pub async fn session_users(
        &self,
        token_hashes: &[String],
    ) -> Result<HashMap<String, (User, Role)>> {
        let rows = sqlx::query_as::<_, (String, i64, String, String)>(
            "SELECT s.token_hash, u.id, u.username, u.role
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ANY($1::text[]) AND s.expires_at > $2
               AND u.disabled_at IS NULL",
        )
        .bind(token_hashes)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(hash, id, name, role)| (hash, (User { id, name }, role_of(&role))))
            .collect())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
