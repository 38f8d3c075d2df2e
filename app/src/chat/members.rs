//! The "Members" panel: who belongs to the open room, and who of them is online now.

use leptos::prelude::*;

use super::use_chat;

#[component]
pub fn Members(room: Memo<i64>) -> impl IntoView {
    let chat = use_chat();
    let list = move || {
        let room = room.get();
        let online = chat.online.get();
        let mut members: Vec<(i64, String, bool)> = chat.members.with(|all| {
            all.get(&room)
                .map(|list| {
                    list.iter()
                        .map(|u| (u.id, u.name.clone(), online.contains(&u.id)))
                        .collect()
                })
                .unwrap_or_default()
        });
        // Online first, then by name.
        members.sort_by_key(|(_, name, online)| (!online, name.to_lowercase()));
        members
    };
    view! {
        <aside class="members" aria-label="Members">
            <h2>"Members"</h2>
            <ul>
                <For
                    each=list
                    key=|member| member.clone()
                    children=|(_, name, online)| {
                        let state = if online { "online" } else { "offline" };
                        view! {
                            <li class=state>
                                <span class="dot" aria-hidden="true"></span>
                                <span class="member-name">{name}</span>
                                " "
                                <span class="presence">{state}</span>
                            </li>
                        }
                    }
                />
            </ul>
        </aside>
    }
}
