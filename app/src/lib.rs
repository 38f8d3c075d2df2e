//! Hearth's shared crate: the wire protocol and input limits used by server and browser, and
//! the Leptos app (rendered on the server, hydrated in the browser).

#![recursion_limit = "256"]

pub mod chat;
pub mod format;
pub mod names;
pub mod pages;
pub mod protocol;
pub mod search;
pub mod theme;
pub mod time;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use chat::ChatPage;
use pages::LoginPage;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme::requested().map(theme::Theme::as_str)>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let chat = chat::state::Chat::new();
    provide_context(chat);
    // Lets tests (and curious people) know the page is interactive.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/hearth.css"/>
        // The server renders the title after the page's reactive owner is gone, so it must not
        // read a signal there (it has no unread counts to show anyway).
        <Title text=move || {
            if cfg!(feature = "hydrate") {
                chat.rooms.with(|rooms| chat::title::page_title(rooms))
            } else {
                chat::title::page_title(&[])
            }
        }/>
        <Router>
            <Routes fallback=|| view! { <p class="missing">"Page not found."</p> }>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/") view=ChatPage/>
                <Route path=path!("/rooms/:id") view=ChatPage/>
            </Routes>
        </Router>
    }
}
