//! The sidebar: the "Rooms" and "Direct messages" navigation, with unread counts and, apart,
//! the unread mentions of the reader; the list of rooms to join, and the forms to create a
//! room and start a conversation.

use leptos::prelude::*;
use leptos_router::components::A;

use super::use_chat;
use crate::names::parse_room_name;
use crate::protocol::{ClientFrame, RoomKind, RoomSummary, Visibility};

/// A room's link: its name, for a named room how many are online (and whether it is
/// private), then the unread count if any.
fn room_link(room: RoomSummary) -> impl IntoView {
    let href = format!("/rooms/{}", room.id);
    let unread = (room.unread > 0).then(|| {
        view! { <span class="unread">{room.unread}</span> }
    });
    // Mentions of the reader among the unread: "@2" on screen, "2 mentions" when read out.
    let mentions = (room.mentions > 0).then(|| {
        let said = if room.mentions == 1 {
            "1 mention".to_owned()
        } else {
            format!("{} mentions", room.mentions)
        };
        view! {
            <span class="mentions">
                <span aria-hidden="true">"@" {room.mentions}</span>
                <span class="visually-hidden">{said}</span>
            </span>
            " "
        }
    });
    let details = (room.kind == RoomKind::Room).then(|| {
        let private = (room.visibility == Visibility::Private)
            .then(|| view! { " " <span class="private">"private"</span> });
        view! {
            <span class="room-details">
                <span class="online-count">{format!("{} online", room.online)}</span>
                {private}
            </span>
            " "
        }
    });
    view! {
        <li class:joined=room.joined>
            <A href=href>
                <span class="room-name">{room.name}</span>
                " "
                {details}
                {mentions}
                {unread}
            </A>
        </li>
    }
}

/// What a named room's link shows: a change to any of it redraws the link.
fn link_key(room: &RoomSummary) -> (i64, String, u32, u32, u32, Visibility) {
    (
        room.id,
        room.name.clone(),
        room.unread,
        room.mentions,
        room.online,
        room.visibility,
    )
}

/// A button that shows or hides a part of the sidebar; if `ask` is given, it is sent each time
/// the part opens, to fetch what it lists.
#[component]
fn Toggle(
    label: &'static str,
    open: RwSignal<bool>,
    #[prop(optional)] ask: Option<ClientFrame>,
) -> impl IntoView {
    let chat = use_chat();
    view! {
        <button
            type="button"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| {
                let opening = !open.get_untracked();
                if let Some(frame) = ask.clone().filter(|_| opening) {
                    chat.send(frame);
                }
                open.set(opening);
            }
        >
            {label}
        </button>
    }
}

/// One radio of the new-room form's "Visibility" group.
#[component]
fn VisibilityChoice(choice: Visibility, chosen: RwSignal<Visibility>) -> impl IntoView {
    let (value, label) = match choice {
        Visibility::Public => ("public", " Public"),
        Visibility::Private => ("private", " Private"),
    };
    view! {
        <label>
            <input
                type="radio"
                name="visibility"
                value=value
                prop:checked=move || chosen.get() == choice
                on:change=move |_| chosen.set(choice)
            />
            {label}
        </label>
    }
}

#[component]
pub fn Sidebar() -> impl IntoView {
    let chat = use_chat();
    let creating = RwSignal::new(false);
    let new_name = RwSignal::new(String::new());
    let visibility = RwSignal::new(Visibility::Public);
    let create_error = RwSignal::new(None::<String>);
    let choosing = RwSignal::new(false);
    let browsing = RwSignal::new(false);

    let create = move || match parse_room_name(&new_name.get_untracked()) {
        Ok(name) => {
            chat.awaiting.set(Some(name.clone()));
            chat.send(ClientFrame::CreateRoom {
                name,
                visibility: visibility.get_untracked(),
            });
            new_name.set(String::new());
            visibility.set(Visibility::Public);
            create_error.set(None);
            creating.set(false);
        }
        Err(why) => create_error.set(Some(why)),
    };

    let start_conversation = move |user: i64, name: String| {
        choosing.set(false);
        let existing = chat.conversations().into_iter().find(|r| r.name == name);
        match existing {
            Some(room) => chat.go_to.set(Some(format!("/rooms/{}", room.id))),
            None => {
                chat.awaiting.set(Some(name));
                chat.send(ClientFrame::OpenDirect { user });
            }
        }
    };

    view! {
        <div class="sidebar">
            <nav aria-label="Rooms">
                <h2>"Rooms"</h2>
                <ul>
                    <For
                        each=move || chat.my_rooms()
                        key=link_key
                        children=room_link
                    />
                </ul>
                <Toggle label="Browse rooms" open=browsing ask=ClientFrame::ListRooms/>
                <Show when=move || browsing.get()>
                    <ul class="directory" aria-label="Rooms to join">
                        <For
                            each=move || chat.rooms_to_join()
                            key=link_key
                            children=room_link
                        />
                    </ul>
                    <Show when=move || chat.rooms_to_join().is_empty()>
                        <p class="hint">"You are in every room."</p>
                    </Show>
                </Show>
                <Toggle label="New room" open=creating/>
                <Show when=move || creating.get()>
                    <form
                        class="new-room"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            create();
                        }
                    >
                        <input
                            type="text"
                            aria-label="Room name"
                            maxlength="64"
                            prop:value=move || new_name.get()
                            on:input=move |ev| new_name.set(event_target_value(&ev))
                        />
                        <fieldset class="visibility">
                            <legend>"Visibility"</legend>
                            <VisibilityChoice choice=Visibility::Public chosen=visibility/>
                            <VisibilityChoice choice=Visibility::Private chosen=visibility/>
                            <p class="hint">
                                {move || match visibility.get() {
                                    Visibility::Public => "Anyone can find and join it.",
                                    Visibility::Private => "Only the people you add can see it.",
                                }}
                            </p>
                        </fieldset>
                        <button type="submit">"Create"</button>
                        {move || create_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    </form>
                </Show>
            </nav>
            <nav aria-label="Direct messages">
                <h2>"Direct messages"</h2>
                <ul>
                    <For
                        each=move || chat.conversations()
                        key=|room| (room.id, room.name.clone(), room.unread)
                        children=room_link
                    />
                </ul>
                <Toggle label="New conversation" open=choosing ask=ClientFrame::ListUsers/>
                <Show when=move || choosing.get()>
                    <ul class="people" aria-label="People">
                        <For
                            each=move || {
                                let me = chat.me.get().map(|u| u.id);
                                chat.users.get().into_iter().filter(move |u| Some(u.id) != me).collect::<Vec<_>>()
                            }
                            key=|user| user.id
                            children=move |user| {
                                let name = user.name.clone();
                                view! {
                                    <li>
                                        <button type="button" on:click=move |_| start_conversation(user.id, name.clone())>
                                            {user.name.clone()}
                                        </button>
                                    </li>
                                }
                            }
                        />
                    </ul>
                    <Show when=move || chat.users_after.with(Option::is_some)>
                        <button type="button" class="more" on:click=move |_| chat.more_users()>
                            "Show more people"
                        </button>
                    </Show>
                </Show>
            </nav>
        </div>
    }
}
