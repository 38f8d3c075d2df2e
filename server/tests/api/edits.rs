//! Editing and deleting messages: live for everyone in the room, caught up after a reconnect,
//! every earlier version kept on the server and never sent, unread counts kept right.

use crate::support::{Client, TestServer, error_code};
use app::protocol::{ChatMessage, ClientFrame, ErrorCode, LOBBY_ID, ServerFrame};

fn changed(frame: ServerFrame) -> Option<ChatMessage> {
    match frame {
        ServerFrame::MessageChanged { message } => Some(message),
        _ => None,
    }
}

fn changes_cursor(client: &Client) -> i64 {
    match &client.welcome {
        Some(ServerFrame::Welcome { changes, .. }) => *changes,
        _ => panic!("no welcome"),
    }
}

async fn edit(client: &mut Client, message: i64, text: &str) -> Option<ErrorCode> {
    client
        .outcome(&ClientFrame::EditMessage {
            message,
            text: text.into(),
        })
        .await
}

async fn delete(client: &mut Client, message: i64) -> Option<ErrorCode> {
    client
        .outcome(&ClientFrame::DeleteMessage { message })
        .await
}

#[tokio::test]
async fn an_edit_and_a_deletion_reach_everyone_in_the_room_live() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let id = alice.say(LOBBY_ID, "helo").await;

    alice
        .send(&ClientFrame::EditMessage {
            message: id,
            text: "hello".into(),
        })
        .await;
    for client in [&mut alice, &mut bob] {
        let message = client.expect(changed).await;
        assert_eq!((message.id, message.text.as_str()), (id, "hello"));
        assert!(message.edited_at.is_some());
        assert!(!message.deleted);
        assert!(message.change > 0);
    }
    alice
        .send(&ClientFrame::DeleteMessage { message: id })
        .await;
    for client in [&mut alice, &mut bob] {
        let message = client.expect(changed).await;
        assert_eq!(message.id, id);
        assert!(message.deleted);
        assert_eq!(message.text, "", "the deleted text is not sent");
    }
    // History shows it deleted, without its text.
    bob.send(&ClientFrame::History {
        room: LOBBY_ID,
        before: None,
    })
    .await;
    let page = bob
        .expect(|f| match f {
            ServerFrame::History { messages, .. } => Some(messages),
            _ => None,
        })
        .await;
    let shown = page.iter().find(|m| m.id == id).unwrap();
    assert!(shown.deleted && shown.text.is_empty());
    // The server kept both earlier texts, for review.
    let kept = server
        .sql_number(&format!(
            "SELECT COUNT(*) FROM message_versions
             WHERE message_id = {id} AND body IN ('helo', 'hello')"
        ))
        .await;
    assert_eq!(kept, 2);
}

#[tokio::test]
async fn edits_and_deletions_made_while_away_reach_a_client_when_it_reconnects() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let bob_cookie = server.register("bob").await;
    let first = alice.say(LOBBY_ID, "first").await;
    let second = alice.say(LOBBY_ID, "second").await;
    let bob = server.connect(&bob_cookie).await;
    let (cursor, newest) = (changes_cursor(&bob), second);
    bob.close().await;

    assert_eq!(edit(&mut alice, first, "first, edited").await, None);
    assert_eq!(delete(&mut alice, second).await, None);

    let mut bob = server
        .connect_resuming(&bob_cookie, Some(newest), Some(cursor))
        .await;
    let mut caught_up = [bob.expect(changed).await, bob.expect(changed).await];
    caught_up.sort_by_key(|m| m.id);
    assert_eq!(caught_up[0].text, "first, edited");
    assert!(caught_up[0].edited_at.is_some());
    assert!(caught_up[1].deleted);
    let now = changes_cursor(&bob);
    assert!(now >= caught_up.iter().map(|m| m.change).max().unwrap());
    bob.close().await;

    // Coming back again, up to date: nothing to catch up on.
    let mut bob = server
        .connect_resuming(&bob_cookie, Some(newest), Some(now))
        .await;
    let frames = bob.drain(std::time::Duration::from_millis(300)).await;
    assert!(
        frames.iter().all(|f| changed(f.clone()).is_none()),
        "{frames:?}"
    );
}

#[tokio::test]
async fn only_the_author_edits_and_moderators_delete_other_peoples_messages() {
    let server = TestServer::start().await;
    let mut owner = server.connect(&server.register("owner").await).await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = owner.create_room("study").await;
    alice.join_room(room).await;
    bob.join_room(room).await;
    let id = alice.say(room, "mine").await;

    assert_eq!(
        edit(&mut bob, id, "bob's now").await,
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(
        edit(&mut owner, id, "owner's now").await,
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(delete(&mut bob, id).await, Some(ErrorCode::Forbidden));
    // The room's owner moderates it: they may delete anyone's message.
    assert_eq!(delete(&mut owner, id).await, None);
    let seen = bob.expect(changed).await;
    assert!(seen.id == id && seen.deleted);
    // A deleted message can no longer be edited.
    assert_eq!(
        edit(&mut alice, id, "back").await,
        Some(ErrorCode::NotFound)
    );
    // Bad input gets a clear error and changes nothing.
    let other = alice.say(room, "another").await;
    assert_eq!(
        edit(&mut alice, other, "  ").await,
        Some(ErrorCode::Invalid)
    );
    assert_eq!(
        edit(&mut alice, 999_999, "x").await,
        Some(ErrorCode::NotFound)
    );
    alice
        .send(&ClientFrame::EditMessage {
            message: other,
            text: "x".repeat(4001),
        })
        .await;
    assert_eq!(alice.expect(error_code).await, ErrorCode::Invalid);
}

#[tokio::test]
async fn a_deleted_message_no_longer_counts_as_unread() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let bob_cookie = server.register("bob").await;
    let room = alice.create_room("news").await;
    let mut bob = server.connect(&bob_cookie).await;
    bob.join_room(room).await;
    bob.close().await;
    let one = alice.say(room, "one").await;
    alice.say(room, "two").await;
    assert_eq!(delete(&mut alice, one).await, None);

    let bob = server.connect(&bob_cookie).await;
    let summary = bob.sidebar().into_iter().find(|r| r.id == room).unwrap();
    assert_eq!(summary.unread, 1);
}
