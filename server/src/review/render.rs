//! The review page's HTML: the filters form, the transcript (every earlier version, deleted
//! text, feedback and the form to give more) and the Students summary with its grade forms.
//! Everything people wrote is escaped; nothing here reads storage.

use std::collections::HashMap;

use app::protocol::{RoomKind, User, Visibility};

use super::{MAX_QUERY, ReviewQuery};
use crate::pages::{escape, iso_time, utc_date, utc_time};
use crate::store::{Feedback, Grade, ReviewRoom, ReviewedMessage, RoomRow, StudentFigures};

pub(super) fn notices(body: &mut String, query: &ReviewQuery) {
    match query.saved.as_str() {
        "" => {}
        "feedback" => body.push_str("<p class=\"saved\" role=\"status\">Feedback sent.</p>\n"),
        name => body.push_str(&format!(
            "<p class=\"saved\" role=\"status\">Grade saved for {}.</p>\n",
            escape(name)
        )),
    }
    if !query.error.is_empty() {
        push_error(body, &query.error);
    }
}

pub(super) fn push_error(body: &mut String, error: &str) {
    body.push_str(&format!(
        "<p class=\"error\" role=\"alert\">{}</p>\n",
        escape(error)
    ));
}

pub(super) fn describe(room: &RoomRow) -> &'static str {
    match (room.kind, room.visibility, room.archived) {
        (RoomKind::Direct, ..) => {
            "A direct conversation: both people are told that teachers can review it, and this review is logged."
        }
        (_, Visibility::Private, true) => {
            "A private room, deleted: its members no longer see it. This review is logged."
        }
        (_, Visibility::Private, false) => "A private room. This review is logged.",
        (_, Visibility::Public, true) => "A public room, deleted: its members no longer see it.",
        (_, Visibility::Public, false) => "A public room.",
    }
}

fn option(value: &str, label: &str, selected: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        escape(value),
        if selected { " selected" } else { "" },
        escape(label)
    )
}

pub(super) fn filters_form(rooms: &[ReviewRoom], authors: &[User], query: &ReviewQuery) -> String {
    let chosen = query.room.trim();
    let mut room_options = option("", "Choose a room", chosen.is_empty());
    for (label, direct) in [("Rooms", false), ("Conversations", true)] {
        let group: Vec<&ReviewRoom> = rooms
            .iter()
            .filter(|r| (r.kind == RoomKind::Direct) == direct)
            .collect();
        if group.is_empty() {
            continue;
        }
        room_options.push_str(&format!("<optgroup label=\"{label}\">"));
        for room in group {
            let mut name = room.name.clone();
            if room.kind == RoomKind::Room && room.visibility == Visibility::Private {
                name.push_str(" (private)");
            }
            if room.archived {
                name.push_str(" (deleted)");
            }
            room_options.push_str(&option(
                &room.id.to_string(),
                &name,
                room.id.to_string() == chosen,
            ));
        }
        room_options.push_str("</optgroup>");
    }
    let author = query.author.trim();
    let mut author_options = option("", "Everyone", author.is_empty());
    for person in authors {
        author_options.push_str(&option(
            &person.id.to_string(),
            &person.name,
            person.id.to_string() == author,
        ));
    }
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/review\">\
<label>Room <select name=\"room\">{room_options}</select></label> \
<label>Author <select name=\"author\">{author_options}</select></label> \
<label>Search <input type=\"text\" name=\"q\" value=\"{q}\" maxlength=\"{MAX_QUERY}\" placeholder=\"words, any language\"></label> \
<label>From <input type=\"date\" name=\"from\" value=\"{from}\"></label> \
<label>To <input type=\"date\" name=\"to\" value=\"{to}\"></label> \
<button type=\"submit\">Show</button></form>\n",
        q = escape(&query.q),
        from = escape(&query.from),
        to = escape(&query.to),
    )
}

/// "alice · 2026-12-01 14:05 UTC" pieces of a message row.
fn time(ms: i64) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        iso_time(ms),
        utc_time(ms)
    )
}

pub(super) fn transcript(
    messages: &[ReviewedMessage],
    feedback: &HashMap<i64, Vec<Feedback>>,
    back: &str,
) -> String {
    if messages.is_empty() {
        return "<p class=\"hint\" role=\"status\">No messages match.</p>\n".to_owned();
    }
    let mut html = String::from(
        "<table class=\"transcript\" aria-label=\"Transcript\"><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Author</th><th scope=\"col\">Message</th></tr></thead><tbody>\n",
    );
    for message in messages {
        html.push_str(&message_row(
            message,
            feedback.get(&message.id).map_or(&[][..], Vec::as_slice),
            Some(back),
        ));
    }
    html.push_str("</tbody></table>\n");
    html
}

/// One message of a transcript: its text (or, deleted, the text it had and who deleted it),
/// its earlier versions, its feedback, and (with `back`) the form to give more.
pub(super) fn message_row(
    message: &ReviewedMessage,
    feedback: &[Feedback],
    back: Option<&str>,
) -> String {
    let deletion = message.deletion();
    let class = match (deletion.is_some(), message.edited_at.is_some()) {
        (true, _) => " class=\"deleted\"",
        (false, true) => " class=\"edited\"",
        _ => "",
    };
    let mut cell = String::new();
    match deletion {
        Some(deleted) => cell.push_str(&format!(
            "<div class=\"text deleted-text\">{}</div><p class=\"deleted-note\">Deleted by {} at {}</p>",
            escape(&deleted.text),
            escape(deleted.replaced_by.as_deref().unwrap_or("a former member")),
            time(deleted.replaced_at)
        )),
        None => {
            cell.push_str(&format!("<div class=\"text\">{}</div>", escape(&message.text)));
            if let Some(edited) = message.edited_at {
                cell.push_str(&format!("<p class=\"hint\">Edited at {}</p>", time(edited)));
            }
        }
    }
    let earlier = message.earlier();
    if !earlier.is_empty() {
        // Printed (no form), the versions are open: paper has no disclosure to click.
        let open = if back.is_none() { " open" } else { "" };
        cell.push_str(&format!(
            "<details class=\"versions\"{open}><summary>Earlier versions</summary><ol>"
        ));
        for version in earlier {
            cell.push_str(&format!(
                "<li>{} <span class=\"text\">{}</span></li>",
                time(version.written_at),
                escape(&version.text)
            ));
        }
        cell.push_str("</ol></details>");
    }
    if !feedback.is_empty() {
        cell.push_str("<ul class=\"feedback-list\" aria-label=\"Feedback given\">");
        for item in feedback {
            cell.push_str(&format!(
                "<li><span class=\"feedback-meta\">Feedback from {} at {}:</span> {}</li>",
                escape(item.teacher.as_deref().unwrap_or("a former teacher")),
                time(item.given_at),
                escape(&item.text)
            ));
        }
        cell.push_str("</ul>");
    }
    if let Some(back) = back {
        cell.push_str(&format!(
            "<details class=\"give-feedback\"><summary>Give feedback</summary><form method=\"post\" action=\"/review/feedback\"><input type=\"hidden\" name=\"message\" value=\"{id}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><textarea name=\"text\" aria-label=\"Feedback\" required maxlength=\"{max}\" rows=\"3\"></textarea> <button type=\"submit\">Send feedback</button></form></details>",
            id = message.id,
            back = escape(back),
            max = app::names::MAX_FEEDBACK,
        ));
    }
    format!(
        "<tr id=\"m{id}\"{class}><td>{when}</td><td>{author}</td><td>{cell}</td></tr>\n",
        id = message.id,
        when = time(message.sent_at),
        author = escape(&message.author.name),
    )
}

/// The figures with a row of zeros for each student (member) who has not written yet: they
/// may be graded too.
pub(super) fn with_members(
    mut figures: Vec<StudentFigures>,
    members: &[User],
) -> Vec<StudentFigures> {
    for member in members {
        if !figures.iter().any(|f| f.user.id == member.id) {
            figures.push(StudentFigures::none(member.clone()));
        }
    }
    figures.sort_by_cached_key(|f| f.user.name.to_lowercase());
    figures
}

pub(super) fn students(
    room: i64,
    figures: &[StudentFigures],
    grades: &[Grade],
    back: &str,
) -> String {
    let mut html = format!(
        "<h2>Students</h2>\n<nav class=\"exports\" aria-label=\"Grades export\"><a href=\"/review/grades.csv?room={room}\" download>Download grades</a></nav>\n"
    );
    if figures.is_empty() {
        html.push_str("<p class=\"hint\">Nobody has written here yet.</p>\n");
        return html;
    }
    html.push_str(
        "<table class=\"students\" aria-label=\"Students\"><thead><tr><th scope=\"col\">Student</th><th scope=\"col\">Messages</th><th scope=\"col\">Words</th><th scope=\"col\">First</th><th scope=\"col\">Last</th><th scope=\"col\">Edits</th><th scope=\"col\">Deletions</th><th scope=\"col\">Grade</th><th scope=\"col\">Comment</th><th scope=\"col\"></th></tr></thead><tbody>\n",
    );
    for f in figures {
        let name = escape(&f.user.name);
        let grade = grades.iter().find(|g| g.user.id == f.user.id);
        // The day is enough here; the full time is its tooltip.
        let when = |ms: i64| {
            if f.messages == 0 {
                "–".to_owned()
            } else {
                format!(
                    "<time datetime=\"{}\" title=\"{}\">{}</time>",
                    iso_time(ms),
                    utc_time(ms),
                    utc_date(ms)
                )
            }
        };
        html.push_str(&format!(
            "<tr><th scope=\"row\">{name}</th><td>{messages}</td><td>{words}</td><td>{first}</td><td>{last}</td><td>{edits}</td><td>{deletions}</td>\
<td><input form=\"grade-{id}\" class=\"grade\" type=\"text\" name=\"grade\" aria-label=\"Grade for {name}\" value=\"{grade}\" maxlength=\"{max_grade}\"></td>\
<td><input form=\"grade-{id}\" class=\"comment\" type=\"text\" name=\"comment\" aria-label=\"Comment for {name}\" value=\"{comment}\" maxlength=\"{max_comment}\"></td>\
<td><form id=\"grade-{id}\" method=\"post\" action=\"/review/grade\"><input type=\"hidden\" name=\"room\" value=\"{room}\"><input type=\"hidden\" name=\"user\" value=\"{id}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><button type=\"submit\" aria-label=\"Save grade for {name}\">Save</button></form></td></tr>\n",
            messages = f.messages,
            words = f.words,
            first = when(f.first),
            last = when(f.last),
            edits = f.edits,
            deletions = f.deletions,
            id = f.user.id,
            grade = escape(grade.map_or("", |g| g.grade.as_str())),
            comment = escape(grade.map_or("", |g| g.comment.as_str())),
            max_grade = app::names::MAX_GRADE,
            max_comment = app::names::MAX_GRADE_COMMENT,
            back = escape(back),
        ));
    }
    html.push_str("</tbody></table>\n");
    html
}
