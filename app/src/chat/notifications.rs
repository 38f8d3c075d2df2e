//! Browser notifications for mentions and direct messages, while the tab is hidden.
//!
//! The browser's permission is asked only when the person clicks "Turn on notifications"
//! (never on load); the button shows only while the browser has not been told yes or no.
//! Each room has one notification at a time (its tag): a newer message replaces it. Clicking
//! it brings the tab forward and opens the room.

use leptos::prelude::*;

use super::use_chat;

/// The header's "Turn on notifications" button, and the notifications themselves.
#[component]
pub fn Notifications() -> impl IntoView {
    let chat = use_chat();
    // "default", "granted" or "denied"; `None` on the server, before hydration, and in a
    // browser without notifications.
    let permission = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| permission.set(browser::permission()));
        Effect::new(move |_| {
            if let Some(attention) = chat.attention.get()
                && permission.get_untracked().as_deref() == Some("granted")
                && browser::tab_hidden()
            {
                browser::show(chat, &attention);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = chat;
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        browser::ask(permission);
    };
    view! {
        <Show when=move || permission.get().as_deref() == Some("default")>
            <button type="button" class="notify" on:click=ask>
                "Turn on notifications"
            </button>
        </Show>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use web_sys::{Notification, NotificationOptions, NotificationPermission};

    use crate::chat::state::{Attention, Chat};

    /// Whether this browser has notifications at all (some phones' browsers do not).
    fn supported() -> bool {
        web_sys::window().is_some_and(|window| {
            js_sys::Reflect::has(&window, &"Notification".into()).unwrap_or(false)
        })
    }

    pub fn permission() -> Option<String> {
        supported().then(|| {
            match Notification::permission() {
                NotificationPermission::Granted => "granted",
                NotificationPermission::Denied => "denied",
                _ => "default",
            }
            .to_owned()
        })
    }

    /// Asks the browser (this runs from the person's click), then shows the answer.
    pub fn ask(permission: RwSignal<Option<String>>) {
        if !supported() {
            return;
        }
        let answered = Closure::once_into_js(move || permission.set(self::permission()));
        if Notification::request_permission_with_permission_callback(answered.unchecked_ref())
            .is_err()
        {
            permission.set(self::permission());
        }
    }

    pub fn tab_hidden() -> bool {
        web_sys::window()
            .and_then(|window| window.document())
            .is_some_and(|document| document.hidden())
    }

    pub fn show(chat: Chat, attention: &Attention) {
        let options = NotificationOptions::new();
        options.set_body(&attention.body);
        options.set_tag(&format!("hearth-room-{}", attention.room));
        let Ok(notification) = Notification::new_with_options(&attention.title, &options) else {
            return;
        };
        let path = format!("/rooms/{}", attention.room);
        let shown = notification.clone();
        let open = Closure::once_into_js(move || {
            if let Some(window) = web_sys::window() {
                let _ = window.focus();
            }
            chat.go_to.set(Some(path));
            shown.close();
        });
        notification.set_onclick(Some(open.unchecked_ref()));
    }
}
