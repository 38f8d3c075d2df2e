//! Feedback on a message and grades: a teacher gives them, the author gets them live and on
//! /feedback, and no other student ever sees them.

use std::time::Duration;

use app::protocol::{ClientFrame, ErrorCode, LOBBY_ID, Role, ServerFrame};

use crate::support::{Client, TestServer, encode};

fn unread_in_welcome(client: &Client) -> u32 {
    match &client.welcome {
        Some(ServerFrame::Welcome {
            feedback_unread, ..
        }) => *feedback_unread,
        _ => panic!("no welcome"),
    }
}

async fn history(client: &mut Client, room: i64) -> Vec<app::protocol::ChatMessage> {
    client
        .send(&ClientFrame::History { room, before: None })
        .await;
    client
        .expect(|f| match f {
            ServerFrame::History { messages, .. } => Some(messages),
            _ => None,
        })
        .await
}

fn about_feedback(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::FeedbackGiven { .. } | ServerFrame::FeedbackUnread { .. }
    )
}

#[tokio::test]
async fn feedback_reaches_its_author_live_and_no_other_student() {
    let server = TestServer::start().await;
    let admin = server.register("admin").await;
    let teacher_cookie = server.register("teacher").await;
    let alice_cookie = server.register("alice").await;
    let bob_cookie = server.register("bob").await;
    let mut teacher = server.connect(&teacher_cookie).await;
    server
        .set_role(&admin, teacher.me().id, Role::Teacher)
        .await;
    let mut alice = server.connect(&alice_cookie).await;
    let mut bob = server.connect(&bob_cookie).await;
    assert_eq!(unread_in_welcome(&alice), 0);
    let id = alice.say(LOBBY_ID, "Photosynthesis makes sugar").await;

    teacher
        .send(&ClientFrame::GiveFeedback {
            message: id,
            text: "Good — and what does it need?".into(),
        })
        .await;
    let marked = alice
        .expect(|f| match f {
            ServerFrame::FeedbackGiven { room, message } => Some((room, message)),
            _ => None,
        })
        .await;
    assert_eq!(marked, (LOBBY_ID, id));
    let count = alice
        .expect(|f| match f {
            ServerFrame::FeedbackUnread { count } => Some(count),
            _ => None,
        })
        .await;
    assert_eq!(count, 1);
    // The teacher's own tabs mark the message too.
    teacher
        .expect(|f| {
            matches!(f, ServerFrame::FeedbackGiven { message, .. } if message == id).then_some(())
        })
        .await;
    // Bob, in the same room, hears nothing of it.
    let heard = bob.drain(Duration::from_millis(300)).await;
    assert!(!heard.iter().any(about_feedback), "{heard:?}");

    // The marker: on Alice's history and the teacher's, never on Bob's.
    let marker = |messages: Vec<app::protocol::ChatMessage>| {
        messages.into_iter().find(|m| m.id == id).unwrap().feedback
    };
    assert!(marker(history(&mut alice, LOBBY_ID).await));
    assert!(marker(history(&mut teacher, LOBBY_ID).await));
    assert!(!marker(history(&mut bob, LOBBY_ID).await));

    // Bob's feedback page does not show it; Alice's does, with the quoted message.
    let bobs = server.page("/feedback", &bob_cookie).await;
    assert!(!bobs.contains("what does it need") && !bobs.contains("Photosynthesis"));
    let alice_again = server.connect(&alice_cookie).await;
    assert_eq!(unread_in_welcome(&alice_again), 1);
    let page = server.page("/feedback", &alice_cookie).await;
    assert!(page.contains("<h1>Feedback</h1>"));
    assert!(page.contains("Good — and what does it need?"));
    assert!(page.contains("<blockquote>Photosynthesis makes sugar</blockquote>"));
    assert!(page.contains("From teacher"));
    // Reading it clears the count in every tab.
    let count = alice
        .expect(|f| match f {
            ServerFrame::FeedbackUnread { count } => Some(count),
            _ => None,
        })
        .await;
    assert_eq!(count, 0);
    assert_eq!(unread_in_welcome(&server.connect(&alice_cookie).await), 0);
}

#[tokio::test]
async fn students_cannot_give_feedback_nor_grades() {
    let server = TestServer::start().await;
    let _admin = server.register("admin").await;
    let alice_cookie = server.register("alice").await;
    let bob_cookie = server.register("bob").await;
    let mut alice = server.connect(&alice_cookie).await;
    let mut bob = server.connect(&bob_cookie).await;
    let id = alice.say(LOBBY_ID, "my answer").await;
    let frame = ClientFrame::GiveFeedback {
        message: id,
        text: "lol".into(),
    };
    assert_eq!(bob.outcome(&frame).await, Some(ErrorCode::Forbidden));
    let form = server
        .post(
            "/review/feedback",
            &bob_cookie,
            &format!("message={id}&text=lol&back=%2Freview"),
        )
        .await;
    assert_eq!(form.status(), 403);
    let grade = server
        .post(
            "/review/grade",
            &bob_cookie,
            &format!("room={LOBBY_ID}&user={}&grade=F&comment=", alice.me().id),
        )
        .await;
    assert_eq!(grade.status(), 403);
    assert_eq!(
        server.sql_number("SELECT COUNT(*) FROM feedback").await
            + server.sql_number("SELECT COUNT(*) FROM grades").await,
        0
    );
    let heard = alice.drain(Duration::from_millis(200)).await;
    assert!(!heard.iter().any(about_feedback));
}

#[tokio::test]
async fn feedback_from_the_review_page_and_bad_feedback_is_refused_clearly() {
    let server = TestServer::start().await;
    let admin_cookie = server.register("admin").await;
    let alice_cookie = server.register("alice").await;
    let mut alice = server.connect(&alice_cookie).await;
    let id = alice.say(LOBBY_ID, "2 + 2 = 5").await;

    let sent = server
        .post(
            "/review/feedback",
            &admin_cookie,
            &format!(
                "message={id}&text={}&back=%2Freview%3Froom%3D1",
                encode("Check again")
            ),
        )
        .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(sent.headers()["location"], "/review?room=1&saved=feedback");
    let page = server
        .page("/review?room=1&saved=feedback", &admin_cookie)
        .await;
    assert!(page.contains("Feedback sent."));
    assert!(page.contains("Feedback from admin"));
    alice
        .expect(|f| {
            matches!(f, ServerFrame::FeedbackGiven { message, .. } if message == id).then_some(())
        })
        .await;

    // Empty, too long, on a notice, on nothing: each refused with its reason, nothing stored.
    let mut admin = server.connect(&admin_cookie).await;
    let too_long = "x".repeat(app::names::MAX_FEEDBACK + 1);
    let notice = server
        .sql_number("SELECT MIN(id) FROM messages WHERE kind = 'joined'")
        .await;
    for (message, text, code) in [
        (id, "  ", ErrorCode::Invalid),
        (id, too_long.as_str(), ErrorCode::Invalid),
        (notice, "hi", ErrorCode::Invalid),
        (999_999, "hi", ErrorCode::NotFound),
    ] {
        let frame = ClientFrame::GiveFeedback {
            message,
            text: text.into(),
        };
        assert_eq!(
            admin.outcome(&frame).await,
            Some(code),
            "{message} {text:.10}"
        );
    }
    assert_eq!(server.sql_number("SELECT COUNT(*) FROM feedback").await, 1);
}

#[tokio::test]
async fn a_grade_shows_on_the_students_own_feedback_page_only() {
    let server = TestServer::start().await;
    let admin_cookie = server.register("admin").await;
    let alice_cookie = server.register("alice").await;
    let bob_cookie = server.register("bob").await;
    let alice = server.connect(&alice_cookie).await;
    let alice_id = alice.me().id;

    let saved = server
        .post(
            "/review/grade",
            &admin_cookie,
            &format!(
                "room={LOBBY_ID}&user={alice_id}&grade=8%2F10&comment={}&back=%2Freview%3Froom%3D1",
                encode("Thoughtful questions")
            ),
        )
        .await;
    assert_eq!(saved.headers()["location"], "/review?room=1&saved=alice");
    let review = server.page("/review?room=1", &admin_cookie).await;
    assert!(review.contains("value=\"8/10\"") && review.contains("value=\"Thoughtful questions\""));

    let page = server.page("/feedback", &alice_cookie).await;
    assert!(page.contains("8/10") && page.contains("Thoughtful questions"));
    let bobs = server.page("/feedback", &bob_cookie).await;
    assert!(!bobs.contains("8/10") && !bobs.contains("Thoughtful"));

    // A grade of more than 32 characters is refused with the reason.
    let refused = server
        .post(
            "/review/grade",
            &admin_cookie,
            &format!(
                "room={LOBBY_ID}&user={alice_id}&grade={}&comment=&back=%2Freview",
                "A".repeat(33)
            ),
        )
        .await;
    let location = refused.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/review?error="), "{location}");
    let page = server.page("/feedback", &alice_cookie).await;
    assert!(page.contains("8/10"));
}
