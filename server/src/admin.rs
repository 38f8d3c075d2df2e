//! The administrator's pages, server-rendered and usable without JavaScript: `/admin` lists
//! every account with its role (a form per account changes it, and the person's open tabs
//! hear of it at once) and the archived rooms, each of which can be purged for good after a
//! confirmation page.

use app::protocol::{Role, ServerFrame, Visibility};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, SignedIn};
use crate::hub::encode;
use crate::policy::{self, AdminAction};
use crate::store::ArchivedRoom;

/// Text made safe to put in HTML, in an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/pkg/hearth.css">
<title>{title} · Hearth</title>
</head>
<body>
<main class="admin">
<nav class="admin-nav"><a href="/rooms/1">Back to the chat</a></nav>
{body}
</main>
</body>
</html>"#,
        title = escape(title),
    ))
}

fn refused(status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<h1>Not allowed</h1><p class="error" role="alert">{}</p>"#,
        escape(message)
    );
    (status, page("Not allowed", &body)).into_response()
}

/// The signed-in person, once the policy lets them do `action`; the response for anyone else.
async fn administrator(
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

/// "2026-12-01 14:05 UTC".
fn utc_time(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000);
    let days = minutes.div_euclid(24 * 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes.div_euclid(60).rem_euclid(24),
        minutes.rem_euclid(60)
    )
}

#[derive(Deserialize, Default)]
pub struct Notice {
    saved: Option<i64>,
    purged: Option<String>,
    error: Option<String>,
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
    let (accounts, archived) = match (
        state.store.accounts().await,
        state.store.archived_rooms().await,
    ) {
        (Ok(accounts), Ok(archived)) => (accounts, archived),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "could not read the accounts");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not read the accounts; try again.",
            );
        }
    };
    let mut body = String::from("<h1>Accounts</h1>\n");
    if let Some(id) = notice.saved
        && let Some((user, role)) = accounts.iter().find(|(u, _)| u.id == id)
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
        r#"<table class="accounts" aria-label="Accounts"><thead><tr><th scope="col">Name</th><th scope="col">Role</th></tr></thead><tbody>"#,
    );
    for (user, role) in &accounts {
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
        body.push_str(&format!(
            r#"<tr><th scope="row">{name}</th><td>{control}</td></tr>"#
        ));
    }
    body.push_str("</tbody></table>\n");
    body.push_str(&archived_rooms(&archived));
    page("Accounts", &body).into_response()
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

/// `text` as a query-string value.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn back_with_error(message: &str) -> Response {
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
                .hub
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape(r#"<b onclick="x">'&'</b>"#),
            "&lt;b onclick=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(1_796_085_900_000), "2026-12-01 00:45 UTC");
    }
}
