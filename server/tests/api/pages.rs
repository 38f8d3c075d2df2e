//! The app's pages as the server renders them, before any script runs.

use crate::support::TestServer;

#[tokio::test]
async fn the_chat_and_sign_in_pages_are_rendered_on_the_server_with_their_title() {
    let server = TestServer::start().await;
    let cookie = server.register("alice").await;
    let chat = server.page("/rooms/1", &cookie).await;
    assert!(chat.contains("<title>Hearth</title>"), "{chat}");
    assert!(chat.contains("aria-label=\"Search messages\""), "{chat}");
    // A room address that is not a number still gets a page (the lobby's).
    let odd = server.page("/rooms/abc", &cookie).await;
    assert!(odd.contains("<title>Hearth</title>"), "{odd}");
    let sign_in = server.page("/login", "").await;
    assert!(sign_in.contains("<title>Hearth</title>"), "{sign_in}");
}

#[tokio::test]
async fn every_page_is_rendered_in_the_theme_the_person_chose() {
    let server = TestServer::start().await;
    let cookie = server.register("alice").await;
    let dark = format!("{cookie}; hearth_theme=dark");
    for path in ["/rooms/1", "/account", "/feedback"] {
        let page = server.page(path, &dark).await;
        assert!(
            page.contains("<html lang=\"en\" data-theme=\"dark\""),
            "{path}: {page}"
        );
        // Without a choice, the page follows the system's setting.
        let page = server.page(path, &cookie).await;
        assert!(!page.contains("data-theme"), "{path}");
    }
    let sign_in = server.page("/login", "hearth_theme=light").await;
    assert!(sign_in.contains("<html lang=\"en\" data-theme=\"light\""));
}
