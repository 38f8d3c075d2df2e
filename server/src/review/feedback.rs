//! Feedback on a message: given by a teacher (from the review page or from the message in its
//! room), read by the message's author on `/feedback`, with their grades. Nobody else sees it.

use app::names::check_feedback;
use app::protocol::{ErrorCode, MessageKind, ServerFrame};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;
use crate::auth;
use crate::hub::encode;
use crate::pages::{escape, iso_time, page_in, utc_time};
use crate::policy;
use crate::store::{FeedbackItem, FeedbackTarget, Grade};

/// Why feedback was not given: the error code and the sentence the teacher reads.
pub type NotGiven = (ErrorCode, String);

fn no_such_message() -> NotGiven {
    (ErrorCode::NotFound, "There is no such message.".into())
}

/// Gives feedback `text` on `message` as `teacher`, once the policy lets them review its room
/// (their role is read with the room, so a role the administrator just changed applies); the
/// author hears of it at once (the marker and their unread count), and so do the teacher's
/// own tabs.
pub async fn give(
    state: &AppState,
    teacher: i64,
    message: i64,
    text: &str,
) -> Result<FeedbackTarget, NotGiven> {
    let internal = |error: sqlx::Error| {
        tracing::error!(%error, "could not give feedback");
        (
            ErrorCode::Internal,
            "The feedback was not stored; try again.".to_owned(),
        )
    };
    check_feedback(text).map_err(|why| (ErrorCode::Invalid, why))?;
    let facts = state
        .store
        .message_facts(message)
        .await
        .map_err(internal)?
        .ok_or_else(no_such_message)?;
    let (standing, room) = state
        .store
        .standing(teacher, facts.room)
        .await
        .map_err(internal)?;
    let (Some(standing), Some(room)) = (standing, room) else {
        return Err(no_such_message());
    };
    let role = standing.role;
    policy::decide_review(role, &room, state.config.review_direct_messages).map_err(|denial| {
        match denial.code {
            ErrorCode::NotFound => no_such_message(),
            code => (code, denial.message.to_owned()),
        }
    })?;
    if facts.kind != MessageKind::Text {
        return Err((
            ErrorCode::Invalid,
            "Feedback is given on what someone wrote, not on a notice.".into(),
        ));
    }
    let target = state
        .store
        .give_feedback(message, teacher, text.trim())
        .await
        .map_err(internal)?
        .ok_or_else(no_such_message)?;
    let given = encode(&ServerFrame::FeedbackGiven {
        room: target.room,
        message,
    });
    state.bus.to_user(target.author, &given);
    if teacher != target.author {
        state.bus.to_user(teacher, &given);
    }
    announce_unread(state, target.author).await;
    Ok(target)
}

/// Tells every tab of `user` how much feedback they have not read.
async fn announce_unread(state: &AppState, user: i64) {
    match state.store.unread_feedback(&[user]).await {
        Ok(unread) => {
            let count = unread.get(&user).copied().unwrap_or(0);
            state
                .bus
                .to_user(user, &encode(&ServerFrame::FeedbackUnread { count }));
        }
        Err(error) => tracing::error!(%error, "could not count unread feedback"),
    }
}

/// `GET /feedback`: the feedback on the signed-in person's messages, newest first, and their
/// grades. Reading it marks it read, in every tab.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(who) = auth::signed_in(&state, &headers).await else {
        return Redirect::to("/login?next=/feedback").into_response();
    };
    let me = who.user.id;
    let (items, grades) = match (
        state.store.feedback_for(me).await,
        state.store.grades(None, Some(me)).await,
    ) {
        (Ok(items), Ok(grades)) => (items, grades),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "could not read feedback");
            return crate::pages::refused(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not read your feedback; try again.",
            );
        }
    };
    if items.iter().any(|item| !item.feedback.read) {
        match state.store.mark_feedback_read(me).await {
            Ok(_) => announce_unread(&state, me).await,
            Err(error) => tracing::error!(%error, "could not mark feedback read"),
        }
    }
    let mut body = String::from("<h1>Feedback</h1>\n");
    body.push_str(&grades_section(&grades));
    body.push_str(&feedback_list(&items));
    page_in("admin feedback-page", "Feedback", &body).into_response()
}

fn grades_section(grades: &[Grade]) -> String {
    let mut html = String::from("<section class=\"grades\"><h2>Grades</h2>\n");
    if grades.is_empty() {
        html.push_str("<p class=\"hint\">No grades yet.</p></section>\n");
        return html;
    }
    html.push_str(
        "<table aria-label=\"Grades\"><thead><tr><th scope=\"col\">Room</th><th scope=\"col\">Grade</th><th scope=\"col\">Comment</th><th scope=\"col\">From</th></tr></thead><tbody>",
    );
    for grade in grades {
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"grade\">{}</td><td class=\"comment\">{}</td><td>{} <time datetime=\"{}\">{}</time></td></tr>",
            escape(&grade.room_name),
            escape(&grade.grade),
            escape(&grade.comment),
            escape(grade.graded_by.as_deref().unwrap_or("a former teacher")),
            iso_time(grade.graded_at),
            utc_time(grade.graded_at),
        ));
    }
    html.push_str("</tbody></table></section>\n");
    html
}

fn feedback_list(items: &[FeedbackItem]) -> String {
    let mut html = String::from("<section><h2>On your messages</h2>\n");
    if items.is_empty() {
        html.push_str("<p class=\"hint\">No feedback yet. When a teacher comments on something you wrote, it shows here.</p></section>\n");
        return html;
    }
    html.push_str("<ol class=\"feedback-items\" aria-label=\"Feedback items\">\n");
    for item in items {
        let quoted = if item.quoted_deleted {
            "<em>(you deleted this message)</em>".to_owned()
        } else {
            escape(&item.quoted)
        };
        html.push_str(&format!(
            "<li><article class=\"feedback-item{new}\" id=\"f{id}\"><p class=\"feedback-meta\">{new_label}From {teacher} on your message in <a href=\"/rooms/{room}\">{room_name}</a> of {sent}, <time datetime=\"{at_iso}\">{at}</time></p><blockquote>{quoted}</blockquote><p class=\"feedback-text\">{text}</p></article></li>\n",
            new = if item.feedback.read { "" } else { " new" },
            new_label = if item.feedback.read { "" } else { "<strong>New</strong> · " },
            id = item.feedback.id,
            teacher = escape(item.feedback.teacher.as_deref().unwrap_or("a former teacher")),
            room = item.room,
            room_name = escape(&item.room_name),
            sent = utc_time(item.sent_at),
            at_iso = iso_time(item.feedback.given_at),
            at = utc_time(item.feedback.given_at),
            text = escape(&item.feedback.text),
        ));
    }
    html.push_str("</ol></section>\n");
    html
}
