//! The store's own tests, through [`Store`]: they run on SQLite, and on PostgreSQL when
//! `HEARTH_TEST_DATABASE=postgres` (see [`test_support`](super::test_support)).

use app::protocol::{ChatMessage, LOBBY_ID, MessageKind, RoomSummary, User, Visibility};

use super::test_support::{fresh_store, remove};
use super::*;

async fn person(store: &Store, name: &str) -> User {
    store.create_user(name, "x").await.unwrap().unwrap().user
}

fn text(room: i64, author: &User, text: &str) -> NewMessage {
    NewMessage {
        nonce: None,
        room,
        author: author.clone(),
        kind: MessageKind::Text,
        text: text.into(),
    }
}

fn texts(page: &[ChatMessage]) -> Vec<(i64, &str)> {
    page.iter().map(|m| (m.id, m.text.as_str())).collect()
}

/// `room` as it appears in `user`'s sidebar.
async fn summary(store: &Store, user: &User, room: i64) -> RoomSummary {
    let mut sidebars = store.rooms_of(&[user.id]).await.unwrap();
    let sidebar = sidebars.remove(&user.id).unwrap();
    sidebar.into_iter().find(|r| r.id == room).unwrap()
}

async fn unread(store: &Store, user: &User, room: i64) -> u32 {
    summary(store, user, room).await.unread
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_from_many_people_at_once_all_land_and_reads_see_them() {
    let (store, path) = fresh_store("many-writers").await;
    let mut people = Vec::new();
    for i in 0..20 {
        people.push(person(&store, &format!("p{i}")).await);
    }
    // Each person, at the same moment: creates a room, posts in the lobby, and marks it read.
    let writes = people.iter().enumerate().map(|(i, me)| {
        let store = store.clone();
        let me = me.clone();
        tokio::spawn(async move {
            let room = store
                .create_room(&format!("room{i}"), Visibility::Public, me.id)
                .await?;
            let room = room.expect("a fresh name").id;
            let id = store
                .append_message(&text(LOBBY_ID, &me, "hello"), 0)
                .await?
                .ids[0];
            store.join(room, me.id).await?;
            store.mark_read(LOBBY_ID, me.id, id).await?;
            Ok::<_, sqlx::Error>(room)
        })
    });
    let rooms: Vec<i64> = futures::future::join_all(writes)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert_eq!(rooms.len(), 20);
    let (lobby, _) = store.history(LOBBY_ID, None, 100).await.unwrap();
    assert_eq!(lobby.iter().filter(|m| m.text == "hello").count(), 20);
    for (me, room) in people.iter().zip(&rooms) {
        let sidebar = &store.rooms_of(&[me.id]).await.unwrap()[&me.id];
        assert!(
            sidebar.iter().any(|r| r.id == *room),
            "{} sees their room",
            me.name
        );
    }
    remove(store, path).await;
}

#[tokio::test]
async fn a_batch_is_stored_whole_in_its_order_or_not_at_all() {
    let (store, path) = fresh_store("batch").await;
    let alice = person(&store, "alice").await;
    let bob = person(&store, "bob").await;
    let chess = store
        .create_room("chess", Visibility::Public, bob.id)
        .await
        .unwrap()
        .unwrap()
        .id;

    let ids = store
        .append_messages(
            &[
                text(LOBBY_ID, &alice, "one"),
                text(chess, &bob, "e4"),
                text(LOBBY_ID, &alice, "two"),
            ],
            0,
        )
        .await
        .unwrap()
        .ids;
    // The ids are the batch's own, rising in its order, as each room's history shows.
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let (lobby, _) = store.history(LOBBY_ID, None, 10).await.unwrap();
    assert_eq!(texts(&lobby), [(ids[0], "one"), (ids[2], "two")]);
    let (board, _) = store.history(chess, None, 10).await.unwrap();
    assert_eq!(texts(&board), [(ids[1], "e4")]);
    // The counts moved with it: Bob has Alice's two to read, Alice wrote them.
    assert_eq!(unread(&store, &bob, LOBBY_ID).await, 2);
    assert_eq!(unread(&store, &alice, LOBBY_ID).await, 0);
    // And each room's newest message is the batch's last one there.
    assert_eq!(summary(&store, &bob, LOBBY_ID).await.latest, ids[2]);
    assert_eq!(summary(&store, &bob, chess).await.latest, ids[1]);

    // One message to a room that is gone sinks its batch, and nothing of it is kept.
    let failed = store
        .append_messages(
            &[text(LOBBY_ID, &alice, "three"), text(9999, &bob, "lost")],
            0,
        )
        .await;
    assert!(failed.is_err());
    let (after, _) = store.history(LOBBY_ID, None, 10).await.unwrap();
    assert_eq!(texts(&after), texts(&lobby));
    assert_eq!(unread(&store, &bob, LOBBY_ID).await, 2);
    remove(store, path).await;
}

#[tokio::test]
async fn expired_sessions_are_purged_and_live_ones_kept() {
    let (store, path) = fresh_store("sessions").await;
    let alice = store.create_user("alice", "x").await.unwrap().unwrap().user;
    store
        .create_session("old", alice.id, now_ms() - 1)
        .await
        .unwrap();
    store
        .create_session("live", alice.id, now_ms() + 60_000)
        .await
        .unwrap();
    let purged = store.purge_expired_sessions().await.unwrap();
    assert_eq!(purged, [(alice.id, "old".to_owned())]);
    let live = store
        .session_users(&["old".to_owned(), "live".to_owned()])
        .await
        .unwrap();
    assert_eq!(live.keys().collect::<Vec<_>>(), ["live"]);
    remove(store, path).await;
}

#[tokio::test]
async fn a_disabled_account_has_no_live_session() {
    let (store, path) = fresh_store("disabled").await;
    let alice = store.create_user("alice", "x").await.unwrap().unwrap().user;
    store
        .create_session("s", alice.id, now_ms() + 60_000)
        .await
        .unwrap();
    assert!(store.set_disabled(alice.id, true).await.unwrap());
    let live = store.session_users(&["s".to_owned()]).await.unwrap();
    assert!(live.is_empty());
    assert!(
        store
            .account_by_name("alice")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    remove(store, path).await;
}

#[tokio::test]
async fn change_numbers_keep_rising_after_the_newest_changed_message_is_purged() {
    let (store, path) = fresh_store("changes").await;
    let alice = person(&store, "alice").await;
    let old = store
        .create_room("old", Visibility::Public, alice.id)
        .await
        .unwrap()
        .unwrap()
        .id;
    let ids = store
        .append_messages(&[text(LOBBY_ID, &alice, "b"), text(old, &alice, "a")], 0)
        .await
        .unwrap()
        .ids;
    let edit = |id: i64, words: &str| {
        let store = store.clone();
        let change = Change::Edit(words.into());
        async move {
            let changed = store.change_message(id, alice.id, &change, 1).await;
            let changed = changed.unwrap().expect("the message exists");
            // On PostgreSQL the change takes the log's next position as its number.
            let shared = store.is_shared();
            assert_eq!(changed.position, shared.then_some(changed.message.change));
            changed.message.change
        }
    };
    let first = edit(ids[0], "b2").await;
    let newest = edit(ids[1], "a2").await;
    assert!(newest > first);
    // A change to a message that is gone uses up no number.
    let gone = store
        .change_message(9999, alice.id, &Change::Delete, 1)
        .await
        .unwrap();
    assert!(gone.is_none());

    store.archive_room(old).await.unwrap();
    store.purge_room(old).await.unwrap();
    let after = edit(ids[0], "b3").await;
    assert_eq!(
        after,
        newest + 1,
        "a client whose cursor is at the purged change still hears this one"
    );
    remove(store, path).await;
}
