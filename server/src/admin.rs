//! The administrator's pages, server-rendered and usable without JavaScript: `/admin` lists
//! every account with its role (a form per account changes it, and the person's open tabs
//! hear of it at once), disables, enables or sets the password of an account, makes invite
//! links, the archived rooms, each of which can be purged for good after a
//! confirmation page, and the review log.

use app::protocol::{Role, ServerFrame, Visibility};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, SignedIn};
use crate::hub::{KickReason, Sessions, encode};
use crate::pages::{escape, page, query_value, refused, utc_time};
use crate::policy::{self, AdminAction};
use crate::store::{ArchivedRoom, ReviewEntry};

/// The signed-in person, once the policy lets them do `action`; the response for anyone else.
pub(crate) async fn administrator(
    state: &AppState,
    headers: &HeaderMap,
    action: AdminAction,
) -> Result<SignedIn, Response> {
    let Some(who) = auth::signed_in(state, headers).await else {
        return Err(Redirect::to("/login?next=/admin").into_response());
    };
    match policy::decide_admin(who.role, action) {
        Ok(()) => Ok(who),
        Err(denial) => Err(refused(StatusCode::FORBIDDEN, denial.message)),
    }
}

#[derive(Deserialize, Default)]
pub struct Notice {
    saved: Option<i64>,
    purged: Option<String>,
    error: Option<String>,
    /// An account disabled, enabled or given a new password: "disabled", "enabled", "password".
    done: Option<String>,
    account: Option<i64>,
    invite: Option<String>,
}

/// `GET /admin`: the accounts and their roles, and the archived rooms.
pub async fn accounts_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(notice): Query<Notice>,
) -> Response {
    let who = match administrator(&state, &headers, AdminAction::ManageAccounts).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let (accounts, bots, archived, reviews) = match (
        state.store.accounts().await,
        state.store.bots().await,
        state.store.archived_rooms().await,
        state.store.review_log(REVIEW_LOG_SHOWN).await,
    ) {
        (Ok(accounts), Ok(bots), Ok(archived), Ok(reviews)) => (accounts, bots, archived, reviews),
        (Err(error), ..) | (_, Err(error), ..) | (.., Err(error), _) | (.., Err(error)) => {
            tracing::error!(%error, "could not read the accounts");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not read the accounts; try again.",
            );
        }
    };
    let mut body = String::from("<h1>Accounts</h1>\n");
    if let (Some(done), Some(id)) = (&notice.done, notice.account)
        && let Some((user, ..)) = accounts.iter().find(|(u, ..)| u.id == id)
    {
        let what = match done.as_str() {
            "disabled" => "was disabled; their sessions ended",
            "enabled" => "can sign in again",
            "revoked" => "has no token now; its connections closed",
            _ => "has a new password; their sessions ended",
        };
        body.push_str(&format!(
            r#"<p class="saved" role="status">{} {what}.</p>"#,
            escape(&user.name)
        ));
    }
    if let Some(id) = notice.saved
        && let Some((user, role, _)) = accounts.iter().find(|(u, ..)| u.id == id)
    {
        let article = if *role == Role::Admin { "the" } else { "a" };
        body.push_str(&format!(
            r#"<p class="saved" role="status">{} is now {article} {}.</p>"#,
            escape(&user.name),
            role.label()
        ));
    }
    if let Some(name) = &notice.purged {
        body.push_str(&format!(
            r#"<p class="saved" role="status">“{}” was purged.</p>"#,
            escape(name)
        ));
    }
    if let Some(error) = &notice.error {
        body.push_str(&format!(
            r#"<p class="error" role="alert">{}</p>"#,
            escape(error)
        ));
    }
    body.push_str(
        r#"<table class="accounts" aria-label="Accounts"><thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Account</th></tr></thead><tbody>"#,
    );
    for (user, role, disabled) in &accounts {
        let name = escape(&user.name);
        let options: String = Role::ALL
            .iter()
            .map(|option| {
                format!(
                    r#"<option value="{}"{}>{}</option>"#,
                    option.as_str(),
                    if option == role { " selected" } else { "" },
                    option.label()
                )
            })
            .collect();
        let yours = user.id == who.user.id;
        let control = if yours {
            format!(
                r#"<select name="role" aria-label="Role for {name}" disabled>{options}</select> <span class="hint">(you)</span>"#
            )
        } else {
            format!(
                r#"<form method="post" action="/admin/role" class="role-form"><input type="hidden" name="user" value="{id}"><select name="role" aria-label="Role for {name}">{options}</select> <button type="submit" aria-label="Save role for {name}">Save</button></form>"#,
                id = user.id
            )
        };
        let account = if yours {
            String::new()
        } else {
            let (action, label) = if *disabled {
                ("enable", "Enable")
            } else {
                ("disable", "Disable")
            };
            // A bot signs in with its token (Bots, below), never with a password.
            let password = if bots.iter().any(|bot| bot.user.id == user.id) {
                r#"<span class="hint">(bot)</span>"#.to_owned()
            } else {
                format!(
                    r#"<form method="post" action="/admin/accounts/{id}/password" class="inline-form"><input type="password" name="password" autocomplete="new-password" aria-label="New password for {name}" required minlength="{min}"> <button type="submit">Set password for {name}</button></form>"#,
                    id = user.id,
                    min = app::names::MIN_PASSWORD,
                )
            };
            format!(
                r#"<form method="post" action="/admin/accounts/{id}/{action}" class="inline-form"><button type="submit">{label} {name}</button></form> {password}{state}"#,
                id = user.id,
                state = if *disabled {
                    r#" <span class="hint">(disabled)</span>"#
                } else {
                    ""
                },
            )
        };
        body.push_str(&format!(
            r#"<tr><th scope="row">{name}</th><td>{control}</td><td>{account}</td></tr>"#
        ));
    }
    body.push_str("</tbody></table>\n");
    body.push_str(&crate::account::invite_section(
        &state,
        "admin",
        notice.invite.as_deref(),
        &headers,
    ));
    body.push_str(&crate::bots::section(&bots));
    body.push_str(&archived_rooms(&archived));
    body.push_str(&review_log(&reviews));
    page("Accounts", &body).into_response()
}

/// Entries of the review log shown on /admin, newest first.
const REVIEW_LOG_SHOWN: usize = 200;

fn review_log(entries: &[ReviewEntry]) -> String {
    let mut html = String::from("<h2>Review log</h2>\n");
    if entries.is_empty() {
        html.push_str(
            r#"<p class="hint">Nobody has reviewed a private room or a conversation yet.</p>"#,
        );
        return html;
    }
    html.push_str(&format!(
        r#"<p class="hint">Every review of a private room or a direct conversation: who read, exported or printed which room, and when (the newest {REVIEW_LOG_SHOWN}).</p>
<table class="review-log" aria-label="Review log"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Room</th><th scope="col">What</th></tr></thead><tbody>"#
    ));
    for entry in entries {
        let what = match entry.what.as_str() {
            "read" => "read",
            "csv" => "downloaded CSV",
            "json" => "downloaded JSON",
            "print" => "printed",
            "grades" => "graded",
            other => other,
        };
        html.push_str(&format!(
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{what}</td></tr>"#,
            utc_time(entry.at),
            escape(entry.reviewer.as_deref().unwrap_or("a deleted account")),
            escape(&entry.room_name),
        ));
    }
    html.push_str("</tbody></table>\n");
    html
}

fn archived_rooms(archived: &[ArchivedRoom]) -> String {
    let mut html = String::from("<h2>Archived rooms</h2>\n");
    if archived.is_empty() {
        html.push_str(r#"<p class="hint">No room has been deleted.</p>"#);
        return html;
    }
    html.push_str(
        r#"<p class="hint">Deleted rooms are gone for their members; their messages stay for review until purged.</p>
<table class="archived" aria-label="Archived rooms"><thead><tr><th scope="col">Room</th><th scope="col">Deleted</th><th scope="col">Messages</th><th scope="col"></th></tr></thead><tbody>"#,
    );
    for room in archived {
        let name = escape(&room.name);
        let private = if room.visibility == Visibility::Private {
            " (private)"
        } else {
            ""
        };
        html.push_str(&format!(
            r#"<tr><th scope="row">{name}{private}</th><td>{}</td><td>{}</td><td><a href="/admin/rooms/{}/purge">Purge {name}</a></td></tr>"#,
            utc_time(room.archived_at),
            room.messages,
            room.id
        ));
    }
    html.push_str("</tbody></table>\n");
    html
}

#[derive(Deserialize)]
pub struct RoleForm {
    user: i64,
    role: String,
}

pub(crate) fn back_with_error(message: &str) -> Response {
    Redirect::to(&format!("/admin?error={}", query_value(message))).into_response()
}

/// `POST /admin/role`: gives an account another role; their open tabs hear it at once.
pub async fn change_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RoleForm>,
) -> Response {
    let who = match administrator(&state, &headers, AdminAction::ManageAccounts).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(role) = Role::parse(&form.role) else {
        return back_with_error("There is no such role.");
    };
    if let Err(denial) = policy::decide_role_change(who.user.id, who.role, form.user) {
        return back_with_error(denial.message);
    }
    match state.store.set_role(form.user, role).await {
        Ok(true) => {
            state
                .bus
                .to_user(form.user, &encode(&ServerFrame::RoleChanged { role }));
            Redirect::to(&format!("/admin?saved={}", form.user)).into_response()
        }
        Ok(false) => back_with_error("There is no such account."),
        Err(error) => {
            tracing::error!(%error, "could not change a role");
            back_with_error("The server could not change the role; try again.")
        }
    }
}

/// `POST /admin/accounts/{id}/disable`: the account may not sign in; its sessions end and its
/// open sockets close at once.
pub async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    set_disabled(&state, &headers, id, true).await
}

/// `POST /admin/accounts/{id}/enable`: the account may sign in again.
pub async fn enable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    set_disabled(&state, &headers, id, false).await
}

async fn set_disabled(state: &AppState, headers: &HeaderMap, id: i64, disabled: bool) -> Response {
    let who = match administrator(state, headers, AdminAction::ManageAccounts).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if let Err(denial) = policy::decide_account_change(who.user.id, who.role, id) {
        return back_with_error(denial.message);
    }
    match state.store.set_disabled(id, disabled).await {
        Ok(true) => {
            if disabled {
                state.bus.kick_user(id, Sessions::All, KickReason::Disabled);
            }
            let done = if disabled { "disabled" } else { "enabled" };
            Redirect::to(&format!("/admin?done={done}&account={id}")).into_response()
        }
        Ok(false) => back_with_error("There is no such account."),
        Err(error) => {
            tracing::error!(%error, "could not disable or enable an account");
            back_with_error("The server could not change the account; try again.")
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// `POST /admin/accounts/{id}/password`: a new password for someone who lost theirs; their
/// sessions end and their open sockets close.
pub async fn set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let who = match administrator(&state, &headers, AdminAction::ManageAccounts).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if let Err(denial) = policy::decide_account_change(who.user.id, who.role, id) {
        return back_with_error(denial.message);
    }
    match state.store.bots().await {
        Ok(bots) if bots.iter().any(|bot| bot.user.id == id) => {
            return back_with_error("A bot has no password: give it a new token under Bots.");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(%error, "could not read the bots");
            return back_with_error("The server could not save the password; try again.");
        }
    }
    if let Err(why) = app::names::check_password(&form.password) {
        return back_with_error(&why);
    }
    let Some(hash) = auth::new_password_hash(&state, form.password).await else {
        return back_with_error("The server could not save the password; try again.");
    };
    match state.store.set_password(id, &hash, None).await {
        Ok(true) => {
            state
                .bus
                .kick_user(id, Sessions::All, KickReason::SignedOut);
            Redirect::to(&format!("/admin?done=password&account={id}")).into_response()
        }
        Ok(false) => back_with_error("There is no such account."),
        Err(error) => {
            tracing::error!(%error, "could not set a password");
            back_with_error("The server could not save the password; try again.")
        }
    }
}

async fn archived_room(state: &AppState, id: i64) -> Result<ArchivedRoom, Response> {
    match state.store.archived_rooms().await {
        Ok(rooms) => rooms
            .into_iter()
            .find(|room| room.id == id)
            .ok_or_else(|| back_with_error("There is no such archived room.")),
        Err(error) => {
            tracing::error!(%error, "could not read the archived rooms");
            Err(back_with_error(
                "The server could not read the rooms; try again.",
            ))
        }
    }
}

/// `GET /admin/rooms/{id}/purge`: asks the administrator to confirm.
pub async fn confirm_purge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(response) = administrator(&state, &headers, AdminAction::Purge).await {
        return response;
    }
    let room = match archived_room(&state, id).await {
        Ok(room) => room,
        Err(response) => return response,
    };
    let name = escape(&room.name);
    let body = format!(
        r#"<h1>Purge “{name}”?</h1>
<p>This deletes the room and its {} messages, with every earlier version, for good: nobody can review them afterwards.</p>
<form method="post" action="/admin/rooms/{id}/purge" class="buttons"><button type="submit">Purge for good</button> <a href="/admin">Cancel</a></form>"#,
        room.messages
    );
    page("Purge a room", &body).into_response()
}

/// `POST /admin/rooms/{id}/purge`: deletes an archived room for good.
pub async fn purge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(response) = administrator(&state, &headers, AdminAction::Purge).await {
        return response;
    }
    let room = match archived_room(&state, id).await {
        Ok(room) => room,
        Err(response) => return response,
    };
    match state.store.purge_room(id).await {
        Ok(_) => {
            Redirect::to(&format!("/admin?purged={}", query_value(&room.name))).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "could not purge a room");
            back_with_error("The server could not purge the room; try again.")
        }
    }
}
