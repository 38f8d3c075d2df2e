//! The open room: its heading and actions, the message log (follows the newest message while
//! the reader is at the bottom, loads older pages on scrolling up without jumping; each message
//! offers editing and deletion to whoever may, and teachers their feedback; after it, this tab's
//! messages the server has not stored yet: "Sending…", or "Not sent" with Retry), and the
//! composer.

use std::collections::HashSet;

use leptos::html;
use leptos::prelude::*;

use super::mention::{byte_at_utf16, candidates, complete, mention_at, utf16_at_byte};
use super::message::{MessageRow, clock};
use super::rich::RichText;
use super::state::{Delivery, Outgoing};
use super::use_chat;
use crate::names::{MAX_USERNAME, check_message, parse_room_name, parse_username};
use crate::protocol::{ClientFrame, LOBBY_ID, RoomKind, muted_notice};

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
            // Both people are told when teachers may read their conversation.
            <Show when=move || {
                chat.direct_reviewable.get() && summary().is_some_and(|r| r.kind == RoomKind::Direct)
            }>
                <p class="review-notice">"Teachers can review this conversation"</p>
            </Show>
            <MessageLog room=room/>
            <TypingLine room=room/>
            <Composer room=room/>
        </main>
    }
}

#[component]
fn RoomActions(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    let summary = move || chat.room(room.get());
    let can_manage = move || summary().is_some_and(|r| chat.moderates(&r));
    let renaming = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let adding = RwSignal::new(false);
    let new_name = RwSignal::new(String::new());
    let rename_error = RwSignal::new(None::<String>);
    let username = RwSignal::new(String::new());
    let add_error = RwSignal::new(None::<String>);
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
    // The form stays open for the next name; a refusal (no such person) comes as a notice.
    let add = move || match parse_username(&username.get_untracked()) {
        Ok(name) => {
            chat.send(ClientFrame::AddMember {
                room: room.get_untracked(),
                username: name,
            });
            username.set(String::new());
            add_error.set(None);
        }
        Err(why) => add_error.set(Some(why)),
    };
    // Another room, other forms.
    Effect::new(move |_| {
        let _ = room.get();
        renaming.set(false);
        confirming.set(false);
        adding.set(false);
    });
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
                    aria-expanded=move || renaming.get().to_string()
                    on:click=move |_| {
                        new_name.set(summary().map(|r| r.name).unwrap_or_default());
                        renaming.update(|open| *open = !*open);
                    }
                >
                    "Rename room"
                </button>
                <Show when=move || room.get() != LOBBY_ID>
                    <button
                        type="button"
                        aria-expanded=move || adding.get().to_string()
                        on:click=move |_| adding.update(|open| *open = !*open)
                    >
                        "Add people"
                    </button>
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
            <Show when=move || adding.get() && can_manage()>
                <form
                    class="add-people"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        add();
                    }
                >
                    <input
                        type="text"
                        aria-label="Username"
                        autocomplete="off"
                        maxlength=MAX_USERNAME.to_string()
                        prop:value=move || username.get()
                        on:input=move |ev| {
                            username.set(event_target_value(&ev));
                            add_error.set(None);
                        }
                    />
                    <button type="submit">"Add"</button>
                    {move || add_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                </form>
            </Show>
            <Show when=move || confirming.get() && can_manage()>
                <span class="confirm">
                    "Delete this room for everyone? It disappears for all its members; its messages are kept for review. "
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
                .map(|log| log.visible().to_vec())
                .unwrap_or_default()
        })
    };
    // A window around a found message, not joined up with the newest yet.
    let newer_gap = Memo::new(move |_| chat.has_newer_gap(room.get()));
    let has_more = move || {
        chat.logs
            .with(|logs| logs.get(&room.get()).is_some_and(|log| log.has_more))
    };
    // Shared by every row, so a sidebar update does not recompute them per message.
    let me = Memo::new(move |_| chat.me.get().map(|u| u.id));
    let moderator = Memo::new(move |_| chat.room(room.get()).is_some_and(|r| chat.moderates(&r)));
    let reviewer = Memo::new(move |_| chat.room(room.get()).is_some_and(|r| chat.reviews(&r)));
    // Rows are keyed by id and change: the feedback marker follows this set instead of
    // redrawing the row (and closing an editor open in it). It changes only when feedback is
    // given, so the rows look at it only then.
    let marked = Memo::new(move |_| {
        chat.logs.with(|logs| {
            logs.get(&room.get())
                .map(|log| {
                    log.messages
                        .iter()
                        .filter(|m| m.feedback)
                        .map(|m| m.id)
                        .collect::<HashSet<i64>>()
                })
                .unwrap_or_default()
        })
    });

    // A new room starts at its newest message.
    Effect::new(move |_| {
        let _ = room.get();
        at_bottom.set(true);
        anchor.set_value(None);
    });

    // Messages written here that the server has not stored yet (or whose broadcast has not
    // come back yet): after the log, as this user's own.
    let outgoing = Memo::new(move |_| chat.outgoing(room.get()));

    // Sending a message follows the newest again (from a window too: posting goes back to it).
    let written = StoredValue::new(0usize);
    Effect::new(move |_| {
        let now = outgoing.with(Vec::len);
        if now > written.get_value() {
            at_bottom.set(true);
        }
        written.set_value(now);
    });

    // After messages are added: keep an older page from moving the view, or follow the newest.
    let count = Memo::new(move |_| {
        chat.logs
            .with(|logs| logs.get(&room.get()).map_or(0, |log| log.messages.len()))
            + outgoing.with(Vec::len)
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
                } else if at_bottom.get_untracked() && !newer_gap.get_untracked() {
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
            // The bottom of a window is not the newest message: reaching it fetches the next
            // page instead of following.
            let gap = newer_gap.get_untracked();
            if moved_up || near_bottom {
                at_bottom.set(near_bottom && !gap);
            }
            if near_bottom && gap {
                chat.load_newer(room.get_untracked());
            }
            if el.scroll_top() <= TOP_SLACK && has_more() && anchor.get_value().is_none() {
                anchor.set_value(Some(el.scroll_height()));
                chat.load_older(room.get_untracked());
            }
        }
    };

    // A message chosen among search results: once shown, scroll it to the middle and mark it.
    Effect::new(move |_| {
        let Some(id) = chat.found.get() else {
            return;
        };
        let shown = chat.logs.with(|logs| {
            logs.get(&room.get())
                .is_some_and(|log| log.visible().iter().any(|m| m.id == id))
        });
        if !shown {
            return;
        }
        chat.found.set(None);
        at_bottom.set(false);
        #[cfg(feature = "hydrate")]
        set_timeout(
            move || {
                use wasm_bindgen::JsCast;
                at_bottom.set(false);
                let (Some(log), Some(row)) = (
                    log_ref.get_untracked(),
                    document()
                        .get_element_by_id(&format!("message-{id}"))
                        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()),
                ) else {
                    return;
                };
                let _ = row.set_attribute("data-found", "");
                log.set_scroll_top(
                    row.offset_top() - (log.client_height() - row.offset_height()) / 2,
                );
            },
            std::time::Duration::ZERO,
        );
    });

    let jump = move |_| {
        chat.jump_to_newest(room.get_untracked());
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
                    <For
                        each=messages
                        key=|m| (m.id, m.change)
                        children=move |message| view! { <MessageRow message me moderator reviewer marked/> }
                    />
                    <For
                        each=move || outgoing.get()
                        key=|e| (e.nonce.clone(), e.delivery.clone())
                        children=move |entry| view! { <OutgoingRow entry/> }
                    />
                </ol>
                <Show when=move || newer_gap.get()>
                    <button type="button" class="newer" on:click=move |_| chat.load_newer(room.get_untracked())>
                        "Newer messages"
                    </button>
                </Show>
            </div>
            <Show when=move || !at_bottom.get() || newer_gap.get()>
                <button type="button" class="jump" on:click=jump>
                    "Jump to newest"
                </button>
            </Show>
        </div>
    }
}

/// A message from the outbox: "Sending…", or "Not sent" with the reason, Retry and Discard.
#[component]
fn OutgoingRow(entry: Outgoing) -> impl IntoView {
    let chat = use_chat();
    let name = move || chat.me.get().map(|u| u.name).unwrap_or_default();
    let Outgoing {
        nonce,
        text,
        written_at,
        delivery,
        ..
    } = entry;
    let time = clock(written_at);
    let datetime = written_at.to_string();
    match delivery {
        Delivery::Sending => view! {
            <li class="message mine outgoing sending">
                <div class="meta">
                    <span class="author">{name}</span>
                    " "
                    <span class="delivery">"Sending…"</span>
                </div>
                <div class="text"><RichText text=text/></div>
            </li>
        }
        .into_any(),
        // Stored; its broadcast (with the server's time) replaces this row when it comes.
        Delivery::Stored(_) => view! {
            <li class="message mine outgoing">
                <div class="meta">
                    <span class="author">{name}</span>
                    " "
                    <time data-ms=datetime>{time}</time>
                </div>
                <div class="text"><RichText text=text/></div>
            </li>
        }
        .into_any(),
        Delivery::NotSent(reason) => {
            let again = nonce.clone();
            view! {
                <li class="message mine outgoing not-sent">
                    <div class="meta">
                        <span class="author">{name}</span>
                        " "
                        <span class="delivery">"Not sent"</span>
                    </div>
                    <div class="text"><RichText text=text/></div>
                    <p class="why" role="alert">{reason}</p>
                    <div class="resend">
                        <button type="button" on:click=move |_| chat.retry(&again)>
                            "Retry"
                        </button>
                        <button type="button" on:click=move |_| chat.discard(&nonce)>
                            "Discard"
                        </button>
                    </div>
                </li>
            }
            .into_any()
        }
    }
}

/// "alice is typing…" under the log, for as long as the server keeps saying so. The line
/// keeps its height when empty, so that the log does not jump.
#[component]
fn TypingLine(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    // Forget each typist when their time is up (a timer to the soonest end, not a tick).
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(end) = chat.next_typist_end() {
            let delay = (end - super::state::now_ms()).max(0) as u64 + 20;
            if let Ok(timer) = set_timeout_with_handle(
                move || chat.forget_typists(super::state::now_ms()),
                std::time::Duration::from_millis(delay),
            ) {
                on_cleanup(move || timer.clear());
            }
        }
    });
    view! {
        <p class="typing" aria-live="polite">
            {move || chat.typing_line(room.get())}
        </p>
    }
}

/// Most names offered when completing a mention.
const MENTION_SUGGESTIONS: usize = 6;

#[component]
fn Composer(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    // In the chat state: a message sent too fast comes back into it.
    let text = chat.draft;

    let joined = move || chat.room(room.get()).is_some_and(|r| r.joined);
    // Posting is still sent while muted: the server decides, and its refusal says the same.
    let muted = move || {
        chat.muted_until(room.get())
            .map(|until| view! { <p class="muted-notice">{muted_notice(until, clock)}</p> })
    };

    // Completing a mention: where the caret is (a byte of the text), the suggestion chosen
    // with the arrow keys, and the names offered for what follows the `@` before the caret.
    let textarea = NodeRef::<html::Textarea>::new();
    let caret = RwSignal::new(0usize);
    let active = RwSignal::new(0usize);
    let dismissed = RwSignal::new(false);
    let suggestions = Memo::new(move |_| {
        if dismissed.get() {
            return Vec::new();
        }
        let me = chat.me.get().map(|u| u.id);
        text.with(|text| {
            let Some((_, typed)) = mention_at(text, caret.get()) else {
                return Vec::new();
            };
            chat.members.with(|all| {
                let members = all.get(&room.get()).map(Vec::as_slice).unwrap_or_default();
                candidates(
                    members
                        .iter()
                        .filter(|u| Some(u.id) != me)
                        .map(|u| u.name.as_str()),
                    typed,
                    MENTION_SUGGESTIONS,
                )
            })
        })
    });
    let choose = move |name: String| {
        let now = text.get_untracked();
        let Some((at, _)) = mention_at(&now, caret.get_untracked()) else {
            return;
        };
        let (completed, after) = complete(&now, at, caret.get_untracked(), &name);
        let units = utf16_at_byte(&completed, after) as u32;
        text.set(completed);
        caret.set(after);
        active.set(0);
        if let Some(el) = textarea.get_untracked() {
            // The value first (the binding would set it after this), then the caret.
            el.set_value(&text.get_untracked());
            let _ = el.set_selection_range(units, units);
            let _ = el.focus();
        }
    };
    // Where the caret went (typing, clicking, arrow keys): a byte of the text.
    let track_caret = move || {
        if let Some(el) = textarea.get_untracked()
            && let Ok(Some(units)) = el.selection_start()
        {
            caret.set(text.with_untracked(|t| byte_at_utf16(t, units as usize)));
        }
    };

    // The message leaves the composer for the outbox at once, connected or not: it shows in
    // the room as "Sending…" until the server stores it.
    let submit = move || {
        let body = text.get_untracked();
        if let Err(why) = check_message(&body) {
            chat.composer_error.set(Some(why));
            return;
        }
        text.set(String::new());
        // Posting from a window around a found message goes back to the newest.
        chat.jump_to_newest(room.get_untracked());
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
            {muted}
            <Show when=move || !suggestions.with(Vec::is_empty)>
                <ul class="mentions" role="listbox" aria-label="Mention suggestions">
                    {move || {
                        suggestions
                            .get()
                            .into_iter()
                            .enumerate()
                            .map(|(i, name)| {
                                let picked = name.clone();
                                view! {
                                    <li
                                        role="option"
                                        aria-selected=move || (active.get() == i).to_string()
                                        on:mousedown=move |ev| {
                                            // Keep the focus in the composer.
                                            ev.prevent_default();
                                            choose(picked.clone());
                                        }
                                    >
                                        "@"
                                        {name}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
            <textarea
                node_ref=textarea
                aria-label="Message"
                rows="2"
                placeholder=move || if joined() { "Write a message" } else { "Join the room to write here" }
                prop:value=move || text.get()
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    if !value.trim().is_empty() && joined() {
                        chat.typed(room.get_untracked());
                    }
                    text.set(value);
                    dismissed.set(false);
                    active.set(0);
                    track_caret();
                    chat.composer_error.set(None);
                }
                on:keyup=move |_| track_caret()
                on:click=move |_| track_caret()
                on:keydown=move |ev| {
                    let offered = suggestions.get_untracked();
                    if !offered.is_empty() && !ev.is_composing() {
                        match ev.key().as_str() {
                            "ArrowDown" => {
                                ev.prevent_default();
                                active.update(|a| *a = (*a + 1) % offered.len());
                                return;
                            }
                            "ArrowUp" => {
                                ev.prevent_default();
                                active.update(|a| *a = (*a + offered.len() - 1) % offered.len());
                                return;
                            }
                            "Enter" | "Tab" => {
                                ev.prevent_default();
                                let pick = offered[active.get_untracked().min(offered.len() - 1)].clone();
                                choose(pick);
                                return;
                            }
                            "Escape" => {
                                dismissed.set(true);
                                return;
                            }
                            _ => {}
                        }
                    }
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit">"Send"</button>
            {move || chat.composer_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
}
