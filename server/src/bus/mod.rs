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

pub mod presence;
pub mod redis;
pub mod sequencer;
pub mod wire;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use app::protocol::{RoomSummary, ServerFrame};
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::hub::{Frame, Hub, KickReason, ONLINE_COUNT_EVERY, Sessions, encode};
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
    share_now: mpsc::Sender<oneshot::Sender<()>>,
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
        tokio::spawn(share_online_counts(Arc::downgrade(&bus), share_asked));
        tokio::spawn(renew_presence(Arc::downgrade(&bus), ttl / 3));
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

    /// `user` opened their first connection on this node: if they were on no other node, the
    /// people watching the members of their `rooms` hear that they came online.
    pub async fn arrived(&self, user: i64, rooms: &[i64]) {
        let came_online = match &self.cluster {
            Some(cluster) => cluster.presence.arrive(user).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "presence not recorded in Redis");
                true
            }),
            None => true,
        };
        if came_online {
            self.to_watchers(
                rooms,
                &encode(&ServerFrame::Presence { user, online: true }),
            );
        }
    }

    /// `user`'s last connection on this node closed: if they are on no other node, those
    /// watching hear that they went offline.
    pub async fn left(&self, user: i64, rooms: &[i64]) {
        let went_offline = match &self.cluster {
            Some(cluster) => cluster.presence.leave(user).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "presence not recorded in Redis");
                true
            }),
            None => true,
        };
        if went_offline {
            self.to_watchers(
                rooms,
                &encode(&ServerFrame::Presence {
                    user,
                    online: false,
                }),
            );
        }
    }

    /// Which of `users` are online (on any node).
    pub async fn online_among(&self, users: Vec<i64>) -> Vec<i64> {
        if let Some(cluster) = &self.cluster {
            match cluster.presence.online_among(&users).await {
                Ok(online) => return online,
                Err(error) => tracing::warn!(%error, "presence not read from Redis"),
            }
        }
        self.hub.online_among(users)
    }

    /// Fills in each room's online count (on all nodes).
    pub async fn count_online(&self, rooms: &mut [RoomSummary]) {
        if let Some(cluster) = &self.cluster {
            // Counting this connection's own arrival too.
            let (shared, done) = oneshot::channel();
            if cluster.share_now.send(shared).await.is_ok() {
                let _ = done.await;
            }
            let ids: Vec<i64> = rooms.iter().map(|room| room.id).collect();
            match cluster.presence.counts(&ids).await {
                Ok(counts) => {
                    for (room, online) in rooms.iter_mut().zip(counts) {
                        room.online = online;
                    }
                    return;
                }
                Err(error) => tracing::warn!(%error, "online counts not read from Redis"),
            }
        }
        self.hub.count_online(rooms)
    }

    /// How many members of `room` are online (on all nodes).
    pub async fn online_count(&self, room: i64) -> u32 {
        if let Some(cluster) = &self.cluster {
            match cluster.presence.counts(&[room]).await {
                Ok(counts) => return counts.first().copied().unwrap_or(0),
                Err(error) => tracing::warn!(%error, "online count not read from Redis"),
            }
        }
        self.hub.online_count(room)
    }

    /// Tells each room's members online here its count now.
    fn announce_counts(&self, counts: &[(i64, u32)]) {
        for &(room, online) in counts {
            self.hub
                .to_room(room, &encode(&ServerFrame::OnlineCount { room, online }));
        }
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
                sessions: sessions.into(),
                reason: wire::reason_code(reason),
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
            } => hub.kick_user(user, sessions.into(), wire::reason_of(reason)),
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
            let pairs: Vec<(i64, i64, bool)> = self
                .hub
                .local_pairs()
                .into_iter()
                .map(|(room, user)| (room, user, true))
                .collect();
            if let Err(error) = cluster.presence.rooms_changed(&pairs).await {
                tracing::warn!(%error, "online counts not restored in Redis");
            }
            if let Err(error) = cluster.presence.renew(&self.hub.local_users()).await {
                tracing::warn!(%error, "presence not restored in Redis");
            }
            sequencer::fill_now(&cluster.sequencer, &self.store, &self.hub).await;
        }
    }
}

/// Several nodes: every [`ONLINE_COUNT_EVERY`], or when asked, records in Redis who came or
/// went in which room here, and tells every node the rooms' new counts; ends with the bus.
async fn share_online_counts(bus: Weak<Bus>, mut asked: mpsc::Receiver<oneshot::Sender<()>>) {
    let mut ticks = tokio::time::interval(ONLINE_COUNT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let done = tokio::select! {
            _ = ticks.tick() => None,
            asked = asked.recv() => match asked {
                Some(done) => Some(done),
                None => return,
            },
        };
        let Some(bus) = bus.upgrade() else {
            return;
        };
        let Some(cluster) = &bus.cluster else {
            return;
        };
        bus.share_transitions(cluster).await;
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

impl Bus {
    /// Records in Redis who came or went in which room here since the last time, and tells
    /// every node the rooms' new counts.
    async fn share_transitions(&self, cluster: &Cluster) {
        let changes = self.hub.take_transitions();
        match cluster.presence.rooms_changed(&changes).await {
            Ok(counts) if !counts.is_empty() => {
                self.announce_counts(&counts);
                self.publish(Event::Counts { counts }, &[]);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "online counts not recorded in Redis"),
        }
    }
}

/// Several nodes: every third of the presence entries' lifetime, renews this node's entries,
/// and takes out nodes that stopped renewing theirs (their users go offline); ends with the
/// bus.
async fn renew_presence(bus: Weak<Bus>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(bus) = bus.upgrade() else {
            return;
        };
        let Some(cluster) = &bus.cluster else {
            return;
        };
        let dead = match cluster.presence.renew(&bus.hub.local_users()).await {
            Ok(dead) => dead,
            Err(error) => {
                tracing::warn!(%error, "presence not renewed in Redis");
                continue;
            }
        };
        for node in dead.into_iter().filter(|&node| node != cluster.link.node) {
            match cluster.presence.reap(node).await {
                Ok(reaped) => bus.reaped(node, reaped).await,
                Err(error) => tracing::warn!(%error, node, "could not take out a dead node"),
            }
        }
    }
}

impl Bus {
    /// Announces what taking a dead node out changed.
    async fn reaped(&self, node: u64, reaped: presence::Reaped) {
        if reaped.offline.is_empty() && reaped.counts.is_empty() {
            return;
        }
        tracing::info!(
            node,
            offline = reaped.offline.len(),
            "took out a node that stopped"
        );
        if !reaped.offline.is_empty() {
            match self.store.rooms_of(&reaped.offline).await {
                Ok(sidebars) => {
                    for (user, rooms) in sidebars {
                        let rooms: Vec<i64> = rooms.iter().map(|room| room.id).collect();
                        let frame = encode(&ServerFrame::Presence {
                            user,
                            online: false,
                        });
                        self.to_watchers(&rooms, &frame);
                    }
                }
                Err(error) => tracing::warn!(%error, "could not read the rooms of those offline"),
            }
        }
        if !reaped.counts.is_empty() {
            self.announce_counts(&reaped.counts);
            self.publish(
                Event::Counts {
                    counts: reaped.counts,
                },
                &[],
            );
        }
    }
}
