//! The sign-in page. A plain server-rendered form posting to /auth/login (or /auth/register
//! with the second button), so it works with JavaScript turned off.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::names::{MAX_USERNAME, MIN_PASSWORD};

fn explain(code: &str) -> String {
    match code {
        "credentials" => "Wrong username or password.".into(),
        "taken" => "That username is taken (or one that looks just like it).".into(),
        "invisible" => crate::names::INVISIBLE.into(),
        "username" => format!("Usernames are 1 to {MAX_USERNAME} characters, without spaces."),
        "password" => format!("Passwords are at least {MIN_PASSWORD} characters."),
        "disabled" => "This account is disabled; ask the administrator.".into(),
        "invite" => "Sign-ups need an invite link from a teacher or the administrator.".into(),
        "closed" => "Sign-ups are closed on this server.".into(),
        _ => "Something went wrong on the server; please try again.".into(),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error").map(|code| explain(&code));
    let next = move || query.read().get("next").unwrap_or_default();
    // An invite link's token rides along with the sign-up (the server checks it).
    let invite = move || query.read().get("invite").filter(|token| !token.is_empty());
    view! {
        <main class="login">
            <h1>"Hearth"</h1>
            <p class="tagline">"Sign in to chat with your class, club or team."</p>
            <form method="post" action="/auth/login">
                {move || error().map(|text| view! { <p class="error" role="alert">{text}</p> })}
                {move || {
                    invite()
                        .map(|token| {
                            view! {
                                <p class="invited">
                                    "You were invited: choose a username and a password, then Create account."
                                </p>
                                <input type="hidden" name="invite" value=token/>
                            }
                        })
                }}
                <label>
                    "Username"
                    <input type="text" name="username" autocomplete="username" required maxlength=MAX_USERNAME.to_string()/>
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                // An attribute, not a property: it must be in the server's HTML for the form
                // to carry it without JavaScript.
                <input type="hidden" name="next" value=next/>
                <div class="buttons">
                    <button type="submit">"Sign in"</button>
                    <button type="submit" formaction="/auth/register">"Create account"</button>
                </div>
            </form>
        </main>
    }
}
