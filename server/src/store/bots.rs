//! Bots: accounts that connect with an API token (stored as its hash) instead of a cookie.

use app::protocol::User;

/// A bot as the administrator's page lists it.
pub struct Bot {
    pub user: User,
    /// When its current token was made; `None` once revoked.
    pub token_at: Option<i64>,
    pub disabled: bool,
}

/// What a bot account's password hash is: no password verifies against it, so a bot can only
/// connect with its token.
pub const NO_PASSWORD: &str = "!bot";
