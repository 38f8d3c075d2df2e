//! A crash mid-storm: the real `hearth` binary is killed with SIGKILL while 50 people send,
//! restarted on the same database, and each person resends what was not acknowledged (with the
//! same nonce). Every acknowledged message is stored exactly once, nothing is stored twice, and
//! every reader sees the room in the same order.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use app::protocol::{ChatMessage, ClientFrame, HISTORY_PAGE, LOBBY_ID, ServerFrame};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use server::scratch::ScratchDatabase;

use crate::support::{Client, TestServer, temp_db};

const PEOPLE: usize = 50;
const EACH: usize = 40;
/// The server is killed once this many sends were acknowledged (of PEOPLE × EACH).
const KILL_AFTER: usize = 600;

/// The `hearth` binary on `db`, with the limits a one-address storm would meet turned off;
/// returns the process and the address it listens on.
fn launch(db: &ScratchDatabase) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            &db.url(),
            "--sign-ups-per-hour",
            "0",
            "--message-burst",
            "0",
        ])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hearth starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("hearth says where it listens").unwrap();
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on ".len()..];
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading its output, so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

fn served_at(base: String, db: ScratchDatabase) -> TestServer {
    TestServer {
        server: None,
        db,
        origin: base.clone(),
        base,
    }
}

fn nonce(person: usize, n: usize) -> String {
    format!("p{person}-{n}")
}

fn text(person: usize, n: usize) -> String {
    format!("storm {person} {n}")
}

/// Sends `which` of this person's messages at once, then collects acknowledgements until all
/// came or the socket died; returns the acknowledged nonces with their ids.
async fn storm(
    mut client: Client,
    person: usize,
    which: Vec<usize>,
    acked: Arc<AtomicUsize>,
) -> HashMap<String, i64> {
    let mut got = HashMap::new();
    for &n in &which {
        let frame = ClientFrame::Send {
            room: LOBBY_ID,
            text: text(person, n),
            nonce: Some(nonce(person, n)),
        };
        if client
            .socket
            .send(Message::text(serde_json::to_string(&frame).unwrap()))
            .await
            .is_err()
        {
            return got;
        }
    }
    while got.len() < which.len() {
        match tokio::time::timeout(Duration::from_secs(20), client.socket.next()).await {
            Ok(Some(Ok(Message::Text(frame)))) => {
                if let Ok(ServerFrame::Sent { nonce, id }) = serde_json::from_str(frame.as_str()) {
                    got.insert(nonce, id);
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Some(Ok(_))) => {}
            // Killed: whatever was not acknowledged will be sent again.
            _ => break,
        }
    }
    got
}

/// The whole room as one reader sees it through history pages, oldest first.
async fn read_room(client: &mut Client) -> Vec<ChatMessage> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        client
            .send(&ClientFrame::History {
                room: LOBBY_ID,
                before,
            })
            .await;
        let (page, more) = client
            .expect(|f| match f {
                ServerFrame::History {
                    messages, has_more, ..
                } => Some((messages, has_more)),
                _ => None,
            })
            .await;
        assert!(page.len() <= HISTORY_PAGE);
        before = page.first().map(|m| m.id);
        all.splice(0..0, page);
        if !more {
            return all;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_storm_loses_and_duplicates_nothing_acknowledged() {
    let db = temp_db().await;
    let (mut first, base) = launch(&db);
    let server = served_at(base, db.clone());
    let mut cookies = Vec::new();
    for person in 0..PEOPLE {
        cookies.push(server.register(&format!("stormer{person}")).await);
    }
    let acked = Arc::new(AtomicUsize::new(0));
    let mut storms = Vec::new();
    for (person, cookie) in cookies.iter().enumerate() {
        let client = server.connect(cookie).await;
        storms.push(tokio::spawn(storm(
            client,
            person,
            (0..EACH).collect(),
            acked.clone(),
        )));
    }
    while acked.load(Ordering::Relaxed) < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    let mut before_crash: Vec<HashMap<String, i64>> = Vec::new();
    for storm in storms {
        before_crash.push(storm.await.unwrap());
    }
    let acknowledged: usize = before_crash.iter().map(HashMap::len).sum();
    assert!(acknowledged >= KILL_AFTER);
    assert!(
        acknowledged < PEOPLE * EACH,
        "the kill came mid-storm ({acknowledged} acknowledged)"
    );
    // The test's TestServer value must not delete the database with the first process gone.
    std::mem::forget(server);

    // Restarted on the same database: everyone resends what was not acknowledged, in order.
    let (mut second, base) = launch(&db);
    let server = served_at(base, db.clone());
    let mut resends = Vec::new();
    for (person, cookie) in cookies.iter().enumerate() {
        let client = server.connect(cookie).await;
        let missing: Vec<usize> = (0..EACH)
            .filter(|&n| !before_crash[person].contains_key(&nonce(person, n)))
            .collect();
        resends.push(tokio::spawn(storm(
            client,
            person,
            missing,
            Arc::new(AtomicUsize::new(0)),
        )));
    }
    let mut after: Vec<HashMap<String, i64>> = Vec::new();
    for resend in resends {
        after.push(resend.await.unwrap());
    }

    // Every message is acknowledged now, and an acknowledgement before the crash still holds.
    let mut readers = [
        server.connect(&cookies[0]).await,
        server.connect(&cookies[1]).await,
    ];
    let room = read_room(&mut readers[0]).await;
    let texts: Vec<&ChatMessage> = room
        .iter()
        .filter(|m| m.text.starts_with("storm "))
        .collect();
    let by_id: HashMap<i64, &str> = texts.iter().map(|m| (m.id, m.text.as_str())).collect();
    for person in 0..PEOPLE {
        let mut ids = Vec::new();
        for n in 0..EACH {
            let key = nonce(person, n);
            let id = before_crash[person]
                .get(&key)
                .or_else(|| after[person].get(&key))
                .copied()
                .unwrap_or_else(|| panic!("{key} never acknowledged"));
            assert_eq!(
                by_id.get(&id).copied(),
                Some(text(person, n).as_str()),
                "{key}: its acknowledged id holds its text"
            );
            ids.push(id);
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "person {person}'s messages are in the order sent"
        );
    }
    let distinct: HashSet<&str> = texts.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(distinct.len(), texts.len(), "nothing is stored twice");
    assert_eq!(texts.len(), PEOPLE * EACH, "nothing is lost");
    // Another reader sees the same room, in the same order.
    let other = read_room(&mut readers[1]).await;
    assert_eq!(
        other.iter().map(|m| m.id).collect::<Vec<_>>(),
        room.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    second.kill().unwrap();
    second.wait().unwrap();
}
