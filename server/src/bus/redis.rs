//! The link to the other nodes through Redis pub/sub (redis-rs, RESP3).
//!
//! Two connections: one publishes (and serves presence), one only listens. Both are redis-rs
//! `ConnectionManager`s, which reconnect by themselves; the listening one subscribes again after
//! a reconnect. Pub/sub is at-most-once: whatever is published while a node's listening
//! connection is down never reaches it. The listener therefore reports every break (redis-rs
//! pushes `Disconnection`), and the node resyncs once it is subscribed again
//! ([`super::Bus::resync`]). A node also notices a publication it missed while connected, by the
//! publisher's running number.
//!
//! Publications leave in the order they are made: one task sends them, a pipeline of whatever
//! is waiting at a time.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, PushInfo, PushKind};
use tokio::sync::{mpsc, oneshot};

use super::Bus;
use super::wire::{self, Envelope, Event};
use crate::hub::Frame;

/// The channel every node publishes to and listens on.
pub const CHANNEL: &str = "hearth:bus";

/// How often the listener checks its connection when nothing arrives (a manager whose retries
/// ran out reconnects on the next command).
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Most publications sent in one pipeline.
const PIPELINE_MAX: usize = 256;

/// What the sending task takes.
enum Outgoing {
    Publish(Vec<u8>),
    /// Answered once everything before it was sent.
    Flush(oneshot::Sender<()>),
}

pub struct Link {
    /// This node's id on the bus.
    pub node: u64,
    /// The next publication number, and where publications go (in that order, under one lock).
    outgoing: Mutex<(u64, mpsc::UnboundedSender<Outgoing>)>,
    /// For commands other than publishing (presence).
    pub commands: ConnectionManager,
}

/// Redis' reconnect settings: quick first retries, then every few seconds, for ever.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(2))
        .set_number_of_retries(usize::MAX)
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
}

/// The client for `url`, speaking RESP3 (push messages need it).
fn client(url: &str) -> redis::RedisResult<Client> {
    let url = if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    };
    Client::open(url)
}

impl Link {
    /// Connects both connections and subscribes. Pushes from the listening connection go to
    /// the returned receiver, for [`listen`].
    pub async fn connect(
        url: &str,
    ) -> redis::RedisResult<(Link, mpsc::UnboundedReceiver<PushInfo>, ConnectionManager)> {
        let client = client(url)?;
        let commands = client
            .get_connection_manager_with_config(manager_config())
            .await?;
        let (pushes, received) = mpsc::unbounded_channel();
        let mut listener = client
            .get_connection_manager_with_config(
                manager_config()
                    .set_push_sender(pushes)
                    .set_automatic_resubscription(),
            )
            .await?;
        listener.subscribe(CHANNEL).await?;
        let (outgoing, queue) = mpsc::unbounded_channel();
        tokio::spawn(send(commands.clone(), queue));
        let link = Link {
            node: rand_core::RngCore::next_u64(&mut rand_core::OsRng),
            outgoing: Mutex::new((1, outgoing)),
            commands,
        };
        Ok((link, received, listener))
    }

    /// Publishes an event with its frames to the other nodes.
    pub fn publish(&self, event: Event, frames: &[&Frame]) {
        let mut outgoing = self
            .outgoing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (seq, sender) = &mut *outgoing;
        let envelope = Envelope {
            from: self.node,
            seq: *seq,
            event,
        };
        *seq += 1;
        let _ = sender.send(Outgoing::Publish(wire::encode(&envelope, frames)));
    }

    /// Returns once every publication made so far was sent (or failed).
    pub async fn flush(&self) {
        let (done, sent) = oneshot::channel();
        let queued = self
            .outgoing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1
            .send(Outgoing::Flush(done));
        if queued.is_ok() {
            let _ = sent.await;
        }
    }
}

/// Sends publications in order, pipelining what waits; ends when the link is gone.
async fn send(mut redis: ConnectionManager, mut queue: mpsc::UnboundedReceiver<Outgoing>) {
    let mut waiting = Vec::with_capacity(PIPELINE_MAX);
    let mut flushes = Vec::new();
    let mut failing = false;
    while queue.recv_many(&mut waiting, PIPELINE_MAX).await > 0 {
        let mut pipe = redis::pipe();
        for outgoing in waiting.drain(..) {
            match outgoing {
                Outgoing::Publish(payload) => {
                    pipe.cmd("PUBLISH").arg(CHANNEL).arg(payload).ignore();
                }
                Outgoing::Flush(done) => flushes.push(done),
            }
        }
        let sent = if pipe.is_empty() {
            Ok(())
        } else {
            pipe.query_async::<()>(&mut redis).await
        };
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        match sent {
            Ok(()) => failing = false,
            Err(error) => {
                // The others notice the gap (by the publication numbers, or their own break)
                // and read what they missed from the database.
                if !failing {
                    tracing::warn!(%error, "could not publish to Redis");
                }
                failing = true;
            }
        }
    }
}

/// Hands publications from the other nodes to `bus`, and resyncs it after a break; ends when
/// the bus is gone.
pub async fn listen(
    bus: Weak<Bus>,
    node: u64,
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
    mut listener: ConnectionManager,
) {
    // Each publisher's last publication number seen.
    let mut last_seen: HashMap<u64, u64> = HashMap::new();
    let mut broken = false;
    loop {
        let push = match tokio::time::timeout(CHECK_EVERY, pushes.recv()).await {
            Ok(Some(push)) => push,
            Ok(None) => return,
            Err(_) => {
                // Quiet: make sure the connection is alive (this also revives a manager that
                // gave up reconnecting).
                if bus.strong_count() == 0 {
                    return;
                }
                let _ = redis::cmd("PING").query_async::<()>(&mut listener).await;
                continue;
            }
        };
        let Some(bus) = bus.upgrade() else {
            return;
        };
        match push.kind {
            PushKind::Disconnection => {
                if !broken {
                    tracing::warn!("lost the Redis bus; resyncing once it is back");
                }
                broken = true;
            }
            PushKind::Subscribe if broken => {
                broken = false;
                tracing::info!("the Redis bus is back");
                last_seen.clear();
                bus.resync().await;
            }
            PushKind::Message => {
                let Some(message) = redis::Msg::from_push_info(push) else {
                    continue;
                };
                let Ok((envelope, frames)) = wire::decode(message.get_payload_bytes()) else {
                    crate::operations::bus_unreadable();
                    continue;
                };
                if envelope.from == node {
                    continue;
                }
                let previous = last_seen.insert(envelope.from, envelope.seq);
                if previous.is_some_and(|seen| envelope.seq != seen + 1) {
                    tracing::warn!(node = envelope.from, "missed a publication; resyncing");
                    bus.apply(envelope.event, frames);
                    bus.resync().await;
                    continue;
                }
                bus.apply(envelope.event, frames);
            }
            _ => {}
        }
    }
}
