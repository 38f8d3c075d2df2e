//! The hub: routes encoded events to the connections on this server.
//!
//! An event is serialized once into a [`Frame`] (reference-counted bytes); delivering it to a
//! recipient is a reference-count bump and a `try_send` into that connection's bounded queue.
//! A connection whose queue is full is told to go (it is too slow), so a stuck reader can never
//! grow server memory. The lock is a plain `RwLock`, held only for in-memory bookkeeping and
//! never across an `.await`.
//!
//! The hub also knows, per room, which members are online (they have a connection subscribed to
//! it). A change to that count marks the room; [`announce_online_counts`] sends each marked
//! room's count once a tick, so a thousand people arriving in a room cost its members one frame
//! each per tick, not one per arrival.
//!
//! The hub knows only this node's connections: everything else reaches it through the bus
//! ([`crate::bus`]), which also tells the other nodes, when there are several, and hands what
//! they publish to the same methods here.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use app::protocol::{RoomSummary, ServerFrame};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};

/// An encoded server frame, shared by every recipient.
pub type Frame = Utf8Bytes;

/// Frames a connection may have waiting before it counts as too slow.
pub const QUEUE_FRAMES: usize = 1024;

pub type ConnId = u64;

pub fn encode(frame: &ServerFrame) -> Frame {
    Frame::from(frame.to_json())
}

/// Why a connection was told to go (also as the bus carries it to other nodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum KickReason {
    /// Its queue filled up: it does not read its frames.
    TooSlow = 1,
    /// Its session ended (signed out, here or everywhere, or the password changed).
    SignedOut = 2,
    /// The administrator disabled the account.
    Disabled = 3,
    /// This node lost events from the others (its Redis link broke): the connection
    /// reconnects and catches up from the database.
    Resync = 4,
}

/// Tells a connection to close, and why (the first reason given stands).
#[derive(Default)]
pub struct Kick {
    notify: Notify,
    reason: AtomicU8,
}

impl Kick {
    fn give(&self, reason: KickReason) {
        let _ = self
            .reason
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
        self.notify.notify_one();
    }

    /// Resolves once the connection is kicked.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    pub fn reason(&self) -> KickReason {
        match self.reason.load(Ordering::Acquire) {
            2 => KickReason::SignedOut,
            3 => KickReason::Disabled,
            4 => KickReason::Resync,
            _ => KickReason::TooSlow,
        }
    }
}

#[derive(Clone)]
struct Outbox {
    queue: mpsc::Sender<Frame>,
    kick: Arc<Kick>,
}

impl Outbox {
    fn offer(&self, frame: &Frame) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(frame.clone()) {
            self.kick.give(KickReason::TooSlow);
        }
    }
}

/// Which sign-in session a connection was opened with (a prefix of its token's hash).
pub type SessionKey = u64;

/// Which of a user's sessions a kick closes (also as the bus carries it to other nodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sessions {
    All,
    Only(SessionKey),
    AllBut(SessionKey),
}

impl Sessions {
    fn include(self, session: SessionKey) -> bool {
        match self {
            Sessions::All => true,
            Sessions::Only(only) => session == only,
            Sessions::AllBut(kept) => session != kept,
        }
    }
}

struct Conn {
    user: i64,
    session: SessionKey,
    outbox: Outbox,
    rooms: HashSet<i64>,
    /// The room whose members' presence this connection hears (its Members panel).
    watching: Option<i64>,
}

/// The connections subscribed to one room.
#[derive(Default)]
struct RoomRoute {
    conns: HashMap<ConnId, Outbox>,
    /// The members online here, with how many of their connections are subscribed.
    online: HashMap<i64, u32>,
    /// The online count last announced to the room.
    announced: usize,
}

#[derive(Default)]
struct Routes {
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<i64, RoomRoute>,
    users: HashMap<i64, HashSet<ConnId>>,
    /// Per room, the connections watching its members' presence.
    watchers: HashMap<i64, HashMap<ConnId, Outbox>>,
    /// Rooms whose online count changed since the last announcement.
    recounted: HashSet<i64>,
    /// Per connected user, how many times their memberships changed (joined, left, added,
    /// removed): a connect checks that none changed between reading its rooms and subscribing.
    memberships: HashMap<i64, u64>,
    /// When there are several nodes: each (room, user, now online there) as a member's first
    /// connection here subscribes to a room or their last one leaves it, for the shared counts.
    transitions: Option<Vec<(i64, i64, bool)>>,
}

impl Routes {
    /// The connections of `user` (collected, so the caller may then change the routes).
    fn conns_of(&self, user: i64) -> Vec<ConnId> {
        self.users
            .get(&user)
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }

    fn subscribe(&mut self, conn: ConnId, room: i64) {
        if let Some(c) = self.conns.get_mut(&conn)
            && c.rooms.insert(room)
        {
            let route = self.rooms.entry(room).or_default();
            route.conns.insert(conn, c.outbox.clone());
            let tabs = route.online.entry(c.user).or_default();
            *tabs += 1;
            if *tabs == 1 {
                self.recounted.insert(room);
                if let Some(transitions) = &mut self.transitions {
                    transitions.push((room, c.user, true));
                }
            }
        }
    }

    fn unsubscribe(&mut self, conn: ConnId, room: i64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let (user, subscribed) = (c.user, c.rooms.remove(&room));
        let watching = c.watching == Some(room);
        if watching {
            c.watching = None;
            remove_from(&mut self.watchers, room, conn);
        }
        if subscribed {
            self.leave_route(conn, user, room);
        }
    }

    /// Takes `conn` (of `user`) out of `room`'s route, recounting the room if it was the user's
    /// last connection there.
    fn leave_route(&mut self, conn: ConnId, user: i64, room: i64) {
        let Some(route) = self.rooms.get_mut(&room) else {
            return;
        };
        route.conns.remove(&conn);
        if let Some(tabs) = route.online.get_mut(&user) {
            *tabs -= 1;
            if *tabs == 0 {
                route.online.remove(&user);
                self.recounted.insert(room);
                if let Some(transitions) = &mut self.transitions {
                    transitions.push((room, user, false));
                }
            }
        }
        if route.conns.is_empty() {
            self.rooms.remove(&room);
            self.recounted.remove(&room);
        }
    }
}

/// Removes `conn` from `room`'s entry in a per-room map, dropping the entry once empty.
fn remove_from(map: &mut HashMap<i64, HashMap<ConnId, Outbox>>, room: i64, conn: ConnId) {
    if let Some(conns) = map.get_mut(&room) {
        conns.remove(&conn);
        if conns.is_empty() {
            map.remove(&room);
        }
    }
}

/// What a connection gets from [`Hub::connect`].
pub struct Registration {
    pub id: ConnId,
    pub queue: mpsc::Receiver<Frame>,
    /// Notified when the connection must close: it fell too far behind, or its session ended.
    pub kicked: Arc<Kick>,
    /// Whether this is the user's only connection (the user just came online).
    pub came_online: bool,
}

/// The account has as many connections open as it may.
#[derive(Debug)]
pub struct TooManyConnections;

#[derive(Default)]
pub struct Hub {
    routes: RwLock<Routes>,
    next_id: AtomicU64,
}

impl Hub {
    fn read(&self) -> RwLockReadGuard<'_, Routes> {
        self.routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Routes> {
        self.routes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection of `user` opened with `session`, unless the user already has
    /// `most` connections (0: no limit).
    pub fn connect(
        &self,
        user: i64,
        session: SessionKey,
        most: usize,
    ) -> Result<Registration, TooManyConnections> {
        let mut routes = self.write();
        if most > 0 && routes.users.get(&user).is_some_and(|c| c.len() >= most) {
            return Err(TooManyConnections);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, rx) = mpsc::channel(QUEUE_FRAMES);
        let kick = Arc::new(Kick::default());
        routes.conns.insert(
            id,
            Conn {
                user,
                session,
                outbox: Outbox {
                    queue,
                    kick: kick.clone(),
                },
                rooms: HashSet::new(),
                watching: None,
            },
        );
        routes.memberships.entry(user).or_default();
        let conns = routes.users.entry(user).or_default();
        conns.insert(id);
        Ok(Registration {
            id,
            queue: rx,
            kicked: kick,
            came_online: conns.len() == 1,
        })
    }

    /// Closes the connections of `user` opened with the `sessions` chosen.
    pub fn kick_user(&self, user: i64, sessions: Sessions, reason: KickReason) {
        let routes = self.read();
        for conn in routes.users.get(&user).into_iter().flatten() {
            if let Some(c) = routes.conns.get(conn)
                && sessions.include(c.session)
            {
                c.outbox.kick.give(reason);
            }
        }
    }

    /// From now on, records who comes online in which room here, for [`take_transitions`]
    /// (Self::take_transitions): the counts several nodes share.
    pub fn track_transitions(&self) {
        self.write().transitions.get_or_insert_with(Vec::new);
    }

    /// The (room, user, online) changes since the last call, in order.
    pub fn take_transitions(&self) -> Vec<(i64, i64, bool)> {
        self.write()
            .transitions
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Each (room, user) with the user online in the room here.
    pub fn local_pairs(&self) -> Vec<(i64, i64)> {
        let routes = self.read();
        routes
            .rooms
            .iter()
            .flat_map(|(&room, route)| route.online.keys().map(move |&user| (room, user)))
            .collect()
    }

    /// The people with a connection here.
    pub fn local_users(&self) -> Vec<i64> {
        self.read().users.keys().copied().collect()
    }

    /// Closes every connection on this node.
    pub fn kick_all(&self, reason: KickReason) {
        for conn in self.read().conns.values() {
            conn.outbox.kick.give(reason);
        }
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.read().conns.len()
    }

    /// How many people are online.
    pub fn users_online(&self) -> usize {
        self.read().users.len()
    }

    /// Forgets a connection. If it was the user's last one, the user went offline: returns the
    /// rooms they belong to, whose watchers should hear of it.
    pub fn disconnect(&self, id: ConnId) -> Option<Vec<i64>> {
        let mut routes = self.write();
        let conn = routes.conns.remove(&id)?;
        for &room in &conn.rooms {
            routes.leave_route(id, conn.user, room);
        }
        if let Some(room) = conn.watching {
            remove_from(&mut routes.watchers, room, id);
        }
        let conns = routes.users.get_mut(&conn.user)?;
        conns.remove(&id);
        if !conns.is_empty() {
            return None;
        }
        routes.users.remove(&conn.user);
        routes.memberships.remove(&conn.user);
        Some(conn.rooms.into_iter().collect())
    }

    /// From now on `conn` hears presence for the members of `room` only.
    pub fn watch(&self, conn: ConnId, room: i64) {
        let mut routes = self.write();
        let Some(c) = routes.conns.get_mut(&conn) else {
            return;
        };
        let previous = c.watching.replace(room);
        let outbox = c.outbox.clone();
        if let Some(previous) = previous {
            remove_from(&mut routes.watchers, previous, conn);
        }
        routes
            .watchers
            .entry(room)
            .or_default()
            .insert(conn, outbox);
    }

    /// Delivers a presence change to the connections watching any of `rooms` (the rooms of the
    /// user it is about). A connection watches one room, so it hears the change once.
    pub fn to_watchers(&self, rooms: &[i64], frame: &Frame) {
        let routes = self.read();
        for room in rooms {
            for outbox in routes
                .watchers
                .get(room)
                .into_iter()
                .flat_map(|w| w.values())
            {
                outbox.offer(frame);
            }
        }
    }

    /// Subscribes one connection to rooms (its memberships, when it connects).
    pub fn subscribe(&self, conn: ConnId, rooms: &[i64]) {
        let mut routes = self.write();
        for &room in rooms {
            routes.subscribe(conn, room);
        }
    }

    /// How many times `user`'s memberships changed while they were connected: read before
    /// reading their rooms, and given to [`subscribe_if_unchanged`](Self::subscribe_if_unchanged).
    pub fn membership_changes(&self, user: i64) -> u64 {
        self.read().memberships.get(&user).copied().unwrap_or(0)
    }

    /// Subscribes `conn` (of `user`) to `rooms` unless the user's memberships changed since
    /// `seen` (a leave in another tab, say, between reading the rooms and now); then the rooms
    /// read are stale, and the caller reads them again.
    pub fn subscribe_if_unchanged(
        &self,
        conn: ConnId,
        user: i64,
        rooms: &[i64],
        seen: u64,
    ) -> bool {
        let mut routes = self.write();
        if routes.memberships.get(&user).copied().unwrap_or(0) != seen {
            return false;
        }
        for &room in rooms {
            routes.subscribe(conn, room);
        }
        true
    }

    /// Subscribes every connection of `user` to `room` (the user joined it).
    pub fn subscribe_user(&self, user: i64, room: i64) {
        let mut routes = self.write();
        if let Some(changes) = routes.memberships.get_mut(&user) {
            *changes += 1;
        }
        for conn in routes.conns_of(user) {
            routes.subscribe(conn, room);
        }
    }

    /// Unsubscribes every connection of `user` from `room` (the user left it or was removed);
    /// they stop hearing its presence too.
    pub fn unsubscribe_user(&self, user: i64, room: i64) {
        let mut routes = self.write();
        if let Some(changes) = routes.memberships.get_mut(&user) {
            *changes += 1;
        }
        for conn in routes.conns_of(user) {
            routes.unsubscribe(conn, room);
        }
    }

    /// Forgets a deleted room.
    pub fn drop_room(&self, room: i64) {
        let mut routes = self.write();
        routes.recounted.remove(&room);
        if let Some(subscribers) = routes.rooms.remove(&room) {
            if let Some(transitions) = &mut routes.transitions {
                transitions.extend(subscribers.online.keys().map(|&user| (room, user, false)));
            }
            for conn in subscribers.conns.keys() {
                if let Some(c) = routes.conns.get_mut(conn) {
                    c.rooms.remove(&room);
                }
            }
        }
        if let Some(watchers) = routes.watchers.remove(&room) {
            for conn in watchers.keys() {
                if let Some(c) = routes.conns.get_mut(conn) {
                    c.watching = None;
                }
            }
        }
    }

    /// Whether this connection receives `room` (its user is a member).
    pub fn is_subscribed(&self, conn: ConnId, room: i64) -> bool {
        self.read()
            .conns
            .get(&conn)
            .is_some_and(|c| c.rooms.contains(&room))
    }

    /// Which of these users are online now.
    pub fn online_among(&self, users: impl IntoIterator<Item = i64>) -> Vec<i64> {
        let routes = self.read();
        users
            .into_iter()
            .filter(|user| routes.users.contains_key(user))
            .collect()
    }

    /// Delivers to every connection subscribed to `room`.
    pub fn to_room(&self, room: i64, frame: &Frame) {
        if let Some(subscribers) = self.read().rooms.get(&room) {
            for outbox in subscribers.conns.values() {
                outbox.offer(frame);
            }
            crate::operations::delivered(subscribers.conns.len());
        }
    }

    /// How many members of `room` are online now.
    pub fn online_count(&self, room: i64) -> u32 {
        self.read()
            .rooms
            .get(&room)
            .map_or(0, |route| route.online.len() as u32)
    }

    /// Fills in each room's online count.
    pub fn count_online(&self, rooms: &mut [RoomSummary]) {
        let routes = self.read();
        for room in rooms {
            room.online = routes
                .rooms
                .get(&room.id)
                .map_or(0, |route| route.online.len() as u32);
        }
    }

    /// The rooms whose online count changed since the last call, with their counts now; each
    /// counts as announced.
    pub fn take_online_changes(&self) -> Vec<(i64, u32)> {
        let mut routes = self.write();
        let Routes {
            rooms, recounted, ..
        } = &mut *routes;
        recounted
            .drain()
            .filter_map(|room| {
                let route = rooms.get_mut(&room)?;
                let online = route.online.len();
                (online != route.announced).then(|| {
                    route.announced = online;
                    (room, online as u32)
                })
            })
            .collect()
    }

    /// Delivers to every connection of `user`.
    pub fn to_user(&self, user: i64, frame: &Frame) {
        let routes = self.read();
        for conn in routes.users.get(&user).into_iter().flatten() {
            if let Some(c) = routes.conns.get(conn) {
                c.outbox.offer(frame);
            }
        }
    }

    /// Delivers to every connection.
    pub fn to_all(&self, frame: &Frame) {
        for conn in self.read().conns.values() {
            conn.outbox.offer(frame);
        }
    }
}

/// How often changed online counts are announced.
pub const ONLINE_COUNT_EVERY: Duration = Duration::from_secs(1);

/// Announces changed online counts every `every` to each changed room's members, one encoded
/// frame per room; ends when the hub is gone.
pub async fn announce_online_counts(hub: Weak<Hub>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(hub) = hub.upgrade() else {
            return;
        };
        for (room, online) in hub.take_online_changes() {
            hub.to_room(room, &encode(&ServerFrame::OnlineCount { room, online }));
        }
    }
}

#[cfg(test)]
mod tests;
