//! Abuse limits: password guessing, sign-up floods, message floods, room churn and socket
//! hoarding each meet a clear refusal, and nothing else is lost.

use std::time::Duration;

use crate::support::cluster::Cluster;
use crate::support::{TestServer, WAIT, session_cookie, text_of};
use app::protocol::{CLOSE_TOO_MANY_SOCKETS, ClientFrame, ErrorCode, LOBBY_ID, ServerFrame};

#[tokio::test]
async fn guessing_a_password_is_refused_after_ten_failures_with_retry_after() {
    let server = TestServer::start().await;
    server.register("alice").await;
    for _ in 0..10 {
        let wrong = server
            .post_form("/auth/login", "alice", "wrong guess")
            .await;
        assert_eq!(wrong.status(), 303);
    }
    let throttled = server
        .post_form("/auth/login", "alice", "wrong guess")
        .await;
    assert_eq!(throttled.status(), 429);
    let retry: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=90).contains(&retry), "Retry-After {retry}");
    let page = throttled.text().await.unwrap();
    assert!(
        page.contains("Too many attempts; try again in 2 minutes"),
        "{page}"
    );

    // Even the right password waits: the guesser must not learn it by trying it now.
    let right = server
        .post_form("/auth/login", "alice", "correct horse battery")
        .await;
    assert_eq!(right.status(), 429);
    // Another account is not locked by alice's guesses.
    server.register("bob").await;
    let bob = server
        .post_form("/auth/login", "bob", "correct horse battery")
        .await;
    assert!(session_cookie(&bob).is_some());
}

#[tokio::test]
async fn one_address_may_fail_sign_in_only_so_often_across_accounts() {
    let server = TestServer::start_with(|c| c.sign_in_failures_per_address = 5).await;
    for n in 0..5 {
        let wrong = server
            .post_form("/auth/login", &format!("nobody{n}"), "wrong guess")
            .await;
        assert_eq!(wrong.status(), 303);
    }
    let throttled = server.post_form("/auth/login", "nobody9", "x").await;
    assert_eq!(throttled.status(), 429);
}

#[tokio::test]
async fn one_address_may_make_only_so_many_accounts_an_hour() {
    let server = TestServer::start_with(|c| c.sign_ups_per_hour = 3).await;
    for name in ["a1", "a2", "a3"] {
        server.register(name).await;
    }
    let fourth = server
        .post_form("/auth/register", "a4", "correct horse battery")
        .await;
    assert_eq!(fourth.status(), 429);
    assert!(fourth.headers().contains_key("retry-after"));
    assert!(session_cookie(&fourth).is_none());
    assert_eq!(
        server
            .sql_number("SELECT COUNT(*) FROM users WHERE username = 'a4'")
            .await,
        0
    );
}

#[tokio::test]
async fn nodes_sharing_a_redis_share_the_sign_up_limit() {
    let cluster = Cluster::start_with(|c| c.sign_ups_per_hour = 2).await;
    let (a, b) = (&cluster.a, &cluster.b);
    a.register("s1").await;
    a.register("s2").await;
    let third = b
        .post_form("/auth/register", "s3", "correct horse battery")
        .await;
    assert_eq!(third.status(), 429, "the other node knows of both sign-ups");
    let retry: u64 = third.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1800).contains(&retry), "Retry-After {retry}");
    assert!(session_cookie(&third).is_none());
    let fourth = a
        .post_form("/auth/register", "s4", "correct horse battery")
        .await;
    assert_eq!(fourth.status(), 429);
}

#[tokio::test]
async fn password_guesses_on_two_nodes_count_together() {
    // Per account only: the per-address limit, counted apart, must not be what refuses.
    let cluster = Cluster::start_with(|c| {
        c.sign_in_failures = 4;
        c.sign_in_failures_per_address = 0;
    })
    .await;
    let (a, b) = (&cluster.a, &cluster.b);
    for server in [a, b, a, b] {
        let wrong = server
            .post_form("/auth/login", "alice", "wrong guess")
            .await;
        assert_eq!(wrong.status(), 303);
    }
    for server in [a, b] {
        let throttled = server
            .post_form("/auth/login", "alice", "wrong guess")
            .await;
        assert_eq!(throttled.status(), 429);
    }
}

#[tokio::test]
async fn when_redis_goes_down_people_can_still_sign_up() {
    let mut cluster = Cluster::start_with(|c| c.sign_ups_per_hour = 2).await;
    cluster.a.register("r1").await;
    cluster.redis.kill();
    let server = &cluster.a;
    // The node counts on its own meanwhile: it never saw r1 counted, so two more may come.
    server.register("r2").await;
    server.register("r3").await;
    let fourth = server
        .post_form("/auth/register", "r4", "correct horse battery")
        .await;
    assert_eq!(fourth.status(), 429, "and it still limits");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit() {
    let server = TestServer::start_with(|c| {
        c.sign_ups_per_hour = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let sign_up = |name: &'static str, from: &'static str| {
        server
            .http()
            .post(format!("{}/auth/register", server.base))
            .header("origin", &server.origin)
            .header("x-forwarded-for", from)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username={name}&password=correct%20horse%20battery"
            ))
            .send()
    };
    assert_eq!(sign_up("p1", "203.0.113.1").await.unwrap().status(), 303);
    assert_eq!(sign_up("p2", "203.0.113.2").await.unwrap().status(), 303);
    assert_eq!(sign_up("p3", "203.0.113.1").await.unwrap().status(), 429);
}

#[tokio::test]
async fn a_message_flood_is_refused_with_a_retry_time_and_the_flooder_is_not_read_meanwhile() {
    let server = TestServer::start_with(|c| {
        c.message_burst = 5;
        c.messages_per_second = 2.0;
    })
    .await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    for n in 0..8 {
        alice
            .send(&ClientFrame::Send {
                room: LOBBY_ID,
                text: format!("flood {n}"),
                nonce: Some(format!("n{n}")),
            })
            .await;
    }
    let mut sent = Vec::new();
    let mut limited = Vec::new();
    while sent.len() + limited.len() < 8 {
        match alice.next().await {
            ServerFrame::Sent { nonce, .. } => sent.push(nonce),
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                nonce,
                until,
                message,
                ..
            } => {
                assert!(until.is_some(), "says when to try again");
                assert!(message.contains("too fast"), "{message}");
                limited.push(nonce.unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(
        sent[..5],
        ["n0", "n1", "n2", "n3", "n4"],
        "the burst goes through"
    );
    assert_eq!(limited[0], "n5", "the next is refused");
    // After a refusal the server reads nothing from alice until her next message may go: the
    // frame after the refusal finds the limit ready for one more.
    assert_eq!(sent[5..], ["n6"]);
    assert_eq!(limited[1..], ["n7"]);
    // Bob got exactly the six that were accepted.
    let mut heard = Vec::new();
    while heard.len() < 6 {
        if let Some(message) = text_of(bob.next().await) {
            heard.push(message.text);
        }
    }
    assert_eq!(
        heard,
        [
            "flood 0", "flood 1", "flood 2", "flood 3", "flood 4", "flood 6"
        ]
    );
    assert!(
        bob.drain(Duration::from_millis(300))
            .await
            .into_iter()
            .all(|f| text_of(f).is_none())
    );
    // The sustained rate lets the next one through after a pause.
    tokio::time::sleep(Duration::from_millis(600)).await;
    alice.say(LOBBY_ID, "after a pause").await;
}

#[tokio::test]
async fn creating_and_renaming_rooms_is_limited_per_person() {
    let server = TestServer::start_with(|c| c.room_changes_per_hour = 2).await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let room = alice.create_room("one").await;
    alice
        .send(&ClientFrame::RenameRoom {
            room,
            name: "uno".into(),
        })
        .await;
    let third = alice
        .outcome(&ClientFrame::CreateRoom {
            name: "three".into(),
            visibility: app::protocol::Visibility::Public,
        })
        .await;
    assert_eq!(third, Some(ErrorCode::RateLimited));
}

#[tokio::test]
async fn an_account_may_open_only_so_many_sockets() {
    let server = TestServer::start_with(|c| c.sockets_per_user = 3).await;
    let cookie = server.register("alice").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.connect(&cookie).await);
    }
    let mut fourth = server
        .open_socket(Some(&cookie), Some(&server.origin))
        .await
        .unwrap();
    fourth
        .send(&ClientFrame::Hello {
            protocol: app::protocol::PROTOCOL_VERSION,
            resume_after: None,
            changes_after: None,
        })
        .await;
    let close = fourth.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), CLOSE_TOO_MANY_SOCKETS);
    assert!(close.reason.contains("at most 3"), "{}", close.reason);
    // Closing one makes room for another.
    open.pop().unwrap().close().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = tokio::time::timeout(WAIT, server.connect(&cookie)).await;
    assert!(again.is_ok());
}

#[tokio::test]
async fn a_school_of_accounts_comes_in_pages_not_one_frame() {
    use app::protocol::PEOPLE_PAGE;
    let server = TestServer::start().await;
    let cookie = server.register("aaron").await;
    // Accounts made directly in the database: signing 250 people up would take minutes.
    server
        .sql(&format!(
            "INSERT INTO users (username, username_key, password_hash, created_at) VALUES {}",
            (1..=250)
                .map(|i| format!("('pupil{i:03}', 'pupil{i:03}-key', 'x', 0)"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await;
    server
        .sql("INSERT INTO memberships (room_id, user_id) SELECT 1, id FROM users WHERE username LIKE 'pupil%'")
        .await;
    let mut aaron = server.connect(&cookie).await;
    aaron.send(&ClientFrame::ListUsers).await;
    let (first, more) = aaron
        .expect(|f| match f {
            ServerFrame::Users { users, more } => Some((users, more)),
            _ => None,
        })
        .await;
    assert_eq!(first.len(), PEOPLE_PAGE);
    assert!(more);
    assert_eq!(first[0].name, "aaron");
    aaron
        .send(&ClientFrame::MoreUsers {
            after: first.last().unwrap().name.clone(),
        })
        .await;
    let (rest, more) = aaron
        .expect(|f| match f {
            ServerFrame::MoreUsers { users, more } => Some((users, more)),
            _ => None,
        })
        .await;
    assert!(!more);
    assert_eq!(first.len() + rest.len(), 251, "everyone once");
    assert_eq!(rest.last().unwrap().name, "pupil250");

    aaron.send(&ClientFrame::Members { room: LOBBY_ID }).await;
    let (members, more) = aaron
        .expect(|f| match f {
            ServerFrame::Members { members, more, .. } => Some((members, more)),
            _ => None,
        })
        .await;
    assert_eq!((members.len(), more), (PEOPLE_PAGE, true));
    aaron
        .send(&ClientFrame::MoreMembers {
            room: LOBBY_ID,
            after: members.last().unwrap().name.clone(),
        })
        .await;
    let (rest, online, more) = aaron
        .expect(|f| match f {
            ServerFrame::MoreMembers {
                members,
                online,
                more,
                ..
            } => Some((members, online, more)),
            _ => None,
        })
        .await;
    assert_eq!((members.len() + rest.len(), more), (251, false));
    assert!(online.is_empty(), "the pupils are offline");
}
