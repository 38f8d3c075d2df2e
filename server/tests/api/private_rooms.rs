//! Private rooms: only the people added see them, live, and everyone else is told they do not
//! exist; removing someone takes the room away from every tab of theirs.

use std::time::Duration;

use crate::support::{Client, TestServer, error_code, message_of};
use app::protocol::{ClientFrame, ErrorCode, MessageKind, ServerFrame, Visibility};

#[tokio::test]
async fn a_private_room_does_not_exist_for_someone_not_in_it() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut eve = server.connect(&server.register("eve").await).await;
    let room = alice.create_private_room("secret").await;
    alice.say(room, "between us").await;
    alice
        .send(&ClientFrame::RenameRoom {
            room,
            name: "secret2".into(),
        })
        .await;

    // Eve heard nothing of its creation or rename.
    let heard = eve.drain(Duration::from_millis(300)).await;
    assert!(
        heard.iter().all(|f| !format!("{f:?}").contains("secret")),
        "eve heard of it: {heard:?}"
    );
    // It is not listed, and every command about it says it does not exist.
    assert!(eve.list_rooms().await.iter().all(|r| r.id != room));
    let commands = [
        ClientFrame::History { room, before: None },
        ClientFrame::Members { room },
        ClientFrame::JoinRoom { room },
        ClientFrame::LeaveRoom { room },
        ClientFrame::Send {
            room,
            text: "let me in".into(),
            nonce: Some("n".into()),
        },
        ClientFrame::RenameRoom {
            room,
            name: "mine".into(),
        },
        ClientFrame::DeleteRoom { room },
        ClientFrame::AddMember {
            room,
            username: "eve".into(),
        },
        ClientFrame::MuteMember {
            room,
            user: alice.me().id,
            length: app::protocol::MuteLength::OneHour,
        },
    ];
    for command in commands {
        assert_eq!(
            eve.outcome(&command).await,
            Some(ErrorCode::NotFound),
            "{command:?}"
        );
    }
    // Its messages too: editing or deleting one is as for a message that does not exist.
    let (_, messages) = history(&mut alice, room).await;
    let message = messages[0];
    assert_eq!(
        eve.outcome(&ClientFrame::DeleteMessage { message }).await,
        Some(ErrorCode::NotFound)
    );
    // A reconnect does not bring it either.
    let cookie_rooms = eve.list_rooms().await;
    assert!(cookie_rooms.iter().all(|r| r.id != room));
    // And when it is deleted, Eve hears nothing of that either.
    alice.send(&ClientFrame::DeleteRoom { room }).await;
    alice
        .expect(|f| matches!(f, ServerFrame::RoomDeleted { .. }).then_some(()))
        .await;
    let heard = eve.drain(Duration::from_millis(300)).await;
    assert!(
        heard
            .iter()
            .all(|f| !matches!(f, ServerFrame::RoomDeleted { .. })),
        "{heard:?}"
    );
}

async fn history(client: &mut Client, room: i64) -> (i64, Vec<i64>) {
    client
        .send(&ClientFrame::History { room, before: None })
        .await;
    client
        .expect(|f| match f {
            ServerFrame::History { room, messages, .. } => Some((
                room,
                messages
                    .iter()
                    .filter(|m| m.kind == MessageKind::Text)
                    .map(|m| m.id)
                    .collect(),
            )),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn someone_added_sees_the_room_appear_live_with_its_history() {
    let server = TestServer::start().await;
    let mut teacher = server.connect(&server.register("teacher").await).await;
    let bob_cookie = server.register("bob").await;
    let mut bob = server.connect(&bob_cookie).await;
    let mut bob_tab2 = server.connect(&bob_cookie).await;
    let room = teacher.create_private_room("group 1").await;
    teacher.say(room, "welcome, group 1").await;

    teacher.add_member(room, "BOB").await; // names ignore case
    for tab in [&mut bob, &mut bob_tab2] {
        let summary = tab
            .expect(|f| match f {
                ServerFrame::RoomAdded { room } => Some(room),
                _ => None,
            })
            .await;
        assert_eq!(summary.id, room);
        assert_eq!(summary.name, "group 1");
        assert_eq!(summary.visibility, Visibility::Private);
        assert!(summary.joined);
        let notice = tab
            .expect(|f| message_of(f).filter(|m| m.room == room))
            .await;
        assert_eq!(notice.kind, MessageKind::Added);
        assert_eq!(notice.author.name, "bob");
        assert_eq!(notice.text, "teacher");
    }
    let (_, texts) = history(&mut bob, room).await;
    assert_eq!(texts.len(), 1, "the history from before bob was added");
    // And live messages from now on.
    teacher.say(room, "hello bob").await;
    let live = bob
        .expect(|f| message_of(f).filter(|m| m.text == "hello bob"))
        .await;
    assert_eq!(live.room, room);

    // Adding someone twice, or no one, is a clear error.
    let again = ClientFrame::AddMember {
        room,
        username: "bob".into(),
    };
    assert_eq!(teacher.outcome(&again).await, Some(ErrorCode::Conflict));
    let nobody = ClientFrame::AddMember {
        room,
        username: "nobody".into(),
    };
    assert_eq!(teacher.outcome(&nobody).await, Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn someone_removed_loses_the_room_on_every_tab_and_can_no_longer_read_or_post() {
    let server = TestServer::start().await;
    let mut owner = server.connect(&server.register("owner").await).await;
    let bob_cookie = server.register("bob").await;
    let mut bob = server.connect(&bob_cookie).await;
    let room = owner.create_private_room("club").await;
    owner.add_member(room, "bob").await;
    let mut bob_tab2 = server.connect(&bob_cookie).await;
    assert!(bob_tab2.sidebar().iter().any(|r| r.id == room));
    bob.drain(Duration::from_millis(100)).await;

    let bob_id = bob.me().id;
    owner
        .send(&ClientFrame::RemoveMember { room, user: bob_id })
        .await;
    for tab in [&mut bob, &mut bob_tab2] {
        let gone = tab
            .expect(|f| match f {
                ServerFrame::RoomRemoved { room, name } => Some((room, name)),
                _ => None,
            })
            .await;
        assert_eq!(gone, (room, "club".to_owned()));
    }
    // The others saw who removed whom.
    let notice = owner
        .expect(|f| message_of(f).filter(|m| m.kind == MessageKind::Removed))
        .await;
    assert_eq!(
        (notice.author.name.as_str(), notice.text.as_str()),
        ("bob", "owner")
    );
    // No more frames from it, and the page left open can no longer read or post.
    owner.say(room, "after bob left").await;
    let heard = bob.drain(Duration::from_millis(300)).await;
    assert!(
        heard
            .iter()
            .all(|f| !format!("{f:?}").contains("after bob left")),
        "{heard:?}"
    );
    bob.send(&ClientFrame::Send {
        room,
        text: "still here?".into(),
        nonce: Some("late".into()),
    })
    .await;
    assert_eq!(bob.expect(error_code).await, ErrorCode::NotFound);
    assert_eq!(
        bob.outcome(&ClientFrame::History { room, before: None })
            .await,
        Some(ErrorCode::NotFound)
    );
}

#[tokio::test]
async fn a_post_is_checked_against_the_stored_membership_not_the_socket() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let room = alice.create_room("rust").await;
    let mut bob = server.connect(&server.register("bob").await).await;
    bob.join_room(room).await;
    bob.say(room, "while a member").await;
    // A leave racing a connect in another tab can leave a socket subscribed to a room its user
    // is no longer in: here the membership goes from storage while bob's socket stays
    // subscribed.
    server
        .sql(&format!(
            "DELETE FROM memberships WHERE room_id = {room} AND user_id = {}",
            bob.me().id
        ))
        .await;
    bob.send(&ClientFrame::Send {
        room,
        text: "from a stale subscription".into(),
        nonce: Some("s".into()),
    })
    .await;
    let refusal = bob
        .expect(|f| match f {
            ServerFrame::Error { code, nonce, .. } => Some((code, nonce)),
            _ => None,
        })
        .await;
    assert_eq!(refusal, (ErrorCode::Forbidden, Some("s".to_owned())));
    let (_, texts) = history(&mut alice, room).await;
    assert_eq!(texts.len(), 1, "only the post made as a member was stored");
}

#[tokio::test]
async fn rooms_added_and_removed_while_away_are_right_on_reconnect() {
    let server = TestServer::start().await;
    let mut owner = server.connect(&server.register("owner").await).await;
    let bob_cookie = server.register("bob").await;
    let old = owner.create_private_room("old group").await;
    owner.add_member(old, "bob").await;
    let bob = server.connect(&bob_cookie).await;
    let newest = bob.sidebar().iter().map(|r| r.latest).max().unwrap();
    bob.close().await;

    // While bob is away: removed from one room, added to another.
    let bob_id = server
        .sql_number("SELECT id FROM users WHERE username = 'bob'")
        .await;
    owner
        .send(&ClientFrame::RemoveMember {
            room: old,
            user: bob_id,
        })
        .await;
    let new = owner.create_private_room("new group").await;
    owner.add_member(new, "bob").await;
    owner.say(new, "welcome back").await;

    let mut bob = server
        .connect_resuming(&bob_cookie, Some(newest), None)
        .await;
    let rooms: Vec<i64> = bob.sidebar().iter().map(|r| r.id).collect();
    assert!(
        !rooms.contains(&old),
        "the room he was removed from is gone"
    );
    assert!(rooms.contains(&new), "the room he was added to is there");
    // And what was said in it meanwhile comes with the catch-up.
    bob.expect(|f| message_of(f).filter(|m| m.text == "welcome back"))
        .await;
}
