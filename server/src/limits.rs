//! Abuse limits: how often one account, one client address or one person may do something
//! costly (guess a password, sign up, post, create or rename rooms), and how much memory
//! password hashing may hold at once.
//!
//! Each rate is a generic cell rate algorithm (GCRA): per key, one instant, the "theoretical
//! arrival time". A rate of `count` per `window` admits a burst of `count` at once, then one
//! more every `window / count`.
//!
//! On a node of its own, checking is a map lookup under a plain mutex, never held across an
//! `.await` (the future is ready at once). Keys whose instant has passed are equivalent to
//! absent and are swept as the map grows, so an idle limiter holds nothing.
//!
//! When nodes share a Redis (`--redis-url`), every rate keeps its instants there instead, so a
//! limit holds across nodes: one key per limit and key (`hearth:rate:NAME:KEY`, the instant in
//! microseconds of Redis' own clock, since the nodes' clocks may differ), read and moved by one
//! Lua script that expires the key when its instant passes. If Redis fails or does not answer
//! in time, the node counts on its own for that check (and for a second after, warning at most
//! every ten seconds): a Redis outage loosens the limits to per node, never refuses anyone.
//!
//! A limit of 0 is off (the benchmark turns some off: it signs up 10,000 accounts from one
//! address).

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::Config;

/// Memory argon2 takes per hash with the default parameters (19 MiB).
pub const HASH_MIB: usize = 19;

/// A limit: `count` events per `window`, keyed by `K`.
pub struct Rate<K> {
    /// Time between two events once the burst is spent (window / count); zero when off.
    interval: Duration,
    /// How far ahead of now the arrival time may run: the burst, less one interval.
    tolerance: Duration,
    /// This node's own instants: all of them alone, or while Redis does not answer.
    arrivals: Mutex<HashMap<K, Instant>>,
    /// Where the instants live when nodes share them.
    shared: Option<Shared>,
}

/// A rate's place in Redis: the connection and script of every rate, and this rate's keys.
struct Shared {
    counters: Arc<SharedCounters>,
    /// `hearth:rate:NAME:`, before the key.
    prefix: String,
}

/// How long to wait before the limit admits the next event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, at least one (for `Retry-After`).
    pub fn seconds(self) -> u64 {
        (self.0.as_secs_f64().ceil() as u64).max(1)
    }

    /// Whole minutes, at least one (for "try again in N minutes").
    pub fn minutes(self) -> u64 {
        self.seconds().div_ceil(60)
    }
}

/// Swept once the map holds this many keys more than after the last sweep.
const SWEEP_EVERY: usize = 1024;

/// The GCRA of one key in Redis, on Redis' clock. KEYS[1] holds the key's arrival time in
/// microseconds; ARGV: the interval and the tolerance in microseconds, then 1 to count the
/// event or 0 only to ask. Answers 0 when the event is admitted, else the microseconds to wait.
/// The key expires when its arrival time passes (an absent key is one whose time has passed).
const GCRA_SCRIPT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local arrival = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local tolerance = tonumber(ARGV[2])
if arrival - now > tolerance then
  return arrival - now - tolerance
end
if ARGV[3] == '1' then
  local next = arrival + tonumber(ARGV[1])
  local ttl = math.ceil((next - now) / 1000)
  redis.call('SET', KEYS[1], string.format('%d', next), 'PX', string.format('%d', ttl))
end
return 0
";

/// How long a check waits for Redis before the node counts on its own.
const SHARED_WAIT: Duration = Duration::from_millis(500);
/// After Redis failed, how long the node counts on its own before asking it again.
const SHARED_RETRY: Duration = Duration::from_secs(1);
/// At most one warning about Redis this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Rate counters kept in Redis, shared by every node linked to it.
struct SharedCounters {
    connection: ConnectionManager,
    script: Script,
    outage: Mutex<Outage>,
}

/// What the node remembers of Redis' last failure.
#[derive(Default)]
struct Outage {
    /// Until then the node counts on its own without asking Redis.
    alone_until: Option<Instant>,
    warned_at: Option<Instant>,
}

impl SharedCounters {
    fn new(connection: ConnectionManager) -> Self {
        SharedCounters {
            connection,
            script: Script::new(GCRA_SCRIPT),
            outage: Mutex::new(Outage::default()),
        }
    }

    fn outage(&self) -> MutexGuard<'_, Outage> {
        self.outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether to ask Redis now (not within [`SHARED_RETRY`] of its last failure).
    fn answering(&self) -> bool {
        self.outage()
            .alone_until
            .is_none_or(|until| Instant::now() >= until)
    }

    /// Notes a failure: the node counts on its own for a while, and says so now and then.
    fn failed(&self, error: &dyn Display) {
        let now = Instant::now();
        let mut outage = self.outage();
        outage.alone_until = Some(now + SHARED_RETRY);
        if outage
            .warned_at
            .is_none_or(|warned| now.duration_since(warned) >= WARN_EVERY)
        {
            outage.warned_at = Some(now);
            tracing::warn!(%error, "rate limits count on this node alone: Redis failed");
        }
    }
}

/// A duration in whole microseconds, for the script.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl<K: Eq + Hash + Display> Rate<K> {
    /// `count` per `window`; `count` 0 turns the limit off. Counted by this node alone.
    pub fn new(count: u32, window: Duration) -> Self {
        let (interval, tolerance) = match count {
            0 => (Duration::ZERO, Duration::ZERO),
            n => {
                let interval = window / n;
                (interval, interval * (n - 1))
            }
        };
        Rate {
            interval,
            tolerance,
            arrivals: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// The same limit, counted in Redis under `name` when `counters` is there.
    fn shared(mut self, name: &str, counters: Option<&Arc<SharedCounters>>) -> Self {
        self.shared = counters.map(|counters| Shared {
            counters: counters.clone(),
            prefix: format!("hearth:rate:{name}:"),
        });
        self
    }

    pub fn is_off(&self) -> bool {
        self.interval.is_zero()
    }

    fn arrivals(&self) -> MutexGuard<'_, HashMap<K, Instant>> {
        self.arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether one more event for `key` would be admitted now, without counting it.
    pub async fn peek(&self, key: &K) -> Result<(), RetryAfter> {
        if self.is_off() {
            return Ok(());
        }
        if let Some(shared) = &self.shared
            && let Some(verdict) = Box::pin(self.ask_redis(shared, key, false)).await
        {
            return verdict;
        }
        self.peek_at(key, Instant::now())
    }

    fn peek_at(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        if self.is_off() {
            return Ok(());
        }
        match self.arrivals().get(key) {
            Some(&arrival) => self.admits(arrival, now),
            None => Ok(()),
        }
    }

    fn admits(&self, arrival: Instant, now: Instant) -> Result<(), RetryAfter> {
        let ahead = arrival.saturating_duration_since(now);
        if ahead > self.tolerance {
            Err(RetryAfter(ahead - self.tolerance))
        } else {
            Ok(())
        }
    }

    /// Counts one event for `key` if the limit admits it; otherwise says how long to wait.
    pub async fn check(&self, key: K) -> Result<(), RetryAfter> {
        if self.is_off() {
            return Ok(());
        }
        // Boxed, so that a node alone awaits a small future, ready at once.
        if let Some(shared) = &self.shared
            && let Some(verdict) = Box::pin(self.ask_redis(shared, &key, true)).await
        {
            return verdict;
        }
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: K, now: Instant) -> Result<(), RetryAfter> {
        if self.is_off() {
            return Ok(());
        }
        let mut arrivals = self.arrivals();
        let arrival = arrivals.get(&key).map_or(now, |&a| a.max(now));
        self.admits(arrival, now)?;
        let swept_at = arrivals.len();
        arrivals.insert(key, arrival + self.interval);
        if swept_at > 0 && swept_at.is_multiple_of(SWEEP_EVERY) {
            arrivals.retain(|_, arrival| *arrival > now);
        }
        Ok(())
    }

    /// Runs the GCRA for `key` in Redis, counting the event when `count`; `None` when Redis
    /// failed or was slow (the caller then counts on this node alone).
    async fn ask_redis(
        &self,
        shared: &Shared,
        key: &K,
        count: bool,
    ) -> Option<Result<(), RetryAfter>> {
        let counters = &shared.counters;
        if !counters.answering() {
            return None;
        }
        let mut invocation = counters.script.key(format!("{}{key}", shared.prefix));
        invocation
            .arg(micros(self.interval))
            .arg(micros(self.tolerance))
            .arg(u8::from(count));
        let mut connection = counters.connection.clone();
        let answer = invocation.invoke_async::<u64>(&mut connection);
        match tokio::time::timeout(SHARED_WAIT, answer).await {
            Ok(Ok(0)) => Some(Ok(())),
            Ok(Ok(wait)) => Some(Err(RetryAfter(Duration::from_micros(wait)))),
            Ok(Err(error)) => {
                counters.failed(&error);
                None
            }
            Err(_) => {
                counters.failed(&format_args!("no answer within {SHARED_WAIT:?}"));
                None
            }
        }
    }

    /// Counts an event that happened anyway (a failed sign-in). A key already at its limit
    /// is left there: counting past it would lengthen the wait beyond the window.
    pub async fn record(&self, key: K) {
        let _ = self.check(key).await;
    }
}

/// Every limit of the server, configured from [`Config`].
pub struct Limits {
    pub sign_in_per_account: Rate<String>,
    pub sign_in_per_address: Rate<IpAddr>,
    pub sign_ups_per_address: Rate<IpAddr>,
    pub messages_per_user: Rate<i64>,
    pub room_changes_per_user: Rate<i64>,
    /// Searches: each reads the person's rooms and the index ([`SEARCHES_PER_MINUTE`]).
    pub searches_per_user: Rate<i64>,
    /// Most open sockets per account; 0 is unlimited.
    pub sockets_per_user: usize,
    /// One permit per hash that may run at once.
    hashing: Semaphore,
    trusted_proxies: Vec<IpAddr>,
}

const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A person's searches a minute, in bursts of as many: far more than anyone types, few enough
/// that a script with many sockets cannot keep the database busy.
pub const SEARCHES_PER_MINUTE: u32 = 30;
const HOUR: Duration = Duration::from_secs(3600);

impl Limits {
    /// The limits of `config`, counted in the Redis behind `shared` when there is one (every
    /// node linked to it then shares each count), else by this node alone.
    pub fn new(config: &Config, shared: Option<ConnectionManager>) -> Self {
        let counters = shared.map(|connection| Arc::new(SharedCounters::new(connection)));
        let counters = counters.as_ref();
        Limits {
            sign_in_per_account: Rate::new(config.sign_in_failures, SIGN_IN_WINDOW)
                .shared("sign_in_per_account", counters),
            sign_in_per_address: Rate::new(config.sign_in_failures_per_address, SIGN_IN_WINDOW)
                .shared("sign_in_per_address", counters),
            sign_ups_per_address: Rate::new(config.sign_ups_per_hour, HOUR)
                .shared("sign_ups_per_address", counters),
            messages_per_user: Rate::new(
                config.message_burst,
                Duration::from_secs_f64(
                    f64::from(config.message_burst) / config.messages_per_second.max(0.001),
                ),
            )
            .shared("messages_per_user", counters),
            room_changes_per_user: Rate::new(config.room_changes_per_hour, HOUR)
                .shared("room_changes_per_user", counters),
            searches_per_user: Rate::new(SEARCHES_PER_MINUTE, Duration::from_secs(60))
                .shared("searches_per_user", counters),
            sockets_per_user: config.sockets_per_user,
            hashing: Semaphore::new(hash_permits(config.hashing_memory_mib)),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// Waits for room to hash one password within the hashing memory budget.
    pub async fn hashing_permit(&self) -> Option<SemaphorePermit<'_>> {
        self.hashing.acquire().await.ok()
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    /// address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_address(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.ip().to_canonical();
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut nearest = peer;
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(address) => {
                    nearest = address.to_canonical();
                    if !self.trusted_proxies.contains(&nearest) {
                        break;
                    }
                }
                // Garbage in the header: trust nothing beyond this point.
                Err(_) => break,
            }
        }
        nearest
    }
}

/// How many hashes fit in `mib` of memory (at least one).
fn hash_permits(mib: usize) -> usize {
    (mib / HASH_MIB).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchRedis;

    #[test]
    fn a_rate_admits_its_burst_then_one_per_interval() {
        let rate = Rate::new(10, Duration::from_secs(900));
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(rate.check_at("alice", start), Ok(()));
        }
        let wait = rate.check_at("alice", start).unwrap_err();
        assert_eq!(wait, RetryAfter(Duration::from_secs(90)));
        assert_eq!(wait.minutes(), 2);
        assert!(rate.peek_at(&"bob", start).is_ok(), "other keys are apart");
        let later = start + Duration::from_secs(90);
        assert_eq!(rate.check_at("alice", later), Ok(()));
        assert!(rate.check_at("alice", later).is_err());
    }

    #[test]
    fn peeking_counts_nothing() {
        let rate = Rate::new(1, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..5 {
            assert!(rate.peek_at(&1, now).is_ok());
        }
        assert!(rate.check_at(1, now).is_ok());
        assert!(rate.peek_at(&1, now).is_err());
    }

    #[test]
    fn a_limit_of_zero_is_off() {
        let rate = Rate::new(0, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..10_000 {
            assert!(rate.check_at(7, now).is_ok());
        }
        assert!(rate.arrivals().is_empty());
    }

    #[test]
    fn spent_keys_are_swept() {
        let rate = Rate::new(1, Duration::from_millis(1));
        let now = Instant::now();
        for key in 0..SWEEP_EVERY as u32 * 2 {
            let _ = rate.check_at(key, now);
        }
        let later = now + Duration::from_secs(1);
        for key in 0..=SWEEP_EVERY as u32 {
            let _ = rate.check_at(u32::MAX - key, later);
        }
        assert!(rate.arrivals().len() <= SWEEP_EVERY + 2);
    }

    #[test]
    fn hashing_fits_its_memory_budget() {
        assert_eq!(hash_permits(256), 13);
        assert_eq!(hash_permits(1), 1);
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "sqlite::memory:");
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 1.2.3.4".parse().unwrap());
        let untrusted = Limits::new(&config, None);
        assert_eq!(
            untrusted.client_address(SocketAddr::new(proxy, 9), &headers),
            proxy,
            "without --trusted-proxy the header is ignored"
        );
        config.trusted_proxies = vec![proxy];
        let behind = Limits::new(&config, None);
        assert_eq!(
            behind.client_address(SocketAddr::new(proxy, 9), &headers),
            "1.2.3.4".parse::<IpAddr>().unwrap(),
            "the proxy's own entry: the address it saw, not one the client wrote before it"
        );
        let direct: IpAddr = "5.5.5.5".parse().unwrap();
        assert_eq!(
            behind.client_address(SocketAddr::new(direct, 9), &headers),
            direct
        );
    }

    /// A node's connection to `redis`, as `start()` makes it.
    async fn connect(redis: &ScratchRedis) -> ConnectionManager {
        redis::Client::open(redis.url())
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap()
    }

    /// A limit of `count` per `window` named "test", counted in `redis` by a node of its own.
    async fn node<K: Eq + Hash + Display>(
        redis: &ScratchRedis,
        count: u32,
        window: Duration,
    ) -> Rate<K> {
        let counters = Arc::new(SharedCounters::new(connect(redis).await));
        Rate::new(count, window).shared("test", Some(&counters))
    }

    #[tokio::test]
    async fn a_shared_rate_admits_one_burst_across_nodes_then_says_how_long_to_wait() {
        let redis = ScratchRedis::start().await;
        let a = node(&redis, 10, Duration::from_secs(900)).await;
        let b = node(&redis, 10, Duration::from_secs(900)).await;
        for _ in 0..5 {
            assert_eq!(a.check("alice").await, Ok(()));
            assert_eq!(b.check("alice").await, Ok(()));
        }
        for node in [&a, &b] {
            let wait = node.check("alice").await.unwrap_err();
            assert!(
                wait.0 <= Duration::from_secs(90) && wait.0 > Duration::from_secs(89),
                "{wait:?}"
            );
            assert_eq!(wait.minutes(), 2);
            assert!(node.peek(&"alice").await.is_err(), "peeking sees it too");
        }
        assert!(a.peek(&"bob").await.is_ok(), "other keys are apart");
        assert!(
            a.arrivals().is_empty() && b.arrivals().is_empty(),
            "nothing is counted on the nodes themselves"
        );
    }

    #[tokio::test]
    async fn a_shared_rate_admits_again_once_the_interval_has_passed() {
        let redis = ScratchRedis::start().await;
        let a = node(&redis, 2, Duration::from_millis(400)).await;
        let b = node(&redis, 2, Duration::from_millis(400)).await;
        assert_eq!(a.check(7).await, Ok(()));
        assert_eq!(b.check(7).await, Ok(()));
        let wait = a.check(7).await.unwrap_err();
        assert!(wait.0 <= Duration::from_millis(200), "{wait:?}");
        tokio::time::sleep(wait.0 + Duration::from_millis(20)).await;
        assert_eq!(b.check(7).await, Ok(()));
        assert!(a.check(7).await.is_err());
    }

    #[tokio::test]
    async fn peeking_at_a_shared_rate_counts_nothing() {
        let redis = ScratchRedis::start().await;
        let a = node(&redis, 1, Duration::from_secs(60)).await;
        let b = node(&redis, 1, Duration::from_secs(60)).await;
        for _ in 0..5 {
            assert!(a.peek(&1).await.is_ok());
        }
        let mut redis_itself = connect(&redis).await;
        let exists: bool = redis::cmd("EXISTS")
            .arg("hearth:rate:test:1")
            .query_async(&mut redis_itself)
            .await
            .unwrap();
        assert!(!exists, "a peek stores nothing");
        assert!(b.check(1).await.is_ok());
        assert!(a.peek(&1).await.is_err());
    }

    #[tokio::test]
    async fn a_shared_key_expires_when_its_count_has_run_out() {
        let redis = ScratchRedis::start().await;
        let rate = node(&redis, 10, Duration::from_secs(900)).await;
        let mut redis_itself = connect(&redis).await;
        let ttl = |key: &'static str| {
            let mut connection = redis_itself.clone();
            async move {
                redis::cmd("PTTL")
                    .arg(format!("hearth:rate:test:{key}"))
                    .query_async::<i64>(&mut connection)
                    .await
                    .unwrap()
            }
        };
        rate.record("once").await;
        let once = ttl("once").await;
        assert!((89_000..=90_000).contains(&once), "one event: {once} ms");
        for _ in 0..10 {
            rate.record("often").await;
        }
        let often = ttl("often").await;
        assert!(
            (899_000..=900_000).contains(&often),
            "ten events: {often} ms"
        );
        // A key held for its interval only: gone (not merely idle) once it has passed.
        let quick = node(&redis, 1, Duration::from_millis(50)).await;
        quick.record("quick").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let exists: bool = redis::cmd("EXISTS")
            .arg("hearth:rate:test:quick")
            .query_async(&mut redis_itself)
            .await
            .unwrap();
        assert!(!exists);
    }

    #[tokio::test]
    async fn while_redis_is_down_a_node_still_limits_on_its_own() {
        let mut redis = ScratchRedis::start().await;
        let rate = node(&redis, 2, Duration::from_secs(3600)).await;
        assert_eq!(rate.check("carol").await, Ok(()));
        redis.kill();
        let started = Instant::now();
        assert_eq!(
            rate.check("carol").await,
            Ok(()),
            "not refused for Redis' sake"
        );
        assert_eq!(rate.check("carol").await, Ok(()));
        assert!(rate.check("carol").await.is_err(), "this node's own count");
        assert!(rate.peek(&"carol").await.is_err());
        assert!(rate.peek(&"dave").await.is_ok());
        assert!(
            started.elapsed() < SHARED_WAIT + Duration::from_millis(250),
            "at most one slow check: {:?}",
            started.elapsed()
        );
    }
}
