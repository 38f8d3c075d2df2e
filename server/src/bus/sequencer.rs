//! The cluster's log, delivered in order on this node.
//!
//! Every commit of messages and every edit or deletion has a position in the log, given by
//! PostgreSQL without gaps (migration 0002). Each node publishes its own commits; Redis brings
//! the others' in whatever order the nodes published them, and may drop some. The sequencer
//! delivers positions to this node's connections strictly in order, so a client that has seen
//! message n (or change n) has seen everything before it in its rooms, and its resume cursors
//! stay right on any node.
//!
//! A position that arrives early waits for the ones before it. If they do not come within
//! [`GAP_WAIT`] (a publish was lost, or a node died between its commit and its publish), the
//! gap is filled from the database: everything after the last message and change delivered,
//! read in one snapshot with the log's position.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use app::protocol::ServerFrame;
use tokio::sync::Notify;

use super::wire::Item;
use crate::hub::{Frame, Hub, KickReason, encode};
use crate::store::{LogTail, Store};

/// How long an early position waits for the ones before it before they are read back.
pub const GAP_WAIT: Duration = Duration::from_millis(250);

/// Most messages (and, apart, changes) one fill reads; a node further behind than this has
/// its connections reconnect and catch up on their own instead.
const FILL_MAX: usize = 5000;

pub struct Sequencer {
    order: Mutex<Order>,
    /// Woken when a position arrives early.
    gap: Notify,
    /// The last position delivered: every change number up to it has reached this node's
    /// connections (the welcome's change cursor).
    delivered: AtomicI64,
}

struct Order {
    /// The next position to deliver.
    next: i64,
    /// The newest message id and change number delivered (a fill may deliver some of a commit
    /// that is still on its way: those are skipped when it comes).
    last_message: i64,
    last_change: i64,
    /// Positions that came before their turn.
    early: BTreeMap<i64, Vec<(Item, Frame)>>,
}

impl Sequencer {
    /// Follows the log after `position` (its last position when this node starts), with
    /// `last_message` and `last_change` as the newest message id and change number stored.
    pub fn new(position: i64, last_message: i64, last_change: i64) -> Self {
        Sequencer {
            order: Mutex::new(Order {
                next: position + 1,
                last_message,
                last_change,
                early: BTreeMap::new(),
            }),
            gap: Notify::new(),
            delivered: AtomicI64::new(position),
        }
    }

    fn order(&self) -> MutexGuard<'_, Order> {
        self.order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn delivered(&self) -> i64 {
        self.delivered.load(Ordering::Acquire)
    }

    /// Takes the commit at `position` (this node's own, or one from the bus): delivers it if its
    /// turn has come, with any early ones it unblocks; otherwise keeps it for its turn.
    pub fn offer(&self, hub: &Hub, position: i64, items: Vec<(Item, Frame)>) {
        let mut order = self.order();
        if position < order.next {
            return; // delivered already (by a fill)
        }
        if position > order.next {
            let first_early = order.early.is_empty();
            order.early.insert(position, items);
            if first_early {
                self.gap.notify_one();
            }
            return;
        }
        order.deliver(hub, items);
        order.next += 1;
        order.release(hub);
        self.delivered.store(order.next - 1, Ordering::Release);
    }

    /// Whether some position is waiting for an earlier one.
    fn waiting(&self) -> bool {
        !self.order().early.is_empty()
    }

    /// The newest message id and change number delivered, to read the database after them.
    fn cursors(&self) -> (i64, i64) {
        let order = self.order();
        (order.last_message, order.last_change)
    }

    /// Delivers what the database holds beyond this node's cursors (read by
    /// [`Store::log_tail`]), then whatever waited for it.
    pub fn fill(&self, hub: &Hub, tail: LogTail) {
        let mut order = self.order();
        if tail.position < order.next {
            return; // everything it holds came meanwhile
        }
        if tail.messages.len() >= FILL_MAX || tail.changed.len() >= FILL_MAX {
            // Too far behind to replay here: the connections catch up from their own cursors.
            tracing::warn!(
                position = tail.position,
                "too far behind the log: reconnecting"
            );
            hub.kick_all(KickReason::Resync);
        } else {
            let messages = tail.messages.into_iter().map(|message| {
                let item = Item {
                    room: message.room,
                    id: message.id,
                    change: 0,
                };
                (item, encode(&ServerFrame::Message { message }))
            });
            let changed = tail.changed.into_iter().map(|message| {
                let item = Item {
                    room: message.room,
                    id: message.id,
                    change: message.change,
                };
                (item, encode(&ServerFrame::MessageChanged { message }))
            });
            let items: Vec<(Item, Frame)> = messages.chain(changed).collect();
            order.deliver(hub, items);
        }
        order.next = tail.position + 1;
        let next = order.next;
        order.early.retain(|&position, _| position >= next);
        order.release(hub);
        self.delivered.store(order.next - 1, Ordering::Release);
    }
}

impl Order {
    /// Delivers a commit's items, skipping those a fill delivered already.
    fn deliver(&mut self, hub: &Hub, items: Vec<(Item, Frame)>) {
        for (item, frame) in items {
            if item.change == 0 {
                if item.id <= self.last_message {
                    continue;
                }
                self.last_message = item.id;
            } else {
                if item.change <= self.last_change {
                    continue;
                }
                self.last_change = item.change;
            }
            hub.to_room(item.room, &frame);
        }
    }

    /// Delivers the early positions whose turn has come.
    fn release(&mut self, hub: &Hub) {
        while let Some(items) = self.early.remove(&self.next) {
            self.deliver(hub, items);
            self.next += 1;
        }
    }
}

/// Fills gaps that stay open for [`GAP_WAIT`]; ends with the hub.
pub async fn fill_gaps(sequencer: Arc<Sequencer>, store: Store, hub: Weak<Hub>) {
    loop {
        sequencer.gap.notified().await;
        tokio::time::sleep(GAP_WAIT).await;
        while sequencer.waiting() {
            let Some(hub) = hub.upgrade() else {
                return;
            };
            if !fill_now(&sequencer, &store, &hub).await {
                tokio::time::sleep(GAP_WAIT).await;
            }
        }
    }
}

/// Reads what this node missed and delivers it; false if the database could not be read.
pub async fn fill_now(sequencer: &Sequencer, store: &Store, hub: &Hub) -> bool {
    let (after_message, after_change) = sequencer.cursors();
    match store.log_tail(after_message, after_change, FILL_MAX).await {
        Ok(tail) => {
            crate::operations::log_filled();
            sequencer.fill(hub, tail);
            true
        }
        Err(error) => {
            tracing::warn!(%error, "could not read the log to fill a gap");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use app::protocol::{ChatMessage, MessageKind, User};
    use tokio::sync::mpsc;

    use super::*;

    /// A hub with one connection in room 1; returns what that connection receives.
    fn listener() -> (Hub, mpsc::Receiver<Frame>) {
        let hub = Hub::default();
        let registration = hub.connect(7, 0, 0).unwrap();
        hub.subscribe(registration.id, &[1]);
        (hub, registration.queue)
    }

    fn received(queue: &mut mpsc::Receiver<Frame>) -> Vec<String> {
        std::iter::from_fn(|| queue.try_recv().ok())
            .map(|frame| frame.as_str().to_owned())
            .collect()
    }

    fn message(id: i64) -> (Item, Frame) {
        let item = Item {
            room: 1,
            id,
            change: 0,
        };
        (item, Frame::from(format!("m{id}")))
    }

    #[test]
    fn commits_are_delivered_in_log_order_whatever_order_they_arrive_in() {
        let (hub, mut queue) = listener();
        let sequencer = Sequencer::new(10, 100, 0);
        sequencer.offer(&hub, 12, vec![message(102)]);
        sequencer.offer(&hub, 13, vec![message(103), message(104)]);
        assert!(received(&mut queue).is_empty(), "12 and 13 wait for 11");
        assert!(sequencer.waiting());

        sequencer.offer(&hub, 11, vec![message(101)]);
        assert_eq!(received(&mut queue), ["m101", "m102", "m103", "m104"]);
        assert_eq!(sequencer.delivered(), 13);
        assert!(!sequencer.waiting());

        sequencer.offer(&hub, 12, vec![message(102)]);
        assert!(received(&mut queue).is_empty(), "a repeat is dropped");
    }

    #[test]
    fn a_gap_filled_from_the_database_delivers_what_was_lost_once() {
        let (hub, mut queue) = listener();
        let sequencer = Sequencer::new(10, 100, 0);
        // 11 was lost; 12 (message 103) arrived early.
        sequencer.offer(&hub, 12, vec![message(103)]);
        let stored = |id: i64| ChatMessage {
            id,
            room: 1,
            author: User {
                id: 7,
                name: "ann".into(),
            },
            kind: MessageKind::Text,
            text: format!("t{id}"),
            sent_at: 0,
            edited_at: None,
            deleted: false,
            change: 0,
            feedback: false,
        };
        // The database, read a moment later, has 11 and 12 (and the change at 13).
        let mut edited = stored(101);
        edited.change = 13;
        sequencer.fill(
            &hub,
            LogTail {
                position: 13,
                messages: vec![stored(101), stored(102), stored(103)],
                changed: vec![edited],
            },
        );
        let got = received(&mut queue);
        assert_eq!(got.len(), 4, "three messages and the change: {got:?}");
        assert!(got[0].contains("\"id\":101") && got[2].contains("\"id\":103"));
        assert!(got[3].contains("message_changed"));
        assert_eq!(sequencer.delivered(), 13);
        assert!(!sequencer.waiting(), "the early commit was in the fill");

        // The lost commits arrive late after all: nothing twice.
        sequencer.offer(&hub, 11, vec![message(101), message(102)]);
        sequencer.offer(&hub, 14, vec![message(103), message(105)]);
        assert_eq!(received(&mut queue), ["m105"]);
    }
}
