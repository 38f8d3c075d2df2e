//! Bots: the administrator makes one on /admin and sees its token once; the bot connects with
//! `Authorization: Bearer <token>` (no cookie, no Origin) and chats as a member; a new token
//! or a revoked one closes its sockets and shuts the old token out.

use app::protocol::{CLOSE_SIGNED_OUT, LOBBY_ID, Role, ServerFrame};
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::support::{TestServer, encode, session_cookie, text_of};

/// The token on the page shown after making a bot or a new token.
fn token_on(page: &str) -> String {
    let start = page
        .find(r#"aria-label="API token">"#)
        .expect("a token on the page")
        + r#"aria-label="API token">"#.len();
    let end = start + page[start..].find('<').unwrap();
    page[start..end].to_owned()
}

/// The administrator (the first account) makes a bot named `name`; its token.
async fn create_bot(server: &TestServer, admin: &str, name: &str) -> String {
    let response = server
        .post("/admin/bots", admin, &format!("name={}", encode(name)))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("cache-control").unwrap(),
        "no-store",
        "the token must not be cached"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("{name} was created.")), "{page}");
    token_on(&page)
}

async fn bot_id(server: &TestServer, name: &str) -> i64 {
    server
        .sql_number(&format!("SELECT id FROM users WHERE username = '{name}'"))
        .await
}

fn refused_with(result: Result<crate::support::Client, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused otherwise: {other}"),
        Ok(_) => panic!("the socket opened"),
    }
}

#[tokio::test]
async fn a_bot_made_on_admin_connects_with_its_token_alone_and_chats_as_a_member() {
    let server = TestServer::start().await;
    let admin = server.register("alice").await;
    let token = create_bot(&server, &admin, "echo-bot").await;
    assert_eq!(token.len(), 64, "256 random bits as hex");

    // Shown once: not on /admin, and only its hash is stored.
    let accounts = server.page("/admin", &admin).await;
    assert!(accounts.contains("echo-bot"));
    assert!(!accounts.contains(&token));
    let stored = server
        .sql_number(&format!(
            "SELECT COUNT(*) FROM bots WHERE token_hash = '{token}'"
        ))
        .await;
    assert_eq!(stored, 0, "the token itself is never stored");

    let mut person = server.connect(&admin).await;
    let mut bot = server.connect_bot(&token).await;
    let Some(ServerFrame::Welcome { me, role, .. }) = bot.welcome.clone() else {
        unreachable!()
    };
    assert_eq!(me.name, "echo-bot");
    assert_eq!(role, Role::Member);
    assert!(bot.sidebar().iter().any(|room| room.id == LOBBY_ID));

    bot.say(LOBBY_ID, "Hello, I am a bot").await;
    let heard = person.expect(text_of).await;
    assert_eq!(heard.author.name, "echo-bot");
    assert_eq!(heard.text, "Hello, I am a bot");
}

#[tokio::test]
async fn revoking_a_bots_token_closes_its_sockets_and_refuses_it_after() {
    let server = TestServer::start().await;
    let admin = server.register("alice").await;
    let token = create_bot(&server, &admin, "echo-bot").await;
    let id = bot_id(&server, "echo-bot").await;
    let mut bot = server.connect_bot(&token).await;

    let response = server
        .post(&format!("/admin/bots/{id}/revoke"), &admin, "")
        .await;
    assert_eq!(
        response.headers().get("location").unwrap(),
        &format!("/admin?done=revoked&account={id}")
    );
    let close = bot.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_SIGNED_OUT);
    assert_eq!(refused_with(server.open_bot_socket(&token).await), 401);
    let page = server
        .page(&format!("/admin?done=revoked&account={id}"), &admin)
        .await;
    assert!(page.contains("echo-bot has no token now"), "{page}");
    assert!(page.contains("revoked"));
}

#[tokio::test]
async fn a_new_token_replaces_the_old_one_at_once() {
    let server = TestServer::start().await;
    let admin = server.register("alice").await;
    let old = create_bot(&server, &admin, "echo-bot").await;
    let id = bot_id(&server, "echo-bot").await;
    let mut on_old = server.connect_bot(&old).await;

    let response = server
        .post(&format!("/admin/bots/{id}/token"), &admin, "")
        .await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("echo-bot has a new token"), "{page}");
    let new = token_on(&page);
    assert_ne!(new, old);

    let close = on_old.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_SIGNED_OUT);
    assert_eq!(refused_with(server.open_bot_socket(&old).await), 401);
    let mut on_new = server.connect_bot(&new).await;
    on_new.say(LOBBY_ID, "back with a new token").await;
}

#[tokio::test]
async fn a_bot_cannot_sign_in_with_a_password_nor_connect_with_a_wrong_or_disabled_token() {
    let server = TestServer::start().await;
    let admin = server.register("alice").await;
    let token = create_bot(&server, &admin, "echo-bot").await;
    let id = bot_id(&server, "echo-bot").await;

    for password in ["", "!bot", "correct horse battery"] {
        let response = server.post_form("/auth/login", "echo-bot", password).await;
        assert_eq!(session_cookie(&response), None, "password {password:?}");
    }
    // Nor can the administrator give it one: /admin offers none, and the form is refused.
    let accounts = server.page("/admin", &admin).await;
    assert!(!accounts.contains("Set password for echo-bot"));
    let response = server
        .post(
            &format!("/admin/accounts/{id}/password"),
            &admin,
            "password=a+long+bot+passphrase",
        )
        .await;
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        location.contains(&encode("A bot has no password")),
        "{location}"
    );
    let response = server
        .post_form("/auth/login", "echo-bot", "a long bot passphrase")
        .await;
    assert_eq!(session_cookie(&response), None);

    let wrong = "0".repeat(64);
    assert_eq!(refused_with(server.open_bot_socket(&wrong).await), 401);
    assert_eq!(refused_with(server.open_bot_socket("").await), 401);

    server
        .post(&format!("/admin/accounts/{id}/disable"), &admin, "")
        .await;
    assert_eq!(refused_with(server.open_bot_socket(&token).await), 401);
    server
        .post(&format!("/admin/accounts/{id}/enable"), &admin, "")
        .await;
    server.connect_bot(&token).await;
}

#[tokio::test]
async fn only_the_administrator_makes_bots_and_their_names_follow_the_username_rules() {
    let server = TestServer::start().await;
    let admin = server.register("alice").await;
    let member = server.register("bob").await;

    let response = server.post("/admin/bots", &member, "name=sneaky-bot").await;
    assert_eq!(response.status(), 403);
    let bob = bot_id(&server, "bob").await;
    let response = server
        .post(&format!("/admin/bots/{bob}/token"), &member, "")
        .await;
    assert_eq!(response.status(), 403);
    let bots = server.sql_number("SELECT COUNT(*) FROM bots").await;
    assert_eq!(bots, 0);

    // A taken name (a person's, ignoring case), a name with a space, and a person who is not
    // a bot: each is refused with a reason, and nothing is made.
    for (body, reason) in [("name=BOB", "is taken"), ("name=two+words", "space")] {
        let response = server.post("/admin/bots", &admin, body).await;
        let location = response
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(location.starts_with("/admin?error="), "{body}: {location}");
        assert!(location.contains(&encode(reason)), "{body}: {location}");
    }
    let response = server
        .post(&format!("/admin/bots/{bob}/token"), &admin, "")
        .await;
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(location.contains(&encode("no such bot")), "{location}");
    assert_eq!(server.sql_number("SELECT COUNT(*) FROM bots").await, 0);
}
