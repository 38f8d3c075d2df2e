//! Typing indicators ("alice is typing…"): never stored, throttled and coalesced.
//!
//! A client sends `typing` while its person writes in a room. The server takes at most one a
//! typist every [`TYPIST_EVERY`] per room (more are dropped, not refused: the client throttles
//! itself too), and gathers the typists of each room for [`COALESCE`]: one encoded frame per
//! room then goes to its members, however many people type, so a room of 1,000 with ten people
//! typing costs ten thousand deliveries a tick at most rather than per keystroke. The browser
//! forgets a typist [`app::protocol::TYPING_SHOWN_MS`] after the last frame that named them, or
//! when their message arrives.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use app::protocol::{ServerFrame, User};

use crate::bus::Bus;
use crate::hub::encode;

/// The shortest time between two typing frames of the same person in the same room.
pub const TYPIST_EVERY: Duration = Duration::from_secs(3);
/// How long the typists of a room are gathered before one frame announces them all.
pub const COALESCE: Duration = Duration::from_millis(250);

#[derive(Default)]
pub struct Typing {
    rooms: Mutex<HashMap<i64, RoomTyping>>,
}

#[derive(Default)]
struct RoomTyping {
    /// When each typist's last frame was taken.
    taken: HashMap<i64, Instant>,
    /// The typists to announce at the next tick.
    pending: Vec<User>,
}

impl Typing {
    /// `user` types in `room` now: true if this is announced, false if they were announced
    /// less than [`TYPIST_EVERY`] ago.
    pub fn note(&self, room: i64, user: &User, now: Instant) -> bool {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let typing = rooms.entry(room).or_default();
        if typing
            .taken
            .get(&user.id)
            .is_some_and(|&at| now.duration_since(at) < TYPIST_EVERY)
        {
            return false;
        }
        typing.taken.insert(user.id, now);
        typing.pending.push(user.clone());
        true
    }

    /// The typists gathered since the last call, by room; forgets who has not typed for
    /// [`TYPIST_EVERY`].
    pub fn take(&self, now: Instant) -> Vec<(i64, Vec<User>)> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Vec::new();
        rooms.retain(|&room, typing| {
            if !typing.pending.is_empty() {
                due.push((room, std::mem::take(&mut typing.pending)));
            }
            typing
                .taken
                .retain(|_, at| now.duration_since(*at) < TYPIST_EVERY);
            !typing.taken.is_empty()
        });
        due
    }
}

/// Announces the gathered typists every [`COALESCE`], one encoded frame per room (on every
/// node); ends when the bus is gone.
pub async fn announce(typing: Weak<Typing>, bus: Weak<Bus>) {
    let mut ticks = tokio::time::interval(COALESCE);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let (Some(typing), Some(bus)) = (typing.upgrade(), bus.upgrade()) else {
            return;
        };
        for (room, users) in typing.take(Instant::now()) {
            bus.to_room(room, &encode(&ServerFrame::Typing { room, users }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id,
            name: format!("user{id}"),
        }
    }

    #[test]
    fn a_typist_is_announced_at_most_once_every_three_seconds() {
        let typing = Typing::default();
        let start = Instant::now();
        assert!(typing.note(1, &user(1), start));
        assert!(!typing.note(1, &user(1), start + Duration::from_millis(2_900)));
        // Another room is another indicator.
        assert!(typing.note(2, &user(1), start + Duration::from_millis(2_900)));
        assert!(typing.note(1, &user(1), start + TYPIST_EVERY));
    }

    #[test]
    fn the_typists_of_a_room_are_announced_together() {
        let typing = Typing::default();
        let now = Instant::now();
        for id in 1..=3 {
            typing.note(7, &user(id), now);
        }
        typing.note(8, &user(4), now);
        let mut due = typing.take(now);
        due.sort_by_key(|(room, _)| *room);
        assert_eq!(
            due,
            [(7, vec![user(1), user(2), user(3)]), (8, vec![user(4)])]
        );
        assert!(typing.take(now).is_empty(), "announced once");
    }

    #[test]
    fn typists_are_forgotten_once_quiet() {
        let typing = Typing::default();
        let now = Instant::now();
        typing.note(7, &user(1), now);
        typing.take(now);
        assert_eq!(typing.rooms.lock().unwrap().len(), 1);
        typing.take(now + TYPIST_EVERY);
        assert!(typing.rooms.lock().unwrap().is_empty());
    }
}
