//! Accounts and sessions: password hashing (argon2id), the session cookie, the sign-in,
//! registration and sign-out form handlers, the Origin check and the guard that sends
//! signed-out visitors to /login.

use std::sync::LazyLock;

use app::names::{check_password, parse_username};
use app::protocol::{LOBBY_ID, MessageKind, Role, User};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::store::now_ms;

pub const COOKIE: &str = "hearth_session";
const SESSION_DAYS: i64 = 30;

/// Who a request comes from.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    pub role: Role,
}

fn hash_password(password: &str) -> Option<String> {
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

/// Argon2 is deliberately slow: keep it off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The signed-in user behind the request's session cookie, if any.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<SignedIn> {
    let token = session_token(headers)?;
    // A failed lookup was logged by the lookup task; it counts as signed out.
    let (user, role) = state.lookups.sessions.get(token_hash(token)).await.ok()??;
    Some(SignedIn { user, role })
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

fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn session_cookie(token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// Only same-site paths: never `//evil.example` or an absolute URL.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
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
}

async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    next: Option<&str>,
) -> Response {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
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

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let next = form.next.as_deref();
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
    let matches = blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match account {
        Some(account) if matches => start_session(&state, &headers, &account.user, next).await,
        _ => back_to_login("credentials", next),
    }
}

pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let next = form.next.as_deref();
    let Ok(username) = parse_username(&form.username) else {
        return back_to_login("username", next);
    };
    if check_password(&form.password).is_err() {
        return back_to_login("password", next);
    }
    let password = form.password;
    let Some(Some(hash)) = blocking(move || hash_password(&password)).await else {
        return back_to_login("internal", next);
    };
    match state.store.create_user(&username, &hash).await {
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
        Ok(Err(_taken)) => back_to_login("taken", next),
        Err(error) => {
            tracing::error!(%error, "could not create an account");
            back_to_login("internal", next)
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers)
        && let Err(error) = state.store.delete_session(&token_hash(token)).await
    {
        tracing::error!(%error, "could not delete a session");
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, is_https(&state, &headers)),
    );
    response
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
        || path == "/feedback";
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
    fn next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/rooms/3")), "/rooms/3");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
    }
}
