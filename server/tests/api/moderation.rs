//! Moderation and roles: muting (with its end) and unmuting, deleting a room (it is archived,
//! its messages kept), and a role change reaching the person's open socket.

use std::time::Duration;

use crate::support::{TestServer, error_code, message_of};
use app::protocol::{
    ClientFrame, ErrorCode, LOBBY_ID, MUTED_INDEFINITELY, MuteLength, Role, ServerFrame,
};

fn muted(frame: ServerFrame) -> Option<(i64, Option<i64>)> {
    match frame {
        ServerFrame::MemberMuted { user, until, .. } => Some((user, until)),
        _ => None,
    }
}

#[tokio::test]
async fn a_muted_member_reads_but_cannot_post_until_the_mute_ends() {
    let server = TestServer::start().await;
    let admin_cookie = server.register("admin").await;
    let teacher_cookie = server.register("teacher").await;
    let mut teacher = server.connect(&teacher_cookie).await;
    let bob_cookie = server.register("bob").await;
    let mut bob = server.connect(&bob_cookie).await;
    let bob_id = bob.me().id;
    server
        .set_role(&admin_cookie, teacher.me().id, Role::Teacher)
        .await;

    let mute = ClientFrame::MuteMember {
        room: LOBBY_ID,
        user: bob_id,
        length: MuteLength::TenMinutes,
    };
    assert_eq!(teacher.outcome(&mute).await, None);
    let (user, until) = bob.expect(muted).await;
    assert_eq!(user, bob_id);
    let until = until.expect("muted until a time");

    // Every post is refused with when the mute ends; the room still reaches bob.
    bob.send(&ClientFrame::Send {
        room: LOBBY_ID,
        text: "let me talk".into(),
        nonce: Some("m".into()),
    })
    .await;
    let refusal = bob
        .expect(|f| match f {
            ServerFrame::Error {
                code,
                until,
                message,
                ..
            } => Some((code, until, message)),
            _ => None,
        })
        .await;
    assert_eq!((refusal.0, refusal.1), (ErrorCode::Muted, Some(until)));
    assert!(
        refusal.2.starts_with("You are muted in this room until"),
        "{}",
        refusal.2
    );
    teacher.say(LOBBY_ID, "still reading?").await;
    bob.expect(|f| message_of(f).filter(|m| m.text == "still reading?"))
        .await;
    // The members list shows the mute; a reconnect keeps it in the sidebar.
    bob.send(&ClientFrame::Members { room: LOBBY_ID }).await;
    let listed = bob
        .expect(|f| match f {
            ServerFrame::Members { muted, .. } => Some(muted),
            _ => None,
        })
        .await;
    assert_eq!(
        listed.iter().map(|m| (m.user, m.until)).collect::<Vec<_>>(),
        [(bob_id, until)]
    );
    let again = server.connect(&bob_cookie).await;
    let lobby = again
        .sidebar()
        .into_iter()
        .find(|r| r.id == LOBBY_ID)
        .unwrap();
    assert_eq!(lobby.muted_until, Some(until));

    // The mute ends (brought forward to a moment from now, as if ten minutes had passed).
    server
        .sql(&format!(
            "UPDATE mutes SET until = {} WHERE user_id = {bob_id}",
            server::store::now_ms() + 300
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    bob.say(LOBBY_ID, "free again").await;
}

#[tokio::test]
async fn a_moderator_unmutes_and_a_mute_until_unmuted_lasts() {
    let server = TestServer::start().await;
    let mut owner = server.connect(&server.register("owner").await).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = owner.create_room("debate").await;
    bob.join_room(room).await;
    let bob_id = bob.me().id;
    let forever = ClientFrame::MuteMember {
        room,
        user: bob_id,
        length: MuteLength::UntilUnmuted,
    };
    assert_eq!(owner.outcome(&forever).await, None);
    assert_eq!(bob.expect(muted).await, (bob_id, Some(MUTED_INDEFINITELY)));
    // Leaving and joining again does not lift it.
    bob.send(&ClientFrame::LeaveRoom { room }).await;
    bob.join_room(room).await;
    bob.send(&ClientFrame::Send {
        room,
        text: "sneaky".into(),
        nonce: None,
    })
    .await;
    assert_eq!(bob.expect(error_code).await, ErrorCode::Muted);

    let unmute = ClientFrame::UnmuteMember { room, user: bob_id };
    assert_eq!(owner.outcome(&unmute).await, None);
    assert_eq!(bob.expect(muted).await, (bob_id, None));
    bob.say(room, "thanks").await;
    // A member cannot mute the owner, nor themselves be unmuted by a peer.
    let owner_id = owner.me().id;
    let mutiny = ClientFrame::MuteMember {
        room,
        user: owner_id,
        length: MuteLength::OneDay,
    };
    assert_eq!(bob.outcome(&mutiny).await, Some(ErrorCode::Forbidden));
}

#[tokio::test]
async fn deleting_a_room_archives_it_and_the_administrator_can_purge_it() {
    let server = TestServer::start().await;
    let admin_cookie = server.register("admin").await;
    let owner_cookie = server.register("owner").await;
    let mut owner = server.connect(&owner_cookie).await;
    let mut bob = server.connect(&server.register("bob").await).await;
    let room = owner.create_room("old club").await;
    bob.join_room(room).await;
    owner.say(room, "keep me for review").await;

    assert_eq!(owner.outcome(&ClientFrame::DeleteRoom { room }).await, None);
    let gone = bob
        .expect(|f| match f {
            ServerFrame::RoomDeleted { room, .. } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!(gone, room);
    // Gone for its members: not listed, not readable, and its name is free again.
    assert!(bob.list_rooms().await.iter().all(|r| r.id != room));
    assert_eq!(
        bob.outcome(&ClientFrame::History { room, before: None })
            .await,
        Some(ErrorCode::NotFound)
    );
    owner.create_room("old club").await;
    // Its messages stay.
    let kept = server
        .sql_number(&format!(
            "SELECT COUNT(*) FROM messages WHERE room_id = {room}"
        ))
        .await;
    assert!(kept >= 2, "notices and the text kept: {kept}");

    // Its owner cannot purge it: only the administrator can.
    let purge = format!("{}/admin/rooms/{room}/purge", server.base);
    let not_theirs = server
        .http()
        .post(&purge)
        .header("origin", &server.origin)
        .header("cookie", &owner_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(not_theirs.status(), 403);
    // The administrator sees it on /admin and purges it after a confirmation page.
    let page = server
        .get("/admin", &admin_cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Archived rooms") && page.contains("Purge old club"),
        "{page}"
    );
    let confirm = server
        .get(&format!("/admin/rooms/{room}/purge"), &admin_cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(confirm.contains("Purge for good"));
    let purged = server
        .http()
        .post(format!("{}/admin/rooms/{room}/purge", server.base))
        .header("origin", &server.origin)
        .header("cookie", &admin_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 303);
    let left = server
        .sql_number(&format!(
            "SELECT COUNT(*) FROM messages WHERE room_id = {room}"
        ))
        .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn only_the_administrator_sees_the_accounts_page_and_a_role_change_reaches_open_sockets() {
    let server = TestServer::start().await;
    let admin_cookie = server.register("admin").await;
    let bob_cookie = server.register("bob").await;
    let mut bob = server.connect(&bob_cookie).await;
    let mut bob_tab2 = server.connect(&bob_cookie).await;

    let page = server.get("/admin", &admin_cookie).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Accounts</h1>"));
    assert!(html.contains(r#"aria-label="Role for bob""#));
    assert_eq!(server.get("/admin", &bob_cookie).await.status(), 403);

    // Bob cannot moderate the lobby yet; made a teacher, his open sockets hear it and he can.
    let owner_id = server
        .sql_number("SELECT id FROM users WHERE username = 'admin'")
        .await;
    let rename = ClientFrame::RenameRoom {
        room: LOBBY_ID,
        name: "hall".into(),
    };
    assert_eq!(bob.outcome(&rename).await, Some(ErrorCode::Forbidden));
    server
        .set_role(&admin_cookie, bob.me().id, Role::Teacher)
        .await;
    for tab in [&mut bob, &mut bob_tab2] {
        let role = tab
            .expect(|f| match f {
                ServerFrame::RoleChanged { role } => Some(role),
                _ => None,
            })
            .await;
        assert_eq!(role, Role::Teacher);
    }
    assert_eq!(bob.outcome(&rename).await, None);
    // A teacher still cannot change roles, and the administrator not their own.
    let refused = server
        .http()
        .post(format!("{}/admin/role", server.base))
        .header("origin", &server.origin)
        .header("cookie", &bob_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user={owner_id}&role=member"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let own = server
        .http()
        .post(format!("{}/admin/role", server.base))
        .header("origin", &server.origin)
        .header("cookie", &admin_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user={owner_id}&role=member"))
        .send()
        .await
        .unwrap();
    let location = own.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/admin?error="), "{location}");
}
