//! One load run: connect every client into its room, then publish in steps and count what
//! arrives.
//!
//! Each client is one task that owns its socket: it answers pings, records deliveries and, if
//! it is a publisher, sends on its own schedule. Every published text is a [`Stamp`], so a
//! receiver attributes each delivery to its step and measures latency against the sender's clock
//! (one machine, one clock). A sequence number not above the last one seen from that publisher
//! is a duplicate; what never arrives is lost.
//!
//! Against several nodes of one server (`Plan::nodes`), the clients are split over them and each
//! receiver knows which node every publisher is on, so the deliveries that crossed from one node
//! to another (through the server's bus) are counted and timed apart.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt};
use futures::{FutureExt, SinkExt};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::measure::{MachineTicks, ProcStats};
use crate::wire::{Incoming, Socket, Wire};

/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 256;
/// How long to wait for the last deliveries of a step after publishing stops.
const DRAIN: Duration = Duration::from_secs(10);
/// Sends the flooder keeps unanswered: it sends the next as soon as the server answers one
/// (`sent` or an error), so it floods as fast as the server reads, never faster.
const FLOOD_WINDOW: u64 = 16;

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub rooms: usize,
    pub members: usize,
    /// Publishers per room (its first members).
    pub publishers: usize,
    /// Total publish rates (messages/s over all rooms), one step each. Empty: stay idle.
    pub rates: Vec<f64>,
    pub step_seconds: f64,
    /// Closed loop: each publisher sends its next message as soon as its previous one comes
    /// back (for Hearth: after the commit), as fast as the server allows; `rates` only counts
    /// the steps.
    pub closed_loop: bool,
    /// Stop stepping up once a step's p99 latency passes this.
    pub stop_above_p99: Option<Duration>,
    /// Local addresses to spread connections over.
    pub sources: Vec<IpAddr>,
    /// One more client, a member of the first room, floods it: each rate runs twice, first
    /// without the flooder, then with it sending as fast as the server answers (ignoring
    /// `rate_limited`). Its deliveries are not counted; the others' are.
    pub flood: bool,
    /// Server nodes the clients are split over (1: one server), by [`Plan::node_of_client`].
    pub nodes: usize,
    /// Members per room after the publishers that keep saying they type (Hearth's `typing`)
    /// during each step, every [`TYPING_EVERY`]: faster than the server passes on, to measure
    /// what its throttle and coalescing cost and spare.
    pub typists: usize,
}

impl Plan {
    /// The measured clients (the flooder not included).
    pub fn clients(&self) -> usize {
        self.rooms * self.members
    }

    /// The accounts the clients need, the flooder's included.
    pub fn accounts(&self) -> usize {
        self.clients() + usize::from(self.flood)
    }

    /// The node client `i` connects to: alternately within its room, each room starting one
    /// node further than the room before. So the members of a room are split evenly, and so are
    /// the publishers over all rooms, even with one publisher a room (always its first member).
    pub fn node_of_client(&self, i: usize) -> usize {
        self.split().node_of_client(i)
    }

    fn split(&self) -> Split {
        Split {
            nodes: self.nodes.max(1),
            members: self.members.max(1),
            publishers: self.publishers.max(1),
        }
    }

    /// Each step's publish rate, and whether the flooder floods during it.
    fn steps(&self) -> Vec<(f64, bool)> {
        let flood: &[bool] = if self.flood { &[false, true] } else { &[false] };
        self.rates
            .iter()
            .flat_map(|&rate| flood.iter().map(move |&f| (rate, f)))
            .collect()
    }
}

/// How the clients are split over the nodes (see [`Plan::node_of_client`]).
#[derive(Clone, Copy, Debug)]
struct Split {
    nodes: usize,
    members: usize,
    publishers: usize,
}

impl Split {
    fn node_of_client(self, i: usize) -> usize {
        (i % self.members + i / self.members) % self.nodes
    }

    /// The node publisher number `publisher` (room × publishers + position) is on.
    fn node_of_publisher(self, publisher: u32) -> usize {
        let (room, position) = (
            publisher as usize / self.publishers,
            publisher as usize % self.publishers,
        );
        self.node_of_client(room * self.members + position)
    }
}

/// What the flooder did during one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flood {
    /// Sends it made.
    pub sent: u64,
    /// Answered `sent`: stored.
    pub stored: u64,
    /// Refused with `rate_limited`.
    pub rate_limited: u64,
    /// Refused otherwise.
    pub refused: u64,
}

/// The figures of one publishing step.
#[derive(Clone)]
pub struct Step {
    pub rate: f64,
    pub seconds: f64,
    pub published: u64,
    pub expected: u64,
    pub received: u64,
    pub duplicated: u64,
    pub latency: Histogram<u64>,
    pub cpu_seconds: Option<f64>,
    /// The machine's CPU time its hypervisor took during the step, in percent.
    pub steal_percent: f64,
    /// The generator's own CPU seconds during the step (its deliveries' latency includes its
    /// own delays when it nears the step's length).
    pub generator_cpu_seconds: f64,
    /// The flooder's sends and their answers, for a step it flooded.
    pub flood: Option<Flood>,
    /// Against several nodes: the deliveries that crossed from the publisher's node to
    /// another, and their latency apart from the others'.
    pub crossing: Option<Crossing>,
    /// Against several nodes: each server process's CPU seconds during the step, in node order
    /// (`cpu_seconds` is their sum).
    pub node_cpu_seconds: Vec<f64>,
    /// The bus's (Redis') CPU seconds during the step, where the servers share one.
    pub bus_cpu_seconds: Option<f64>,
    /// `typing` frames the typists sent, and those every client received, during the step.
    pub typing_sent: u64,
    pub typing_received: u64,
}

/// A step's deliveries between nodes: published on one, received from another.
#[derive(Clone)]
pub struct Crossing {
    /// Deliveries to a client on another node than the publisher's.
    pub received: u64,
    /// Their latency.
    pub latency: Histogram<u64>,
    /// The latency of the deliveries to clients on the publisher's own node.
    pub local: Histogram<u64>,
}

impl Crossing {
    /// A quantile of the cross-node latency, ms.
    pub fn p(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// A quantile of the same-node latency, ms.
    pub fn local_p(&self, quantile: f64) -> f64 {
        self.local.value_at_quantile(quantile) as f64 / 1000.0
    }
}

impl Step {
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    pub fn deliveries_per_second(&self) -> f64 {
        self.received as f64 / self.seconds.max(f64::EPSILON)
    }

    pub fn p(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// Server CPU seconds per million deliveries (µs per delivery); with `bus`, the bus's CPU
    /// added.
    pub fn cpu_per_million(&self, bus: bool) -> Option<f64> {
        let cpu = self.cpu_seconds? + if bus { self.bus_cpu_seconds? } else { 0.0 };
        (self.received > 0).then(|| cpu / self.received as f64 * 1e6)
    }
}

/// The processes a run measures: the server's (one per node, in node order) and the bus's
/// that links the nodes, if any.
#[derive(Clone, Debug, Default)]
pub struct Watched {
    pub servers: Vec<u32>,
    pub bus: Option<u32>,
}

impl Watched {
    /// The servers' figures, added up (`None` without a server to watch).
    fn read(&self) -> Result<Option<ProcStats>, String> {
        ProcStats::read_all(&self.servers)
    }

    /// Each server's CPU seconds, and the bus's.
    fn cpu(&self) -> Result<(Vec<f64>, Option<f64>), String> {
        let servers = self
            .servers
            .iter()
            .map(|&pid| ProcStats::read(pid).map(|p| p.cpu_seconds))
            .collect::<Result<_, _>>()?;
        let bus = self.bus.map(ProcStats::read).transpose()?;
        Ok((servers, bus.map(|b| b.cpu_seconds)))
    }
}

/// The figures of a whole run.
pub struct Outcome {
    pub clients: usize,
    pub connect_seconds: f64,
    /// The server before connecting, and once every client was in.
    pub fresh: Option<ProcStats>,
    pub connected: Option<ProcStats>,
    /// The generator's own CPU seconds over the connect: when they approach the connect's wall
    /// time, the generator, not the server, set the pace.
    pub generator_connect_cpu_seconds: f64,
    /// The machine's CPU time its hypervisor took during the connect, in percent.
    pub connect_steal_percent: f64,
    pub steps: Vec<Step>,
    pub last: Option<ProcStats>,
}

impl Outcome {
    /// Memory the server holds per connection: Pss growth over the connect, per client.
    pub fn bytes_per_connection(&self) -> Option<f64> {
        let (fresh, connected) = (self.fresh?, self.connected?);
        Some((connected.pss_kib as f64 - fresh.pss_kib as f64) * 1024.0 / self.clients as f64)
    }

    /// The server's CPU time per connection over the connect, in microseconds: steadier than
    /// the connect's wall time on a machine shared with others.
    pub fn cpu_us_per_connection(&self) -> Option<f64> {
        let (fresh, connected) = (self.fresh?, self.connected?);
        Some((connected.cpu_seconds - fresh.cpu_seconds) * 1e6 / self.clients as f64)
    }

    /// The generator's CPU time per connection over the connect, in microseconds.
    pub fn generator_cpu_us_per_connection(&self) -> f64 {
        self.generator_connect_cpu_seconds * 1e6 / self.clients as f64
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// What every client task reports into, per step.
struct Counters {
    published: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    duplicated: Vec<AtomicU64>,
    latency: Vec<Mutex<Histogram<u64>>>,
    flood_sent: Vec<AtomicU64>,
    flood_stored: Vec<AtomicU64>,
    flood_limited: Vec<AtomicU64>,
    flood_refused: Vec<AtomicU64>,
    cross_received: Vec<AtomicU64>,
    typing_sent: Vec<AtomicU64>,
    typing_received: Vec<AtomicU64>,
    cross_latency: Vec<Mutex<Histogram<u64>>>,
    local_latency: Vec<Mutex<Histogram<u64>>>,
}

impl Counters {
    fn new(steps: usize) -> Self {
        let zeros = || (0..steps).map(|_| AtomicU64::new(0)).collect();
        Counters {
            published: zeros(),
            received: zeros(),
            duplicated: zeros(),
            latency: (0..steps).map(|_| Mutex::new(histogram())).collect(),
            flood_sent: zeros(),
            flood_stored: zeros(),
            flood_limited: zeros(),
            flood_refused: zeros(),
            cross_received: zeros(),
            typing_sent: zeros(),
            typing_received: zeros(),
            cross_latency: (0..steps).map(|_| Mutex::new(histogram())).collect(),
            local_latency: (0..steps).map(|_| Mutex::new(histogram())).collect(),
        }
    }

    fn crossing(&self, step: usize) -> Crossing {
        let copy =
            |h: &Mutex<Histogram<u64>>| h.lock().map(|h| h.clone()).unwrap_or_else(|_| histogram());
        Crossing {
            received: self.cross_received[step].load(Ordering::Relaxed),
            latency: copy(&self.cross_latency[step]),
            local: copy(&self.local_latency[step]),
        }
    }

    fn flood(&self, step: usize) -> Flood {
        let read = |v: &[AtomicU64]| v[step].load(Ordering::Relaxed);
        Flood {
            sent: read(&self.flood_sent),
            stored: read(&self.flood_stored),
            rate_limited: read(&self.flood_limited),
            refused: read(&self.flood_refused),
        }
    }
}

/// What the clients are told to do.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    Publish {
        step: usize,
        pace: Pace,
        /// The flooder floods during this step.
        flood: bool,
    },
    Stop,
}

/// How fast each publisher sends.
#[derive(Clone, Copy, PartialEq)]
enum Pace {
    /// Messages per second, each publisher.
    Rate(f64),
    /// The next message as soon as the previous one came back.
    ClosedLoop,
}

/// What every published text carries: `step:publisher:sequence:sent_µs`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stamp {
    step: usize,
    publisher: u32,
    sequence: u64,
    sent_us: u64,
}

impl Stamp {
    fn text(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.step, self.publisher, self.sequence, self.sent_us
        )
    }

    fn parse(text: &str) -> Option<Stamp> {
        let mut parts = text.split(':').map(|p| p.parse::<u64>().ok());
        Some(Stamp {
            step: usize::try_from(parts.next()??).ok()?,
            publisher: u32::try_from(parts.next()??).ok()?,
            sequence: parts.next()??,
            sent_us: parts.next()??,
        })
    }
}

/// The newest sequence number a receiver has seen from each publisher. Publishers number their
/// messages 1, 2, 3… and a server delivers a room's messages in order, so a number not above
/// the newest seen is a duplicate. A gap is a loss, found by the totals (expected − received).
#[derive(Default)]
struct Sequences(HashMap<u32, u64>);

impl Sequences {
    /// Whether this delivery is new (not a duplicate); remembers it.
    fn first_delivery(&mut self, stamp: &Stamp) -> bool {
        let newest = self.0.entry(stamp.publisher).or_insert(0);
        if stamp.sequence <= *newest {
            return false;
        }
        *newest = stamp.sequence;
        true
    }
}

/// Connects `plan.clients()` clients (client `i` is in room `i / members`, on node
/// `plan.node_of_client(i)`: `connect` picks that node's address) with `connect`, and the
/// flooder (client `plan.clients()`, in the first room) if the plan has one, runs the steps and
/// returns the figures of the `watched` processes. `room_id` maps a room number to the id the
/// wire uses.
pub async fn run<C, F>(
    plan: &Plan,
    wire: Wire,
    watched: &Watched,
    room_id: impl Fn(usize) -> i64,
    connect: C,
) -> Result<Outcome, String>
where
    C: Fn(usize, i64, IpAddr) -> F,
    F: Future<Output = Result<Socket, String>>,
{
    let clients = plan.clients();
    let step_plan = plan.steps();
    let steps = step_plan.len();
    let counters = Arc::new(Counters::new(steps));
    let (phase, phase_rx) = watch::channel(Phase::Idle);
    let publishers_total = (plan.rooms * plan.publishers).max(1);

    let fresh = watched.read()?;
    let generator_before = ProcStats::read(std::process::id())?.cpu_seconds;
    let machine_before = MachineTicks::read();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut opened = stream::iter(0..clients)
        .map(|i| {
            let room = room_id(i / plan.members);
            let source = plan.sources[i % plan.sources.len()];
            connect(i, room, source).map(move |ws| (i, room, ws))
        })
        .buffer_unordered(CONNECT_CONCURRENCY);
    while let Some((i, room, ws)) = opened.next().await {
        let ws = ws.map_err(|e| format!("client {i}: {e}"))?;
        let position = i % plan.members;
        let publisher = (position < plan.publishers)
            .then(|| (i / plan.members * plan.publishers + position) as u32);
        // Typists start at even offsets over one period, as people typing do not keep time.
        let typist = (plan.publishers..plan.publishers + plan.typists)
            .contains(&position)
            .then(|| (position - plan.publishers) as f64 / plan.typists as f64);
        tasks.spawn(client(
            ws,
            wire,
            Member {
                room,
                publisher,
                publishers: publishers_total,
                node: plan.node_of_client(i),
                typist,
            },
            plan.split(),
            phase_rx.clone(),
            counters.clone(),
        ));
    }
    drop(opened);
    let connect_seconds = started.elapsed().as_secs_f64();
    let generator_connect_cpu_seconds =
        ProcStats::read(std::process::id())?.cpu_seconds - generator_before;
    let connect_steal_percent = MachineTicks::read().steal_percent_since(&machine_before);
    // Let the server settle (queues drained, buffers returned) before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connected = watched.read()?;
    // The flooder comes in once the others' connect is measured.
    if plan.flood {
        let room = room_id(0);
        let ws = connect(clients, room, plan.sources[clients % plan.sources.len()])
            .await
            .map_err(|e| format!("the flooder: {e}"))?;
        tasks.spawn(flooder(ws, wire, room, phase_rx.clone(), counters.clone()));
    }

    let mut results = Vec::new();
    for (step, &(rate, flood)) in step_plan.iter().enumerate() {
        let before = watched.cpu()?;
        let generator_before = ProcStats::read(std::process::id())?.cpu_seconds;
        let machine_before = MachineTicks::read();
        let began = Instant::now();
        let pace = if plan.closed_loop {
            Pace::ClosedLoop
        } else {
            Pace::Rate(rate / publishers_total as f64)
        };
        let _ = phase.send(Phase::Publish { step, pace, flood });
        tokio::time::sleep(Duration::from_secs_f64(plan.step_seconds)).await;
        let _ = phase.send(Phase::Idle);
        let seconds = began.elapsed().as_secs_f64();
        // Wait for what is still on its way.
        let deadline = Instant::now() + DRAIN;
        let expected = || counters.published[step].load(Ordering::Relaxed) * plan.members as u64;
        while counters.received[step].load(Ordering::Relaxed) < expected()
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let after = watched.cpu()?;
        let generator_cpu_seconds =
            ProcStats::read(std::process::id())?.cpu_seconds - generator_before;
        let latency = counters.latency[step]
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|_| histogram());
        let node_cpu: Vec<f64> = after.0.iter().zip(&before.0).map(|(a, b)| a - b).collect();
        let result = Step {
            rate,
            seconds,
            published: counters.published[step].load(Ordering::Relaxed),
            expected: expected(),
            received: counters.received[step].load(Ordering::Relaxed),
            duplicated: counters.duplicated[step].load(Ordering::Relaxed),
            latency,
            cpu_seconds: (!node_cpu.is_empty()).then(|| node_cpu.iter().sum()),
            steal_percent: MachineTicks::read().steal_percent_since(&machine_before),
            generator_cpu_seconds,
            flood: flood.then(|| counters.flood(step)),
            crossing: (plan.nodes > 1).then(|| counters.crossing(step)),
            node_cpu_seconds: if node_cpu.len() > 1 {
                node_cpu
            } else {
                Vec::new()
            },
            bus_cpu_seconds: after.1.zip(before.1).map(|(a, b)| a - b),
            typing_sent: counters.typing_sent[step].load(Ordering::Relaxed),
            typing_received: counters.typing_received[step].load(Ordering::Relaxed),
        };
        let over = plan
            .stop_above_p99
            .is_some_and(|limit| result.p(0.99) > limit.as_secs_f64() * 1000.0);
        eprintln!(
            "  step {rate}/s{}: {:.0} deliveries/s, p99 {:.1} ms{}, lost {}, duplicated {}",
            result
                .flood
                .map(|f| format!(
                    " with the flooder ({} sent, {} stored, {} rate_limited)",
                    f.sent, f.stored, f.rate_limited
                ))
                .unwrap_or_default(),
            result.deliveries_per_second(),
            result.p(0.99),
            result
                .crossing
                .as_ref()
                .map(|c| format!(" (across nodes {:.1} ms)", c.p(0.99)))
                .unwrap_or_default(),
            result.lost(),
            result.duplicated
        );
        results.push(result);
        if over {
            break;
        }
    }
    if steps == 0 {
        // Idle: hold the connections a while, so an idle server is seen idling.
        tokio::time::sleep(Duration::from_secs_f64(plan.step_seconds)).await;
    }
    let last = watched.read()?;
    let _ = phase.send(Phase::Stop);
    while tasks.join_next().await.is_some() {}
    Ok(Outcome {
        clients,
        connect_seconds,
        fresh,
        connected,
        generator_connect_cpu_seconds,
        connect_steal_percent,
        steps: results,
        last,
    })
}

/// Waits for the next tick, or forever without a ticker.
async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Who a load client is.
struct Member {
    /// The room it is in (the wire's id).
    room: i64,
    /// Its publisher number, if it publishes.
    publisher: Option<u32>,
    /// Publishers in all.
    publishers: usize,
    /// The node it is connected to.
    node: usize,
    /// It says it types during each step, starting this fraction of [`TYPING_EVERY`] in.
    typist: Option<f64>,
}

/// How often a typist says it types: faster than Hearth passes on (once every 3 s).
pub const TYPING_EVERY: Duration = Duration::from_millis(500);

async fn client(
    mut ws: Socket,
    wire: Wire,
    member: Member,
    split: Split,
    mut phase: watch::Receiver<Phase>,
    counters: Arc<Counters>,
) {
    let Member {
        room,
        publisher,
        publishers,
        node,
        typist,
    } = member;
    let mut typing: Option<tokio::time::Interval> = None;
    let several = split.nodes > 1;
    let mut seen = Sequences::default();
    let mut sequence = 0u64;
    let mut ticker: Option<tokio::time::Interval> = None;
    let mut current = Phase::Idle;
    let closed_loop = |p: Phase| {
        matches!(
            p,
            Phase::Publish {
                pace: Pace::ClosedLoop,
                ..
            }
        )
    };
    loop {
        let mut send_now = false;
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                current = *phase.borrow_and_update();
                ticker = None;
                typing = typist.filter(|_| matches!(current, Phase::Publish { .. })).map(|offset| {
                    let start = tokio::time::Instant::now() + TYPING_EVERY.mul_f64(offset);
                    let mut t = tokio::time::interval_at(start, TYPING_EVERY);
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    t
                });
                match (current, publisher) {
                    (Phase::Stop, _) => break,
                    (Phase::Publish { pace: Pace::ClosedLoop, .. }, Some(_)) => send_now = true,
                    (Phase::Publish { pace: Pace::Rate(rate_each), .. }, Some(me)) if rate_each > 0.0 => {
                        // Spread the publishers evenly over one period.
                        let period = Duration::from_secs_f64(1.0 / rate_each);
                        let offset = period.mul_f64(me as f64 / publishers as f64);
                        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
                        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                        ticker = Some(t);
                    }
                    _ => {}
                }
            }
            _ = tick(&mut ticker) => send_now = true,
            _ = tick(&mut typing) => {
                if let Phase::Publish { step, .. } = current {
                    let frame = format!(r#"{{"type":"typing","room":{room}}}"#);
                    if ws.send(Message::text(frame)).await.is_err() {
                        break;
                    }
                    counters.typing_sent[step].fetch_add(1, Ordering::Relaxed);
                }
            }
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break,
                };
                match wire.parse(text.as_str()) {
                    Incoming::Ping if ws.send(Message::text(wire.pong())).await.is_err() => break,
                    Incoming::Ping => {}
                    Incoming::Typing => {
                        if let Phase::Publish { step, .. } = current {
                            counters.typing_received[step].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Incoming::Delivery { room: r, text } if r == room => {
                        let now = now_us();
                        let Some(stamp) = Stamp::parse(&text).filter(|s| s.step < counters.received.len()) else {
                            continue;
                        };
                        if !seen.first_delivery(&stamp) {
                            counters.duplicated[stamp.step].fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        counters.received[stamp.step].fetch_add(1, Ordering::Relaxed);
                        let latency = now.saturating_sub(stamp.sent_us).max(1);
                        if let Ok(mut h) = counters.latency[stamp.step].lock() {
                            let _ = h.record(latency);
                        }
                        if several {
                            let crossed = split.node_of_publisher(stamp.publisher) != node;
                            let apart = if crossed {
                                counters.cross_received[stamp.step].fetch_add(1, Ordering::Relaxed);
                                &counters.cross_latency
                            } else {
                                &counters.local_latency
                            };
                            if let Ok(mut h) = apart[stamp.step].lock() {
                                let _ = h.record(latency);
                            }
                        }
                        // Closed loop: my own message came back, send the next.
                        if publisher == Some(stamp.publisher) && closed_loop(current) {
                            send_now = true;
                        }
                    }
                    _ => {}
                }
            }
        }
        if let (true, Some(me), Phase::Publish { step, .. }) = (send_now, publisher, current) {
            sequence += 1;
            let stamp = Stamp {
                step,
                publisher: me,
                sequence,
                sent_us: now_us(),
            };
            if ws
                .send(Message::text(wire.publish(room, &stamp.text())))
                .await
                .is_err()
            {
                break;
            }
            counters.published[step].fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = ws.close(None).await;
}

/// The flooding client: while a step floods, it keeps [`FLOOD_WINDOW`] sends unanswered,
/// sending the next as each answer comes (`sent` or an error: refusals are ignored, as a
/// careless or hostile client would). Its texts are not stamps, so nobody counts them as
/// deliveries; each carries a nonce of its own.
async fn flooder(
    mut ws: Socket,
    wire: Wire,
    room: i64,
    mut phase: watch::Receiver<Phase>,
    counters: Arc<Counters>,
) {
    // The step answers are counted in: the last one that flooded (late answers included).
    let mut step = None;
    let mut flooding = false;
    let mut unanswered = 0u64;
    let mut number = 0u64;
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                match *phase.borrow_and_update() {
                    Phase::Stop => break,
                    Phase::Publish { step: s, flood: true, .. } => {
                        step = Some(s);
                        flooding = true;
                    }
                    _ => flooding = false,
                }
            }
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break,
                };
                let Some(s) = step else { continue };
                let counter = match wire.parse(text.as_str()) {
                    Incoming::Sent => &counters.flood_stored,
                    Incoming::Refused { rate_limited: true } => &counters.flood_limited,
                    Incoming::Refused { rate_limited: false } => &counters.flood_refused,
                    _ => continue,
                };
                counter[s].fetch_add(1, Ordering::Relaxed);
                unanswered = unanswered.saturating_sub(1);
            }
        }
        if flooding && let Some(s) = step {
            while unanswered < FLOOD_WINDOW {
                number += 1;
                let text = format!("flood {s} {number}");
                if ws
                    .send(Message::text(wire.publish(room, &text)))
                    .await
                    .is_err()
                {
                    return;
                }
                unanswered += 1;
                counters.flood_sent[s].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let _ = ws.close(None).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(publisher: u32, sequence: u64) -> Stamp {
        Stamp {
            step: 1,
            publisher,
            sequence,
            sent_us: 1_700_000_000_000_000,
        }
    }

    #[test]
    fn a_stamp_survives_the_trip_through_a_message_text() {
        let sent = stamp(7, 42);
        assert_eq!(Stamp::parse(&sent.text()), Some(sent));
        assert_eq!(Stamp::parse("hello"), None);
        assert_eq!(Stamp::parse("1:2:3"), None);
    }

    #[test]
    fn a_repeated_or_older_sequence_number_is_a_duplicate() {
        let mut seen = Sequences::default();
        assert!(seen.first_delivery(&stamp(1, 1)));
        assert!(seen.first_delivery(&stamp(2, 1)), "publishers count apart");
        assert!(!seen.first_delivery(&stamp(1, 1)), "the same message twice");
        assert!(
            seen.first_delivery(&stamp(1, 3)),
            "a gap is not a duplicate"
        );
        assert!(
            !seen.first_delivery(&stamp(1, 2)),
            "an older one after a newer"
        );
    }

    #[test]
    fn a_flooded_plan_runs_each_rate_without_then_with_the_flooder() {
        let mut plan = Plan {
            rooms: 1,
            members: 10,
            publishers: 2,
            rates: vec![50.0, 100.0],
            step_seconds: 1.0,
            closed_loop: false,
            stop_above_p99: None,
            sources: vec![],
            flood: false,
            nodes: 1,
            typists: 0,
        };
        assert_eq!(plan.steps(), [(50.0, false), (100.0, false)]);
        assert_eq!(plan.accounts(), 10);
        plan.flood = true;
        assert_eq!(
            plan.steps(),
            [(50.0, false), (50.0, true), (100.0, false), (100.0, true)]
        );
        assert_eq!((plan.clients(), plan.accounts()), (10, 11));
    }

    #[test]
    fn what_was_expected_and_not_received_is_lost() {
        let step = Step {
            rate: 10.0,
            seconds: 1.0,
            published: 10,
            expected: 1000,
            received: 997,
            duplicated: 2,
            latency: histogram(),
            cpu_seconds: None,
            steal_percent: 0.0,
            generator_cpu_seconds: 0.0,
            flood: None,
            crossing: None,
            node_cpu_seconds: Vec::new(),
            bus_cpu_seconds: Some(0.5),
            typing_sent: 0,
            typing_received: 0,
        };
        assert_eq!(step.lost(), 3);
        assert_eq!(step.cpu_per_million(false), None, "no server watched");
        let step = Step {
            cpu_seconds: Some(1.0),
            ..step
        };
        assert_eq!(step.cpu_per_million(false), Some(1e6 / 997.0));
        assert_eq!(step.cpu_per_million(true), Some(1.5e6 / 997.0));
    }

    #[test]
    fn clients_alternate_over_two_nodes_and_so_do_the_rooms_publishers() {
        let plan = |rooms, members, publishers| Plan {
            rooms,
            members,
            publishers,
            rates: vec![1.0],
            step_seconds: 1.0,
            closed_loop: false,
            stop_above_p99: None,
            sources: vec![],
            flood: false,
            nodes: 2,
            typists: 0,
        };
        // One big room: members alternate, and so do its ten publishers (the first ten).
        let big = plan(1, 1000, 10);
        let on = |p: &Plan, node| {
            (0..p.clients())
                .filter(|&i| p.node_of_client(i) == node)
                .count()
        };
        assert_eq!((on(&big, 0), on(&big, 1)), (500, 500));
        let publishers: Vec<usize> = (0..10).map(|p| big.split().node_of_publisher(p)).collect();
        assert_eq!(publishers, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
        // Rooms of ten with one publisher each (member 0): half the rooms publish from each node,
        // and every room has members on both.
        let many = plan(1000, 10, 1);
        assert_eq!((on(&many, 0), on(&many, 1)), (5000, 5000));
        let from_1 = (0..1000)
            .filter(|&p| many.split().node_of_publisher(p) == 1)
            .count();
        assert_eq!(from_1, 500);
        for room in [0, 1, 999] {
            let nodes: Vec<usize> = (0..10)
                .map(|m| many.node_of_client(room * 10 + m))
                .collect();
            assert_eq!(
                nodes.iter().filter(|&&n| n == 0).count(),
                5,
                "room {room}: {nodes:?}"
            );
            assert_eq!(
                many.split().node_of_publisher(room as u32),
                nodes[0],
                "its publisher is its first member"
            );
        }
        // One node: everyone on it.
        let one = Plan {
            nodes: 1,
            ..plan(3, 5, 1)
        };
        assert!((0..one.clients()).all(|i| one.node_of_client(i) == 0));
    }
}
