//! Accounts and sign-in sessions. (PostgreSQL)

use crate::store::users::*;
use crate::store::{NameTaken, Result};
use app::protocol::{Role, User};
use std::collections::HashMap;

use super::Postgres;

impl Postgres {
    pub async fn create_user(
        &self,
        _username: &str,
        _password_hash: &str,
    ) -> Result<Result<Account, NameTaken>> {
        todo!("postgres")
    }

    pub async fn create_account(
        &self,
        _username: &str,
        _password_hash: &str,
        _role: Role,
        _first_is_admin: bool,
    ) -> Result<Result<Account, NameTaken>> {
        todo!("postgres")
    }

    pub async fn account_by_name(&self, _username: &str) -> Result<Option<Account>> {
        todo!("postgres")
    }

    pub async fn account_by_id(&self, _id: i64) -> Result<Option<Account>> {
        todo!("postgres")
    }

    pub async fn set_disabled(&self, _user: i64, _disabled: bool) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn set_password(
        &self,
        _user: i64,
        _password_hash: &str,
        _keep: Option<&str>,
    ) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn delete_sessions_of(&self, _user: i64) -> Result<()> {
        todo!("postgres")
    }

    pub async fn purge_expired_sessions(&self) -> Result<Vec<(i64, String)>> {
        todo!("postgres")
    }

    pub async fn create_invite(&self, _token_hash: &str, _by: i64, _expires_at: i64) -> Result<()> {
        todo!("postgres")
    }

    pub async fn use_invite(&self, _token_hash: &str) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn user(&self, _id: i64) -> Result<Option<User>> {
        todo!("postgres")
    }

    pub async fn users_page(
        &self,
        _after: Option<&str>,
        _limit: usize,
    ) -> Result<(Vec<User>, bool)> {
        todo!("postgres")
    }

    pub async fn user_by_name(&self, _username: &str) -> Result<Option<User>> {
        todo!("postgres")
    }

    pub async fn accounts(&self) -> Result<Vec<(User, Role, bool)>> {
        todo!("postgres")
    }

    pub async fn set_role(&self, _user: i64, _role: Role) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn create_session(
        &self,
        _token_hash: &str,
        _user_id: i64,
        _expires_at: i64,
    ) -> Result<()> {
        todo!("postgres")
    }

    pub async fn session_users(
        &self,
        _token_hashes: &[String],
    ) -> Result<HashMap<String, (User, Role)>> {
        todo!("postgres")
    }

    pub async fn delete_session(&self, _token_hash: &str) -> Result<()> {
        todo!("postgres")
    }
}
