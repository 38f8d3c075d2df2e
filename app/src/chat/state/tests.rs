//! How each server frame changes the browser's picture of the chat.

use super::*;
use crate::protocol::{
    ChatMessage, ErrorCode, MessageKind, Muted, PROTOCOL_VERSION, ServerFrame, Visibility,
};

const ALICE: i64 = 1;
const BOB: i64 = 2;
/// 14:05 UTC on 1 January 2100: a mute still ahead, shown in the tests' UTC clock.
const FAR_1405: i64 = 4_102_444_800_000 + (14 * 60 + 5) * 60_000;

/// A named room as the sidebar lists it (the title's tests use it too).
pub(crate) fn room(id: i64, name: &str, joined: bool, unread: u32) -> RoomSummary {
    RoomSummary {
        id,
        name: name.into(),
        kind: RoomKind::Room,
        visibility: Visibility::Public,
        created_by: None,
        joined,
        unread,
        mentions: 0,
        latest: 0,
        last_read: 0,
        online: 0,
        muted_until: None,
    }
}

fn user(id: i64) -> User {
    let name = match id {
        ALICE => "alice".to_owned(),
        BOB => "bob".to_owned(),
        _ => format!("user{id}"),
    };
    User { id, name }
}

/// Alice (user 1) connects as `role` with `rooms` in her sidebar and change cursor `changes`.
fn welcome(role: Role, rooms: Vec<RoomSummary>, changes: i64) -> ServerFrame {
    ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        me: user(ALICE),
        role,
        rooms,
        changes,
        feedback_unread: 0,
        direct_reviewable: false,
        replay_truncated: false,
    }
}

fn welcome_alice(rooms: Vec<RoomSummary>) -> ServerFrame {
    welcome(Role::Member, rooms, 0)
}

fn names(rooms: Vec<RoomSummary>) -> Vec<(String, u32)> {
    rooms.into_iter().map(|r| (r.name, r.unread)).collect()
}

fn message(id: i64, room: i64, author: i64, kind: MessageKind, text: &str) -> ChatMessage {
    ChatMessage {
        id,
        room,
        author: user(author),
        kind,
        text: text.into(),
        sent_at: 0,
        edited_at: None,
        deleted: false,
        change: 0,
        feedback: false,
    }
}

fn text(id: i64, room: i64, author: i64) -> ServerFrame {
    ServerFrame::Message {
        message: message(id, room, author, MessageKind::Text, "hi"),
    }
}

fn edited(id: i64, room: i64, author: i64, text: &str, change: i64) -> ServerFrame {
    ServerFrame::MessageChanged {
        message: ChatMessage {
            edited_at: Some(1_000),
            change,
            ..message(id, room, author, MessageKind::Text, text)
        },
    }
}

fn deleted(id: i64, room: i64, author: i64, change: i64) -> ServerFrame {
    ServerFrame::MessageChanged {
        message: ChatMessage {
            deleted: true,
            change,
            ..message(id, room, author, MessageKind::Text, "")
        },
    }
}

fn unread(chat: &Chat, room: i64) -> u32 {
    chat.room(room).map_or(0, |r| r.unread)
}

fn logged(chat: &Chat, room: i64, id: i64) -> Option<ChatMessage> {
    chat.logs
        .with_untracked(|logs| logs.get(&room).and_then(|log| log.get(id)).cloned())
}

fn lobby() -> RoomSummary {
    room(LOBBY_ID, "lobby", true, 0)
}

#[test]
fn the_room_listing_fills_in_rooms_to_join_and_keeps_my_rooms_live() {
    // Signals live in a reactive owner, as they do in the app.
    Owner::new().with(|| {
        let chat = Chat::new();
        // The lobby is on screen, so it is read at once; chess has 2 unread.
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 2)]));
        // The listing's count for chess is older than what the client tracks: keep ours.
        chat.apply(ServerFrame::Rooms {
            rooms: vec![
                lobby(),
                room(3, "chess", true, 0),
                room(7, "rust", false, 0),
                room(4, "books", false, 0),
            ],
        });
        assert_eq!(
            names(chat.my_rooms()),
            [("lobby".to_owned(), 0), ("chess".to_owned(), 2)]
        );
        assert_eq!(
            names(chat.rooms_to_join()),
            [("books".to_owned(), 0), ("rust".to_owned(), 0)]
        );

        // A later listing without "rust" (deleted meanwhile) drops it.
        chat.apply(ServerFrame::Rooms {
            rooms: vec![lobby(), room(4, "books", false, 0)],
        });
        assert_eq!(names(chat.rooms_to_join()), [("books".to_owned(), 0)]);
    });
}

#[test]
fn others_messages_count_as_unread_and_my_own_post_clears_the_count() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(text(10, 3, BOB));
        chat.apply(text(11, 3, BOB));
        assert_eq!(names(chat.my_rooms())[1], ("chess".to_owned(), 2));
        // Posted from another tab: having written there, she has read the room.
        chat.apply(text(12, 3, ALICE));
        assert_eq!(names(chat.my_rooms())[1], ("chess".to_owned(), 0));
        assert_eq!(chat.room(3).unwrap().last_read, 12);
    });
}

#[test]
fn the_read_mark_follows_reading_and_other_tabs() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(text(10, 3, BOB));
        assert_eq!(chat.room(3).unwrap().last_read, 0);
        // Read in another tab.
        chat.apply(ServerFrame::Read {
            room: 3,
            message: 10,
        });
        assert_eq!((unread(&chat, 3), chat.room(3).unwrap().last_read), (0, 10));
        // Read here.
        chat.apply(text(11, 3, BOB));
        chat.current.set(3);
        chat.mark_read(3);
        assert_eq!((unread(&chat, 3), chat.room(3).unwrap().last_read), (0, 11));
        // Arriving while on screen: read at once.
        chat.apply(text(12, 3, BOB));
        assert_eq!((unread(&chat, 3), chat.room(3).unwrap().last_read), (0, 12));
    });
}

#[test]
fn an_edit_replaces_the_text_once_and_older_changes_are_ignored() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(text(10, LOBBY_ID, BOB));
        chat.apply(edited(10, LOBBY_ID, BOB, "hello", 3));
        let now = logged(&chat, LOBBY_ID, 10).unwrap();
        assert_eq!(
            (now.text.as_str(), now.edited_at, now.change),
            ("hello", Some(1_000), 3)
        );
        // The same change again (replayed after a reconnect) and an older one change nothing.
        chat.apply(edited(10, LOBBY_ID, BOB, "hello again", 3));
        chat.apply(edited(10, LOBBY_ID, BOB, "stale", 2));
        assert_eq!(logged(&chat, LOBBY_ID, 10).unwrap().text, "hello");
        // A change to a message the client never loaded does not invent it.
        chat.apply(edited(5, LOBBY_ID, BOB, "old news", 4));
        assert_eq!(logged(&chat, LOBBY_ID, 5), None);
    });
}

#[test]
fn a_page_fetched_after_an_edit_refreshes_the_message() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(text(10, LOBBY_ID, BOB));
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: vec![ChatMessage {
                change: 2,
                edited_at: Some(1_000),
                ..message(10, LOBBY_ID, BOB, MessageKind::Text, "fixed")
            }],
            has_more: false,
        });
        assert_eq!(logged(&chat, LOBBY_ID, 10).unwrap().text, "fixed");
    });
}

#[test]
fn a_deleted_unread_message_no_longer_counts() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(text(10, 3, BOB));
        chat.apply(text(11, 3, BOB));
        assert_eq!(unread(&chat, 3), 2);
        chat.apply(deleted(11, 3, BOB, 1));
        assert_eq!(unread(&chat, 3), 1);
        assert!(logged(&chat, 3, 11).unwrap().deleted);
        // Told twice (a replay), it still counts once.
        chat.apply(deleted(11, 3, BOB, 1));
        assert_eq!(unread(&chat, 3), 1);
        chat.apply(deleted(10, 3, BOB, 2));
        assert_eq!(unread(&chat, 3), 0);
        // A later change to a message already deleted does not count it again.
        chat.apply(text(12, 3, BOB));
        chat.apply(deleted(12, 3, BOB, 3));
        chat.apply(deleted(12, 3, BOB, 4));
        assert_eq!(unread(&chat, 3), 0);
    });
}

#[test]
fn a_deleted_message_that_was_read_or_mine_leaves_the_count() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(text(10, 3, BOB));
        chat.apply(ServerFrame::Read {
            room: 3,
            message: 10,
        });
        chat.apply(text(11, 3, ALICE));
        chat.apply(text(12, 3, BOB));
        assert_eq!(unread(&chat, 3), 1);
        // Read before it was deleted, and her own message: neither was counted.
        chat.apply(deleted(10, 3, BOB, 1));
        chat.apply(deleted(11, 3, ALICE, 2));
        assert_eq!(unread(&chat, 3), 1);
    });
}

#[test]
fn the_change_cursor_follows_live_changes_not_history() {
    Owner::new().with(|| {
        let chat = Chat::new();
        // Before the first welcome there is nothing to catch up on.
        assert_eq!(chat.change_cursor(), None);
        chat.apply(welcome(
            Role::Member,
            vec![lobby(), room(3, "chess", true, 1)],
            5,
        ));
        assert_eq!(chat.change_cursor(), Some(5));
        // A page shows messages as they are now, changed or not: the cursor stays.
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: vec![ChatMessage {
                change: 9,
                ..message(10, LOBBY_ID, BOB, MessageKind::Text, "later")
            }],
            has_more: false,
        });
        assert_eq!(chat.change_cursor(), Some(5));
        chat.apply(edited(10, LOBBY_ID, BOB, "live", 7));
        assert_eq!(chat.change_cursor(), Some(7));
        // An older change (replayed after a reconnect) does not move it back, and a deletion
        // the welcome already knew of does not change the welcome's unread count.
        chat.apply(deleted(3, 3, BOB, 4));
        assert_eq!(chat.change_cursor(), Some(7));
        assert_eq!(unread(&chat, 3), 1);
    });
}

#[test]
fn the_welcome_drops_the_messages_of_rooms_no_longer_listed() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(text(10, 3, BOB));
        chat.apply(text(11, LOBBY_ID, BOB));
        // Removed from chess while away.
        chat.apply(welcome_alice(vec![lobby()]));
        assert!(logged(&chat, 3, 10).is_none());
        assert!(logged(&chat, LOBBY_ID, 11).is_some());
    });
}

#[test]
fn being_removed_from_the_room_on_screen_goes_back_to_the_lobby() {
    Owner::new().with(|| {
        let chat = Chat::new();
        let algebra = RoomSummary {
            visibility: Visibility::Private,
            ..room(4, "algebra", true, 0)
        };
        chat.apply(welcome_alice(vec![lobby(), algebra]));
        chat.current.set(4);
        chat.apply(text(10, 4, BOB));
        chat.apply(ServerFrame::RoomRemoved {
            room: 4,
            name: "algebra".into(),
        });
        assert!(chat.room(4).is_none());
        assert!(logged(&chat, 4, 10).is_none());
        assert_eq!(
            chat.notice.get_untracked().as_deref(),
            Some("You are no longer in “algebra”; you are back in the lobby.")
        );
        assert_eq!(chat.go_to.get_untracked().as_deref(), Some("/rooms/1"));
    });
}

#[test]
fn being_removed_from_another_room_just_drops_it() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(4, "algebra", true, 0)]));
        chat.apply(ServerFrame::RoomRemoved {
            room: 4,
            name: "algebra".into(),
        });
        assert_eq!(names(chat.my_rooms()), [("lobby".to_owned(), 0)]);
        assert_eq!(chat.notice.get_untracked(), None);
        assert_eq!(chat.go_to.get_untracked(), None);
    });
}

fn not_found(room: i64, message: &str) -> ServerFrame {
    ServerFrame::Error {
        code: ErrorCode::NotFound,
        message: message.into(),
        nonce: None,
        room: Some(room),
        until: None,
    }
}

#[test]
fn a_room_that_cannot_be_found_sends_back_to_the_lobby() {
    Owner::new().with(|| {
        let chat = Chat::new();
        // A link to a private room this user is not in: it is not listed, and its first
        // page is refused.
        chat.current.set(9);
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(not_found(9, "There is no such room."));
        assert_eq!(chat.go_to.get_untracked().as_deref(), Some("/rooms/1"));
    });
}

#[test]
fn a_person_not_found_in_my_room_is_only_a_notice() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.current.set(4);
        chat.apply(welcome(
            Role::Teacher,
            vec![lobby(), room(4, "algebra", true, 0)],
            0,
        ));
        chat.apply(not_found(4, "There is no such user."));
        assert_eq!(chat.go_to.get_untracked(), None);
        assert_eq!(
            chat.notice.get_untracked().as_deref(),
            Some("There is no such user.")
        );
    });
}

#[test]
fn a_role_change_applies_at_once() {
    Owner::new().with(|| {
        let chat = Chat::new();
        let chess = RoomSummary {
            created_by: Some(BOB),
            ..room(3, "chess", true, 0)
        };
        chat.apply(welcome_alice(vec![lobby(), chess.clone()]));
        assert_eq!(chat.role.get_untracked(), Role::Member);
        assert!(!chat.moderates(&chess));
        chat.apply(ServerFrame::RoleChanged {
            role: Role::Teacher,
        });
        assert_eq!(chat.role.get_untracked(), Role::Teacher);
        assert!(chat.moderates(&chess));
        assert!(chat.moderates(&lobby()));
    });
}

#[test]
fn moderation_is_offered_to_staff_and_room_creators_in_named_rooms_only() {
    Owner::new().with(|| {
        let chat = Chat::new();
        let mine = RoomSummary {
            created_by: Some(ALICE),
            ..room(3, "chess", true, 0)
        };
        let direct = RoomSummary {
            kind: RoomKind::Direct,
            visibility: Visibility::Private,
            ..room(5, "bob", true, 0)
        };
        chat.apply(welcome_alice(vec![lobby(), mine.clone(), direct.clone()]));
        assert!(chat.moderates(&mine));
        assert!(!chat.moderates(&lobby()));
        assert!(!chat.moderates(&direct));
        chat.apply(welcome(Role::Admin, vec![lobby(), direct.clone()], 0));
        assert!(chat.moderates(&lobby()));
        assert!(!chat.moderates(&direct));
    });
}

#[test]
fn online_counts_follow_the_server() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(ServerFrame::OnlineCount { room: 3, online: 4 });
        assert_eq!(chat.room(3).unwrap().online, 4);
    });
}

#[test]
fn added_and_removed_people_join_and_leave_the_members_list() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(4, "algebra", true, 0)]));
        chat.apply(ServerFrame::Members {
            room: 4,
            members: vec![user(ALICE)],
            online: vec![ALICE],
            muted: vec![],
            more: false,
        });
        let members = |chat: &Chat| {
            chat.members
                .with_untracked(|all| all[&4].iter().map(|u| u.name.clone()).collect::<Vec<_>>())
        };
        chat.apply(ServerFrame::Message {
            message: message(10, 4, BOB, MessageKind::Added, "alice"),
        });
        assert_eq!(members(&chat), ["alice", "bob"]);
        chat.apply(ServerFrame::Message {
            message: message(11, 4, BOB, MessageKind::Removed, "alice"),
        });
        assert_eq!(members(&chat), ["alice"]);
        // Notices are not unread messages.
        assert_eq!(unread(&chat, 4), 0);
    });
}

#[test]
fn members_show_who_is_muted_until_unmuted_or_the_time_is_up() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(ServerFrame::Members {
            room: LOBBY_ID,
            members: vec![user(ALICE), user(BOB)],
            online: vec![ALICE],
            muted: vec![Muted {
                user: BOB,
                until: FAR_1405,
            }],
            more: false,
        });
        assert!(chat.is_muted(LOBBY_ID, BOB));
        assert!(!chat.is_muted(LOBBY_ID, ALICE));
        chat.apply(ServerFrame::MemberMuted {
            room: LOBBY_ID,
            user: BOB,
            until: None,
        });
        assert!(!chat.is_muted(LOBBY_ID, BOB));
        chat.apply(ServerFrame::MemberMuted {
            room: LOBBY_ID,
            user: BOB,
            until: Some(1_000),
        });
        chat.now.set(999);
        assert!(chat.is_muted(LOBBY_ID, BOB));
        chat.now.set(1_000);
        assert!(!chat.is_muted(LOBBY_ID, BOB));
        assert_eq!(chat.mute_ends(), [1_000]);
    });
}

#[test]
fn being_muted_and_unmuted_sets_my_mute_in_that_room() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(ServerFrame::MemberMuted {
            room: 3,
            user: ALICE,
            until: Some(MUTED_INDEFINITELY),
        });
        assert_eq!(chat.muted_until(3), Some(MUTED_INDEFINITELY));
        assert_eq!(chat.muted_until(LOBBY_ID), None);
        assert!(chat.mute_ends().is_empty());
        chat.apply(ServerFrame::MemberMuted {
            room: 3,
            user: ALICE,
            until: None,
        });
        assert_eq!(chat.muted_until(3), None);
    });
}

/// The one message in the outbox.
fn only_outgoing(chat: &Chat) -> Outgoing {
    let outbox = chat.outbox.get_untracked();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    outbox[0].clone()
}

fn refusal(code: ErrorCode, message: &str, nonce: &str, until: Option<i64>) -> ServerFrame {
    ServerFrame::Error {
        code,
        message: message.into(),
        nonce: Some(nonce.into()),
        room: Some(LOBBY_ID),
        until,
    }
}

#[test]
fn a_post_refused_for_a_mute_is_not_sent_says_until_when_and_unmuting_withdraws_the_notice() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.post(LOBBY_ID, "hello?".into());
        let nonce = only_outgoing(&chat).nonce;
        chat.apply(refusal(ErrorCode::Muted, "muted", &nonce, Some(FAR_1405)));
        let entry = only_outgoing(&chat);
        assert_eq!(
            entry.delivery,
            Delivery::NotSent("You are muted in this room until 14:05".into())
        );
        assert_eq!(entry.text, "hello?");
        assert_eq!(chat.outgoing(LOBBY_ID), vec![entry]);
        assert_eq!(chat.muted_until(LOBBY_ID), Some(FAR_1405));
        chat.apply(ServerFrame::MemberMuted {
            room: LOBBY_ID,
            user: ALICE,
            until: None,
        });
        assert_eq!(chat.muted_until(LOBBY_ID), None);
        // Retry sends it again with the same nonce: Sending… until the server answers.
        chat.retry(&nonce);
        let entry = only_outgoing(&chat);
        assert_eq!((entry.nonce, entry.delivery), (nonce, Delivery::Sending));
    });
}

#[test]
fn a_message_written_offline_shows_as_sending_until_sent_clears_it_and_it_shows_once() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.disconnected();
        chat.post(LOBBY_ID, "written offline".into());
        let entry = only_outgoing(&chat);
        assert_eq!(entry.delivery, Delivery::Sending);
        assert_eq!(chat.outgoing(LOBBY_ID).len(), 1);
        assert!(chat.outgoing(3).is_empty());
        // Back online: it is still waiting (the welcome sends it again).
        chat.apply(welcome_alice(vec![lobby()]));
        assert_eq!(only_outgoing(&chat).delivery, Delivery::Sending);
        // Stored as 20: the entry is done, and the broadcast shows it, once.
        chat.apply(ServerFrame::Sent {
            nonce: entry.nonce.clone(),
            id: 20,
        });
        assert_eq!(only_outgoing(&chat).delivery, Delivery::Stored(20));
        assert_eq!(chat.outgoing(LOBBY_ID).len(), 1);
        chat.apply(ServerFrame::Message {
            message: message(20, LOBBY_ID, ALICE, MessageKind::Text, "written offline"),
        });
        assert!(chat.outbox.get_untracked().is_empty());
        assert!(chat.outgoing(LOBBY_ID).is_empty());
        assert!(logged(&chat, LOBBY_ID, 20).is_some());
    });
}

#[test]
fn a_broadcast_that_overtakes_its_sent_is_not_shown_twice() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.post(LOBBY_ID, "quick".into());
        chat.post(LOBBY_ID, "quick".into());
        let nonces: Vec<String> = chat
            .outbox
            .get_untracked()
            .into_iter()
            .map(|e| e.nonce)
            .collect();
        assert_ne!(nonces[0], nonces[1]);
        chat.apply(ServerFrame::Message {
            message: message(30, LOBBY_ID, ALICE, MessageKind::Text, "quick"),
        });
        // One of the two is on screen as message 30; the other still waits.
        assert_eq!(chat.outgoing(LOBBY_ID).len(), 1);
        chat.apply(ServerFrame::Sent {
            nonce: nonces[0].clone(),
            id: 30,
        });
        assert_eq!(chat.outbox.get_untracked().len(), 1);
        assert_eq!(chat.outgoing(LOBBY_ID).len(), 1);
        // The second one's broadcast and acknowledgement: nothing is left.
        chat.apply(ServerFrame::Message {
            message: message(31, LOBBY_ID, ALICE, MessageKind::Text, "quick"),
        });
        assert!(chat.outgoing(LOBBY_ID).is_empty());
        chat.apply(ServerFrame::Sent {
            nonce: nonces[1].clone(),
            id: 31,
        });
        assert!(chat.outbox.get_untracked().is_empty());
    });
}

#[test]
fn a_refused_post_is_not_sent_with_the_server_reason() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        for (code, why) in [
            (ErrorCode::Forbidden, "Join the room to post in it."),
            (ErrorCode::NotFound, "There is no such room."),
            (ErrorCode::Invalid, "Messages are at most 4000 characters."),
            (
                ErrorCode::Internal,
                "The message was not stored; try again.",
            ),
        ] {
            chat.outbox.set(Vec::new());
            chat.post(LOBBY_ID, "refused".into());
            let nonce = only_outgoing(&chat).nonce;
            chat.apply(refusal(code, why, &nonce, None));
            assert_eq!(only_outgoing(&chat).delivery, Delivery::NotSent(why.into()));
            // No notice besides: the message says it.
            assert_eq!(chat.notice.get_untracked(), None);
            // A message that was not sent stays until retried or discarded, even across a
            // reconnect.
            chat.apply(welcome_alice(vec![lobby()]));
            assert_eq!(only_outgoing(&chat).delivery, Delivery::NotSent(why.into()));
            chat.discard(&nonce);
            assert!(chat.outbox.get_untracked().is_empty());
        }
    });
}

#[test]
fn a_post_sent_too_fast_goes_back_into_the_empty_composer_with_the_servers_words() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.post(LOBBY_ID, "one more".into());
        let nonce = only_outgoing(&chat).nonce;
        let too_fast =
            "You are sending messages too fast; this one was not sent. Try again in 3 s.";
        chat.apply(refusal(
            ErrorCode::RateLimited,
            too_fast,
            &nonce,
            Some(FAR_1405 + 7_000),
        ));
        assert!(chat.outbox.get_untracked().is_empty());
        assert_eq!(chat.draft.get_untracked(), "one more");
        assert_eq!(
            chat.composer_error.get_untracked(),
            Some(format!("{too_fast} You can send again at 14:05:07."))
        );

        // With something else in the composer, the text is not lost: it waits as not sent.
        chat.post(LOBBY_ID, "and another".into());
        let nonce = chat.outbox.get_untracked()[0].nonce.clone();
        chat.draft.set("half written".into());
        chat.apply(refusal(
            ErrorCode::RateLimited,
            too_fast,
            &nonce,
            Some(FAR_1405 + 7_000),
        ));
        assert_eq!(chat.draft.get_untracked(), "half written");
        let entry = only_outgoing(&chat);
        assert_eq!(entry.text, "and another");
        assert!(matches!(entry.delivery, Delivery::NotSent(why) if why.starts_with(too_fast)));
    });
}

#[test]
fn a_reconnect_drops_stored_entries_and_keeps_unanswered_ones() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.post(LOBBY_ID, "stored".into());
        chat.post(LOBBY_ID, "unanswered".into());
        let stored = chat.outbox.get_untracked()[0].nonce.clone();
        chat.apply(ServerFrame::Sent {
            nonce: stored,
            id: 40,
        });
        chat.disconnected();
        // Message 40 comes with the catch-up (or from history); the other goes again.
        chat.apply(welcome_alice(vec![lobby()]));
        let entry = only_outgoing(&chat);
        assert_eq!(
            (entry.text.as_str(), entry.delivery),
            ("unanswered", Delivery::Sending)
        );
    });
}

#[test]
fn nonces_differ_between_pages() {
    Owner::new().with(|| {
        let one = Chat::new();
        let other = Chat::new();
        other.nonce_prefix.set_value("p2-".into());
        one.post(LOBBY_ID, "a".into());
        other.post(LOBBY_ID, "a".into());
        assert_ne!(only_outgoing(&one).nonce, only_outgoing(&other).nonce);
    });
}

#[test]
fn the_resume_cursor_starts_at_the_first_welcome_and_follows_messages_received_in_my_rooms() {
    Owner::new().with(|| {
        let chat = Chat::new();
        assert_eq!(chat.resume_cursor(), None);
        let mut chess = room(3, "chess", true, 0);
        chess.latest = 90;
        let mut lobby = lobby();
        lobby.latest = 80;
        let mut go = room(4, "go", false, 0);
        go.latest = 500;
        chat.apply(welcome_alice(vec![lobby, chess, go]));
        // The newest of the rooms she is in (not of the one she is not in).
        assert_eq!(chat.resume_cursor(), Some(90));
        chat.apply(text(95, LOBBY_ID, BOB));
        assert_eq!(chat.resume_cursor(), Some(95));
        // A later welcome (a reconnect) leaves it where it was: the catch-up moves it.
        chat.apply(welcome_alice(vec![room(3, "chess", true, 0)]));
        assert_eq!(chat.resume_cursor(), Some(95));
        chat.apply(text(96, 3, BOB));
        assert_eq!(chat.resume_cursor(), Some(96));
    });
}

#[test]
fn history_pages_and_previews_never_move_the_resume_cursor() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(4, "go", false, 0)]));
        chat.apply(text(10, LOBBY_ID, BOB));
        assert_eq!(chat.resume_cursor(), Some(10));
        // A preview of a room she is not in, newer than anything of hers.
        chat.current.set(4);
        chat.apply(ServerFrame::History {
            room: 4,
            messages: vec![message(500, 4, BOB, MessageKind::Text, "go on")],
            has_more: false,
        });
        // A page of her own room (a newer message she has not been sent yet).
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: vec![message(10, LOBBY_ID, BOB, MessageKind::Text, "hi")],
            has_more: true,
        });
        assert_eq!(chat.resume_cursor(), Some(10));
        // Joining the previewed room: its notice comes live, and moves it.
        chat.apply(ServerFrame::Message {
            message: message(600, 4, ALICE, MessageKind::Joined, ""),
        });
        assert_eq!(chat.resume_cursor(), Some(600));
    });
}

#[test]
fn a_failed_catch_up_changes_nothing_so_the_next_hello_carries_the_same_cursors() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome(Role::Member, vec![lobby()], 7));
        chat.apply(text(10, LOBBY_ID, BOB));
        let cursors = (chat.resume_cursor(), chat.change_cursor());
        // Closed with 4011 before any welcome: the connection only reports the drop.
        chat.disconnected();
        assert_eq!((chat.resume_cursor(), chat.change_cursor()), cursors);
        assert_eq!(cursors, (Some(10), Some(7)));
    });
}

#[test]
fn a_truncated_replay_forgets_the_logs_and_the_newest_page_fills_the_gap() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(text(10, LOBBY_ID, BOB));
        chat.apply(text(11, 3, BOB));
        // Away for a long time: the server replays only the first 1,000 missed messages.
        let ServerFrame::Welcome {
            protocol,
            me,
            role,
            rooms,
            changes,
            feedback_unread,
            direct_reviewable,
            ..
        } = welcome_alice(vec![lobby(), room(3, "chess", true, 0)])
        else {
            unreachable!()
        };
        chat.apply(ServerFrame::Welcome {
            protocol,
            me,
            role,
            rooms,
            changes,
            feedback_unread,
            direct_reviewable,
            replay_truncated: true,
        });
        assert!(logged(&chat, LOBBY_ID, 10).is_none());
        assert!(logged(&chat, 3, 11).is_none());
        // The replay, then its gap, then the lobby's newest page (the room on screen).
        chat.apply(text(20, LOBBY_ID, BOB));
        chat.apply(text(21, 3, BOB));
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: vec![
                message(5000, LOBBY_ID, BOB, MessageKind::Text, "a"),
                message(5001, LOBBY_ID, BOB, MessageKind::Text, "b"),
            ],
            has_more: true,
        });
        let lobby_ids: Vec<i64> = chat
            .logs
            .with_untracked(|logs| logs[&LOBBY_ID].messages.iter().map(|m| m.id).collect());
        assert_eq!(lobby_ids, vec![5000, 5001]);
        assert!(chat.logs.with_untracked(|logs| logs[&LOBBY_ID].has_more));
        // Live messages and older pages join up as usual from here.
        chat.apply(text(5002, LOBBY_ID, BOB));
        assert!(logged(&chat, LOBBY_ID, 5002).is_some());
        // Chess, opened later, also starts from its newest page.
        chat.current.set(3);
        chat.apply(ServerFrame::History {
            room: 3,
            messages: vec![message(4000, 3, BOB, MessageKind::Text, "c")],
            has_more: true,
        });
        assert!(logged(&chat, 3, 21).is_none());
        assert!(logged(&chat, 3, 4000).is_some());
    });
}

#[test]
fn joining_a_previewed_room_starts_it_again_from_its_newest_page() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(4, "go", false, 0)]));
        chat.current.set(4);
        chat.apply(ServerFrame::History {
            room: 4,
            messages: vec![message(10, 4, BOB, MessageKind::Text, "early")],
            has_more: false,
        });
        // Much was said before she joins; none of it came to the preview.
        chat.apply(ServerFrame::Message {
            message: message(900, 4, ALICE, MessageKind::Joined, ""),
        });
        chat.apply(ServerFrame::History {
            room: 4,
            messages: vec![
                message(800, 4, BOB, MessageKind::Text, "late"),
                message(900, 4, ALICE, MessageKind::Joined, ""),
            ],
            has_more: true,
        });
        let ids: Vec<i64> = chat
            .logs
            .with_untracked(|logs| logs[&4].messages.iter().map(|m| m.id).collect());
        assert_eq!(ids, vec![800, 900]);
        assert!(chat.logs.with_untracked(|logs| logs[&4].has_more));
    });
}

#[test]
fn a_reconnect_without_truncation_keeps_the_pages_read_so_far() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: vec![message(10, LOBBY_ID, BOB, MessageKind::Text, "old")],
            has_more: true,
        });
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(text(11, LOBBY_ID, BOB));
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: vec![message(11, LOBBY_ID, BOB, MessageKind::Text, "hi")],
            has_more: true,
        });
        assert!(logged(&chat, LOBBY_ID, 10).is_some());
    });
}

fn feedback_given(room: i64, message: i64) -> ServerFrame {
    ServerFrame::FeedbackGiven { room, message }
}

fn marked(chat: &Chat, room: i64, id: i64) -> bool {
    logged(chat, room, id).is_some_and(|m| m.feedback)
}

#[test]
fn the_welcome_gives_the_unread_feedback_count_and_whether_direct_conversations_are_reviewed() {
    Owner::new().with(|| {
        let chat = Chat::new();
        assert_eq!(chat.feedback_unread.get_untracked(), 0);
        assert!(!chat.direct_reviewable.get_untracked());
        chat.apply(ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            me: user(ALICE),
            role: Role::Member,
            rooms: vec![lobby()],
            changes: 0,
            feedback_unread: 2,
            direct_reviewable: true,
            replay_truncated: false,
        });
        assert_eq!(chat.feedback_unread.get_untracked(), 2);
        assert!(chat.direct_reviewable.get_untracked());
        // A later welcome (after a reconnect) says how things are now.
        chat.apply(welcome_alice(vec![lobby()]));
        assert_eq!(chat.feedback_unread.get_untracked(), 0);
        assert!(!chat.direct_reviewable.get_untracked());
    });
}

#[test]
fn feedback_unread_sets_the_count() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(ServerFrame::FeedbackUnread { count: 3 });
        assert_eq!(chat.feedback_unread.get_untracked(), 3);
        // Read on /feedback in another tab.
        chat.apply(ServerFrame::FeedbackUnread { count: 0 });
        assert_eq!(chat.feedback_unread.get_untracked(), 0);
    });
}

#[test]
fn feedback_given_marks_the_message_held() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby(), room(3, "chess", true, 0)]));
        chat.apply(text(10, LOBBY_ID, ALICE));
        chat.apply(text(11, LOBBY_ID, ALICE));
        chat.apply(feedback_given(LOBBY_ID, 10));
        assert!(marked(&chat, LOBBY_ID, 10));
        assert!(!marked(&chat, LOBBY_ID, 11));
        // About a message of a room not loaded: nothing is invented.
        chat.apply(feedback_given(3, 12));
        assert!(logged(&chat, 3, 12).is_none());
    });
}

#[test]
fn a_page_with_feedback_marks_a_message_held_with_the_same_change() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(text(10, LOBBY_ID, ALICE));
        chat.apply(ServerFrame::History {
            room: LOBBY_ID,
            messages: vec![ChatMessage {
                feedback: true,
                ..message(10, LOBBY_ID, ALICE, MessageKind::Text, "hi")
            }],
            has_more: false,
        });
        assert!(marked(&chat, LOBBY_ID, 10));
    });
}

#[test]
fn an_edit_keeps_the_feedback_marker() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(text(10, LOBBY_ID, ALICE));
        chat.apply(feedback_given(LOBBY_ID, 10));
        // Edits are broadcast to the whole room, without the marker.
        chat.apply(edited(10, LOBBY_ID, ALICE, "hello", 3));
        let now = logged(&chat, LOBBY_ID, 10).unwrap();
        assert_eq!((now.text.as_str(), now.feedback), ("hello", true));
    });
}

#[test]
fn feedback_is_offered_to_staff_in_named_rooms_and_in_direct_conversations_only_if_reviewed() {
    Owner::new().with(|| {
        let chat = Chat::new();
        let direct = RoomSummary {
            kind: RoomKind::Direct,
            visibility: Visibility::Private,
            ..room(5, "bob", true, 0)
        };
        chat.apply(welcome_alice(vec![lobby(), direct.clone()]));
        assert!(!chat.reviews(&lobby()));
        assert!(!chat.reviews(&direct));
        chat.apply(welcome(Role::Teacher, vec![lobby(), direct.clone()], 0));
        assert!(chat.reviews(&lobby()));
        assert!(!chat.reviews(&direct));
        chat.direct_reviewable.set(true);
        assert!(chat.reviews(&direct));
    });
}

#[test]
fn feedback_is_checked_before_sending_and_its_form_closes_when_it_is_given() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome(Role::Teacher, vec![lobby()], 0));
        chat.apply(text(10, LOBBY_ID, BOB));
        chat.open_feedback(10);
        assert_eq!(
            chat.give_feedback(10, "   ".into()),
            Err("Write some feedback first.".into())
        );
        assert_eq!(chat.feedback_pending.get_untracked(), None);
        chat.feedback_draft.set("Good point.".into());
        assert_eq!(chat.give_feedback(10, "Good point.".into()), Ok(()));
        assert_eq!(chat.feedback_pending.get_untracked(), Some(10));
        // Feedback on another message (from another tab) leaves this form alone.
        chat.apply(text(11, LOBBY_ID, BOB));
        chat.apply(feedback_given(LOBBY_ID, 11));
        assert_eq!(chat.feedback_form.get_untracked(), Some(10));
        chat.apply(feedback_given(LOBBY_ID, 10));
        assert!(marked(&chat, LOBBY_ID, 10));
        assert_eq!(chat.feedback_form.get_untracked(), None);
        assert_eq!(chat.feedback_pending.get_untracked(), None);
        assert_eq!(chat.feedback_draft.get_untracked(), "");
    });
}

#[test]
fn refused_feedback_is_a_notice_and_the_form_keeps_its_text_to_send_again() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome(Role::Teacher, vec![lobby()], 0));
        chat.apply(text(10, LOBBY_ID, BOB));
        chat.open_feedback(10);
        chat.feedback_draft.set("Nice.".into());
        chat.give_feedback(10, "Nice.".into()).unwrap();
        chat.apply(ServerFrame::error(
            ErrorCode::Forbidden,
            "You may not review this room.",
        ));
        assert_eq!(
            chat.notice.get_untracked().as_deref(),
            Some("You may not review this room.")
        );
        assert_eq!(chat.feedback_form.get_untracked(), Some(10));
        assert_eq!(chat.feedback_pending.get_untracked(), None);
        assert_eq!(chat.feedback_draft.get_untracked(), "Nice.");
    });
}

#[test]
fn feedback_in_flight_when_the_connection_drops_can_be_sent_again() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome(Role::Teacher, vec![lobby()], 0));
        chat.apply(text(10, LOBBY_ID, BOB));
        chat.open_feedback(10);
        chat.give_feedback(10, "Nice.".into()).unwrap();
        chat.disconnected();
        assert_eq!(chat.feedback_pending.get_untracked(), None);
        assert!(chat.feedback_error.get_untracked().is_some());
        assert_eq!(chat.feedback_form.get_untracked(), Some(10));
        // Not sent while offline.
        assert!(chat.give_feedback(10, "Nice.".into()).is_err());
        assert_eq!(chat.feedback_pending.get_untracked(), None);
    });
}

#[test]
fn a_long_members_list_comes_page_by_page() {
    Owner::new().with(|| {
        let chat = Chat::new();
        chat.apply(welcome_alice(vec![lobby()]));
        chat.apply(ServerFrame::Members {
            room: LOBBY_ID,
            members: vec![user(ALICE)],
            online: vec![ALICE],
            muted: vec![],
            more: true,
        });
        assert_eq!(
            chat.members_after
                .with_untracked(|a| a.get(&LOBBY_ID).cloned()),
            Some("alice".to_owned()),
            "the next page starts after the last name"
        );
        chat.apply(ServerFrame::MoreMembers {
            room: LOBBY_ID,
            members: vec![user(BOB)],
            online: vec![BOB],
            more: false,
        });
        let names = chat.members.with_untracked(|all| {
            all[&LOBBY_ID]
                .iter()
                .map(|u| u.name.clone())
                .collect::<Vec<_>>()
        });
        assert_eq!(names, ["alice", "bob"]);
        assert!(chat.online.get_untracked().contains(&BOB));
        assert!(
            chat.members_after.with_untracked(|a| a.is_empty()),
            "no more pages"
        );
    });
}

mod mentions;
mod search;
mod typing;
