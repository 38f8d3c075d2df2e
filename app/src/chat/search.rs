//! The header's search box and its results: each found message with its room, author and
//! time, the words found marked (as text: a message is never read as markup), opening the room
//! at that message when chosen.

use leptos::prelude::*;

use super::message::date_time;
use super::use_chat;
use crate::protocol::{ChatMessage, RoomKind};
use crate::search::{MAX_QUERY, highlight};

#[component]
pub fn SearchBox() -> impl IntoView {
    let chat = use_chat();
    let query = RwSignal::new(String::new());
    view! {
        <form
            class="search"
            role="search"
            on:submit=move |ev| {
                ev.prevent_default();
                chat.search(query.get_untracked());
            }
        >
            <input
                type="search"
                aria-label="Search messages"
                placeholder="Search messages"
                maxlength=MAX_QUERY.to_string()
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
            <button type="submit">"Search"</button>
        </form>
    }
}

#[component]
pub fn SearchResults() -> impl IntoView {
    let chat = use_chat();
    let search = chat.search;
    let open = move || search.with(|s| s.open);
    let status = move || {
        search.with(|s| {
            if let Some(why) = &s.error {
                Some(view! { <p class="error" role="alert">{why.clone()}</p> }.into_any())
            } else if s.loading && s.messages.is_empty() {
                Some(view! { <p class="hint">"Searching…"</p> }.into_any())
            } else if s.messages.is_empty() {
                Some(view! { <p class="hint">"No messages found."</p> }.into_any())
            } else {
                None
            }
        })
    };
    view! {
        <Show when=open>
            <section class="search-results" aria-label="Search results">
                <div class="search-head">
                    <h2>{move || search.with(|s| format!("Results for “{}”", s.query))}</h2>
                    <button type="button" on:click=move |_| search.update(|s| s.open = false)>
                        "Close search"
                    </button>
                </div>
                {status}
                <ol>
                    <For
                        each=move || search.with(|s| s.messages.clone())
                        key=|m| (m.id, m.change)
                        children=move |message| view! { <Hit message/> }
                    />
                </ol>
                <Show when=move || search.with(|s| s.more)>
                    <button
                        type="button"
                        class="more-results"
                        disabled=move || search.with(|s| s.loading)
                        on:click=move |_| chat.more_results()
                    >
                        "More results"
                    </button>
                </Show>
            </section>
        </Show>
    }
}

/// One found message: a button that opens its room there.
#[component]
fn Hit(message: ChatMessage) -> impl IntoView {
    let chat = use_chat();
    let ChatMessage {
        id,
        room,
        author,
        text,
        sent_at,
        ..
    } = message;
    let room_name = chat.search.with_untracked(|s| {
        s.room(room).map_or_else(String::new, |r| match r.kind {
            RoomKind::Room => format!("#{}", r.name),
            RoomKind::Direct => format!("@{}", r.name),
        })
    });
    let words = chat.search.with_untracked(|s| s.words.clone());
    let runs = highlight(&text, &words)
        .into_iter()
        .map(|(marked, run)| {
            let run = run.to_owned();
            if marked {
                view! { <mark>{run}</mark> }.into_any()
            } else {
                run.into_any()
            }
        })
        .collect_view();
    view! {
        <li>
            <button type="button" class="hit" on:click=move |_| chat.open_found(room, id)>
                <span class="meta">
                    <span class="hit-room">{room_name}</span>
                    " "
                    <span class="author">{author.name}</span>
                    " "
                    <time data-ms=sent_at.to_string()>{date_time(sent_at)}</time>
                </span>
                <span class="text">{runs}</span>
            </button>
        </li>
    }
}
