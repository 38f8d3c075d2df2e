//! Signing in: accounts, sessions, and who may open the chat socket.

use crate::support::{TestServer, session_cookie};
use app::protocol::ServerFrame;
use tokio_tungstenite::tungstenite::Error as WsError;

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_first_account_is_the_administrator() {
    let server = TestServer::start().await;
    let first = server.connect(&server.register("first").await).await;
    let second = server.connect(&server.register("second").await).await;
    assert!(matches!(
        first.welcome,
        Some(ServerFrame::Welcome { is_admin: true, .. })
    ));
    assert!(matches!(
        second.welcome,
        Some(ServerFrame::Welcome {
            is_admin: false,
            ..
        })
    ));
}

#[tokio::test]
async fn usernames_are_unique_ignoring_case() {
    let server = TestServer::start().await;
    server.register("Alice").await;
    let response = server
        .post_form("/auth/register", "aLICE", "another password")
        .await;
    assert!(session_cookie(&response).is_none());
    assert_eq!(location(&response), "/login?error=taken");
}

#[tokio::test]
async fn wrong_username_and_wrong_password_get_the_same_answer() {
    let server = TestServer::start().await;
    server.register("alice").await;
    let wrong_password = server
        .post_form("/auth/login", "alice", "not the password")
        .await;
    let wrong_user = server
        .post_form("/auth/login", "nobody", "correct horse battery")
        .await;
    assert_eq!(location(&wrong_password), "/login?error=credentials");
    assert_eq!(location(&wrong_user), location(&wrong_password));
    assert!(session_cookie(&wrong_password).is_none() && session_cookie(&wrong_user).is_none());

    let right = server
        .post_form("/auth/login", "ALICE", "correct horse battery")
        .await;
    assert!(
        session_cookie(&right).is_some(),
        "sign-in ignores the case of the name"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let server = TestServer::start().await;
    let response = server
        .post_form("/auth/register", "alice", "correct horse battery")
        .await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http is not Secure: {cookie}"
    );
}

#[tokio::test]
async fn chat_pages_send_signed_out_visitors_to_sign_in_and_back() {
    let server = TestServer::start().await;
    let response = server
        .http()
        .get(format!("{}/rooms/1", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?next=/rooms/1");

    let page = server
        .http()
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for needle in ["Username", "Password", "Sign in", "Create account"] {
        assert!(html.contains(needle), "the sign-in page shows {needle}");
    }
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let server = TestServer::start().await;
    let cookie = server.register("alice").await;
    let response = server
        .http()
        .post(format!("{}/auth/logout", server.base))
        .header("cookie", &cookie)
        .header("origin", &server.origin)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/login");
    match server
        .open_socket(Some(&cookie), Some(&server.origin))
        .await
    {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn the_socket_needs_a_session() {
    let server = TestServer::start().await;
    match server.open_socket(None, Some(&server.origin)).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    match server
        .open_socket(Some("hearth_session=forged"), Some(&server.origin))
        .await
    {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn the_socket_refuses_other_origins() {
    let server = TestServer::start().await;
    let cookie = server.register("alice").await;
    for origin in [Some("http://evil.example"), None] {
        match server.open_socket(Some(&cookie), origin).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
            other => panic!("expected 403 for {origin:?}, got {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test]
async fn forms_from_other_origins_are_refused() {
    let server = TestServer::start().await;
    let response = server
        .http()
        .post(format!("{}/auth/register", server.base))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=mallory&password=correct%20horse")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}
