//! Accounts and sessions: password hashing (argon2id, within the hashing memory budget), the
//! session cookie, the sign-in, registration and sign-out form handlers (with their abuse
//! limits), the Origin check and the guard that sends signed-out visitors to /login.

use std::sync::LazyLock;

use app::names::{check_password, parse_username};
use app::protocol::{LOBBY_ID, MessageKind, Role, User};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Form;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::config::Registration;
use crate::hub::{KickReason, SessionKey, Sessions};
use crate::limits::RetryAfter;
use crate::pages::page_in;
use crate::store::now_ms;

pub const COOKIE: &str = "hearth_session";
/// The cookie's name when it is Secure: the `__Host-` prefix makes browsers refuse it unless it
/// was set over https, for this host only (no Domain) and for every path.
pub const SECURE_COOKIE: &str = "__Host-hearth_session";
const SESSION_DAYS: i64 = 30;

/// Who a request comes from.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    pub role: Role,
    /// The hash of the session's token, as stored.
    pub token_hash: String,
}

impl SignedIn {
    /// Which session the request came with, as the hub knows it.
    pub fn session(&self) -> SessionKey {
        session_key(&self.token_hash)
    }
}

/// A session's key in the hub: the first 64 bits of its token's hash.
pub fn session_key(token_hash: &str) -> SessionKey {
    token_hash
        .get(..16)
        .and_then(|prefix| u64::from_str_radix(prefix, 16).ok())
        .unwrap_or(0)
}

pub fn hash_password(password: &str) -> Option<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|h| h.to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checked against when the username is unknown, so both failures take the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a real password").unwrap_or_default());

/// Argon2 is deliberately slow and takes 19 MiB: run it off the async workers, and only as
/// many at once as the hashing memory budget allows (the others wait their turn).
async fn hashing<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let _permit = state.limits.hashing_permit().await?;
    tokio::task::spawn_blocking(work).await.ok()
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token (for a session or an invite link), as hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE || *name == SECURE_COOKIE)
        .map(|(_, value)| value)
}

/// The signed-in user behind the request's session cookie, if any.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<SignedIn> {
    let token_hash = token_hash(session_token(headers)?);
    // A failed lookup was logged by the lookup task; it counts as signed out.
    let (user, role) = state
        .lookups
        .sessions
        .get(token_hash.clone())
        .await
        .ok()??;
    Some(SignedIn {
        user,
        role,
        token_hash,
    })
}

/// Whether the request's Origin is the server's own (same host as the Host header) or one of
/// the configured allowed origins. A request without Origin is refused.
pub fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    if state
        .config
        .allowed_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/') == origin)
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

pub fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn session_cookie(token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let (name, secure) = if secure {
        (SECURE_COOKIE, "; Secure")
    } else {
        (COOKIE, "")
    };
    let cookie =
        format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// Only paths a browser resolves to this origin. Browsers drop tabs and newlines from a URL
/// and read `\` as `/`, so `/<TAB>/evil.example` or `/\evil.example` would become
/// `//evil.example`, another site: any control character, space or backslash refuses the
/// path, and so does anything but printable ASCII (a `Location` header carries no more).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            path
        }
        _ => "/",
    }
}

fn back_to_login(error: &str, next: Option<&str>) -> Response {
    let next = safe_next(next);
    let mut url = format!("/login?error={error}");
    if next != "/" {
        url.push_str("&next=");
        url.push_str(&encode_component(next));
    }
    Redirect::to(&url).into_response()
}

fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
    /// The token of the invite link the sign-up came with.
    #[serde(default)]
    invite: Option<String>,
}

async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    next: Option<&str>,
) -> Response {
    let token = new_token();
    let max_age = SESSION_DAYS * 24 * 3600;
    if let Err(error) = state
        .store
        .create_session(&token_hash(&token), user.id, now_ms() + max_age * 1000)
        .await
    {
        tracing::error!(%error, "could not create a session");
        return back_to_login("internal", next);
    }
    let mut response = Redirect::to(safe_next(next)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&token, max_age, is_https(state, headers)),
    );
    response
}

/// The page for a sign-in or sign-up refused by a limit: 429, with `Retry-After`.
fn too_many_attempts(wait: RetryAfter, what: &'static str) -> Response {
    crate::operations::refused(what);
    let minutes = wait.minutes();
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    let body = format!(
        r#"<h1>Hearth</h1>
<p class="error" role="alert">Too many attempts; try again in {minutes} {unit}.</p>
<p><a href="/login">Back to sign in</a></p>"#
    );
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        page_in("login", "Too many attempts", &body),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&wait.seconds().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let next = form.next.as_deref();
    let address = state.limits.client_address(peer, &headers);
    let account_key = app::names::name_key(form.username.trim());
    let limits = &state.limits;
    if let Err(wait) = limits
        .sign_in_per_account
        .peek(&account_key)
        .await
        .and(limits.sign_in_per_address.peek(&address).await)
    {
        return too_many_attempts(wait, "sign_in");
    }
    let account = match state.store.account_by_name(form.username.trim()).await {
        Ok(account) => account,
        Err(error) => {
            tracing::error!(%error, "account lookup failed");
            return back_to_login("internal", next);
        }
    };
    let hash = account
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |a| a.password_hash.clone());
    let password = form.password;
    let matches = hashing(&state, move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match account {
        Some(account) if matches && account.disabled => back_to_login("disabled", next),
        Some(account) if matches => start_session(&state, &headers, &account.user, next).await,
        _ => {
            limits.sign_in_per_account.record(account_key).await;
            limits.sign_in_per_address.record(address).await;
            back_to_login("credentials", next)
        }
    }
}

pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let next = form.next.as_deref();
    let invite = form.invite.as_deref().filter(|token| !token.is_empty());
    let back = |error: &str| match invite {
        // Back to the invite's own sign-up page, so the link is not lost.
        Some(token) if token.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Redirect::to(&format!("/login?error={error}&invite={token}")).into_response()
        }
        _ => back_to_login(error, next),
    };
    match (state.config.registration, invite) {
        (Registration::Closed, _) => return back("closed"),
        (Registration::Invite, None) => return back("invite"),
        _ => {}
    }
    let username = match parse_username(&form.username) {
        Ok(username) => username,
        Err(why) if why == app::names::INVISIBLE => return back("invisible"),
        Err(_) => return back("username"),
    };
    if check_password(&form.password).is_err() {
        return back("password");
    }
    let address = state.limits.client_address(peer, &headers);
    if let Err(wait) = state.limits.sign_ups_per_address.check(address).await {
        return too_many_attempts(wait, "sign_up");
    }
    if let Some(token) = invite
        && state.config.registration != Registration::Open
    {
        match state.store.use_invite(&token_hash(token)).await {
            Ok(true) => {}
            Ok(false) => return back("invite"),
            Err(error) => {
                tracing::error!(%error, "could not check an invite");
                return back("internal");
            }
        }
    }
    let password = form.password;
    let Some(Some(hash)) = hashing(&state, move || hash_password(&password)).await else {
        return back("internal");
    };
    // The very first account becomes the administrator only when it is made from this
    // machine: a server exposed before its operator signed up cannot be claimed from outside
    // (`hearth admin create-user NAME --role admin` makes one from the command line).
    let first_is_admin = address.is_loopback();
    match state
        .store
        .create_account(&username, &hash, Role::Member, first_is_admin)
        .await
    {
        Ok(Ok(account)) => {
            // Everyone is in the lobby from the start: say so there, like any other join.
            let notice = state.log.append(
                LOBBY_ID,
                account.user.clone(),
                MessageKind::Joined,
                String::new(),
            );
            if notice.await.is_err() {
                tracing::warn!(user = account.user.id, "lobby join notice not stored");
            }
            start_session(&state, &headers, &account.user, next).await
        }
        Ok(Err(_taken)) => back("taken"),
        Err(error) => {
            tracing::error!(%error, "could not create an account");
            back("internal")
        }
    }
}

/// Back to the sign-in page with the cookie cleared.
fn signed_out(state: &AppState, headers: &HeaderMap) -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, is_https(state, headers)),
    );
    response
}

/// `POST /auth/logout`: ends this session; its open sockets close at once.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(who) = signed_in(&state, &headers).await {
        if let Err(error) = state.store.delete_session(&who.token_hash).await {
            tracing::error!(%error, "could not delete a session");
        }
        state.bus.kick_user(
            who.user.id,
            Sessions::Only(who.session()),
            KickReason::SignedOut,
        );
    }
    signed_out(&state, &headers)
}

/// `POST /auth/logout-everywhere`: ends every session of the account; every open socket of
/// it, on any device, closes at once.
pub async fn sign_out_everywhere(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(who) = signed_in(&state, &headers).await {
        if let Err(error) = state.store.delete_sessions_of(who.user.id).await {
            tracing::error!(%error, "could not delete the sessions");
            return crate::pages::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not sign you out; try again.",
            );
        }
        state
            .bus
            .kick_user(who.user.id, Sessions::All, KickReason::SignedOut);
    }
    signed_out(&state, &headers)
}

/// `GET /auth/session`: 204 while the request's session is live, 401 otherwise. The browser
/// asks when its socket will not open, to tell an ended session (go to the sign-in page) from
/// a server that is away (keep retrying).
pub async fn session_status(State(state): State<AppState>, headers: HeaderMap) -> StatusCode {
    if signed_in(&state, &headers).await.is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// Checks `password` against the account's stored hash (within the hashing budget).
pub async fn password_matches(state: &AppState, user: i64, password: String) -> Option<bool> {
    let account = state.store.account_by_id(user).await.ok()??;
    let hash = account.password_hash;
    hashing(state, move || verify_password(&password, &hash)).await
}

/// Hashes a new password (within the hashing budget).
pub async fn new_password_hash(state: &AppState, password: String) -> Option<String> {
    hashing(state, move || hash_password(&password)).await?
}

/// The sign-in forms are accepted only from an allowed Origin: a page elsewhere cannot sign
/// people up, in or out.
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !origin_allowed(&state, request.headers()) {
        return (StatusCode::FORBIDDEN, "this origin may not post here").into_response();
    }
    next.run(request).await
}

/// Pages of the chat need a session: without one, go to /login and come back after.
/// The sign-in page itself sends a signed-in visitor on to the chat.
pub async fn page_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let needs_session = path == "/"
        || path.starts_with("/rooms/")
        || path.starts_with("/admin")
        || path.starts_with("/review")
        || path == "/feedback"
        || path == "/account";
    if needs_session || path == "/login" {
        let who = signed_in(&state, request.headers()).await;
        if needs_session && who.is_none() {
            let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
            let url = if target == "/" {
                "/login".to_owned()
            } else {
                format!("/login?next={}", encode_component(target))
            };
            return Redirect::to(&url).into_response();
        }
        // Signed in: the chat opens on the lobby's own address, so its link shows as current.
        if (path == "/login" || path == "/") && who.is_some() {
            return Redirect::to(&format!("/rooms/{LOBBY_ID}")).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_only_allows_paths_a_browser_keeps_on_this_site() {
        assert_eq!(safe_next(Some("/rooms/3")), "/rooms/3");
        assert_eq!(
            safe_next(Some("/review?room=2&q=a%20b")),
            "/review?room=2&q=a%20b"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/ /evil.example")), "/");
        assert_eq!(safe_next(Some("/rooms/é")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn a_session_key_is_its_hash_prefix() {
        let hash = token_hash("token");
        assert_eq!(
            session_key(&hash),
            u64::from_str_radix(&hash[..16], 16).unwrap()
        );
        assert_eq!(session_key("short"), 0);
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
    }
}
