//! Accounts and sign-in sessions.

use app::protocol::{Role, User};

/// What sign-in needs to know about an account.
pub struct Account {
    pub user: User,
    pub password_hash: String,
    pub role: Role,
    /// The administrator disabled it: it may not sign in.
    pub disabled: bool,
}

pub(crate) fn role_of(role: &str) -> Role {
    Role::parse(role).unwrap_or_default()
}
