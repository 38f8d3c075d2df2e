//! Search results, and the window a found message opens in its room.

use super::*;

fn texts(room: i64, ids: std::ops::RangeInclusive<i64>) -> Vec<ChatMessage> {
    ids.map(|id| message(id, room, BOB, MessageKind::Text, &format!("note {id}")))
        .collect()
}

fn visible(chat: &Chat, room: i64) -> Vec<i64> {
    chat.logs.with_untracked(|logs| {
        logs.get(&room)
            .map(|log| log.visible().iter().map(|m| m.id).collect())
            .unwrap_or_default()
    })
}

fn gap(chat: &Chat, room: i64) -> Option<i64> {
    chat.logs
        .with_untracked(|logs| logs.get(&room).and_then(|log| log.newer_gap))
}

fn results(query: &str, before: Option<i64>, ids: &[i64], more: bool) -> ServerFrame {
    ServerFrame::SearchResults {
        query: query.into(),
        before,
        messages: ids
            .iter()
            .map(|&id| message(id, LOBBY_ID, BOB, MessageKind::Text, query))
            .collect(),
        rooms: vec![lobby()],
        more,
    }
}

#[test]
fn a_found_message_opens_a_window_that_scrolls_down_to_join_the_newest() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: texts(LOBBY_ID, 90..=99),
            has_more: true,
        });
        chat.search("note".into());
        chat.apply(results("note", None, &[20], false));
        chat.open_found(LOBBY_ID, 20);
        assert_eq!(chat.found.get_untracked(), Some(20));
        assert!(!chat.search.with_untracked(|s| s.open), "the panel closes");

        chat.apply(ServerFrame::HistoryAround {
            room: LOBBY_ID,
            message: 20,
            messages: texts(LOBBY_ID, 10..=29),
            has_more: true,
            has_newer: true,
        });
        // Only the window shows; the newest page waits beyond the gap.
        assert_eq!(visible(&chat, LOBBY_ID), (10..=29).collect::<Vec<_>>());
        assert_eq!(gap(&chat, LOBBY_ID), Some(29));
        // A message arriving live is held, behind the gap too.
        chat.apply(text(100, LOBBY_ID, BOB));
        assert_eq!(visible(&chat, LOBBY_ID).last(), Some(&29));

        chat.apply(ServerFrame::HistoryNewer {
            room: LOBBY_ID,
            after: 29,
            messages: texts(LOBBY_ID, 30..=79),
            has_newer: true,
        });
        assert_eq!(gap(&chat, LOBBY_ID), Some(79));
        // The next page reaches what was held: the window has joined up with the newest.
        chat.apply(ServerFrame::HistoryNewer {
            room: LOBBY_ID,
            after: 79,
            messages: texts(LOBBY_ID, 80..=100),
            has_newer: false,
        });
        assert_eq!(gap(&chat, LOBBY_ID), None);
        assert_eq!(visible(&chat, LOBBY_ID), (10..=100).collect::<Vec<_>>());
    });
}

#[test]
fn a_window_reaching_the_newest_has_no_gap_and_a_stale_page_is_dropped() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        // Nothing held yet: the page around the message is the room's log.
        chat.apply(ServerFrame::HistoryAround {
            room: LOBBY_ID,
            message: 5,
            messages: texts(LOBBY_ID, 1..=9),
            has_more: false,
            has_newer: false,
        });
        assert_eq!(gap(&chat, LOBBY_ID), None);
        assert_eq!(visible(&chat, LOBBY_ID), (1..=9).collect::<Vec<_>>());
        // A page after a gap that is no longer there changes nothing.
        chat.apply(ServerFrame::HistoryNewer {
            room: LOBBY_ID,
            after: 3,
            messages: texts(LOBBY_ID, 50..=51),
            has_newer: false,
        });
        assert_eq!(logged(&chat, LOBBY_ID, 50), None);
    });
}

#[test]
fn jumping_to_the_newest_leaves_the_window() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(ServerFrame::HistoryAround {
            room: LOBBY_ID,
            message: 20,
            messages: texts(LOBBY_ID, 10..=29),
            has_more: true,
            has_newer: true,
        });
        chat.apply(text(100, LOBBY_ID, BOB));
        chat.jump_to_newest(LOBBY_ID);
        assert_eq!(gap(&chat, LOBBY_ID), None);
        assert_eq!(visible(&chat, LOBBY_ID), [100]);
        // The newest page then replaces what is left.
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: texts(LOBBY_ID, 51..=100),
            has_more: true,
        });
        assert_eq!(visible(&chat, LOBBY_ID), (51..=100).collect::<Vec<_>>());
    });
}

#[test]
fn results_come_a_page_at_a_time_and_an_earlier_search_answer_is_dropped() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.search("first".into());
        chat.search("second".into());
        chat.apply(results("first", None, &[9], false));
        assert!(chat.search.with_untracked(|s| s.messages.is_empty()));
        chat.apply(results("second", None, &[8, 7], true));
        chat.more_results();
        chat.apply(results("second", Some(7), &[3], false));
        let search = chat.search.get_untracked();
        assert_eq!(
            search.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            [8, 7, 3]
        );
        assert!(!search.more && !search.loading);
        assert_eq!(search.words, ["second"]);
    });
}

#[test]
fn an_empty_search_or_one_while_offline_says_why_without_asking() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.search("  ".into());
        assert!(
            chat.search
                .with_untracked(|s| s.error.is_some() && !s.loading)
        );
        chat.search("essay".into());
        let offline = chat.search.get_untracked();
        assert!(offline.error.unwrap().contains("Not connected"));
        chat.apply(welcome_alice(vec![lobby()]));
        chat.search("essay".into());
        chat.apply(ServerFrame::error(
            ErrorCode::Internal,
            "The server could not",
        ));
        let failed = chat.search.get_untracked();
        assert_eq!(failed.error.as_deref(), Some("The server could not"));
        assert_eq!(chat.notice.get_untracked(), None);
    });
}
