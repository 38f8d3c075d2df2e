//! Light and dark: the page follows the system's setting until the person flips the header's
//! "Dark mode" switch, which is remembered in a cookie so that the server renders the chosen
//! theme (`<html data-theme>`) and no page flashes the other one. The colours are the
//! stylesheet's (`light-dark()` in style/main.css).

use leptos::prelude::*;

/// The cookie that remembers the person's choice.
pub const COOKIE: &str = "hearth_theme";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The theme chosen in a `Cookie` header's value, if any.
    pub fn from_cookies(header: &str) -> Option<Theme> {
        header.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(())?;
            match value {
                "light" => Some(Theme::Light),
                "dark" => Some(Theme::Dark),
                _ => None,
            }
        })
    }
}

/// The theme the request's cookie chose, when the server renders a page.
pub fn requested() -> Option<Theme> {
    #[cfg(feature = "ssr")]
    {
        let parts = use_context::<http::request::Parts>()?;
        let cookies = parts.headers.get(http::header::COOKIE)?.to_str().ok()?;
        Theme::from_cookies(cookies)
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// The header's "Dark mode" switch.
#[component]
pub fn DarkModeSwitch() -> impl IntoView {
    let dark = RwSignal::new(requested() == Some(Theme::Dark));
    // In the browser: what the page shows now, chosen or the system's.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| dark.set(shown_dark()));
    let flip = move |_| {
        let now = !dark.get_untracked();
        dark.set(now);
        #[cfg(feature = "hydrate")]
        choose(if now { Theme::Dark } else { Theme::Light });
    };
    view! {
        <button
            type="button"
            role="switch"
            class="theme-switch"
            aria-checked=move || dark.get().to_string()
            on:click=flip
        >
            "Dark mode"
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn shown_dark() -> bool {
    let chosen = document()
        .document_element()
        .and_then(|html| html.get_attribute("data-theme"));
    match chosen.as_deref() {
        Some("dark") => true,
        Some("light") => false,
        _ => window()
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()
            .is_some_and(|query| query.matches()),
    }
}

#[cfg(feature = "hydrate")]
fn choose(theme: Theme) {
    use wasm_bindgen::JsCast;
    if let Some(html) = document().document_element() {
        let _ = html.set_attribute("data-theme", theme.as_str());
    }
    if let Ok(document) = document().dyn_into::<web_sys::HtmlDocument>() {
        let _ = document.set_cookie(&format!(
            "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            theme.as_str()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_is_read_from_the_cookies() {
        assert_eq!(
            Theme::from_cookies("hearth_session=abc; hearth_theme=dark"),
            Some(Theme::Dark)
        );
        assert_eq!(
            Theme::from_cookies("hearth_theme=light"),
            Some(Theme::Light)
        );
        assert_eq!(Theme::from_cookies("hearth_theme=purple"), None);
        assert_eq!(Theme::from_cookies("xhearth_theme=dark"), None);
        assert_eq!(Theme::from_cookies(""), None);
    }
}
