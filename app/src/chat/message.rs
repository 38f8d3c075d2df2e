//! One row of the message log: a text (with its author, time, "(edited)" or "Message
//! deleted", the teachers' feedback marker, and the Edit, Delete and Give feedback actions for
//! whoever may use them, shown on hover and on keyboard focus) or a membership notice.

use std::collections::HashSet;

use leptos::html;
use leptos::prelude::*;

use super::rich::RichText;
use super::use_chat;
use crate::names::check_message;
use crate::protocol::{ChatMessage, ClientFrame, MessageKind};

/// "14:05" in the reader's local time (UTC when rendered on the server or in tests).
pub(crate) fn clock(ms: i64) -> String {
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

/// "2026-12-03 14:05" in the reader's local time (UTC when rendered on the server or in
/// tests).
pub(crate) fn date_time(ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        format!(
            "{}-{:02}-{:02} {}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date(),
            clock(ms)
        )
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let (year, month, day, ..) = crate::time::civil(ms);
        format!("{year}-{month:02}-{day:02} {}", clock(ms))
    }
}

/// "14:05:07" in the reader's local time (UTC when rendered on the server or in tests).
pub(crate) fn clock_seconds(ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        format!(
            "{:02}:{:02}:{:02}",
            date.get_hours(),
            date.get_minutes(),
            date.get_seconds()
        )
    }
    #[cfg(not(feature = "hydrate"))]
    {
        format!("{}:{:02}", clock(ms), ms.div_euclid(1000).rem_euclid(60))
    }
}

/// One message or membership notice. A row is drawn once per state of its message (the log
/// is keyed by id and change), so an edit or deletion redraws it; the feedback marker follows
/// `marked` without a redraw.
#[component]
pub(super) fn MessageRow(
    message: ChatMessage,
    /// This user's id.
    me: Memo<Option<i64>>,
    /// Whether this user moderates the room (may delete anyone's message).
    moderator: Memo<bool>,
    /// Whether this user may give feedback on messages of the room.
    reviewer: Memo<bool>,
    /// The ids of the room's messages that have feedback.
    marked: Memo<HashSet<i64>>,
) -> impl IntoView {
    let time = clock(message.sent_at);
    let datetime = message.sent_at.to_string();
    let ChatMessage {
        id,
        author,
        kind,
        text,
        edited_at,
        deleted,
        ..
    } = message;
    let verb = match kind {
        MessageKind::Text => {
            return view! {
                <TextRow id author text edited=edited_at.is_some() deleted time datetime me moderator reviewer marked/>
            }
            .into_any();
        }
        MessageKind::Joined => "joined",
        MessageKind::Left => "left",
        MessageKind::Added => "was added by",
        MessageKind::Removed => "was removed by",
    };
    // Added and removed name the moderator who did it.
    let by = matches!(kind, MessageKind::Added | MessageKind::Removed)
        .then(|| view! { " " <span class="author">{text}</span> });
    view! {
        <li class="notice-row" id=format!("message-{id}")>
            <span class="author">{author.name}</span>
            " "
            {verb}
            {by}
            " "
            <time data-ms=datetime>{time}</time>
        </li>
    }
    .into_any()
}

#[component]
fn TextRow(
    id: i64,
    author: crate::protocol::User,
    text: String,
    edited: bool,
    deleted: bool,
    time: String,
    datetime: String,
    me: Memo<Option<i64>>,
    moderator: Memo<bool>,
    reviewer: Memo<bool>,
    marked: Memo<HashSet<i64>>,
) -> impl IntoView {
    let chat = use_chat();
    let author_id = author.id;
    let mine = move || me.get() == Some(author_id);
    let may_delete = move || !deleted && (mine() || moderator.get());
    // Feedback is on someone else's words.
    let may_review = move || !deleted && !mine() && reviewer.get();
    let feedback = move || marked.with(|ids| ids.contains(&id));
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let edit_error = RwSignal::new(None::<String>);
    let original = StoredValue::new(text.clone());
    let editor = NodeRef::<html::Textarea>::new();
    let giving = move || chat.feedback_form.get() == Some(id) && may_review();

    let start_editing = move |_| {
        draft.set(original.get_value());
        edit_error.set(None);
        editing.set(true);
    };
    // The row is redrawn with the new text when the server's change arrives; until then the
    // editor stays open, so a refusal loses nothing.
    let save = move || {
        let body = draft.get_untracked();
        if let Err(why) = check_message(&body) {
            edit_error.set(Some(why));
            return;
        }
        if body == original.get_value() {
            editing.set(false);
            return;
        }
        if chat.status.get_untracked() != super::state::Status::Online {
            edit_error.set(Some(
                "Not connected right now; try again once reconnected.".into(),
            ));
            return;
        }
        chat.send(ClientFrame::EditMessage {
            message: id,
            text: body,
        });
    };
    let cancel = move || {
        editing.set(false);
        edit_error.set(None);
    };
    let delete = move |_| {
        chat.send(ClientFrame::DeleteMessage { message: id });
    };
    let toggle_feedback = move |_| {
        if chat.feedback_form.get_untracked() == Some(id) {
            chat.close_feedback();
        } else {
            chat.open_feedback(id);
        }
    };
    // The form closes when the server's `feedback_given` arrives; until then it keeps the text.
    let send_feedback = move || {
        if chat.feedback_pending.get_untracked().is_some() {
            return;
        }
        if let Err(why) = chat.give_feedback(id, chat.feedback_draft.get_untracked()) {
            chat.feedback_error.set(Some(why));
        }
    };

    // Typing goes straight into the editor once it opens.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(el) = editor.get() {
            let _ = el.focus();
        }
    });

    // The author reads the feedback on /feedback (a server page); teachers just see that
    // there is some.
    let marker = move || {
        if !feedback() {
            None
        } else if mine() {
            Some(
                view! {
                    " "
                    <a
                        class="feedback-marker"
                        href="/feedback"
                        rel="external"
                        aria-label="Feedback on this message"
                        title="Feedback on this message"
                    >
                        "✎"
                    </a>
                }
                .into_any(),
            )
        } else if chat.role.get().is_staff() {
            Some(
                view! {
                    " "
                    <span
                        class="feedback-marker"
                        role="img"
                        aria-label="Feedback given"
                        title="Feedback given"
                    >
                        "✎"
                    </span>
                }
                .into_any(),
            )
        } else {
            None
        }
    };

    let body = move || {
        if deleted {
            view! { <p class="text deleted">"Message deleted" {marker}</p> }.into_any()
        } else {
            let edited = edited.then(|| view! { " " <span class="edited">"(edited)"</span> });
            view! {
                <div class="text">
                    <RichText text=original.get_value()/>
                    {edited}
                    {marker}
                </div>
            }
            .into_any()
        }
    };

    view! {
        <li class="message" class:mine=mine id=format!("message-{id}")>
            <div class="meta">
                <span class="author">{author.name}</span>
                " "
                <time data-ms=datetime>{time}</time>
                // Before the text, so that a row's text still ends with its message.
                <Show when=move || (may_delete() || may_review()) && !editing.get()>
                    <span class="actions">
                        <Show when=may_review>
                            <button
                                type="button"
                                aria-label="Give feedback"
                                aria-expanded=move || giving().to_string()
                                on:click=toggle_feedback
                            >
                                "Feedback"
                            </button>
                        </Show>
                        <Show when=mine>
                            <button type="button" aria-label="Edit message" on:click=start_editing>
                                "Edit"
                            </button>
                        </Show>
                        <Show when=may_delete>
                            <button type="button" aria-label="Delete message" on:click=delete>
                                "Delete"
                            </button>
                        </Show>
                    </span>
                </Show>
            </div>
            <Show when=move || editing.get() fallback=body>
                <form
                    class="edit"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        save();
                    }
                >
                    <textarea
                        aria-label="Edit message"
                        rows="2"
                        node_ref=editor
                        prop:value=move || draft.get()
                        on:input=move |ev| {
                            draft.set(event_target_value(&ev));
                            edit_error.set(None);
                        }
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                                ev.prevent_default();
                                save();
                            } else if ev.key() == "Escape" {
                                ev.prevent_default();
                                cancel();
                            }
                        }
                    ></textarea>
                    <button type="submit">"Save"</button>
                    <button type="button" on:click=move |_| cancel()>
                        "Cancel"
                    </button>
                    {move || edit_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                </form>
            </Show>
            <Show when=giving>
                <FeedbackForm on_send=send_feedback/>
            </Show>
        </li>
    }
}

/// The form a teacher writes feedback in, under the message (Ctrl+Enter sends, Escape
/// cancels). Its text lives in the chat state: see [`super::state::Chat::feedback_form`].
#[component]
fn FeedbackForm(on_send: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let chat = use_chat();
    let field = NodeRef::<html::Textarea>::new();

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(el) = field.get() {
            let _ = el.focus();
        }
    });

    view! {
        <form
            class="feedback-form"
            on:submit=move |ev| {
                ev.prevent_default();
                on_send();
            }
        >
            <textarea
                aria-label="Feedback"
                rows="3"
                placeholder="Feedback for the author: only they and teachers see it"
                node_ref=field
                prop:value=move || chat.feedback_draft.get()
                on:input=move |ev| {
                    chat.feedback_draft.set(event_target_value(&ev));
                    chat.feedback_error.set(None);
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) && !ev.is_composing() {
                        ev.prevent_default();
                        on_send();
                    } else if ev.key() == "Escape" {
                        ev.prevent_default();
                        chat.close_feedback();
                    }
                }
            ></textarea>
            <button type="submit" disabled=move || chat.feedback_pending.get().is_some()>
                "Send feedback"
            </button>
            <button type="button" on:click=move |_| chat.close_feedback()>
                "Cancel"
            </button>
            {move || chat.feedback_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
}
