//! Two nodes sharing one PostgreSQL database and one Redis of the test's own, as
//! `make cluster` runs them behind nginx (here each node is reached directly); and a third
//! node as a process of its own, for a test to kill.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::Config;
use server::scratch::ScratchDatabase;

use super::redis::RedisServer;
use super::{TestServer, without_flood_limits};

pub struct Cluster {
    pub a: TestServer,
    pub b: TestServer,
    pub redis: RedisServer,
}

impl Cluster {
    /// Two nodes (without the flood limits) on a fresh PostgreSQL database and a fresh Redis.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Two nodes, each with a configuration changed by `adjust`.
    pub async fn start_with(adjust: impl Fn(&mut Config) + Clone + 'static) -> Self {
        let redis = RedisServer::start().await;
        let db = ScratchDatabase::shared("cluster")
            .await
            .expect("a PostgreSQL scratch database");
        let url = redis.url();
        let node = |db: ScratchDatabase| {
            let url = url.clone();
            let adjust = adjust.clone();
            TestServer::launch(db, move |config| {
                without_flood_limits(config);
                config.redis_url = Some(url);
                adjust(config);
            })
        };
        let a = node(db.clone()).await;
        let b = node(db).await;
        Cluster { a, b, redis }
    }

    /// A third node: the `hearth` binary in a process of its own, with these extra environment
    /// variables. Killing it (dropping the [`Process`]) is a node that dies.
    pub async fn spawn_node(&self, env: &[(&str, &str)]) -> Process {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .env("HEARTH_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", self.a.db.url())
            .env("HEARTH_REDIS_URL", self.redis.url())
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("the hearth binary runs");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{base}/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "the node did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Process {
            node: TestServer {
                server: None,
                db: self.a.db.clone(),
                origin: base.clone(),
                base,
            },
            child,
        }
    }
}

/// A node running as a process; killed (SIGKILL, no goodbye) when dropped or by [`kill`].
pub struct Process {
    pub node: TestServer,
    child: Child,
}

impl Process {
    /// Kills the node at once, as a crash or a pulled plug would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
