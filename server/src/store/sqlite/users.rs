//! Accounts and sign-in sessions.

use crate::store::users::*;
use crate::store::{NameTaken, Result, is_unique_violation, json_array, now_ms};
use app::names::name_key;
use app::protocol::{LOBBY_ID, Role, User};
use std::collections::HashMap;

use super::Sqlite;

impl Sqlite {
    /// Creates a member's account and puts it in the lobby. The very first account is the
    /// administrator.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<Result<Account, NameTaken>> {
        self.create_account(username, password_hash, Role::Member, true)
            .await
    }

    /// Creates an account with `role` and puts it in the lobby; with `first_is_admin`, the very
    /// first account is the administrator whatever `role` says.
    pub async fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        first_is_admin: bool,
    ) -> Result<Result<Account, NameTaken>> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query_as::<_, (i64, String)>(
            "INSERT INTO users (username, username_key, password_hash, role, created_at)
             VALUES (?1, ?2, ?3,
                     CASE WHEN ?5 AND NOT EXISTS (SELECT 1 FROM users) THEN 'admin' ELSE ?6 END,
                     ?4)
             RETURNING id, role",
        )
        .bind(username)
        .bind(name_key(username))
        .bind(password_hash)
        .bind(now_ms())
        .bind(first_is_admin)
        .bind(role.as_str())
        .fetch_one(&mut *tx)
        .await;
        let (id, role) = match inserted {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => return Ok(Err(NameTaken)),
            Err(e) => return Err(e),
        };
        sqlx::query("INSERT INTO memberships (room_id, user_id) VALUES (?1, ?2)")
            .bind(LOBBY_ID)
            .bind(id)
            .execute(&mut *tx)
            .await?;
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

    pub async fn account_by_name(&self, username: &str) -> Result<Option<Account>> {
        self.account_where("username_key = ?1", name_key(username))
            .await
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.account_where("id = ?1", id).await
    }

    async fn account_where<T>(&self, condition: &str, value: T) -> Result<Option<Account>>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Send,
    {
        let row = sqlx::query_as::<_, (i64, String, String, String, bool)>(&format!(
            "SELECT id, username, password_hash, role, disabled_at IS NOT NULL
             FROM users WHERE {condition}"
        ))
        .bind(value)
        .fetch_optional(&self.readers)
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

    /// Disables (signing in is refused, every session ends) or enables an account; false if
    /// there is no such account.
    pub async fn set_disabled(&self, user: i64, disabled: bool) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done =
            sqlx::query("UPDATE users SET disabled_at = CASE WHEN ?2 THEN ?3 END WHERE id = ?1")
                .bind(user)
                .bind(disabled)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets a new password and ends every session of the account but `keep` (the one that
    /// changed it, if any); false if there is no such account.
    pub async fn set_password(
        &self,
        user: i64,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = ?2 WHERE id = ?1")
            .bind(user)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2")
            .bind(user)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session of `user` (sign out everywhere).
    pub async fn delete_sessions_of(&self, user: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
            .bind(user)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Deletes the sessions that have expired; returns whose they were (account, token hash).
    pub async fn purge_expired_sessions(&self) -> Result<Vec<(i64, String)>> {
        sqlx::query_as("DELETE FROM sessions WHERE expires_at <= ?1 RETURNING user_id, token_hash")
            .bind(now_ms())
            .fetch_all(&self.writer)
            .await
    }

    /// Stores an invite link's token hash, valid until `expires_at`.
    pub async fn create_invite(&self, token_hash: &str, by: i64, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(token_hash)
        .bind(by)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Counts one sign-up with the invite; false if there is no such live invite.
    pub async fn use_invite(&self, token_hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE invites SET uses = uses + 1 WHERE token_hash = ?1 AND expires_at > ?2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row =
            sqlx::query_as::<_, (i64, String)>("SELECT id, username FROM users WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.readers)
                .await?;
        Ok(row.map(|(id, name)| User { id, name }))
    }

    /// Up to `limit` accounts by name, after the one named `after`, and whether more follow.
    pub async fn users_page(&self, after: Option<&str>, limit: usize) -> Result<(Vec<User>, bool)> {
        let rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT id, username FROM users
             WHERE ?1 IS NULL OR lower(username) > lower(?1)
             ORDER BY lower(username), id LIMIT ?2",
        )
        .bind(after)
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.readers)
        .await?;
        Ok(crate::store::page_of(rows, limit))
    }

    /// The account named `username` (ignoring case).
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query_as::<_, (i64, String)>(
            "SELECT id, username FROM users WHERE username_key = ?1",
        )
        .bind(name_key(username))
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(|(id, name)| User { id, name }))
    }

    /// Every account with its role and whether it is disabled, by name: the administrator's
    /// accounts page.
    pub async fn accounts(&self) -> Result<Vec<(User, Role, bool)>> {
        let rows = sqlx::query_as::<_, (i64, String, String, bool)>(
            "SELECT id, username, role, disabled_at IS NOT NULL FROM users ORDER BY lower(username), id",
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, role, disabled)| (User { id, name }, role_of(&role), disabled))
            .collect())
    }

    /// Gives `user` a role; false if there is no such account.
    pub async fn set_role(&self, user: i64, role: Role) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET role = ?2 WHERE id = ?1")
            .bind(user)
            .bind(role.as_str())
            .execute(&self.writer)
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
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(expires_at)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The accounts behind those of `token_hashes` that are live sessions, with their roles,
    /// by token hash.
    pub async fn session_users(
        &self,
        token_hashes: &[String],
    ) -> Result<HashMap<String, (User, Role)>> {
        let hashes = json_array(token_hashes)?;
        let rows = sqlx::query_as::<_, (String, i64, String, String)>(
            "SELECT s.token_hash, u.id, u.username, u.role
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash IN (SELECT value FROM json_each(?1)) AND s.expires_at > ?2
               AND u.disabled_at IS NULL",
        )
        .bind(hashes)
        .bind(now_ms())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(hash, id, name, role)| (hash, (User { id, name }, role_of(&role))))
            .collect())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
