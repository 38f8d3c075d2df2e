//! Operations and liveness: health and readiness probes, Prometheus metrics for this machine
//! only, and pings that take a vanished client offline.

use std::time::Duration;

use futures::StreamExt;

use app::protocol::{ClientFrame, LOBBY_ID, ServerFrame};

use crate::support::TestServer;

#[tokio::test]
async fn health_and_readiness_answer_without_a_session() {
    let server = TestServer::start().await;
    let health = server
        .http()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = server
        .http()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        server.sql_number("SELECT COUNT(*) FROM readiness").await,
        1,
        "readiness wrote to the database"
    );
}

#[tokio::test]
async fn metrics_count_messages_and_connections_in_prometheus_format() {
    let server = TestServer::start().await;
    let mut alice = server.connect(&server.register("alice").await).await;
    alice.say(LOBBY_ID, "counted").await;
    let text = server
        .http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "hearth_messages_stored_total",
        "hearth_deliveries_total",
        "hearth_connections",
        "hearth_users_online",
        "hearth_commit_batch_size_bucket",
        "hearth_commit_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[tokio::test]
async fn metrics_are_refused_to_other_machines_without_the_token() {
    let server = TestServer::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.metrics_token = Some("s3cret".into());
    })
    .await;
    let from_afar = |token: Option<&'static str>| {
        let mut request = server
            .http()
            .get(format!("{}/metrics", server.base))
            .header("x-forwarded-for", "203.0.113.9");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send()
    };
    assert_eq!(from_afar(None).await.unwrap().status(), 403);
    assert_eq!(from_afar(Some("wrong")).await.unwrap().status(), 403);
    assert_eq!(from_afar(Some("s3cret")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_goes_offline() {
    // Pings every second: a socket silent for two seconds is gone.
    let server = TestServer::start_with(|c| c.ping_ms = 1000).await;
    let (watcher, silent) = (
        server.register("watcher").await,
        server.register("silent").await,
    );
    let mut watcher = server.connect(&watcher).await;
    watcher.send(&ClientFrame::Members { room: LOBBY_ID }).await;
    // A tungstenite client answers pings only while it reads: this one never reads again.
    let silent = server.connect(&silent).await;
    let silent_id = silent.me().id;
    // Fails (in time) unless the silent client is reported offline.
    watcher
        .expect(|frame| match frame {
            ServerFrame::Presence {
                user,
                online: false,
            } if user == silent_id => Some(()),
            _ => None,
        })
        .await;
    drop(silent);
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let server = TestServer::start_with(|c| c.ping_ms = 100).await;
    let mut alice = server.connect(&server.register("alice").await).await;
    // Reading (which answers the pings) for several ping periods.
    let mut pings = 0;
    let reading = async {
        while let Some(Ok(message)) = alice.socket.next().await {
            assert!(!message.is_close(), "closed: {message:?}");
            pings += usize::from(message.is_ping());
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(700), reading).await;
    assert!(pings >= 3, "pinged {pings} times");
    alice.say(LOBBY_ID, "still here").await;
}

#[tokio::test]
async fn logs_can_be_json_lines() {
    use std::io::{BufRead, BufReader};
    let db = crate::support::temp_db().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            &db.url(),
            "--log-format",
            "json",
        ])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("hearth starts");
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .expect("a log line")
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    db.drop_now().await.unwrap();
    let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON object per line");
    assert_eq!(entry["level"], "INFO");
    assert!(
        entry["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("listening on http://127.0.0.1:"),
        "{line}"
    );
}
