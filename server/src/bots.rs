//! Bots: accounts the administrator makes on `/admin` that connect with an API token instead
//! of a session cookie. A token is shown once, when it is made; only its SHA-256 is stored. A
//! new token replaces the old one, and revoking leaves none; either way the bot's open sockets
//! close at once. Once connected, a bot is an ordinary member: the same rooms, policy and
//! limits as a person.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::admin::{administrator, back_with_error};
use crate::auth::{self, SignedIn};
use crate::hub::{KickReason, Sessions};
use crate::pages::{escape, page, utc_time};
use crate::policy::AdminAction;
use crate::store::Bot;

/// The token in an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The bot behind an API token, unless the token is unknown or revoked, or the bot disabled.
pub async fn signed_in(state: &AppState, token: &str) -> Option<SignedIn> {
    let token_hash = auth::token_hash(token);
    match state.store.bot_by_token(&token_hash).await {
        Ok(Some((user, role))) => Some(SignedIn {
            user,
            role,
            token_hash,
        }),
        Ok(None) => None,
        Err(error) => {
            tracing::error!(%error, "could not look up a bot's token");
            None
        }
    }
}

/// The "Bots" section of `/admin`: a form to make one, and each bot with its token's state.
pub fn section(bots: &[Bot]) -> String {
    let mut html = String::from(
        r#"<h2>Bots</h2>
<p class="hint">A bot connects to the chat socket with <code>Authorization: Bearer &lt;token&gt;</code> (docs/protocol.md). Its token is shown once, when it is made.</p>
<form method="post" action="/admin/bots" class="inline-form"><input name="name" aria-label="Bot name" required maxlength="32" autocomplete="off"> <button type="submit">Create bot</button></form>
"#,
    );
    if bots.is_empty() {
        html.push_str(r#"<p class="hint">There is no bot yet.</p>"#);
        return html;
    }
    html.push_str(
        r#"<table class="bots" aria-label="Bots"><thead><tr><th scope="col">Bot</th><th scope="col">Token</th><th scope="col"></th></tr></thead><tbody>"#,
    );
    for bot in bots {
        let name = escape(&bot.user.name);
        let token = match bot.token_at {
            Some(at) => format!("made {}", utc_time(at)),
            None => "revoked".to_owned(),
        };
        let disabled = if bot.disabled { " (disabled)" } else { "" };
        let revoke = if bot.token_at.is_some() {
            format!(
                r#" <form method="post" action="/admin/bots/{id}/revoke" class="inline-form"><button type="submit">Revoke token for {name}</button></form>"#,
                id = bot.user.id
            )
        } else {
            String::new()
        };
        html.push_str(&format!(
            r#"<tr><th scope="row">{name}{disabled}</th><td>{token}</td><td><form method="post" action="/admin/bots/{id}/token" class="inline-form"><button type="submit">New token for {name}</button></form>{revoke}</td></tr>"#,
            id = bot.user.id
        ));
    }
    html.push_str("</tbody></table>\n");
    html
}

/// The page that shows a new token, the only time it is ever shown.
fn token_page(name: &str, token: &str, new_bot: bool) -> Response {
    let name = escape(name);
    let what = if new_bot {
        format!("{name} was created.")
    } else {
        format!("{name} has a new token; the old one no longer works.")
    };
    let body = format!(
        r#"<h1>Token for {name}</h1>
<p class="saved" role="status">{what}</p>
<p>Copy the token now: it is not shown again. The bot opens the socket with the header <code>Authorization: Bearer &lt;token&gt;</code>.</p>
<p><code class="token" aria-label="API token">{token}</code></p>
<p><a href="/admin">Back to accounts</a></p>"#
    );
    let mut response = page("Bot token", &body).into_response();
    // The token must not linger in a cache.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("a valid header"),
    );
    response
}

#[derive(Deserialize)]
pub struct NewBot {
    #[serde(default)]
    name: String,
}

/// `POST /admin/bots`: makes a bot and shows its token.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NewBot>,
) -> Response {
    let who = match administrator(&state, &headers, AdminAction::ManageBots).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let name = match app::names::parse_username(&form.name) {
        Ok(name) => name,
        Err(why) => return back_with_error(&why),
    };
    let token = auth::new_token();
    match state
        .store
        .create_bot(&name, &auth::token_hash(&token), who.user.id)
        .await
    {
        Ok(Ok(bot)) => token_page(&bot.name, &token, true),
        Ok(Err(_)) => back_with_error(&format!("The name {name} is taken.")),
        Err(error) => {
            tracing::error!(%error, "could not create a bot");
            back_with_error("The server could not create the bot; try again.")
        }
    }
}

/// Gives the bot `id` the token `token` (`None`: revoked) and closes its open sockets, whose
/// token no longer works; the bot's name, or the page to answer with.
async fn replace_token(
    state: &AppState,
    headers: &HeaderMap,
    id: i64,
    token: Option<&str>,
) -> Result<String, Response> {
    administrator(state, headers, AdminAction::ManageBots).await?;
    let hash = token.map(auth::token_hash);
    match state.store.set_bot_token(id, hash.as_deref()).await {
        Ok(Some(name)) => {
            state
                .bus
                .kick_user(id, Sessions::All, KickReason::SignedOut);
            Ok(name)
        }
        Ok(None) => Err(back_with_error("There is no such bot.")),
        Err(error) => {
            tracing::error!(%error, "could not change a bot's token");
            Err(back_with_error(
                "The server could not change the token; try again.",
            ))
        }
    }
}

/// `POST /admin/bots/{id}/token`: a new token replaces the bot's old one, whose sockets close.
pub async fn new_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let token = auth::new_token();
    match replace_token(&state, &headers, id, Some(&token)).await {
        Ok(name) => token_page(&name, &token, false),
        Err(response) => response,
    }
}

/// `POST /admin/bots/{id}/revoke`: the bot's token stops working and its sockets close.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    match replace_token(&state, &headers, id, None).await {
        Ok(_) => Redirect::to(&format!("/admin?done=revoked&account={id}")).into_response(),
        Err(response) => response,
    }
}
