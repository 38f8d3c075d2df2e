//! Presence and online counts across two nodes, and a node that dies.

use std::time::Duration;

use app::protocol::{LOBBY_ID, ServerFrame};

use crate::support::cluster::Cluster;
use crate::support::{Client, message_or_presence_first, online_members, presence_of};

#[tokio::test]
async fn someone_online_on_two_nodes_stays_online_until_both_close() {
    let cluster = Cluster::start().await;
    let mut alice = cluster.a.connect(&cluster.a.register("alice").await).await;
    let bob_cookie = cluster.b.register("bob").await;
    assert_eq!(online_members(&mut alice, LOBBY_ID).await, [alice.me().id]);

    let bob_on_b = cluster.b.connect(&bob_cookie).await;
    let bob = bob_on_b.me().id;
    assert!(alice.expect(presence_of(bob)).await, "bob comes online");
    let bob_on_a = cluster.a.connect(&bob_cookie).await;

    // Carol, on node B, sees both online, whichever node they are on.
    let mut carol = cluster.b.connect(&cluster.b.register("carol").await).await;
    let mut expected = vec![alice.me().id, bob, carol.me().id];
    expected.sort();
    assert_eq!(online_members(&mut carol, LOBBY_ID).await, expected);

    bob_on_b.close().await;
    // Bob is still on node A: a message Alice sends now arrives before any presence news.
    let first = message_or_presence_first(&mut alice, bob).await;
    assert_eq!(first, "message", "bob is still online on node A");

    bob_on_a.close().await;
    assert!(
        !alice.expect(presence_of(bob)).await,
        "bob goes offline with his last connection"
    );
}

/// Waits until an `online_count` frame says the lobby has `count` online (counts are
/// announced once a second, so earlier ones may come first).
async fn lobby_count_becomes(client: &mut Client, count: u32) {
    client
        .expect(|f| match f {
            ServerFrame::OnlineCount { room, online } if room == LOBBY_ID && online == count => {
                Some(())
            }
            _ => None,
        })
        .await
}

#[tokio::test]
async fn online_counts_add_up_across_nodes() {
    let cluster = Cluster::start().await;
    let mut alice = cluster.a.connect(&cluster.a.register("alice").await).await;
    let bob_cookie = cluster.b.register("bob").await;
    let bob_on_b = cluster.b.connect(&bob_cookie).await;
    // Alice here, Bob there.
    lobby_count_becomes(&mut alice, 2).await;

    // The same person on both nodes counts once.
    let bob_on_a = cluster.a.connect(&bob_cookie).await;
    let carol = cluster.b.connect(&cluster.b.register("carol").await).await;
    let lobby = carol
        .sidebar()
        .into_iter()
        .find(|r| r.id == LOBBY_ID)
        .unwrap();
    assert_eq!(
        lobby.online, 3,
        "a newcomer's sidebar counts everyone on every node"
    );
    lobby_count_becomes(&mut alice, 3).await;

    bob_on_b.close().await;
    bob_on_a.close().await;
    // Bob gone from both.
    lobby_count_becomes(&mut alice, 2).await;
}

#[tokio::test]
async fn a_node_that_dies_takes_its_users_offline() {
    let ttl = "1500";
    let cluster = Cluster::start_with(|config| config.presence_ttl_ms = 1500).await;
    let mut alice = cluster.a.connect(&cluster.a.register("alice").await).await;
    online_members(&mut alice, LOBBY_ID).await;
    let mut doomed = cluster.spawn_node(&[("HEARTH_PRESENCE_TTL_MS", ttl)]).await;
    let bob_cookie = cluster.a.register("bob").await;
    let bob_on_doomed = doomed.node.connect(&bob_cookie).await;
    let bob = bob_on_doomed.me().id;
    assert!(alice.expect(presence_of(bob)).await, "bob comes online");
    lobby_count_becomes(&mut alice, 2).await;

    doomed.kill();
    // Within the entries' lifetime and a renewal round (1.5 s + 0.5 s), with room to spare.
    let offline = tokio::time::timeout(Duration::from_secs(4), alice.expect(presence_of(bob)))
        .await
        .expect("bob goes offline soon after his node died");
    assert!(!offline);
    lobby_count_becomes(&mut alice, 1).await;
    drop(bob_on_doomed);
}

#[tokio::test]
async fn a_node_that_stops_takes_its_users_and_counts_out_at_once() {
    let mut cluster = Cluster::start().await;
    let mut alice = cluster.a.connect(&cluster.a.register("alice").await).await;
    online_members(&mut alice, LOBBY_ID).await;
    let bob_on_b = cluster.b.connect(&cluster.b.register("bob").await).await;
    let bob = bob_on_b.me().id;
    assert!(alice.expect(presence_of(bob)).await, "bob comes online");
    lobby_count_becomes(&mut alice, 2).await;

    // Well within the entries' 30 s: the stopping node takes itself out.
    cluster.b.stop().await;
    assert!(!alice.expect(presence_of(bob)).await, "bob goes offline");
    lobby_count_becomes(&mut alice, 1).await;
    drop(bob_on_b);
}
