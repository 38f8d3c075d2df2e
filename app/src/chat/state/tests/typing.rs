//! Who is typing: the line under the log, forgotten in time or when the message arrives.

use super::*;

fn typing(room: i64, ids: &[i64]) -> ServerFrame {
    ServerFrame::Typing {
        room,
        users: ids.iter().map(|&id| user(id)).collect(),
    }
}

#[test]
fn the_typing_line_names_one_two_or_several_people_never_oneself() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        assert_eq!(chat.typing_line(LOBBY_ID), None);
        chat.apply(typing(LOBBY_ID, &[ALICE, BOB]));
        assert_eq!(
            chat.typing_line(LOBBY_ID).as_deref(),
            Some("bob is typing…")
        );
        chat.apply(typing(LOBBY_ID, &[3]));
        assert_eq!(
            chat.typing_line(LOBBY_ID).as_deref(),
            Some("bob and user3 are typing…")
        );
        chat.apply(typing(LOBBY_ID, &[4, BOB]));
        assert_eq!(
            chat.typing_line(LOBBY_ID).as_deref(),
            Some("several people are typing…")
        );
        assert_eq!(chat.typing_line(3), None, "another room");
    });
}

#[test]
fn a_typist_is_forgotten_after_six_seconds_or_when_their_message_arrives() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(typing(LOBBY_ID, &[BOB, 3]));
        let end = chat.next_typist_end().unwrap();
        assert!(end - now_ms() <= crate::protocol::TYPING_SHOWN_MS);
        chat.apply(text(10, LOBBY_ID, BOB));
        assert_eq!(
            chat.typing_line(LOBBY_ID).as_deref(),
            Some("user3 is typing…")
        );
        chat.forget_typists(end - 1);
        assert!(chat.typing_line(LOBBY_ID).is_some());
        chat.forget_typists(end);
        assert_eq!(chat.typing_line(LOBBY_ID), None);
        assert_eq!(chat.next_typist_end(), None);
    });
}
