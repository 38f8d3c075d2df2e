//! Names people see: usernames and room names are normalised (NFKC), refused with invisible or
//! text-direction characters, and refused when they only look like a name already taken.

use app::protocol::{ClientFrame, ErrorCode, Visibility};

use crate::support::{TestServer, session_cookie};

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn usernames_that_only_look_like_a_taken_one_are_refused() {
    let server = TestServer::start().await;
    server.register("name").await;
    for lookalike in ["n\u{0430}me", "NAME", "ｎａｍｅ"] {
        let response = server
            .post_form("/auth/register", lookalike, "correct horse battery")
            .await;
        assert!(
            session_cookie(&response).is_none(),
            "{lookalike:?} accepted"
        );
        assert_eq!(location(&response), "/login?error=taken", "{lookalike:?}");
    }
}

#[tokio::test]
async fn usernames_with_invisible_or_direction_characters_are_refused() {
    let server = TestServer::start().await;
    for hidden in ["name\u{200B}", "\u{202E}name", "na\u{2066}me"] {
        let response = server
            .post_form("/auth/register", hidden, "correct horse battery")
            .await;
        assert!(session_cookie(&response).is_none(), "{hidden:?} accepted");
        assert_eq!(location(&response), "/login?error=invisible", "{hidden:?}");
    }
}

#[tokio::test]
async fn a_fullwidth_username_is_stored_in_its_normal_form() {
    let server = TestServer::start().await;
    let cookie = server.register("ａｌｉｃｅ").await;
    let alice = server.connect(&cookie).await;
    assert_eq!(alice.me().name, "alice");
    assert!(
        session_cookie(
            &server
                .post_form("/auth/login", "alice", "correct horse battery")
                .await
        )
        .is_some()
    );
}

#[tokio::test]
async fn room_names_that_only_look_like_a_taken_one_are_refused() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    alice.create_room("chess").await;
    let create = |name: &str| ClientFrame::CreateRoom {
        name: name.into(),
        visibility: Visibility::Public,
    };
    assert_eq!(
        alice.outcome(&create("ch\u{0435}ss")).await,
        Some(ErrorCode::Conflict),
        "Cyrillic е"
    );
    assert_eq!(
        alice.outcome(&create("chess\u{200D}")).await,
        Some(ErrorCode::Invalid)
    );
    assert_eq!(
        alice.outcome(&create("象棋")).await,
        None,
        "Chinese names are fine"
    );
}
