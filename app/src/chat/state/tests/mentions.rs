//! Mentions and direct messages: counted apart, and offered as a notification.

use super::*;

fn said(id: i64, room: i64, author: i64, words: &str) -> ServerFrame {
    ServerFrame::Message {
        message: message(id, room, author, MessageKind::Text, words),
    }
}

fn mentions(chat: &Chat, room: i64) -> u32 {
    chat.room(room).map_or(0, |r| r.mentions)
}

fn direct(id: i64, with: &str) -> RoomSummary {
    RoomSummary {
        kind: RoomKind::Direct,
        visibility: Visibility::Private,
        ..room(id, with, true, 0)
    }
}

#[test]
fn mentions_of_me_in_a_room_not_on_screen_are_counted_apart_until_it_is_read() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(said(10, 3, BOB, "@alice your move"));
        chat.apply(said(11, 3, BOB, "@alicia is someone else"));
        chat.apply(said(12, 3, BOB, "**@ALICE**?"));
        assert_eq!((unread(&chat, 3), mentions(&chat, 3)), (3, 2));
        // Replayed after a reconnect: counted once.
        chat.apply(said(12, 3, BOB, "**@ALICE**?"));
        assert_eq!(mentions(&chat, 3), 2);
        // Deleted while unread: it no longer counts.
        chat.apply(said(13, 3, BOB, "@alice sorry"));
        chat.apply(deleted(13, 3, BOB, 1));
        assert_eq!((unread(&chat, 3), mentions(&chat, 3)), (3, 2));
        chat.mark_read(3);
        assert_eq!((unread(&chat, 3), mentions(&chat, 3)), (0, 0));
    });
}

#[test]
fn the_welcomes_count_of_mentions_is_kept_and_cleared_by_reading_in_another_tab() {
    Owner::new().with(|| {
        let chat = Chat::new();
        let chess = RoomSummary {
            mentions: 1,
            latest: 20,
            last_read: 15,
            ..room(3, "chess", true, 4)
        };
        chat.apply(welcome_alice(vec![lobby(), chess]));
        assert_eq!(mentions(&chat, 3), 1);
        chat.apply(ServerFrame::Read {
            room: 3,
            message: 20,
        });
        assert_eq!((unread(&chat, 3), mentions(&chat, 3)), (0, 0));
    });
}

#[test]
fn a_mention_or_a_direct_message_calls_for_attention_but_not_my_own_or_others_talk() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![
            lobby(),
            room(3, "chess", true, 0),
            direct(7, "bob"),
        ]));
        chat.apply(said(10, 3, BOB, "no one named"));
        chat.apply(said(11, 3, ALICE, "@alice note to self"));
        chat.apply(said(12, 3, BOB, "bob@alice.example"));
        assert_eq!(chat.attention.get_untracked(), None);

        chat.apply(said(13, 3, BOB, "@alice your move"));
        let attention = chat.attention.get_untracked().unwrap();
        assert_eq!(attention.title, "bob in chess");
        assert_eq!(attention.body, "@alice your move");
        assert_eq!((attention.room, attention.message), (3, 13));

        let long = "x".repeat(300);
        chat.apply(said(14, 7, BOB, &long));
        let attention = chat.attention.get_untracked().unwrap();
        assert_eq!(attention.title, "bob");
        assert_eq!(
            attention.body.chars().count(),
            141,
            "140 characters and an ellipsis"
        );
        assert!(attention.body.ends_with('…'));
    });
}
