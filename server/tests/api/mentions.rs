//! Unread mentions: a person coming back finds, beside each room's unread count, how many of
//! those messages mention them (`@name`, ignoring case, not in code, not an email address).

use app::protocol::{ClientFrame, LOBBY_ID, RoomSummary};

use server::mentions::WINDOW;

use crate::support::{Client, TestServer, without_flood_limits};

fn room(client: &Client, id: i64) -> RoomSummary {
    client
        .sidebar()
        .into_iter()
        .find(|room| room.id == id)
        .expect("the room is in the sidebar")
}

#[tokio::test]
async fn a_returning_person_finds_their_unread_mentions_counted_apart_per_room() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("Bob").await;
    let on_bob = server.connect(&bob).await;
    let bob_id = on_bob.me().id;
    on_bob.close().await;

    let mut on_alice = server.connect(&alice).await;
    for text in [
        "@bob, are you there?",
        "@bobby is someone else",
        "write `@bob` to call him",
        "bob@example.com is his address",
        "**HELLO @BOB**",
        "nothing for bob here",
    ] {
        on_alice.say(LOBBY_ID, text).await;
    }
    let deleted = on_alice.say(LOBBY_ID, "@bob never mind").await;
    on_alice
        .send(&ClientFrame::DeleteMessage { message: deleted })
        .await;
    let direct = on_alice.open_direct(bob_id).await;
    on_alice.say(direct, "@Bob a word in private").await;
    on_alice.say(direct, "and another").await;
    // The deletion has been applied once a later command has been answered.
    on_alice.say(LOBBY_ID, "last one").await;

    let on_bob = server.connect(&bob).await;
    let lobby = room(&on_bob, LOBBY_ID);
    assert_eq!((lobby.unread, lobby.mentions), (7, 2));
    let conversation = room(&on_bob, direct);
    assert_eq!((conversation.unread, conversation.mentions), (2, 1));
}

#[tokio::test]
async fn mentions_read_are_no_longer_counted() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let mut on_alice = server.connect(&alice).await;
    let first = on_alice.say(LOBBY_ID, "@bob one").await;
    on_alice.say(LOBBY_ID, "@bob two").await;

    let mut on_bob = server.connect(&bob).await;
    assert_eq!(room(&on_bob, LOBBY_ID).mentions, 2);
    on_bob
        .send(&ClientFrame::MarkRead {
            room: LOBBY_ID,
            message: first,
        })
        .await;
    on_bob.close().await;
    let mut on_bob = server.connect(&bob).await;
    let lobby = room(&on_bob, LOBBY_ID);
    assert_eq!((lobby.unread, lobby.mentions), (1, 1));

    // Posting marks the room read: nothing is left to count.
    on_bob.say(LOBBY_ID, "thanks @alice").await;
    on_bob.close().await;
    let on_bob = server.connect(&bob).await;
    let lobby = room(&on_bob, LOBBY_ID);
    assert_eq!((lobby.unread, lobby.mentions), (0, 0));
}

#[tokio::test]
async fn only_mentions_among_a_rooms_newest_messages_are_counted_however_far_behind() {
    let server = TestServer::start_with(without_flood_limits).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let mut on_alice = server.connect(&alice).await;
    on_alice.say(LOBBY_ID, "@bob from long ago").await;
    for n in 0..WINDOW {
        on_alice.say(LOBBY_ID, &format!("chatter {n}")).await;
    }
    on_alice.say(LOBBY_ID, "@bob just now").await;

    let on_bob = server.connect(&bob).await;
    let lobby = room(&on_bob, LOBBY_ID);
    assert_eq!(lobby.unread as usize, WINDOW + 2);
    assert_eq!(lobby.mentions, 1, "the newest only");
}
