//! The bus: every fan-out goes through here, to this node's connections (the [`Hub`]) and,
//! when several nodes share a database, to the other nodes' through Redis.
//!
//! One node alone (the default, on SQLite or PostgreSQL): each call goes straight to the hub,
//! and the message log's commits are delivered as they are made.
//!
//! Several nodes (`--redis-url`, on PostgreSQL): each call also publishes the event, encoded
//! once ([`wire`]), and each node applies what the others publish to its own hub. The log's
//! commits (messages, edits, deletions) carry their position in the cluster's log, and every
//! node delivers them in that order ([`sequencer`]), filling what Redis lost from the database.
//! Other events (room changes, memberships, kicks, presence) are not in the log: a node that
//! lost its link for a while has its connections reconnect, which re-reads all of that
//! ([`Bus::resync`]).

mod online;
pub mod presence;
pub mod redis;
pub mod sequencer;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::hub::{Frame, Hub, KickReason, Sessions};
use crate::store::Store;
use presence::Presence;
use sequencer::Sequencer;
use wire::{Event, Item};

pub struct Bus {
    hub: Arc<Hub>,
    cluster: Option<Cluster>,
    /// One node alone: the newest change number delivered.
    published_change: AtomicI64,
    store: Store,
}

/// What a node of several has besides its hub.
struct Cluster {
    link: redis::Link,
    sequencer: Arc<Sequencer>,
    presence: Presence,
    /// Asks the task that shares online counts to share what changed now (one task does it,
    /// so that changes reach Redis in the order they happened).
    share_now: mpsc::Sender<online::Share>,
}

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("--redis-url needs a postgres:// database that all nodes share")]
    NotShared,
    #[error("Redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Bus {
    /// One node alone, or (with `redis_url`) one of several.
    pub async fn start(store: Store, hub: Arc<Hub>, config: &Config) -> Result<Arc<Bus>, BusError> {
        let Some(url) = config.redis_url.as_deref() else {
            let latest = store.latest_change().await?;
            return Ok(Arc::new(Bus {
                hub,
                cluster: None,
                published_change: AtomicI64::new(latest),
                store,
            }));
        };
        if !store.is_shared() {
            return Err(BusError::NotShared);
        }
        // Subscribed before reading where the log stands: whatever commits after this read
        // reaches the sequencer, from the bus or from a fill.
        let (link, pushes, listener) = redis::Link::connect(url).await?;
        let head = store.log_head().await?;
        let sequencer = Arc::new(Sequencer::new(
            head.position,
            head.last_message,
            head.last_change,
        ));
        let node = link.node;
        let ttl = Duration::from_millis(config.presence_ttl_ms.max(300));
        let presence = Presence::new(link.commands.clone(), node, ttl);
        hub.track_transitions();
        let (share_now, share_asked) = mpsc::channel(64);
        let bus = Arc::new(Bus {
            hub: hub.clone(),
            cluster: Some(Cluster {
                link,
                sequencer: sequencer.clone(),
                presence,
                share_now,
            }),
            published_change: AtomicI64::new(head.position),
            store: store.clone(),
        });
        tokio::spawn(redis::listen(Arc::downgrade(&bus), node, pushes, listener));
        tokio::spawn(sequencer::fill_gaps(sequencer, store, Arc::downgrade(&hub)));
        tokio::spawn(online::share_online_counts(
            Arc::downgrade(&bus),
            share_asked,
        ));
        tokio::spawn(online::renew_presence(Arc::downgrade(&bus), ttl / 3));
        tracing::info!(node, "joined the other nodes through Redis");
        Ok(bus)
    }

    /// This node's connections.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The Redis connection nodes share state through (rate limits), when there are several.
    pub fn redis(&self) -> Option<::redis::aio::ConnectionManager> {
        self.cluster
            .as_ref()
            .map(|cluster| cluster.link.commands.clone())
    }

    /// Whether this node is one of several.
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// The newest change number delivered to this node's connections: a connection subscribed
    /// before reading it hears every later change live, and finds every earlier one stored.
    pub fn published_change(&self) -> i64 {
        match &self.cluster {
            Some(cluster) => cluster.sequencer.delivered(),
            None => self.published_change.load(Ordering::Acquire),
        }
    }

    fn publish(&self, event: Event, frames: &[&Frame]) {
        if let Some(cluster) = &self.cluster {
            cluster.link.publish(event, frames);
        }
    }

    /// Delivers a commit of the log (new messages, or a message's new state), each item with its
    /// frame, in the log's order.
    pub fn log(&self, position: Option<i64>, items: Vec<(Item, Frame)>) {
        match (&self.cluster, position) {
            (Some(cluster), Some(position)) => {
                let frames: Vec<&Frame> = items.iter().map(|(_, frame)| frame).collect();
                let event = Event::Log {
                    position,
                    items: items.iter().map(|(item, _)| *item).collect(),
                };
                cluster.link.publish(event, &frames);
                cluster.sequencer.offer(&self.hub, position, items);
            }
            _ => {
                let mut newest_change = None;
                for (item, frame) in &items {
                    self.hub.to_room(item.room, frame);
                    if item.change > 0 {
                        newest_change = Some(item.change);
                    }
                }
                if let Some(change) = newest_change {
                    self.published_change.store(change, Ordering::Release);
                }
            }
        }
    }

    /// A frame for the members of `room` online (on every node).
    pub fn to_room(&self, room: i64, frame: &Frame) {
        self.hub.to_room(room, frame);
        self.publish(Event::Room { room }, &[frame]);
    }

    /// A frame for every connection of `user`.
    pub fn to_user(&self, user: i64, frame: &Frame) {
        self.hub.to_user(user, frame);
        self.publish(Event::User { user }, &[frame]);
    }

    /// A frame for everyone.
    pub fn to_all(&self, frame: &Frame) {
        self.hub.to_all(frame);
        self.publish(Event::All, &[frame]);
    }

    /// A presence change for those watching the members of any of `rooms`.
    pub fn to_watchers(&self, rooms: &[i64], frame: &Frame) {
        self.hub.to_watchers(rooms, frame);
        self.publish(
            Event::Watchers {
                rooms: rooms.to_vec(),
            },
            &[frame],
        );
    }

    /// Closes the connections of `user` opened with the `sessions` chosen, on every node.
    pub fn kick_user(&self, user: i64, sessions: Sessions, reason: KickReason) {
        self.hub.kick_user(user, sessions, reason);
        self.publish(
            Event::Kick {
                user,
                sessions,
                reason,
            },
            &[],
        );
    }

    /// `user` joined `room`: their connections on every node hear it from now on.
    pub fn subscribe_user(&self, user: i64, room: i64) {
        self.hub.subscribe_user(user, room);
        self.publish(Event::Subscribe { user, room }, &[]);
    }

    /// `user` left `room` (or was removed).
    pub fn unsubscribe_user(&self, user: i64, room: i64) {
        self.hub.unsubscribe_user(user, room);
        self.publish(Event::Unsubscribe { user, room }, &[]);
    }

    /// `room` was deleted.
    pub fn drop_room(&self, room: i64) {
        self.hub.drop_room(room);
        self.publish(Event::DropRoom { room }, &[]);
    }

    /// Applies another node's event to this node's connections.
    fn apply(&self, event: Event, frames: Vec<Frame>) {
        let hub = &self.hub;
        match event {
            Event::Log { position, items } => {
                if let Some(cluster) = &self.cluster {
                    let items = items.into_iter().zip(frames).collect();
                    cluster.sequencer.offer(hub, position, items);
                }
            }
            Event::Room { room } => frames.iter().for_each(|f| hub.to_room(room, f)),
            Event::User { user } => frames.iter().for_each(|f| hub.to_user(user, f)),
            Event::All => frames.iter().for_each(|f| hub.to_all(f)),
            Event::Watchers { rooms } => frames.iter().for_each(|f| hub.to_watchers(&rooms, f)),
            Event::Kick {
                user,
                sessions,
                reason,
            } => hub.kick_user(user, sessions, reason),
            Event::Subscribe { user, room } => hub.subscribe_user(user, room),
            Event::Unsubscribe { user, room } => hub.unsubscribe_user(user, room),
            Event::DropRoom { room } => hub.drop_room(room),
            Event::Counts { counts } => self.announce_counts(&counts),
        }
    }

    /// After this node missed events from the others: the log is read back from the database,
    /// and every connection here reconnects (to this node or another), which re-reads its
    /// rooms, memberships and session and catches up from its cursors.
    /// Redis may have lost this node's presence entries (a restart): they are said again.
    async fn resync(&self) {
        crate::operations::bus_resync();
        self.hub.kick_all(KickReason::Resync);
        if let Some(cluster) = &self.cluster {
            cluster.share(true).await;
            sequencer::fill_now(&cluster.sequencer, &self.store, &self.hub).await;
        }
    }
}
