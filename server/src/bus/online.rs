//! Who is online, and how many in each room: this node's hub alone, or, with several nodes,
//! shared through Redis ([`super::presence`]): arrivals and departures, the Members panel's
//! online list, the sidebar's counts, the counts announced each second, and taking out a node
//! that stopped.

use std::sync::Weak;
use std::time::Duration;

use app::protocol::{RoomSummary, ServerFrame};
use tokio::sync::{mpsc, oneshot};

use super::presence::Reaped;
use super::wire::Event;
use super::{Bus, Cluster};
use crate::hub::{ONLINE_COUNT_EVERY, encode};

/// A request to the task that shares online counts, answered when done.
pub(super) struct Share {
    /// Also say again everything this node holds (Redis may have lost it).
    pub(super) restore: bool,
    pub(super) done: oneshot::Sender<()>,
}

impl Bus {
    /// This node is stopping: whatever it still holds in Redis (its users, its share of the
    /// online counts) is taken out now rather than when it is found dead.
    pub async fn leave(&self) {
        if let Some(cluster) = &self.cluster {
            match cluster.presence.reap(cluster.link.node).await {
                Ok(reaped) => self.reaped(cluster.link.node, reaped).await,
                Err(error) => tracing::warn!(%error, "could not leave Redis' presence"),
            }
            cluster.link.flush().await;
        }
    }

    /// `user` opened their first connection on this node: if they were on no other node, the
    /// people watching the members of their `rooms` hear that they came online.
    pub async fn arrived(&self, user: i64, rooms: &[i64]) {
        self.presence_changed(user, rooms, true).await;
    }

    /// `user`'s last connection on this node closed: if they are on no other node, those
    /// watching hear that they went offline.
    pub async fn left(&self, user: i64, rooms: &[i64]) {
        self.presence_changed(user, rooms, false).await;
    }

    /// Records (with several nodes) that `user` is now `online` on this node or not, and
    /// announces it unless another node still has them.
    async fn presence_changed(&self, user: i64, rooms: &[i64], online: bool) {
        let news = match &self.cluster {
            Some(cluster) => {
                let changed = match online {
                    true => cluster.presence.arrive(user).await,
                    false => cluster.presence.leave(user).await,
                };
                changed.unwrap_or_else(|error| {
                    tracing::warn!(%error, "presence not recorded in Redis");
                    true
                })
            }
            None => true,
        };
        if news {
            self.to_watchers(rooms, &encode(&ServerFrame::Presence { user, online }));
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
            cluster.share(false).await;
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
    pub(super) fn announce_counts(&self, counts: &[(i64, u32)]) {
        for &(room, online) in counts {
            self.hub
                .to_room(room, &encode(&ServerFrame::OnlineCount { room, online }));
        }
    }
}

impl Cluster {
    /// Has the sharing task share what changed now (and, with `restore`, all this node holds);
    /// returns once it did.
    pub(super) async fn share(&self, restore: bool) {
        let (done, shared) = oneshot::channel();
        if self.share_now.send(Share { restore, done }).await.is_ok() {
            let _ = shared.await;
        }
    }
}

/// Several nodes: every [`ONLINE_COUNT_EVERY`], or when asked, records in Redis who came or
/// went in which room here, and tells every node the rooms' new counts; ends with the bus.
pub(super) async fn share_online_counts(bus: Weak<Bus>, mut asked: mpsc::Receiver<Share>) {
    let mut ticks = tokio::time::interval(ONLINE_COUNT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let asked = tokio::select! {
            _ = ticks.tick() => None,
            asked = asked.recv() => match asked {
                Some(asked) => Some(asked),
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
        if let Some(Share { restore, done }) = asked {
            if restore {
                bus.restore_presence(cluster).await;
            }
            let _ = done.send(());
        }
    }
}

impl Bus {
    /// Says again in Redis every (room, user) online here and every user here.
    pub(super) async fn restore_presence(&self, cluster: &Cluster) {
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
    }

    /// Records in Redis who came or went in which room here since the last time, and tells
    /// every node the rooms' new counts.
    pub(super) async fn share_transitions(&self, cluster: &Cluster) {
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
pub(super) async fn renew_presence(bus: Weak<Bus>, every: Duration) {
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
    pub(super) async fn reaped(&self, node: u64, reaped: Reaped) {
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
