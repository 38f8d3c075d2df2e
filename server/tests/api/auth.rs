//! Signing in: accounts, sessions, and who may open the chat socket.

use crate::support::{TestServer, session_cookie};
use app::protocol::{ClientFrame, PROTOCOL_VERSION, Role, ServerFrame};
use tokio_tungstenite::tungstenite::Error as WsError;

/// The HTTP status of a refused WebSocket upgrade.
fn refused(attempt: Result<crate::support::Client, WsError>) -> u16 {
    match attempt {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, but the socket opened"),
    }
}

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
        Some(ServerFrame::Welcome {
            role: Role::Admin,
            ..
        })
    ));
    assert!(matches!(
        second.welcome,
        Some(ServerFrame::Welcome {
            role: Role::Member,
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
    assert_eq!(
        refused(
            server
                .open_socket(Some(&cookie), Some(&server.origin))
                .await
        ),
        401
    );
}

#[tokio::test]
async fn the_socket_needs_a_session() {
    let server = TestServer::start().await;
    assert_eq!(
        refused(server.open_socket(None, Some(&server.origin)).await),
        401
    );
    assert_eq!(
        refused(
            server
                .open_socket(Some("hearth_session=forged"), Some(&server.origin))
                .await
        ),
        401
    );
}

#[tokio::test]
async fn the_socket_refuses_other_origins() {
    let server = TestServer::start().await;
    let cookie = server.register("alice").await;
    for origin in [Some("http://evil.example"), None] {
        assert_eq!(
            refused(server.open_socket(Some(&cookie), origin).await),
            403
        );
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

#[tokio::test]
async fn usernames_and_passwords_out_of_bounds_are_refused_at_sign_up() {
    let server = TestServer::start().await;
    let too_long = server
        .post_form("/auth/register", &"n".repeat(33), "correct horse battery")
        .await;
    assert_eq!(location(&too_long), "/login?error=username");
    let spaced = server
        .post_form("/auth/register", "two words", "correct horse battery")
        .await;
    assert_eq!(location(&spaced), "/login?error=username");
    let short = server.post_form("/auth/register", "alice", "short").await;
    assert_eq!(location(&short), "/login?error=password");
    assert!(session_cookie(&too_long).is_none() && session_cookie(&short).is_none());
    // Exactly 32 characters is fine.
    server.register(&"n".repeat(32)).await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_and_host_only_behind_an_https_proxy() {
    let server = TestServer::start().await;
    let response = server
        .http()
        .post(format!("{}/auth/register", server.base))
        .header("origin", &server.origin)
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=alice&password=correct%20horse%20battery")
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.starts_with("__Host-hearth_session="), "{cookie}");
    assert!(
        cookie.contains("Path=/;") && !cookie.contains("Domain"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_configured_origin_may_connect() {
    let allowed = "https://chat.example.org";
    let server =
        TestServer::start_with(|config| config.allowed_origins = vec![allowed.into()]).await;
    let cookie = server.register("alice").await;
    let mut client = server
        .open_socket(Some(&cookie), Some(allowed))
        .await
        .unwrap();
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            resume_after: None,
            changes_after: None,
        })
        .await;
    assert!(matches!(client.next().await, ServerFrame::Welcome { .. }));
    assert_eq!(
        refused(
            server
                .open_socket(Some(&cookie), Some("https://other.example.org"))
                .await
        ),
        403
    );
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_with_a_fresh_nonce() {
    let server = TestServer::start().await;
    let get = || server.http().get(format!("{}/login", server.base)).send();
    let (first, second) = (get().await.unwrap(), get().await.unwrap());
    let nonce_of = |response: &reqwest::Response| {
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap()
            .to_owned();
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["referrer-policy"], "same-origin");
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        nonce
    };
    let (a, b) = (nonce_of(&first), nonce_of(&second));
    assert_ne!(a, b, "a new nonce per response");
    assert!(
        first.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );
    let html = first.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{a}\"")),
        "the hydration script carries the header's nonce"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<script type=\"module\">"),
        "no script without the nonce"
    );
}

#[tokio::test]
async fn hsts_is_sent_over_https() {
    let server = TestServer::start_with(|c| c.secure_cookies = true).await;
    let response = server
        .http()
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}

#[tokio::test]
async fn next_after_sign_in_never_leads_to_another_site_or_an_error() {
    let server = TestServer::start().await;
    server.register("alice").await;
    for (next, expected) in [
        ("/rooms/1", "/rooms/1"),
        ("/\t/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/rooms/1\nSet-Cookie: x=y", "/"),
        ("https://evil.example", "/"),
    ] {
        let response = server
            .http()
            .post(format!("{}/auth/login", server.base))
            .header("origin", &server.origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username=alice&password=correct%20horse%20battery&next={}",
                crate::support::encode(next)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "next {next:?}");
        assert_eq!(location(&response), expected, "next {next:?}");
    }
}
