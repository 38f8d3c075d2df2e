//! Routing, presence and online counts, on a hub without sockets.

use super::*;

fn frame(text: &'static str) -> Frame {
    Frame::from_static(text)
}

#[test]
fn room_frames_reach_only_subscribers() {
    let hub = Hub::default();
    let mut a = hub.connect(1, 0, 0).unwrap();
    let mut b = hub.connect(2, 0, 0).unwrap();
    hub.subscribe(a.id, &[10]);
    hub.to_room(10, &frame("x"));
    assert_eq!(a.queue.try_recv().unwrap().as_str(), "x");
    assert!(b.queue.try_recv().is_err());
}

#[test]
fn a_user_stays_online_until_the_last_connection_closes() {
    let hub = Hub::default();
    let first = hub.connect(7, 0, 0).unwrap();
    let second = hub.connect(7, 0, 0).unwrap();
    assert!(first.came_online);
    assert!(!second.came_online);
    assert_eq!(hub.disconnect(first.id), None);
    assert_eq!(hub.online_among([7, 8]), vec![7]);
    assert!(hub.disconnect(second.id).is_some());
    assert!(hub.online_among([7, 8]).is_empty());
}

#[test]
fn presence_reaches_only_the_watchers_of_the_users_rooms() {
    let hub = Hub::default();
    let mut watcher = hub.connect(1, 0, 0).unwrap();
    let mut elsewhere = hub.connect(2, 0, 0).unwrap();
    let mut unwatched = hub.connect(3, 0, 0).unwrap();
    hub.watch(watcher.id, 10);
    hub.watch(elsewhere.id, 20);
    hub.watch(elsewhere.id, 10);
    hub.watch(elsewhere.id, 30);
    hub.to_watchers(&[10, 11], &frame("presence"));
    assert_eq!(watcher.queue.try_recv().unwrap().as_str(), "presence");
    assert!(watcher.queue.try_recv().is_err(), "heard once");
    assert!(elsewhere.queue.try_recv().is_err(), "moved on to room 30");
    assert!(unwatched.queue.try_recv().is_err());
}

#[test]
fn a_connection_that_stops_reading_is_kicked() {
    let hub = Hub::default();
    let reg = hub.connect(1, 0, 0).unwrap();
    hub.subscribe(reg.id, &[1]);
    for _ in 0..QUEUE_FRAMES {
        hub.to_room(1, &frame("x"));
    }
    let kicked = reg.kicked.clone();
    let notified = kicked.notified();
    tokio::pin!(notified);
    use std::future::Future;
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(
        notified.as_mut().poll(&mut cx).is_pending(),
        "not kicked while the queue has room"
    );
    hub.to_room(1, &frame("one too many"));
    assert!(
        notified.as_mut().poll(&mut cx).is_ready(),
        "kicked once the queue overflowed"
    );
}

#[test]
fn online_counts_change_once_per_person_and_are_announced_once() {
    let hub = Hub::default();
    let a1 = hub.connect(1, 0, 0).unwrap();
    let a2 = hub.connect(1, 0, 0).unwrap();
    let b = hub.connect(2, 0, 0).unwrap();
    hub.subscribe(a1.id, &[10]);
    hub.subscribe(a2.id, &[10]);
    hub.subscribe(b.id, &[10, 11]);
    assert_eq!(hub.online_count(10), 2, "two people, three tabs");
    let mut changes = hub.take_online_changes();
    changes.sort();
    assert_eq!(changes, [(10, 2), (11, 1)]);
    assert!(hub.take_online_changes().is_empty(), "announced once");

    // One of Alice's tabs closes: she is still online. Bob comes and goes: no change.
    hub.disconnect(a1.id);
    let b2 = hub.connect(2, 0, 0).unwrap();
    hub.subscribe(b2.id, &[10]);
    hub.disconnect(b2.id);
    assert!(hub.take_online_changes().is_empty());

    hub.disconnect(a2.id);
    assert_eq!(hub.take_online_changes(), [(10, 1)]);
}

#[test]
fn leaving_a_room_stops_its_frames_for_every_tab() {
    let hub = Hub::default();
    let mut a = hub.connect(1, 0, 0).unwrap();
    let mut b = hub.connect(1, 0, 0).unwrap();
    hub.subscribe_user(1, 5);
    hub.unsubscribe_user(1, 5);
    hub.to_room(5, &frame("x"));
    assert!(a.queue.try_recv().is_err());
    assert!(b.queue.try_recv().is_err());
}

#[test]
fn an_account_may_hold_only_so_many_connections() {
    let hub = Hub::default();
    let first = hub.connect(1, 0, 2).unwrap();
    let _second = hub.connect(1, 0, 2).unwrap();
    assert!(hub.connect(1, 0, 2).is_err(), "the third is refused");
    assert!(hub.connect(2, 0, 2).is_ok(), "someone else is not");
    hub.disconnect(first.id);
    assert!(hub.connect(1, 0, 2).is_ok(), "a closed one frees its place");
}

#[test]
fn signing_out_kicks_only_that_sessions_connections() {
    let hub = Hub::default();
    let laptop = hub.connect(1, 100, 0).unwrap();
    let phone = hub.connect(1, 200, 0).unwrap();
    hub.kick_user(1, Sessions::Only(100), KickReason::SignedOut);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let laptop_kicked = laptop.kicked.notified();
    let phone_kicked = phone.kicked.notified();
    tokio::pin!(laptop_kicked, phone_kicked);
    assert!(laptop_kicked.as_mut().poll(&mut cx).is_ready());
    assert_eq!(laptop.kicked.reason(), KickReason::SignedOut);
    assert!(phone_kicked.as_mut().poll(&mut cx).is_pending());
    hub.kick_user(1, Sessions::All, KickReason::Disabled);
    assert!(phone_kicked.as_mut().poll(&mut cx).is_ready());
    assert_eq!(phone.kicked.reason(), KickReason::Disabled);
}

#[test]
fn a_connect_that_read_its_rooms_before_a_leave_is_told_to_read_again() {
    let hub = Hub::default();
    let other_tab = hub.connect(1, 0, 0).unwrap();
    hub.subscribe(other_tab.id, &[5]);
    let connecting = hub.connect(1, 0, 0).unwrap();
    let seen = hub.membership_changes(1);
    // The other tab leaves room 5 after the connecting one read its rooms (5 among them).
    hub.unsubscribe_user(1, 5);
    assert!(!hub.subscribe_if_unchanged(connecting.id, 1, &[5], seen));
    assert!(
        !hub.is_subscribed(connecting.id, 5),
        "not subscribed to the room left"
    );
    let seen = hub.membership_changes(1);
    assert!(hub.subscribe_if_unchanged(connecting.id, 1, &[], seen));
}
