//! Abuse limits: how often one account, one client address or one person may do something
//! costly (guess a password, sign up, post, create or rename rooms), and how much memory
//! password hashing may hold at once.
//!
//! Each rate is a generic cell rate algorithm (GCRA): per key, one instant, the "theoretical
//! arrival time". A rate of `count` per `window` admits a burst of `count` at once, then one
//! more every `window / count`. Checking is a map lookup under a plain mutex, never held across
//! an `.await`. Keys whose instant has passed are equivalent to absent and are swept as the map
//! grows, so an idle limiter holds nothing.
//!
//! A limit of 0 is off (the benchmark turns some off: it signs up 10,000 accounts from one
//! address). Counters are per node; issue 14's shared counters plug in behind [`Rate`].

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
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
    arrivals: Mutex<HashMap<K, Instant>>,
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

impl<K: Eq + Hash> Rate<K> {
    /// `count` per `window`; `count` 0 turns the limit off.
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
        }
    }

    pub fn is_off(&self) -> bool {
        self.interval.is_zero()
    }

    fn arrivals(&self) -> std::sync::MutexGuard<'_, HashMap<K, Instant>> {
        self.arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether one more event for `key` would be admitted now, without counting it.
    pub fn peek(&self, key: &K) -> Result<(), RetryAfter> {
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
    pub fn check(&self, key: K) -> Result<(), RetryAfter> {
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

    /// Counts an event that happened anyway (a failed sign-in). A key already at its limit
    /// is left there: counting past it would lengthen the wait beyond the window.
    pub fn record(&self, key: K) {
        let _ = self.check(key);
    }
}

/// Every limit of the server, configured from [`Config`].
pub struct Limits {
    pub sign_in_per_account: Rate<String>,
    pub sign_in_per_address: Rate<IpAddr>,
    pub sign_ups_per_address: Rate<IpAddr>,
    pub messages_per_user: Rate<i64>,
    pub room_changes_per_user: Rate<i64>,
    /// Most open sockets per account; 0 is unlimited.
    pub sockets_per_user: usize,
    /// One permit per hash that may run at once.
    hashing: Semaphore,
    trusted_proxies: Vec<IpAddr>,
}

const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);
const HOUR: Duration = Duration::from_secs(3600);

impl Limits {
    pub fn new(config: &Config) -> Self {
        Limits {
            sign_in_per_account: Rate::new(config.sign_in_failures, SIGN_IN_WINDOW),
            sign_in_per_address: Rate::new(config.sign_in_failures_per_address, SIGN_IN_WINDOW),
            sign_ups_per_address: Rate::new(config.sign_ups_per_hour, HOUR),
            messages_per_user: Rate::new(
                config.message_burst,
                Duration::from_secs_f64(
                    f64::from(config.message_burst) / config.messages_per_second.max(0.001),
                ),
            ),
            room_changes_per_user: Rate::new(config.room_changes_per_hour, HOUR),
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
        let untrusted = Limits::new(&config);
        assert_eq!(
            untrusted.client_address(SocketAddr::new(proxy, 9), &headers),
            proxy,
            "without --trusted-proxy the header is ignored"
        );
        config.trusted_proxies = vec![proxy];
        let behind = Limits::new(&config);
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
}
