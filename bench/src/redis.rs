//! A private Redis for the two-node scenarios: `redis-server` on a free port of 127.0.0.1,
//! keeping nothing on disk (no snapshots, no append-only file, in a directory of its own so that
//! it cannot load a `dump.rdb` lying about), started for one scenario and stopped after it. The
//! machine's own Redis (6379), if any, is never used.

use std::path::PathBuf;
use std::process::Command;

use crate::suite::Running;

/// A running `redis-server` of the generator's own.
pub(crate) struct Redis {
    server: Running,
    dir: PathBuf,
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
}

impl Redis {
    /// Starts one on a free port, pinned to `cpu` if given, and waits until it listens.
    pub(crate) async fn start(cpu: Option<&str>) -> Result<Redis, String> {
        let port = free_port()?;
        let dir =
            std::env::temp_dir().join(format!("hearth-bench-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpu, "redis-server"]);
                c
            }
            None => Command::new("redis-server"),
        };
        command.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ]);
        command.arg("--dir").arg(&dir);
        let url = format!("redis://127.0.0.1:{port}");
        match Running::spawn(command, port, "redis-server", url.clone()).await {
            Ok(server) => Ok(Redis { server, dir, url }),
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(error)
            }
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// Stops it and removes its directory.
    pub(crate) async fn stop(self) {
        self.server.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port of 127.0.0.1 that nothing listens on now (the system's choice).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// `redis-server --version`'s words after "Redis server" (e.g. "v=7.0.15 sha=… bits=64 …").
pub(crate) fn version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            let text = text.trim();
            text.strip_prefix("Redis server ")
                .unwrap_or(text)
                .to_owned()
        })
        .unwrap_or_else(|| "not found (redis-server is not on PATH)".into())
}
