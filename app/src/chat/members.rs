//! The "Members" panel: who belongs to the open room, who of them is online now and who is
//! muted; to the room's moderators, buttons to mute, unmute and (in a private room) remove
//! each other member.

use leptos::prelude::*;

use super::use_chat;
use crate::protocol::{ClientFrame, MuteLength, Visibility};

/// One member as the panel shows them; a change to any of it redraws the row.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Row {
    id: i64,
    name: String,
    online: bool,
    muted: bool,
}

#[component]
pub fn Members(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    let list = move || {
        let room = room.get();
        let online = chat.online.get();
        let mut members: Vec<Row> = chat.members.with(|all| {
            all.get(&room)
                .map(|list| {
                    list.iter()
                        .map(|u| Row {
                            id: u.id,
                            name: u.name.clone(),
                            online: online.contains(&u.id),
                            muted: chat.is_muted(room, u.id),
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        // Online first, then by name.
        members.sort_by_key(|m| (!m.online, m.name.to_lowercase()));
        members
    };
    let moderator = Memo::new(move |_| chat.room(room.get()).is_some_and(|r| chat.moderates(&r)));
    let private = Memo::new(move |_| {
        chat.room(room.get())
            .is_some_and(|r| r.visibility == Visibility::Private)
    });
    let me = Memo::new(move |_| chat.me.get().map(|u| u.id));
    view! {
        <aside class="members" aria-label="Members">
            <h2>"Members"</h2>
            <ul>
                <For
                    each=list
                    key=|member| member.clone()
                    children=move |member| {
                        view! { <MemberRow member room moderator private me/> }
                    }
                />
            </ul>
            <Show when=move || chat.members_after.with(|all| all.contains_key(&room.get()))>
                <button type="button" class="more" on:click=move |_| chat.more_members(room.get_untracked())>
                    "Show more members"
                </button>
            </Show>
        </aside>
    }
}

#[component]
fn MemberRow(
    member: Row,
    room: Memo<i64>,
    moderator: Memo<bool>,
    private: Memo<bool>,
    me: Memo<Option<i64>>,
) -> impl IntoView {
    let chat = use_chat();
    let Row {
        id,
        name,
        online,
        muted,
    } = member;
    let state = if online { "online" } else { "offline" };
    let choosing = RwSignal::new(false);
    let manages = move || moderator.get() && me.get() != Some(id);
    let remove_label = format!("Remove {name}");
    let mute_label = format!("Mute {name}");
    let unmute_label = format!("Unmute {name}");
    let lengths_label = format!("Mute {name} for");
    let mute = move |length: MuteLength| {
        choosing.set(false);
        chat.send(ClientFrame::MuteMember {
            room: room.get_untracked(),
            user: id,
            length,
        });
    };
    let controls = move || {
        let remove = private.get().then(|| {
            view! {
                <button
                    type="button"
                    aria-label=remove_label.clone()
                    on:click=move |_| {
                        chat.send(ClientFrame::RemoveMember { room: room.get_untracked(), user: id });
                    }
                >
                    "Remove"
                </button>
            }
        });
        let mute_or_unmute = if muted {
            view! {
                <button
                    type="button"
                    aria-label=unmute_label.clone()
                    on:click=move |_| {
                        chat.send(ClientFrame::UnmuteMember { room: room.get_untracked(), user: id });
                    }
                >
                    "Unmute"
                </button>
            }
            .into_any()
        } else {
            let lengths_label = lengths_label.clone();
            view! {
                <button
                    type="button"
                    aria-label=mute_label.clone()
                    aria-expanded=move || choosing.get().to_string()
                    on:click=move |_| choosing.update(|open| *open = !*open)
                >
                    "Mute"
                </button>
                <Show when=move || choosing.get()>
                    <div class="mute-lengths" role="group" aria-label=lengths_label.clone()>
                        {MuteLength::ALL
                            .into_iter()
                            .map(|length| {
                                view! {
                                    <button type="button" on:click=move |_| mute(length)>
                                        {length.label()}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </div>
                </Show>
            }
            .into_any()
        };
        view! {
            <div class="member-actions">
                {remove}
                {mute_or_unmute}
            </div>
        }
    };
    view! {
        <li class=state class:muted=muted>
            <span class="dot" aria-hidden="true"></span>
            <span class="member-name">{name}</span>
            " "
            {muted.then(|| view! { <span class="muted-tag">"muted"</span> " " })}
            <span class="presence">{state}</span>
            <Show when=manages>{controls.clone()}</Show>
        </li>
    }
}
