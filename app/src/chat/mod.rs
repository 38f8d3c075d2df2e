//! The chat screen: sidebar of rooms and conversations, the open room, its members.

#[cfg(feature = "hydrate")]
mod connection;
mod members;
mod mention;
mod message;
mod notifications;
mod rich;
mod room;
mod search;
mod sidebar;
pub mod state;
pub mod title;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::protocol::{LOBBY_ID, Role};
use members::Members;
use room::RoomView;
use search::{SearchBox, SearchResults};
use sidebar::Sidebar;
use state::{Chat, Status};

/// The chat state for this page, created once per page load.
pub fn use_chat() -> Chat {
    use_context::<Chat>().unwrap_or_else(|| {
        let chat = Chat::new();
        provide_context(chat);
        chat
    })
}

/// The panels that are drawers on a narrow screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drawer {
    Rooms,
    Members,
}

impl Drawer {
    /// The button's name, and the id of the panel it opens.
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            Drawer::Rooms => ("Rooms", "rooms-drawer"),
            Drawer::Members => ("Members", "members-drawer"),
        }
    }
}

/// The header's button that opens (or closes) a drawer; shown on a narrow screen only.
#[component]
fn DrawerButton(which: Drawer, open: RwSignal<Option<Drawer>>) -> impl IntoView {
    let (name, panel) = which.parts();
    view! {
        <button
            type="button"
            class="drawer-button"
            aria-controls=panel
            aria-expanded=move || (open.get() == Some(which)).to_string()
            on:click=move |_| open.update(|o| *o = if *o == Some(which) { None } else { Some(which) })
        >
            {name}
        </button>
    }
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let chat = use_chat();
    let params = use_params_map();
    let room_id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(LOBBY_ID)
    });

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| connection::start(chat));

    // Follow the URL: the room in it is the room on screen.
    Effect::new(move |_| {
        let room = room_id.get();
        chat.current.set(room);
        if chat.status.get_untracked() == Status::Online {
            chat.open_room(room);
        }
    });

    // Mutes end by themselves: move `now` past the soonest end so the composer's notice and
    // the members' "muted" go away then. (A timer, not a tick every few seconds: nothing
    // re-renders while no mute is about to end.)
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let seen = chat.now.get();
        let ends = chat.mute_ends();
        let now = state::now_ms();
        // A mute the screen still shows may have ended already (the tab slept): refresh at once.
        let delay = if ends.iter().any(|&end| end > seen && end <= now) {
            Some(0)
        } else {
            ends.into_iter()
                .filter(|&end| end > now)
                .min()
                .map(|end| end - now + 50)
        };
        if let Some(delay) = delay {
            // setTimeout takes at most 2^31 - 1 ms (about 24 days); a longer mute waits again.
            let delay = delay.clamp(0, i64::from(i32::MAX)) as u64;
            if let Ok(timer) = set_timeout_with_handle(
                move || chat.now.set(state::now_ms()),
                std::time::Duration::from_millis(delay),
            ) {
                on_cleanup(move || timer.clear());
            }
        }
    });

    // On a phone the room list and the members are drawers: one open at a time, closed again
    // once a room is chosen.
    let drawer = RwSignal::new(None::<Drawer>);
    Effect::new(move |_| {
        let _ = room_id.get();
        drawer.set(None);
    });

    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(path) = chat.go_to.get() {
            chat.go_to.set(None);
            navigate(&path, Default::default());
        }
    });

    view! {
        <div
            class="chat"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    drawer.set(None);
                }
            }
        >
            <header class="topbar">
                <DrawerButton which=Drawer::Rooms open=drawer/>
                <span class="brand">"Hearth"</span>
                <span class="status" role="status">{move || chat.status.get().text()}</span>
                <DrawerButton which=Drawer::Members open=drawer/>
                <SearchBox/>
                <crate::theme::DarkModeSwitch/>
                <notifications::Notifications/>
                <span class="whoami">{move || chat.me.get().map(|u| u.name)}</span>
                // The review, feedback, administration and account pages are server-rendered:
                // leave the app for them.
                <a class="admin-link" href="/feedback" rel="external">
                    "Feedback"
                    {move || {
                        let unread = chat.feedback_unread.get();
                        (unread > 0)
                            .then(|| {
                                view! { " " <span class="feedback-count">"(" {unread} ")"</span> }
                            })
                    }}
                </a>
                <Show when=move || chat.role.get().is_staff()>
                    <a class="admin-link" href="/review" rel="external">
                        "Review"
                    </a>
                </Show>
                <Show when=move || chat.role.get() == Role::Admin>
                    <a class="admin-link" href="/admin" rel="external">
                        "Admin"
                    </a>
                </Show>
                <a class="admin-link" href="/account" rel="external">
                    "Account"
                </a>
                <form
                    method="post"
                    action="/auth/logout"
                    class="signout"
                    on:submit=move |_| chat.leaving.set_value(true)
                >
                    <button type="submit">"Sign out"</button>
                </form>
            </header>
            <SearchResults/>
            {move || {
                chat.notice
                    .get()
                    .map(|text| {
                        view! {
                            <p class="notice" role="alert">
                                {text}
                                <button class="dismiss" on:click=move |_| chat.notice.set(None)>
                                    "Dismiss"
                                </button>
                            </p>
                        }
                    })
            }}
            <div class="panes">
                <div id="rooms-drawer" class="drawer" class:open=move || drawer.get() == Some(Drawer::Rooms)>
                    <Sidebar/>
                </div>
                <RoomView room=room_id/>
                <div
                    id="members-drawer"
                    class="drawer members-drawer"
                    class:open=move || drawer.get() == Some(Drawer::Members)
                >
                    <Members room=room_id/>
                </div>
                <Show when=move || drawer.get().is_some()>
                    <div class="backdrop" on:click=move |_| drawer.set(None)></div>
                </Show>
            </div>
        </div>
    }
}
