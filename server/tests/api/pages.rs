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
