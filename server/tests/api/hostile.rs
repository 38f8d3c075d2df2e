//! Hostile frames: property tests send arbitrary frames and command sequences over real
//! sockets (garbage text and bytes, JSON of the wrong shape, every command with hostile values)
//! and check that the server never panics, answers each frame with at most one error, and that
//! the connection stays usable: after every frame a probe (`list_users`) is answered, and at
//! the end a message still goes through.
//!
//! `make test` runs a short budget (PROPTEST_CASES, 24 by default); `make fuzz` a long one.

use std::sync::LazyLock;

use app::protocol::{ClientFrame, LOBBY_ID, MuteLength, ServerFrame, Visibility};
use futures::SinkExt;
use proptest::prelude::*;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestServer, without_flood_limits};

/// One server and runtime for every case: the cases are command sequences against one
/// long-lived server, as an attacker's would be.
struct Target {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    cookie: String,
}

static TARGET: LazyLock<Target> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (server, cookie) = runtime.block_on(async {
        let server = TestServer::start_with(without_flood_limits).await;
        server.register("admin").await;
        let cookie = server.register("mallory").await;
        (server, cookie)
    });
    Target {
        runtime,
        server,
        cookie,
    }
});

/// Ids that often exist (the lobby, the first rooms and people) and any others.
fn id() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..12, any::<i64>()]
}

/// Text with the characters that break naive code: quotes, markup, controls, bidi, emoji, CJK.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[<>\"'&\\\\\u{0}-\u{1f}\u{202e}\u{200b}😀中文 a-z]{0,80}",
        Just(String::new()),
        (0usize..6000).prop_map(|n| "x".repeat(n)),
    ]
}

fn command() -> impl Strategy<Value = ClientFrame> {
    let visibility = prop_oneof![Just(Visibility::Public), Just(Visibility::Private)];
    let length = prop_oneof![Just(MuteLength::TenMinutes), Just(MuteLength::UntilUnmuted)];
    prop_oneof![
        (
            any::<u32>(),
            proptest::option::of(id()),
            proptest::option::of(id())
        )
            .prop_map(
                |(protocol, resume_after, changes_after)| ClientFrame::Hello {
                    protocol,
                    resume_after,
                    changes_after
                }
            ),
        (id(), text(), proptest::option::of(text()))
            .prop_map(|(room, text, nonce)| ClientFrame::Send { room, text, nonce }),
        (id(), text()).prop_map(|(message, text)| ClientFrame::EditMessage { message, text }),
        id().prop_map(|message| ClientFrame::DeleteMessage { message }),
        (id(), proptest::option::of(id()))
            .prop_map(|(room, before)| ClientFrame::History { room, before }),
        id().prop_map(|room| ClientFrame::Members { room }),
        (text(), visibility)
            .prop_map(|(name, visibility)| ClientFrame::CreateRoom { name, visibility }),
        (id(), text()).prop_map(|(room, name)| ClientFrame::RenameRoom { room, name }),
        id().prop_map(|room| ClientFrame::DeleteRoom { room }),
        id().prop_map(|room| ClientFrame::JoinRoom { room }),
        id().prop_map(|room| ClientFrame::LeaveRoom { room }),
        (id(), text()).prop_map(|(room, username)| ClientFrame::AddMember { room, username }),
        (id(), id()).prop_map(|(room, user)| ClientFrame::RemoveMember { room, user }),
        (id(), id(), length).prop_map(|(room, user, length)| ClientFrame::MuteMember {
            room,
            user,
            length
        }),
        (id(), id()).prop_map(|(room, user)| ClientFrame::UnmuteMember { room, user }),
        id().prop_map(|user| ClientFrame::OpenDirect { user }),
        (id(), id()).prop_map(|(room, message)| ClientFrame::MarkRead { room, message }),
        Just(ClientFrame::ListRooms),
        // Not `list_users`: it is the probe, whose reply ends each frame's answers.
        text().prop_map(|after| ClientFrame::MoreUsers { after }),
        (id(), text()).prop_map(|(room, after)| ClientFrame::MoreMembers { room, after }),
        (id(), text()).prop_map(|(message, text)| ClientFrame::GiveFeedback { message, text }),
    ]
}

/// One frame as it goes on the wire.
#[derive(Clone, Debug)]
enum Wire {
    Text(String),
    Binary(Vec<u8>),
}

fn frame() -> impl Strategy<Value = Wire> {
    let kinds = prop_oneof![
        Just("send"),
        Just("history"),
        Just("create_room"),
        Just("mute_member"),
        Just("hello"),
        Just("nope"),
    ];
    prop_oneof![
        4 => command().prop_map(|c| Wire::Text(serde_json::to_string(&c).unwrap())),
        1 => ".{0,200}".prop_map(Wire::Text),
        1 => "[\\[\\]{}\":,0-9a-z -]{0,120}".prop_map(Wire::Text),
        // The right type with fields of the wrong shape.
        1 => (kinds, any::<i64>(), ".{0,20}").prop_map(|(kind, n, s)| Wire::Text(format!(
            r#"{{"type":"{kind}","room":"{n}","text":{n},"name":[{s:?}],"length":"forever"}}"#
        ))),
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Wire::Binary),
    ]
}

/// Sends `frames` on a fresh connection, probing after each; returns how it went, or why it
/// failed.
async fn run(frames: Vec<Wire>) -> Result<(), String> {
    let target = &*TARGET;
    let mut client = target.server.connect(&target.cookie).await;
    let probe = serde_json::to_string(&ClientFrame::ListUsers).unwrap();
    for frame in &frames {
        let message = match frame {
            Wire::Text(text) => Message::text(text.clone()),
            Wire::Binary(bytes) => Message::binary(bytes.clone()),
        };
        client
            .socket
            .send(message)
            .await
            .map_err(|e| format!("socket closed before {frame:?}: {e}"))?;
        client.send_text(&probe).await;
        let mut errors = 0;
        loop {
            match client.next().await {
                ServerFrame::Users { .. } => break,
                ServerFrame::Error { .. } => errors += 1,
                _ => {}
            }
        }
        if errors > 1 {
            return Err(format!("{errors} errors for one frame {frame:?}"));
        }
    }
    // Still usable: a message goes through.
    client.say(LOBBY_ID, "still standing").await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_frames_never_break_the_server_or_the_connection(
        frames in proptest::collection::vec(frame(), 1..12)
    ) {
        let outcome = TARGET.runtime.block_on(run(frames));
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}
