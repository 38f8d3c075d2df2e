//! The server's own CPU time and memory (peak, and resident now), read from /proc/PID, and the
//! time the machine's hypervisor took from it (steal), read from /proc/stat.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

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

impl ProcStats {
    /// The sum over several processes (the nodes of one server), `None` for none: CPU seconds,
    /// Pss and peak RSS each added up (peak RSS summed is the most the processes could have held
    /// at once, not what they did).
    pub fn read_all(pids: &[u32]) -> Result<Option<Self>, String> {
        let mut sum: Option<ProcStats> = None;
        for &pid in pids {
            let one = ProcStats::read(pid)?;
            sum = Some(match sum {
                None => one,
                Some(s) => ProcStats {
                    cpu_seconds: s.cpu_seconds + one.cpu_seconds,
                    peak_rss_kib: s.peak_rss_kib + one.peak_rss_kib,
                    pss_kib: s.pss_kib + one.pss_kib,
                },
            });
        }
        Ok(sum)
    }
}

/// The resident set size of process `pid` now, KiB (0 once it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    kib(&status, "VmRSS:")
}

/// The highest resident set size of a process while this samples it, every 50 ms on a thread
/// of its own (the caller's runtime may be busy reading what the process sends).
pub struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<()>,
    pid: u32,
}

impl PeakRss {
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(rss_kib(pid)));
        let stop = Arc::new(AtomicBool::new(false));
        let (highest, stopped) = (Arc::clone(&peak), Arc::clone(&stop));
        let sampler = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                highest.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        PeakRss {
            peak,
            stop,
            sampler,
            pid,
        }
    }

    /// The peak since `start`, KiB.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.sampler.join();
        self.peak.load(Ordering::Relaxed).max(rss_kib(self.pid))
    }
}

fn kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The machine's CPU time so far, in clock ticks, from the `cpu` line of /proc/stat.
#[derive(Clone, Copy, Debug)]
pub struct MachineTicks {
    total: u64,
    steal: u64,
}

impl MachineTicks {
    pub fn read() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .find(|l| l.starts_with("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|f| f.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        MachineTicks {
            total: fields.iter().take(8).sum(),
            steal: fields.get(7).copied().unwrap_or(0),
        }
    }

    /// The share of the machine's time since `earlier` that its hypervisor gave to others
    /// (steal), in percent: on a shared virtual machine it explains runs that differ.
    pub fn steal_percent_since(&self, earlier: &MachineTicks) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        let steal = self.steal.saturating_sub(earlier.steal);
        if total == 0 {
            0.0
        } else {
            steal as f64 * 100.0 / total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_the_hypervisors_share_of_the_machines_time_between_two_readings() {
        let earlier = MachineTicks {
            total: 1_000,
            steal: 10,
        };
        let later = MachineTicks {
            total: 1_400,
            steal: 110,
        };
        assert_eq!(later.steal_percent_since(&earlier), 25.0);
        assert_eq!(earlier.steal_percent_since(&earlier), 0.0);
        let now = MachineTicks::read();
        assert!(now.total > 0, "/proc/stat has a cpu line");
    }

    #[test]
    fn the_figures_of_several_processes_add_up() {
        let me = std::process::id();
        assert!(ProcStats::read_all(&[]).expect("nothing to read").is_none());
        let one = ProcStats::read_all(&[me]).expect("readable").expect("one");
        let two = ProcStats::read_all(&[me, me])
            .expect("readable")
            .expect("two");
        assert!(two.cpu_seconds >= 2.0 * one.cpu_seconds);
        // The kernel's RSS counters are approximate from one read to the next: about double.
        assert!(two.peak_rss_kib > one.peak_rss_kib * 3 / 2);
        assert!(
            ProcStats::read_all(&[me, u32::MAX]).is_err(),
            "no such process"
        );
    }

    #[test]
    fn the_peak_is_at_least_what_was_resident() {
        let me = std::process::id();
        let now = rss_kib(me);
        assert!(now > 0, "VmRSS of this process");
        assert!(PeakRss::start(me).stop() >= now / 2);
        assert_eq!(rss_kib(u32::MAX), 0, "no such process");
    }
}
