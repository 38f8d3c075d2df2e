//! Searching messages: every room and conversation the person may read, and nothing else;
//! current texts only (earlier versions are for reviewers); Chinese and English; pages of
//! results; and the history pages that open a room around a found message.

use crate::support::{Client, TestServer, without_flood_limits};
use app::protocol::{
    ChatMessage, ClientFrame, ErrorCode, HISTORY_PAGE, LOBBY_ID, RoomSummary, SEARCH_PAGE,
    ServerFrame,
};

/// The messages found for `query` (the first page), newest first, with their rooms and
/// whether more follow.
async fn search(client: &mut Client, query: &str) -> (Vec<ChatMessage>, Vec<RoomSummary>, bool) {
    search_before(client, query, None).await
}

async fn search_before(
    client: &mut Client,
    query: &str,
    before: Option<i64>,
) -> (Vec<ChatMessage>, Vec<RoomSummary>, bool) {
    client
        .send(&ClientFrame::Search {
            query: query.into(),
            before,
        })
        .await;
    let asked = query.to_owned();
    client
        .expect(|f| match f {
            ServerFrame::SearchResults {
                query,
                messages,
                rooms,
                more,
                ..
            } if query == asked => Some((messages, rooms, more)),
            ServerFrame::Error { message, .. } => panic!("search refused: {message}"),
            _ => None,
        })
        .await
}

fn texts(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

#[tokio::test]
async fn search_finds_messages_in_every_room_one_may_read_and_nowhere_else() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let carol = server.connect(&server.register("carol").await).await;

    alice.say(LOBBY_ID, "homework in the lobby").await;
    let maths = alice.create_room("maths").await;
    alice.say(maths, "homework in maths").await;
    let secret = alice.create_private_room("secret").await;
    alice.say(secret, "homework in secret").await;
    let direct = alice.open_direct(carol.me().id).await;
    alice.say(direct, "homework for carol").await;
    let old = alice.create_room("old").await;
    alice.say(old, "homework in an archived room").await;
    alice.send(&ClientFrame::DeleteRoom { room: old }).await;
    alice
        .expect(|f| matches!(f, ServerFrame::RoomDeleted { .. }).then_some(()))
        .await;

    // Bob reads the lobby and the public room he has not joined; nothing private to others.
    let (found, rooms, more) = search(&mut bob, "homework").await;
    assert_eq!(
        texts(&found),
        ["homework in maths", "homework in the lobby"]
    );
    assert!(!more);
    let listed = rooms.iter().find(|r| r.id == maths).expect("maths listed");
    assert_eq!(listed.name, "maths");
    assert!(!listed.joined, "bob has not joined maths");
    assert!(rooms.iter().all(|r| r.id != secret && r.id != direct));

    // Alice finds her private room and her conversation too; an archived room never.
    let (found, rooms, _) = search(&mut alice, "homework").await;
    assert_eq!(
        texts(&found),
        [
            "homework for carol",
            "homework in secret",
            "homework in maths",
            "homework in the lobby"
        ]
    );
    let conversation = rooms.iter().find(|r| r.id == direct).unwrap();
    assert_eq!(conversation.name, "carol");

    // Once Bob is added to the private room, he finds it there too.
    alice.add_member(secret, "bob").await;
    let (found, _, _) = search(&mut bob, "secret").await;
    assert_eq!(texts(&found), ["homework in secret"]);
}

#[tokio::test]
async fn search_finds_current_texts_only_never_earlier_versions_or_deleted_messages() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let edited = alice.say(LOBBY_ID, "a draft about pineapples").await;
    alice
        .send(&ClientFrame::EditMessage {
            message: edited,
            text: "the final text".into(),
        })
        .await;
    let deleted = alice.say(LOBBY_ID, "pineapples again").await;
    alice
        .send(&ClientFrame::DeleteMessage { message: deleted })
        .await;
    // Both changes have reached Bob, so both are stored.
    for _ in 0..2 {
        bob.expect(|f| matches!(f, ServerFrame::MessageChanged { .. }).then_some(()))
            .await;
    }
    let (found, _, _) = search(&mut bob, "pineapples").await;
    assert!(found.is_empty(), "found {found:?}");
    let (found, _, _) = search(&mut bob, "final").await;
    assert_eq!(texts(&found), ["the final text"]);
    assert_eq!(found[0].id, edited);
}

#[tokio::test]
async fn chinese_and_english_are_both_found_ignoring_case_with_every_word() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    alice.say(LOBBY_ID, "我们明天考试吗").await;
    alice.say(LOBBY_ID, "The Essay is due Friday").await;
    alice.say(LOBBY_ID, "an essay about rivers").await;

    // A two-character word (too short for the trigram index) and a longer run, no spaces.
    for query in ["明天", "明天考试"] {
        let (found, _, _) = search(&mut alice, query).await;
        assert_eq!(texts(&found), ["我们明天考试吗"], "{query}");
    }
    let (found, _, _) = search(&mut alice, "essay").await;
    assert_eq!(
        texts(&found),
        ["an essay about rivers", "The Essay is due Friday"]
    );
    let (found, _, _) = search(&mut alice, "ESSAY friday").await;
    assert_eq!(texts(&found), ["The Essay is due Friday"]);
    let (found, _, _) = search(&mut alice, "essay 明天").await;
    assert!(found.is_empty());
}

#[tokio::test]
async fn search_results_come_in_pages_newest_first() {
    let server = TestServer::start_with(without_flood_limits).await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut ids = Vec::new();
    for n in 0..SEARCH_PAGE + 5 {
        ids.push(alice.say(LOBBY_ID, &format!("report number {n}")).await);
    }
    let (first, _, more) = search(&mut alice, "report").await;
    assert!(more);
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    assert_eq!(
        first.iter().map(|m| m.id).collect::<Vec<_>>(),
        newest_first[..SEARCH_PAGE]
    );
    let (second, _, more) = search_before(&mut alice, "report", first.last().map(|m| m.id)).await;
    assert!(!more);
    assert_eq!(
        second.iter().map(|m| m.id).collect::<Vec<_>>(),
        newest_first[SEARCH_PAGE..]
    );
}

#[tokio::test]
async fn a_search_with_nothing_to_look_for_or_too_much_is_refused() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    for query in [
        "   ".to_owned(),
        "x".repeat(201),
        "a b c d e f g h i".to_owned(),
    ] {
        assert_eq!(
            alice
                .outcome(&ClientFrame::Search {
                    query: query.clone(),
                    before: None
                })
                .await,
            Some(ErrorCode::Invalid),
            "{query}"
        );
    }
}

#[tokio::test]
async fn a_room_opens_around_a_found_message_and_scrolls_down_to_the_newest() {
    let server = TestServer::start_with(without_flood_limits).await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut eve = server.connect(&server.register("eve").await).await;
    let room = alice.create_private_room("notes").await;
    let mut ids = Vec::new();
    for n in 0..120 {
        ids.push(alice.say(room, &format!("note {n}")).await);
    }
    let target = ids[40];
    alice
        .send(&ClientFrame::HistoryAround {
            room,
            message: target,
        })
        .await;
    let (page, has_more, has_newer) = alice
        .expect(|f| match f {
            ServerFrame::HistoryAround {
                messages,
                has_more,
                has_newer,
                ..
            } => Some((messages, has_more, has_newer)),
            _ => None,
        })
        .await;
    let half = HISTORY_PAGE / 2;
    let page_ids: Vec<i64> = page.iter().map(|m| m.id).collect();
    assert_eq!(page_ids, ids[40 - half..40 + (HISTORY_PAGE - half)]);
    assert!(has_more && has_newer);

    // Scrolling down: pages after the last one held, until the newest.
    let mut after = *page_ids.last().unwrap();
    let mut held = page_ids;
    loop {
        alice.send(&ClientFrame::HistoryNewer { room, after }).await;
        let (messages, has_newer) = alice
            .expect(|f| match f {
                ServerFrame::HistoryNewer {
                    messages,
                    has_newer,
                    ..
                } => Some((messages, has_newer)),
                _ => None,
            })
            .await;
        assert!(messages.len() <= HISTORY_PAGE);
        held.extend(messages.iter().map(|m| m.id));
        after = messages.last().map_or(after, |m| m.id);
        if !has_newer {
            break;
        }
    }
    assert_eq!(held, ids[40 - half..]);

    // Someone who may not read the room is told it does not exist.
    for frame in [
        ClientFrame::HistoryAround {
            room,
            message: target,
        },
        ClientFrame::HistoryNewer { room, after: 0 },
    ] {
        assert_eq!(eve.outcome(&frame).await, Some(ErrorCode::NotFound));
    }
}

#[tokio::test]
async fn searching_too_often_is_refused_for_a_while() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    for n in 0..server::limits::SEARCHES_PER_MINUTE {
        search(&mut alice, &format!("word{n}")).await;
    }
    assert_eq!(
        alice
            .outcome(&ClientFrame::Search {
                query: "one more".into(),
                before: None
            })
            .await,
        Some(ErrorCode::RateLimited)
    );
}
