//! The sidebar: the "Rooms" and "Direct messages" navigation, with unread counts, the list of
//! rooms to join, and the forms to create a room and start a conversation.

use leptos::prelude::*;
use leptos_router::components::A;

use super::use_chat;
use crate::names::parse_room_name;
use crate::protocol::{ClientFrame, RoomSummary};

fn room_link(room: RoomSummary) -> impl IntoView {
    let href = format!("/rooms/{}", room.id);
    let unread = (room.unread > 0).then(|| {
        view! { <span class="unread">{room.unread}</span> }
    });
    view! {
        <li class:joined=room.joined>
            <A href=href>
                <span class="room-name">{room.name}</span>
                " "
                {unread}
            </A>
        </li>
    }
}

#[component]
pub fn Sidebar() -> impl IntoView {
    let chat = use_chat();
    let creating = RwSignal::new(false);
    let new_name = RwSignal::new(String::new());
    let create_error = RwSignal::new(None::<String>);
    let choosing = RwSignal::new(false);
    let browsing = RwSignal::new(false);

    let create = move || match parse_room_name(&new_name.get_untracked()) {
        Ok(name) => {
            chat.awaiting.set(Some(name.clone()));
            chat.send(ClientFrame::CreateRoom { name });
            new_name.set(String::new());
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
                        each=move || chat.named_rooms(true)
                        key=|room| (room.id, room.name.clone(), room.unread)
                        children=room_link
                    />
                </ul>
                <button
                    type="button"
                    aria-expanded=move || browsing.get().to_string()
                    on:click=move |_| {
                        let open = !browsing.get_untracked();
                        if open {
                            chat.send(ClientFrame::ListRooms);
                        }
                        browsing.set(open);
                    }
                >
                    "Browse rooms"
                </button>
                <Show when=move || browsing.get()>
                    <ul class="directory" aria-label="Rooms to join">
                        <For
                            each=move || chat.named_rooms(false)
                            key=|room| (room.id, room.name.clone())
                            children=room_link
                        />
                    </ul>
                    <Show when=move || chat.named_rooms(false).is_empty()>
                        <p class="hint">"You are in every room."</p>
                    </Show>
                </Show>
                <button
                    type="button"
                    aria-expanded=move || creating.get().to_string()
                    on:click=move |_| creating.update(|open| *open = !*open)
                >
                    "New room"
                </button>
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
                <button
                    type="button"
                    aria-expanded=move || choosing.get().to_string()
                    on:click=move |_| {
                        let open = !choosing.get_untracked();
                        if open {
                            chat.send(ClientFrame::ListUsers);
                        }
                        choosing.set(open);
                    }
                >
                    "New conversation"
                </button>
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
                </Show>
            </nav>
        </div>
    }
}
