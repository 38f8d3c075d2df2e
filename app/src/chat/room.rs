//! The open room: its heading and actions, the message log (follows the newest message while
//! the reader is at the bottom, loads older pages on scrolling up without jumping), and the
//! composer.

use leptos::html;
use leptos::prelude::*;

use super::use_chat;
use crate::names::{check_message, parse_room_name};
use crate::protocol::{ChatMessage, ClientFrame, LOBBY_ID, MessageKind, RoomKind};

#[cfg(feature = "hydrate")]
/// Within this many pixels of the bottom counts as "at the bottom".
const BOTTOM_SLACK: i32 = 32;
#[cfg(feature = "hydrate")]
/// Within this many pixels of the top, the previous page is fetched.
const TOP_SLACK: i32 = 64;

#[component]
pub fn RoomView(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    let summary = move || chat.room(room.get());
    let title = move || {
        summary().map_or_else(
            || String::from("…"),
            |r| {
                if r.kind == RoomKind::Direct {
                    format!("@{}", r.name)
                } else {
                    r.name
                }
            },
        )
    };
    view! {
        <main class="room">
            <div class="room-header">
                <h1>{title}</h1>
                <RoomActions room=room/>
            </div>
            <MessageLog room=room/>
            <Composer room=room/>
        </main>
    }
}

#[component]
fn RoomActions(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    let summary = move || chat.room(room.get());
    let can_manage = move || {
        summary().is_some_and(|r| {
            r.kind == RoomKind::Room
                && (chat.is_admin.get()
                    || (r.created_by.is_some() && r.created_by == chat.me.get().map(|u| u.id)))
        })
    };
    let renaming = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let new_name = RwSignal::new(String::new());
    let rename_error = RwSignal::new(None::<String>);
    let rename = move || match parse_room_name(&new_name.get_untracked()) {
        Ok(name) => {
            chat.send(ClientFrame::RenameRoom {
                room: room.get_untracked(),
                name,
            });
            renaming.set(false);
            rename_error.set(None);
        }
        Err(why) => rename_error.set(Some(why)),
    };
    view! {
        <div class="room-actions">
            {move || {
                summary()
                    .filter(|r| r.kind == RoomKind::Room && r.id != LOBBY_ID)
                    .map(|r| {
                        let id = r.id;
                        if r.joined {
                            view! {
                                <button type="button" on:click=move |_| { chat.send(ClientFrame::LeaveRoom { room: id }); }>
                                    "Leave room"
                                </button>
                            }
                            .into_any()
                        } else {
                            view! {
                                <button type="button" on:click=move |_| { chat.send(ClientFrame::JoinRoom { room: id }); }>
                                    "Join room"
                                </button>
                            }
                            .into_any()
                        }
                    })
            }}
            <Show when=can_manage>
                <button
                    type="button"
                    on:click=move |_| {
                        new_name.set(summary().map(|r| r.name).unwrap_or_default());
                        renaming.update(|open| *open = !*open);
                    }
                >
                    "Rename room"
                </button>
                <Show when=move || room.get() != LOBBY_ID>
                    <button type="button" on:click=move |_| confirming.update(|open| *open = !*open)>
                        "Delete room"
                    </button>
                </Show>
            </Show>
            <Show when=move || renaming.get() && can_manage()>
                <form
                    class="rename"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        rename();
                    }
                >
                    <input
                        type="text"
                        aria-label="New room name"
                        maxlength="64"
                        prop:value=move || new_name.get()
                        on:input=move |ev| new_name.set(event_target_value(&ev))
                    />
                    <button type="submit">"Save name"</button>
                    {move || rename_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                </form>
            </Show>
            <Show when=move || confirming.get() && can_manage()>
                <span class="confirm">
                    "Delete this room and all its messages? "
                    <button
                        type="button"
                        on:click=move |_| {
                            confirming.set(false);
                            chat.send(ClientFrame::DeleteRoom { room: room.get_untracked() });
                        }
                    >
                        "Confirm delete"
                    </button>
                    <button type="button" on:click=move |_| confirming.set(false)>
                        "Cancel"
                    </button>
                </span>
            </Show>
        </div>
    }
}

/// "14:05" in the reader's local time.
fn clock(ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let minutes = ms.div_euclid(60_000);
        format!(
            "{:02}:{:02}",
            minutes.div_euclid(60).rem_euclid(24),
            minutes.rem_euclid(60)
        )
    }
}

fn message_row(message: ChatMessage) -> impl IntoView {
    let time = clock(message.sent_at);
    let datetime = message.sent_at.to_string();
    let ChatMessage {
        author, kind, text, ..
    } = message;
    match kind {
        MessageKind::Text => view! {
            <li class="message">
                <div class="meta">
                    <span class="author">{author.name}</span>
                    " "
                    <time data-ms=datetime>{time}</time>
                </div>
                <p class="text">{text}</p>
            </li>
        }
        .into_any(),
        MessageKind::Joined | MessageKind::Left => {
            let verb = if kind == MessageKind::Joined {
                "joined"
            } else {
                "left"
            };
            view! {
                <li class="notice-row">
                    <span class="author">{author.name}</span>
                    " "
                    {verb}
                    " "
                    <time data-ms=datetime>{time}</time>
                </li>
            }
            .into_any()
        }
    }
}

#[cfg(feature = "hydrate")]
fn distance_from_bottom(el: &web_sys::HtmlDivElement) -> i32 {
    el.scroll_height() - el.scroll_top() - el.client_height()
}

#[component]
fn MessageLog(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    let log_ref = NodeRef::<html::Div>::new();
    let at_bottom = RwSignal::new(true);
    // The scroll height before an older page was prepended: the view keeps its place.
    let anchor = StoredValue::new(None::<i32>);

    let messages = move || {
        chat.logs.with(|logs| {
            logs.get(&room.get())
                .map(|log| log.messages.clone())
                .unwrap_or_default()
        })
    };
    let has_more = move || {
        chat.logs
            .with(|logs| logs.get(&room.get()).is_some_and(|log| log.has_more))
    };

    // A new room starts at its newest message.
    Effect::new(move |_| {
        let _ = room.get();
        at_bottom.set(true);
        anchor.set_value(None);
    });

    // After messages are added: keep an older page from moving the view, or follow the newest.
    let count = Memo::new(move |_| {
        chat.logs
            .with(|logs| logs.get(&room.get()).map_or(0, |log| log.messages.len()))
    });
    Effect::new(move |_| {
        // Read, not just tracked: a memo computes (and so follows its sources) only when read.
        let _ = count.get();
        // After the list has rendered (a timer, not an animation frame: those never fire in a
        // background tab, and the view must be right when the reader comes back).
        #[cfg(feature = "hydrate")]
        set_timeout(
            move || {
                let Some(el) = log_ref.get_untracked() else {
                    return;
                };
                if let Some(before) = anchor.get_value() {
                    anchor.set_value(None);
                    el.set_scroll_top(el.scroll_top() + el.scroll_height() - before);
                } else if at_bottom.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            },
            std::time::Duration::ZERO,
        );
    });

    // Where the last scroll event left the view. Our own scrolling to the bottom raises scroll
    // events too, possibly after more messages arrived: only moving up stops following.
    #[cfg(feature = "hydrate")]
    let last_top = StoredValue::new(0);
    let on_scroll = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = log_ref.get_untracked() {
            let top = el.scroll_top();
            let moved_up = top < last_top.get_value();
            last_top.set_value(top);
            let near_bottom = distance_from_bottom(&el) <= BOTTOM_SLACK;
            if moved_up || near_bottom {
                at_bottom.set(near_bottom);
            }
            if el.scroll_top() <= TOP_SLACK && has_more() && anchor.get_value().is_none() {
                anchor.set_value(Some(el.scroll_height()));
                chat.load_older(room.get_untracked());
            }
        }
    };

    let jump = move |_| {
        at_bottom.set(true);
        #[cfg(feature = "hydrate")]
        if let Some(el) = log_ref.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };

    view! {
        <div class="log-wrap">
            <div class="log" role="log" aria-label="Messages" node_ref=log_ref on:scroll=on_scroll tabindex="0">
                <Show when=has_more>
                    <p class="older">"Scroll up for older messages"</p>
                </Show>
                <ol>
                    <For each=messages key=|m| m.id children=message_row/>
                </ol>
            </div>
            <Show when=move || !at_bottom.get()>
                <button type="button" class="jump" on:click=jump>
                    "Jump to newest"
                </button>
            </Show>
        </div>
    }
}

#[component]
fn Composer(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    let text = RwSignal::new(String::new());
    // The text that was sent and is awaiting its acknowledgement.
    let sent_text = StoredValue::new(None::<String>);

    // Once the server has stored the message, clear the composer (unless it was edited).
    Effect::new(move |_| {
        if chat.delivered.get().is_some() {
            chat.delivered.set(None);
            if let Some(sent) = sent_text.get_value()
                && text.get_untracked() == sent
            {
                text.set(String::new());
            }
            sent_text.set_value(None);
        }
    });

    let joined = move || chat.room(room.get()).is_some_and(|r| r.joined);

    let submit = move || {
        if chat.pending.get_untracked().is_some() {
            return;
        }
        let body = text.get_untracked();
        if let Err(why) = check_message(&body) {
            chat.composer_error.set(Some(why));
            return;
        }
        if chat.status.get_untracked() != super::state::Status::Online {
            chat.composer_error.set(Some(
                "Not connected right now; your message is kept here. Send it once reconnected."
                    .into(),
            ));
            return;
        }
        sent_text.set_value(Some(body.clone()));
        chat.post(room.get_untracked(), body);
    };

    view! {
        <form
            class="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                aria-label="Message"
                rows="2"
                placeholder=move || if joined() { "Write a message" } else { "Join the room to write here" }
                prop:value=move || text.get()
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    chat.composer_error.set(None);
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" disabled=move || chat.pending.get().is_some()>
                "Send"
            </button>
            {move || chat.composer_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
}
