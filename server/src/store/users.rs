//! Accounts and sign-in sessions.

use std::collections::HashMap;

use app::names::name_key;
use app::protocol::{LOBBY_ID, Role, User};

use super::{NameTaken, Result, Store, is_unique_violation, json_array, now_ms};

/// What sign-in needs to know about an account.
pub struct Account {
    pub user: User,
    pub password_hash: String,
    pub role: Role,
}

fn role_of(role: &str) -> Role {
    Role::parse(role).unwrap_or_default()
}

impl Store {
    /// Creates an account and puts it in the lobby. The very first account is the administrator.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<Result<Account, NameTaken>> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query_as::<_, (i64, String)>(
            "INSERT INTO users (username, username_key, password_hash, role, created_at)
             VALUES (?1, ?2, ?3,
                     CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'member' ELSE 'admin' END, ?4)
             RETURNING id, role",
        )
        .bind(username)
        .bind(name_key(username))
        .bind(password_hash)
        .bind(now_ms())
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
        }))
    }

    pub async fn account_by_name(&self, username: &str) -> Result<Option<Account>> {
        let row = sqlx::query_as::<_, (i64, String, String, String)>(
            "SELECT id, username, password_hash, role FROM users WHERE username_key = ?1",
        )
        .bind(name_key(username))
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(|(id, name, password_hash, role)| Account {
            user: User { id, name },
            password_hash,
            role: role_of(&role),
        }))
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row =
            sqlx::query_as::<_, (i64, String)>("SELECT id, username FROM users WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.readers)
                .await?;
        Ok(row.map(|(id, name)| User { id, name }))
    }

    /// Every account, by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT id, username FROM users ORDER BY username_key",
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| User { id, name })
            .collect())
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

    /// Every account with its role, by name: the administrator's accounts page.
    pub async fn accounts(&self) -> Result<Vec<(User, Role)>> {
        let rows = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, username, role FROM users ORDER BY username_key",
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, role)| (User { id, name }, role_of(&role)))
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
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
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
             WHERE s.token_hash IN (SELECT value FROM json_each(?1)) AND s.expires_at > ?2",
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
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1 OR expires_at <= ?2")
            .bind(token_hash)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
