//! Presence: who is online, with several tabs per person.

use crate::support::{TestServer, message_or_presence_first, online_members, presence_of};
use app::protocol::{ClientFrame, LOBBY_ID, ServerFrame};

#[tokio::test]
async fn a_person_with_two_tabs_stays_online_until_the_last_closes() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let bob_cookie = server.register("bob").await;
    // Alice has the lobby's Members panel open.
    assert_eq!(online_members(&mut alice, LOBBY_ID).await, [alice.me().id]);

    let bob_tab1 = server.connect(&bob_cookie).await;
    let bob = bob_tab1.me().id;
    assert!(alice.expect(presence_of(bob)).await, "bob comes online");

    let mut bob_tab2 = server.connect(&bob_cookie).await;
    let online = online_members(&mut bob_tab2, LOBBY_ID).await;
    assert_eq!(online, [alice.me().id, bob]);

    bob_tab1.close().await;
    // Closing one tab announces nothing: a message sent afterwards arrives first.
    let first = message_or_presence_first(&mut alice, bob).await;
    assert_eq!(
        first, "message",
        "bob must still be online with one tab open"
    );

    bob_tab2.close().await;
    assert!(
        !alice.expect(presence_of(bob)).await,
        "bob goes offline with the last tab"
    );
}

#[tokio::test]
async fn the_members_of_a_room_are_listed() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let _bob = server.connect(&server.register("bob").await).await;
    alice.send(&ClientFrame::Members { room: LOBBY_ID }).await;
    let names = alice
        .expect(|f| match f {
            ServerFrame::Members { members, .. } => {
                Some(members.into_iter().map(|u| u.name).collect::<Vec<_>>())
            }
            _ => None,
        })
        .await;
    assert_eq!(names, ["alice", "bob"]);
}

#[tokio::test]
async fn presence_comes_only_for_the_members_of_the_watched_room() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let corner = alice.create_room("quiet corner").await;
    // Alice watches her new room, which only she belongs to.
    assert_eq!(online_members(&mut alice, corner).await, [alice.me().id]);

    // Bob (a lobby member only) comes and goes: nothing for Alice. Carol joins the corner.
    let bob = server.connect(&server.register("bob").await).await;
    bob.close().await;
    let mut carol = server.connect(&server.register("carol").await).await;
    let carol_id = carol.me().id;
    carol.join_room(corner).await;
    carol.close().await;
    // The first presence Alice hears is Carol's going offline, a member of the corner.
    let first = alice
        .expect(|f| match f {
            ServerFrame::Presence { user, online } => Some((user, online)),
            _ => None,
        })
        .await;
    assert_eq!(first, (carol_id, false));
}

#[tokio::test]
async fn every_room_counts_its_members_online_and_the_count_follows_live() {
    let server = crate::support::TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let room = alice.create_room("chess").await;
    let lobby = alice
        .sidebar()
        .into_iter()
        .find(|r| r.id == app::protocol::LOBBY_ID)
        .unwrap();
    assert_eq!(lobby.online, 1, "alice herself");

    let bob_cookie = server.register("bob").await;
    let mut bob = server.connect(&bob_cookie).await;
    // Waits for `room`'s count to be announced as `online`.
    let count = |room: i64, online: u32| {
        move |f: ServerFrame| match f {
            ServerFrame::OnlineCount { room: r, online: n } if r == room && n == online => Some(()),
            _ => None,
        }
    };
    alice.expect(count(app::protocol::LOBBY_ID, 2)).await;
    bob.join_room(room).await;
    alice.expect(count(room, 2)).await;
    // A second tab of bob's changes nothing; closing both does.
    let tab2 = server.connect(&bob_cookie).await;
    tab2.close().await;
    bob.close().await;
    // Both of bob's rooms are recounted in the same tick, in either order.
    let mut pending = vec![room, app::protocol::LOBBY_ID];
    while !pending.is_empty() {
        let counted = alice
            .expect(|f| match f {
                ServerFrame::OnlineCount { room, online: 1 } => Some(room),
                _ => None,
            })
            .await;
        pending.retain(|&r| r != counted);
    }
}
