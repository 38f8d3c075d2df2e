//! Sessions and accounts: signing out (here or everywhere) and changing a password close the
//! sessions' sockets at once; the administrator disables accounts and sets passwords; sign-ups
//! can be by invitation only; the first administrator can be made from the command line.

use app::protocol::{CLOSE_DISABLED, CLOSE_SIGNED_OUT, LOBBY_ID, Role, ServerFrame};

use crate::support::{TestServer, session_cookie};

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn sign_in(server: &TestServer, name: &str, password: &str) -> Option<String> {
    session_cookie(&server.post_form("/auth/login", name, password).await)
}

/// Alice signed up on her laptop and signed in on her phone: two sessions' cookies.
async fn two_sessions(server: &TestServer) -> (String, String) {
    let laptop = server.register("alice").await;
    let phone = sign_in(server, "alice", "correct horse battery")
        .await
        .unwrap();
    (laptop, phone)
}

#[tokio::test]
async fn signing_out_closes_that_sessions_sockets_at_once_and_no_others() {
    let server = TestServer::start().await;
    let (laptop, phone) = two_sessions(&server).await;
    let mut on_laptop = server.connect(&laptop).await;
    let mut on_phone = server.connect(&phone).await;
    let response = server.post("/auth/logout", &laptop, "").await;
    assert_eq!(location(&response), "/login");
    let close = on_laptop.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_SIGNED_OUT);
    // The phone's session is still alive and its socket still answers.
    on_phone.say(LOBBY_ID, "still here").await;
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let server = TestServer::start().await;
    let (laptop, phone) = two_sessions(&server).await;
    let mut on_laptop = server.connect(&laptop).await;
    let mut on_phone = server.connect(&phone).await;
    let response = server.post("/auth/logout-everywhere", &laptop, "").await;
    assert_eq!(location(&response), "/login");
    for socket in [&mut on_laptop, &mut on_phone] {
        let close = socket.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), CLOSE_SIGNED_OUT);
    }
    for cookie in [&laptop, &phone] {
        let page = server.get("/account", cookie).await;
        assert_eq!(location(&page), "/login?next=/account");
    }
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_only() {
    let server = TestServer::start().await;
    let here = server.register("alice").await;
    let elsewhere = sign_in(&server, "alice", "correct horse battery")
        .await
        .unwrap();
    let mut there = server.connect(&elsewhere).await;
    let mut mine = server.connect(&here).await;

    let wrong = server
        .post(
            "/account/password",
            &here,
            "current=nope&new=a%20new%20password",
        )
        .await;
    assert!(location(&wrong).starts_with("/account?error="));

    let done = server
        .post(
            "/account/password",
            &here,
            "current=correct%20horse%20battery&new=a%20new%20password",
        )
        .await;
    assert_eq!(location(&done), "/account?saved=password");
    let close = there.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_SIGNED_OUT);
    mine.say(LOBBY_ID, "this tab stays").await;
    assert!(
        sign_in(&server, "alice", "correct horse battery")
            .await
            .is_none()
    );
    assert!(sign_in(&server, "alice", "a new password").await.is_some());
    let page = server.page("/account?saved=password", &here).await;
    assert!(page.contains("Your password was changed"));
}

#[tokio::test]
async fn a_disabled_account_is_closed_at_once_and_cannot_sign_in() {
    let server = TestServer::start().await;
    let admin = server.register("admin").await;
    let alice_cookie = server.register("alice").await;
    let mut alice = server.connect(&alice_cookie).await;
    let id = alice.me().id;

    let page = server.page("/admin", &admin).await;
    assert!(page.contains("Disable alice"));
    assert!(page.contains("Set password for alice"));
    assert!(!page.contains("Disable admin"), "not one's own account");

    let response = server
        .post(&format!("/admin/accounts/{id}/disable"), &admin, "")
        .await;
    assert_eq!(
        location(&response),
        format!("/admin?done=disabled&account={id}")
    );
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_DISABLED);
    let refused = server
        .post_form("/auth/login", "alice", "correct horse battery")
        .await;
    assert_eq!(location(&refused), "/login?error=disabled");
    assert!(server.page("/admin", &admin).await.contains("Enable alice"));

    server
        .post(&format!("/admin/accounts/{id}/enable"), &admin, "")
        .await;
    assert!(
        sign_in(&server, "alice", "correct horse battery")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn the_administrator_sets_a_new_password_for_someone_who_lost_theirs() {
    let server = TestServer::start().await;
    let admin = server.register("admin").await;
    let alice_cookie = server.register("alice").await;
    let mut alice = server.connect(&alice_cookie).await;
    let id = alice.me().id;
    let response = server
        .post(
            &format!("/admin/accounts/{id}/password"),
            &admin,
            "password=brand%20new%20secret",
        )
        .await;
    assert_eq!(
        location(&response),
        format!("/admin?done=password&account={id}")
    );
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_SIGNED_OUT);
    assert!(
        sign_in(&server, "alice", "brand new secret")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn only_the_administrator_manages_accounts() {
    let server = TestServer::start().await;
    server.register("admin").await;
    let member = server.register("mallory").await;
    let bob = server.register("bob").await;
    let bob_id = server.connect(&bob).await.me().id;
    let response = server
        .post(&format!("/admin/accounts/{bob_id}/disable"), &member, "")
        .await;
    assert_eq!(response.status(), 403);
    assert!(
        sign_in(&server, "bob", "correct horse battery")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn with_invite_only_registration_a_class_signs_up_through_a_teachers_link() {
    let server = TestServer::start_with(|c| {
        c.registration = server::config::Registration::Invite;
    })
    .await;
    // The teacher comes from the command line (nobody can sign up yet).
    // SAFETY: no other test reads or writes HEARTH_PASSWORD.
    unsafe { std::env::set_var("HEARTH_PASSWORD", "correct horse battery") };
    let created = server::cli::admin(
        &server::Config::new("127.0.0.1:0".parse().unwrap(), server.db.url()),
        &server::config::AdminCommand::CreateUser {
            name: "teacher".into(),
            role: "teacher".into(),
        },
    )
    .await;
    assert!(created.unwrap().contains("teacher"));
    let uninvited = server
        .post_form("/auth/register", "student", "correct horse battery")
        .await;
    assert_eq!(location(&uninvited), "/login?error=invite");

    let teacher = sign_in(&server, "teacher", "correct horse battery")
        .await
        .unwrap();
    let made = server.post("/invites", &teacher, "from=account").await;
    let back = location(&made);
    let token = back
        .strip_prefix("/account?invite=")
        .expect(&back)
        .to_owned();
    let page = server.page(&back, &teacher).await;
    assert!(page.contains(&format!("/login?invite={token}")));

    for student in ["s1", "s2"] {
        let response = server
            .http()
            .post(format!("{}/auth/register", server.base))
            .header("origin", &server.origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username={student}&password=correct%20horse%20battery&invite={token}"
            ))
            .send()
            .await
            .unwrap();
        assert!(session_cookie(&response).is_some(), "{student} signed up");
    }
    let forged = server
        .http()
        .post(format!("{}/auth/register", server.base))
        .header("origin", &server.origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=s3&password=correct%20horse%20battery&invite=00ff")
        .send()
        .await
        .unwrap();
    assert_eq!(location(&forged), "/login?error=invite&invite=00ff");
}

#[tokio::test]
async fn the_administrator_makes_invite_links_on_the_admin_page() {
    let server = TestServer::start().await;
    let admin = server.register("admin").await;
    assert!(
        server
            .page("/admin", &admin)
            .await
            .contains("New invite link")
    );
    let made = server.post("/invites", &admin, "from=admin").await;
    let back = location(&made);
    let token = back.strip_prefix("/admin?invite=").expect(&back);
    let page = server.page(&back, &admin).await;
    assert!(page.contains(&format!("/login?invite={token}")));
    // A member may not.
    let member = server.register("bob").await;
    assert_eq!(server.post("/invites", &member, "").await.status(), 403);
}

#[tokio::test]
async fn closed_registration_refuses_every_sign_up() {
    let server =
        TestServer::start_with(|c| c.registration = server::config::Registration::Closed).await;
    let response = server
        .post_form("/auth/register", "alice", "correct horse battery")
        .await;
    assert_eq!(location(&response), "/login?error=closed");
}

#[tokio::test]
async fn a_first_sign_up_from_another_machine_does_not_become_administrator() {
    let server = TestServer::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let response = server
        .http()
        .post(format!("{}/auth/register", server.base))
        .header("origin", &server.origin)
        .header("x-forwarded-for", "198.51.100.7")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=claimer&password=correct%20horse%20battery")
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&response).unwrap();
    let claimer = server.connect(&cookie).await;
    assert!(matches!(
        claimer.welcome,
        Some(ServerFrame::Welcome {
            role: Role::Member,
            ..
        })
    ));
}
