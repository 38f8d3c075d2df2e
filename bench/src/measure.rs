//! Counting: latency histogram, deliveries, losses and duplicates, and the server's own
//! CPU time and memory from /proc.

use std::collections::HashMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::Args;

/// CPU and memory of a process, from /proc/PID.
#[derive(Clone, Copy, Debug)]
pub struct ProcStats {
    /// User + system CPU seconds so far.
    pub cpu_seconds: f64,
    /// Peak resident set size, KiB.
    pub peak_rss_kib: u64,
    /// Proportional set size now, KiB.
    pub pss_kib: u64,
}

impl ProcStats {
    pub fn read(pid: u32) -> Result<Self, String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
        // Fields after the ")" that ends the command name; utime and stime are 14th and 15th.
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let clock_ticks = 100.0; // USER_HZ on Linux
        let cpu_seconds = (ticks(11) + ticks(12)) / clock_ticks;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        Ok(ProcStats {
            cpu_seconds,
            peak_rss_kib: kib(&status, "VmHWM:"),
            pss_kib: kib(&rollup, "Pss:"),
        })
    }
}

fn kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What one receiving client saw.
pub struct Receiver {
    pub latency: Histogram<u64>,
    pub received: u64,
    pub duplicated: u64,
    /// Highest sequence number seen per publisher: a number not above it is a duplicate.
    last_seq: HashMap<u32, u64>,
}

impl Receiver {
    pub fn new() -> Self {
        Receiver {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            received: 0,
            duplicated: 0,
            last_seq: HashMap::new(),
        }
    }

    /// Records a delivery of message `seq` from `publisher`, sent at `sent_us` (µs since the epoch).
    pub fn record(&mut self, publisher: u32, seq: u64, sent_us: u64, now_us: u64) {
        let last = self.last_seq.entry(publisher).or_insert(0);
        if seq <= *last {
            self.duplicated += 1;
            return;
        }
        *last = seq;
        self.received += 1;
        let _ = self.latency.record(now_us.saturating_sub(sent_us).max(1));
    }
}

pub struct Tally {
    pub latency: Histogram<u64>,
    pub expected: u64,
    pub received: u64,
    pub duplicated: u64,
    pub published: u64,
    pub connect_time: Duration,
    pub publish_time: Duration,
    pub before: Option<ProcStats>,
    pub after: Option<ProcStats>,
}

impl Tally {
    pub fn new() -> Self {
        Tally {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            expected: 0,
            received: 0,
            duplicated: 0,
            published: 0,
            connect_time: Duration::ZERO,
            publish_time: Duration::ZERO,
            before: None,
            after: None,
        }
    }

    pub fn add(&mut self, receiver: &Receiver) {
        let _ = self.latency.add(&receiver.latency);
        self.received += receiver.received;
        self.duplicated += receiver.duplicated;
    }

    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    pub fn finish(
        mut self,
        connect: Duration,
        publish: Duration,
        before: Option<ProcStats>,
        after: Option<ProcStats>,
    ) -> Self {
        self.connect_time = connect;
        self.publish_time = publish;
        self.before = before;
        self.after = after;
        self
    }

    pub fn report(&self, args: &Args) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let secs = self.publish_time.as_secs_f64().max(f64::EPSILON);
        let mut out = format!(
            "clients={} rooms={} members={} rate={}/s seconds={:.1}\n\
             connect_and_join_s={:.3}\n\
             published={} expected_deliveries={} delivered={} lost={} duplicated={}\n\
             deliveries_per_s={:.0}\n\
             latency_ms p50={:.2} p99={:.2} max={:.2}\n",
            args.rooms * args.members,
            args.rooms,
            args.members,
            args.rate,
            args.seconds,
            self.connect_time.as_secs_f64(),
            self.published,
            self.expected,
            self.received,
            self.lost(),
            self.duplicated,
            self.received as f64 / secs,
            ms(self.latency.value_at_quantile(0.5)),
            ms(self.latency.value_at_quantile(0.99)),
            ms(self.latency.max()),
        );
        if let (Some(before), Some(after)) = (self.before, self.after) {
            let cpu = after.cpu_seconds - before.cpu_seconds;
            let per_million = if self.received > 0 {
                cpu / self.received as f64 * 1e6
            } else {
                0.0
            };
            out.push_str(&format!(
                "server_cpu_s={cpu:.2} cpu_s_per_million_deliveries={per_million:.2} peak_rss_kib={} pss_kib={}\n",
                after.peak_rss_kib, after.pss_kib
            ));
        }
        out
    }
}
