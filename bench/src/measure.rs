//! The server's own CPU time and memory, read from /proc/PID.

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
