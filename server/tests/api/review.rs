//! The teachers' review: who may read it, what it shows (every version, deleted text), the
//! search, the exports, and the log of reviews of private rooms.

use app::protocol::{ClientFrame, LOBBY_ID, Role, ServerFrame};
use server::pages::iso_time;

use crate::support::{Client, TestServer, encode};

/// The server with its administrator (the first account), a teacher and two students, the
/// last three connected.
struct Class {
    server: TestServer,
    admin: String,
    teacher: String,
    alice: String,
    bob: String,
    alice_client: Client,
    bob_client: Client,
}

async fn class_with(adjust: impl FnOnce(&mut server::Config)) -> Class {
    let server = TestServer::start_with(adjust).await;
    let admin = server.register("admin").await;
    let teacher = server.register("teacher").await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let teacher_client = server.connect(&teacher).await;
    server
        .set_role(&admin, teacher_client.me().id, Role::Teacher)
        .await;
    let alice_client = server.connect(&alice).await;
    let bob_client = server.connect(&bob).await;
    Class {
        server,
        admin,
        teacher,
        alice,
        bob,
        alice_client,
        bob_client,
    }
}

async fn class() -> Class {
    class_with(|_| {}).await
}

async fn edit(client: &mut Client, message: i64, text: &str) {
    let frame = ClientFrame::EditMessage {
        message,
        text: text.into(),
    };
    assert_eq!(client.outcome(&frame).await, None, "edited");
}

async fn delete(client: &mut Client, message: i64) {
    let frame = ClientFrame::DeleteMessage { message };
    assert_eq!(client.outcome(&frame).await, None, "deleted");
}

fn search(room: i64, words: &str) -> String {
    format!("/review?room={room}&q={}", encode(words))
}

#[tokio::test]
async fn members_never_see_review_pages_exports_or_earlier_versions() {
    let mut c = class().await;
    let id = c.alice_client.say(LOBBY_ID, "first draft").await;
    edit(&mut c.alice_client, id, "final answer").await;
    let gone = c.alice_client.say(LOBBY_ID, "regrettable").await;
    delete(&mut c.alice_client, gone).await;

    for path in [
        "/review".to_owned(),
        format!("/review?room={LOBBY_ID}"),
        format!("/review/export.csv?room={LOBBY_ID}"),
        format!("/review/export.json?room={LOBBY_ID}"),
        format!("/review/print?room={LOBBY_ID}"),
        format!("/review/grades.csv?room={LOBBY_ID}"),
    ] {
        for cookie in [&c.alice, &c.bob] {
            let response = c.server.get(&path, cookie).await;
            assert_eq!(response.status(), 403, "{path}");
            let body = response.text().await.unwrap();
            assert!(!body.contains("first draft") && !body.contains("regrettable"));
        }
    }
    // Signed out: to the sign-in page.
    let response = c.server.get("/review", "").await;
    assert_eq!(response.status(), 303);

    // Nor through the socket: history has the current text only, the deleted one has none.
    c.bob_client
        .send(&ClientFrame::History {
            room: LOBBY_ID,
            before: None,
        })
        .await;
    let history = c
        .bob_client
        .expect(|f| match f {
            ServerFrame::History { messages, .. } => Some(messages),
            _ => None,
        })
        .await;
    let json = serde_json::to_string(&history).unwrap();
    assert!(json.contains("final answer"));
    assert!(!json.contains("first draft") && !json.contains("regrettable"));
}

#[tokio::test]
async fn a_teacher_sees_every_earlier_version_and_the_deleted_text_with_who_deleted_it() {
    let mut c = class().await;
    let id = c.alice_client.say(LOBBY_ID, "first draft").await;
    edit(&mut c.alice_client, id, "second draft").await;
    edit(&mut c.alice_client, id, "final answer").await;
    let gone = c.bob_client.say(LOBBY_ID, "regrettable <b>words</b>").await;
    // The administrator moderates the lobby: deletes Bob's message.
    let mut admin = c.server.connect(&c.admin).await;
    delete(&mut admin, gone).await;

    let page = c
        .server
        .page(&format!("/review?room={LOBBY_ID}"), &c.teacher)
        .await;
    assert!(page.contains("aria-label=\"Transcript\""));
    for text in [
        "first draft",
        "second draft",
        "final answer",
        "Earlier versions",
    ] {
        assert!(page.contains(text), "{text}");
    }
    // The deleted text, escaped, with who deleted it.
    assert!(page.contains("regrettable &lt;b&gt;words&lt;/b&gt;"));
    assert!(page.contains("Deleted by admin"));
    assert!(!page.contains("<b>words</b>"));
    // Filtered by author: only Alice's message.
    let alice_id = c.alice_client.me().id;
    let page = c
        .server
        .page(
            &format!("/review?room={LOBBY_ID}&author={alice_id}"),
            &c.teacher,
        )
        .await;
    assert!(page.contains("final answer") && !page.contains("regrettable"));
    // The summary counts per student: messages, words (of what stands now), edits, deletions.
    let page = c
        .server
        .page(&format!("/review?room={LOBBY_ID}"), &c.teacher)
        .await;
    let students = &page[page.find("aria-label=\"Students\"").unwrap()..];
    let row = |name: &str| {
        let start = students
            .find(&format!("<th scope=\"row\">{name}</th>"))
            .unwrap();
        let end = start + students[start..].find("</tr>").unwrap();
        students[start..end]
            .replace("<td>", "|")
            .replace("</td>", "")
    };
    let alice = row("alice");
    assert!(alice.contains("</th>|1|2|"), "{alice}");
    assert!(
        alice.contains("UTC\">20") && alice.contains("|2|0|"),
        "{alice}"
    );
    let bob = row("bob");
    assert!(bob.contains("</th>|1|0|") && bob.contains("|0|1|"), "{bob}");
    assert!(page.contains("aria-label=\"Grade for alice\""));
}

#[tokio::test]
async fn each_review_of_a_private_room_is_logged_for_the_administrator() {
    let mut c = class().await;
    let room = c.alice_client.create_private_room("study group").await;
    c.alice_client.say(room, "our plan").await;

    // A teacher reviews it without being a member; a public room's review is not logged.
    let page = c
        .server
        .page(&format!("/review?room={room}"), &c.teacher)
        .await;
    assert!(page.contains("our plan"));
    c.server
        .page(&format!("/review/export.csv?room={room}"), &c.teacher)
        .await;
    c.server
        .page(&format!("/review?room={LOBBY_ID}"), &c.teacher)
        .await;
    assert_eq!(
        c.server.sql_number("SELECT COUNT(*) FROM review_log").await,
        2
    );
    let admin_page = c.server.page("/admin", &c.admin).await;
    assert!(admin_page.contains("Review log"));
    let log = &admin_page[admin_page.find("aria-label=\"Review log\"").unwrap()..];
    assert!(log.contains("teacher") && log.contains("study group"));
    assert!(log.contains("downloaded CSV") && log.contains("read"));
    assert!(!log.contains("lobby"));
    // Members do not read the log.
    assert_eq!(c.server.get("/admin", &c.teacher).await.status(), 403);
}

#[tokio::test]
async fn search_finds_english_and_chinese_words_and_never_another_room() {
    let mut c = class().await;
    c.alice_client
        .say(LOBBY_ID, "The homework is due on Friday")
        .await;
    c.bob_client.say(LOBBY_ID, "我们明天有数学作业").await;
    c.bob_client.say(LOBBY_ID, "nothing to see").await;
    let draft = c.alice_client.say(LOBBY_ID, "an essay draft").await;
    edit(&mut c.alice_client, draft, "an essay").await;
    let private = c.alice_client.create_private_room("secret club").await;
    c.alice_client.say(private, "homework answers here").await;
    let bob_id = c.bob_client.me().id;
    let direct = c.alice_client.open_direct(bob_id).await;
    c.alice_client.say(direct, "homework just for bob").await;

    let found = |page: &str, text: &str| page.contains(text);
    let page = c
        .server
        .page(&search(LOBBY_ID, "homework"), &c.teacher)
        .await;
    assert!(found(&page, "The homework is due on Friday"));
    assert!(!found(&page, "homework answers") && !found(&page, "just for bob"));
    assert!(!found(&page, "nothing to see"));
    // Parts of words, any case, every word required.
    let page = c
        .server
        .page(&search(LOBBY_ID, "HOME fri"), &c.teacher)
        .await;
    assert!(found(&page, "The homework is due on Friday"));
    let page = c
        .server
        .page(&search(LOBBY_ID, "homework monday"), &c.teacher)
        .await;
    assert!(found(&page, "No messages match"));
    // Chinese: a long word through the index, a two-character word too.
    for word in ["数学作业", "作业", "明天"] {
        let page = c.server.page(&search(LOBBY_ID, word), &c.teacher).await;
        assert!(found(&page, "我们明天有数学作业"), "{word}");
        assert!(!found(&page, "The homework"), "{word}");
    }
    // Earlier versions are searched too.
    let page = c.server.page(&search(LOBBY_ID, "draft"), &c.teacher).await;
    assert!(found(&page, "an essay draft"));
    // The direct conversation is not reviewable at all on this server.
    let response = c.server.get(&search(direct, "homework"), &c.teacher).await;
    assert_eq!(response.status(), 404);
    assert!(!response.text().await.unwrap().contains("just for bob"));
    let listing = c.server.page("/review", &c.teacher).await;
    assert!(listing.contains("secret club") && !listing.contains("alice &amp; bob"));
}

#[tokio::test]
async fn direct_conversations_are_reviewable_only_when_the_server_says_so_and_both_are_told() {
    let mut c = class_with(|config| config.review_direct_messages = true).await;
    for client in [&c.alice_client, &c.bob_client] {
        assert!(matches!(
            client.welcome,
            Some(ServerFrame::Welcome {
                direct_reviewable: true,
                ..
            })
        ));
    }
    let bob_id = c.bob_client.me().id;
    let direct = c.alice_client.open_direct(bob_id).await;
    c.alice_client.say(direct, "just between us").await;
    let listing = c.server.page("/review", &c.teacher).await;
    assert!(listing.contains("alice &amp; bob"));
    let page = c
        .server
        .page(&format!("/review?room={direct}"), &c.teacher)
        .await;
    assert!(page.contains("just between us"));
    assert_eq!(
        c.server
            .sql_number("SELECT COUNT(*) FROM review_log WHERE room_name = 'alice & bob'")
            .await,
        1
    );

    // Without the flag: nobody is told, and nobody reviews them.
    let plain = class().await;
    assert!(matches!(
        plain.alice_client.welcome,
        Some(ServerFrame::Welcome {
            direct_reviewable: false,
            ..
        })
    ));
}

/// The export fixture: edits, a deletion, commas, quotes, a newline, Chinese text and a cell
/// that would be a formula. Returns the room and the ids of its six messages.
async fn export_fixture(c: &mut Class) -> (i64, [i64; 6]) {
    let room = c.alice_client.create_room("class 7B").await;
    c.bob_client.join_room(room).await;
    let a = c.alice_client.say(room, "hello, \"world\"").await;
    let b = c.bob_client.say(room, "line one\nline two").await;
    let d = c.alice_client.say(room, "作业在哪里？").await;
    let e = c.bob_client.say(room, "=cmd|' /C calc'!A0").await;
    let f = c.alice_client.say(room, "draft").await;
    edit(&mut c.alice_client, f, "final, really").await;
    let g = c.bob_client.say(room, "oops").await;
    delete(&mut c.bob_client, g).await;
    (room, [a, b, d, e, f, g])
}

async fn time(server: &TestServer, query: &str) -> String {
    iso_time(server.sql_number(query).await)
}

/// The fixture's times as the exports write them: each message's sending, the edit of the
/// fifth and the deletion of the sixth.
struct Times {
    sent: [String; 6],
    edited: String,
    deleted: String,
}

async fn fixture_times(server: &TestServer, ids: [i64; 6]) -> Times {
    let mut sent = Vec::new();
    for id in ids {
        sent.push(
            time(
                server,
                &format!("SELECT sent_at FROM messages WHERE id = {id}"),
            )
            .await,
        );
    }
    let [_, _, _, _, f, g] = ids;
    Times {
        sent: sent.try_into().unwrap(),
        edited: time(
            server,
            &format!("SELECT edited_at FROM messages WHERE id = {f}"),
        )
        .await,
        deleted: time(
            server,
            &format!("SELECT deleted_at FROM messages WHERE id = {g}"),
        )
        .await,
    }
}

#[tokio::test]
async fn the_csv_export_is_exact() {
    let mut c = class().await;
    let (room, [a, b, d, e, f, g]) = export_fixture(&mut c).await;
    let response = c
        .server
        .get(&format!("/review/export.csv?room={room}"), &c.teacher)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("filename=\"hearth-class-7B-20"),
        "{disposition}"
    );
    let body = response.text().await.unwrap();
    let Times {
        sent: [sa, sb, sd, se, sf, sg],
        edited,
        deleted,
    } = fixture_times(&c.server, [a, b, d, e, f, g]).await;
    let expected = format!(
        "\u{FEFF}message,version,author,sent_at,written_at,status,text,changed_by,changed_at\r\n\
{a},1,alice,{sa},{sa},current,\"hello, \"\"world\"\"\",,\r\n\
{b},1,bob,{sb},{sb},current,\"line one\nline two\",,\r\n\
{d},1,alice,{sd},{sd},current,作业在哪里？,,\r\n\
{e},1,bob,{se},{se},current,\"'=cmd|' /C calc'!A0\",,\r\n\
{f},1,alice,{sf},{sf},edited,draft,alice,{edited}\r\n\
{f},2,alice,{sf},{edited},current,\"final, really\",,\r\n\
{g},1,bob,{sg},{sg},deleted,oops,bob,{deleted}\r\n"
    );
    assert_eq!(body, expected);
}

#[tokio::test]
async fn the_json_export_is_exact() {
    let mut c = class().await;
    let (room, [a, b, d, e, f, g]) = export_fixture(&mut c).await;
    let response = c
        .server
        .get(&format!("/review/export.json?room={room}"), &c.teacher)
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    // One message per line between the brackets.
    assert!(body.starts_with("[\n{\"id\":") && body.ends_with("}\n]\n"));
    assert_eq!(body.lines().count(), 8);
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    let plain = |id: i64, author: &str, at: &str, text: &str| {
        serde_json::json!({"id": id, "author": author, "sent_at": at, "text": text,
            "edited_at": null, "deleted": null, "versions": []})
    };
    let Times {
        sent: [sa, sb, sd, se, sf, sg],
        edited,
        deleted,
    } = fixture_times(&c.server, [a, b, d, e, f, g]).await;
    let expected = serde_json::json!([
        plain(a, "alice", &sa, "hello, \"world\""),
        plain(b, "bob", &sb, "line one\nline two"),
        plain(d, "alice", &sd, "作业在哪里？"),
        plain(e, "bob", &se, "=cmd|' /C calc'!A0"),
        {"id": f, "author": "alice", "sent_at": sf, "text": "final, really",
         "edited_at": edited, "deleted": null,
         "versions": [{"text": "draft", "written_at": sf, "replaced_at": edited,
                       "replaced_by": "alice", "change": "edit"}]},
        {"id": g, "author": "bob", "sent_at": sg, "text": "",
         "edited_at": null, "deleted": {"at": deleted, "by": "bob"},
         "versions": [{"text": "oops", "written_at": sg, "replaced_at": deleted,
                       "replaced_by": "bob", "change": "delete"}]},
    ]);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn the_printable_transcript_and_the_grades_export_hold_the_room() {
    let mut c = class().await;
    let (room, _) = export_fixture(&mut c).await;
    let print = c
        .server
        .page(&format!("/review/print?room={room}"), &c.teacher)
        .await;
    assert!(print.contains("Transcript of class 7B"));
    assert!(print.contains("final, really") && print.contains("作业在哪里？"));
    assert!(print.contains("Deleted by bob"));
    let alice_id = c.alice_client.me().id;
    let saved = c
        .server
        .post(
            "/review/grade",
            &c.teacher,
            &format!(
                "room={room}&user={alice_id}&grade=A-&comment={}&back=%2Freview",
                encode("Clear, kind answers")
            ),
        )
        .await;
    assert_eq!(saved.status(), 303);
    let grades = c
        .server
        .page(&format!("/review/grades.csv?room={room}"), &c.teacher)
        .await;
    assert!(grades.starts_with("\u{FEFF}student,grade,comment,graded_by,graded_at\r\n"));
    assert!(grades.contains("alice,A-,\"Clear, kind answers\",teacher,"));
}

#[tokio::test]
async fn a_deleted_room_stays_reviewable_and_a_hostile_return_address_is_ignored() {
    let mut c = class().await;
    let room = c.alice_client.create_room("old project").await;
    c.alice_client.say(room, "notes for later").await;
    let frame = ClientFrame::DeleteRoom { room };
    assert_eq!(c.alice_client.outcome(&frame).await, None);
    let listing = c.server.page("/review", &c.teacher).await;
    assert!(listing.contains("old project (deleted)"));
    let page = c
        .server
        .page(&format!("/review?room={room}"), &c.teacher)
        .await;
    assert!(page.contains("notes for later"));

    // A form's return address must be a review page: another site, or a header injection,
    // falls back to /review.
    let alice_id = c.alice_client.me().id;
    for back in [
        "https%3A%2F%2Fevil.example",
        "%2Freview%3F%0D%0ASet-Cookie%3A%20x",
    ] {
        let saved = c
            .server
            .post(
                "/review/grade",
                &c.teacher,
                &format!("room={room}&user={alice_id}&grade=B&comment=&back={back}"),
            )
            .await;
        assert_eq!(saved.status(), 303);
        assert_eq!(saved.headers()["location"], "/review?saved=alice");
    }
}
