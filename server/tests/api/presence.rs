//! Presence: who is online, with several tabs per person.

use crate::support::TestServer;
use app::protocol::{ClientFrame, LOBBY_ID, ServerFrame};

fn presence_of(user: i64) -> impl FnMut(ServerFrame) -> Option<bool> {
    move |f| match f {
        ServerFrame::Presence { user: u, online } if u == user => Some(online),
        _ => None,
    }
}

#[tokio::test]
async fn a_person_with_two_tabs_stays_online_until_the_last_closes() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    let bob_cookie = server.register("bob").await;

    let bob_tab1 = server.connect(&bob_cookie).await;
    let bob = bob_tab1.me().id;
    assert!(alice.expect(presence_of(bob)).await, "bob comes online");

    let bob_tab2 = server.connect(&bob_cookie).await;
    let Some(ServerFrame::Welcome { online, .. }) = &bob_tab2.welcome else {
        unreachable!()
    };
    assert!(online.contains(&bob) && online.contains(&alice.me().id));

    bob_tab1.close().await;
    // Closing one tab announces nothing: a message sent afterwards arrives first.
    alice
        .send(&ClientFrame::Send {
            room: LOBBY_ID,
            text: "marker".into(),
            nonce: None,
        })
        .await;
    let first = alice
        .expect(|f| match f {
            ServerFrame::Presence { user, .. } if user == bob => Some("presence"),
            ServerFrame::Message { .. } => Some("message"),
            _ => None,
        })
        .await;
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
