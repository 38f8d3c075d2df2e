//! A person's own account, server-rendered and usable without JavaScript: `/account` changes
//! the password (the other sessions end) and signs out everywhere; teachers and the
//! administrator also make invite links there (and the administrator on /admin), which let a
//! class sign up when registration is by invitation.

use app::names::check_password;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, SignedIn};
use crate::hub::{KickReason, Sessions};
use crate::pages::{self, escape, query_value, refused};
use crate::policy;
use crate::store::now_ms;

/// How long an invite link lets people sign up.
const INVITE_DAYS: i64 = 14;

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, Response> {
    auth::signed_in(state, headers)
        .await
        .ok_or_else(|| Redirect::to("/login?next=/account").into_response())
}

#[derive(Deserialize, Default)]
pub struct Notice {
    saved: Option<String>,
    error: Option<String>,
    invite: Option<String>,
}

/// The "New invite link" form, and the link just made, if any.
pub fn invite_section(
    state: &AppState,
    from: &str,
    invite: Option<&str>,
    headers: &HeaderMap,
) -> String {
    let mut html = format!(
        r#"<h2>Invite links</h2>
<p class="hint">Anyone with an invite link can create an account for {INVITE_DAYS} days, even when sign-ups are by invitation only.</p>
<form method="post" action="/invites"><input type="hidden" name="from" value="{from}"><button type="submit">New invite link</button></form>"#
    );
    if let Some(token) = invite.filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit())) {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if auth::is_https(state, headers) {
            "https"
        } else {
            "http"
        };
        let link = format!("{scheme}://{host}/login?invite={token}");
        html.push_str(&format!(
            r#"<p class="saved" role="status">New invite link: <a href="{link}" aria-label="Invite link">{link}</a></p>"#,
            link = escape(&link)
        ));
    }
    html
}

/// `GET /account`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(notice): Query<Notice>,
) -> Response {
    let who = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let mut body = format!(
        "<h1>Account</h1>\n<p>Signed in as <strong>{}</strong> ({}).</p>\n",
        escape(&who.user.name),
        who.role.label()
    );
    if notice.saved.as_deref() == Some("password") {
        body.push_str(
            r#"<p class="saved" role="status">Your password was changed; your other sessions were signed out.</p>"#,
        );
    }
    if let Some(error) = &notice.error {
        body.push_str(&format!(
            r#"<p class="error" role="alert">{}</p>"#,
            escape(error)
        ));
    }
    body.push_str(&format!(
        r#"<h2>Password</h2>
<form method="post" action="/account/password" class="account-form">
<label>Current password <input type="password" name="current" autocomplete="current-password" required></label>
<label>New password <input type="password" name="new" autocomplete="new-password" required minlength="{min}"></label>
<button type="submit">Change password</button>
</form>
<h2>Sessions</h2>
<p class="hint">Signs you out on every device and browser, this one included.</p>
<form method="post" action="/auth/logout-everywhere"><button type="submit">Sign out everywhere</button></form>
"#,
        min = app::names::MIN_PASSWORD
    ));
    if policy::decide_invite(who.role).is_ok() {
        body.push_str(&invite_section(
            &state,
            "account",
            notice.invite.as_deref(),
            &headers,
        ));
    }
    pages::page("Account", &body).into_response()
}

fn back_with_error(message: &str) -> Response {
    Redirect::to(&format!("/account?error={}", query_value(message))).into_response()
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
}

/// `POST /account/password`: checks the current password, sets the new one, and ends every
/// other session of the account (their sockets close at once).
pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let who = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if let Err(why) = check_password(&form.new) {
        return back_with_error(&why);
    }
    // Guessing the current password here counts like guessing it at sign-in.
    let key = app::names::name_key(&who.user.name);
    if let Err(wait) = state.limits.sign_in_per_account.peek(&key).await {
        return back_with_error(&format!(
            "Too many attempts; try again in {} minutes.",
            wait.minutes()
        ));
    }
    match auth::password_matches(&state, who.user.id, form.current).await {
        Some(true) => {}
        Some(false) => {
            state.limits.sign_in_per_account.record(key).await;
            return back_with_error("The current password is wrong.");
        }
        None => return back_with_error("The server could not check the password; try again."),
    }
    let Some(hash) = auth::new_password_hash(&state, form.new).await else {
        return back_with_error("The server could not save the password; try again.");
    };
    match state
        .store
        .set_password(who.user.id, &hash, Some(&who.token_hash))
        .await
    {
        Ok(_) => {
            kick_other_sessions(&state, &who);
            Redirect::to("/account?saved=password").into_response()
        }
        Err(error) => {
            tracing::error!(%error, "could not change a password");
            back_with_error("The server could not save the password; try again.")
        }
    }
}

/// Closes the sockets of every session of `who` but the current one (whose sessions were
/// just deleted).
fn kick_other_sessions(state: &AppState, who: &SignedIn) {
    state.bus.kick_user(
        who.user.id,
        Sessions::AllBut(who.session()),
        KickReason::SignedOut,
    );
}

#[derive(Deserialize)]
pub struct InviteForm {
    /// The page to go back to: "admin" or "account".
    #[serde(default)]
    from: String,
}

/// `POST /invites`: makes an invite link (teachers and the administrator).
pub async fn new_invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    let who = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if let Err(denial) = policy::decide_invite(who.role) {
        return refused(StatusCode::FORBIDDEN, denial.message);
    }
    let back = if form.from == "admin" {
        "/admin"
    } else {
        "/account"
    };
    let token = auth::new_token();
    let expires_at = now_ms() + INVITE_DAYS * 24 * 3600 * 1000;
    match state
        .store
        .create_invite(&auth::token_hash(&token), who.user.id, expires_at)
        .await
    {
        Ok(()) => Redirect::to(&format!("{back}?invite={token}")).into_response(),
        Err(error) => {
            tracing::error!(%error, "could not make an invite");
            Redirect::to(&format!(
                "{back}?error={}",
                query_value("The server could not make the link; try again.")
            ))
            .into_response()
        }
    }
}
