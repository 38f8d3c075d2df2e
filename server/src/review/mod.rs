//! Review: the teachers' pages over what their classes wrote. Server-rendered and usable
//! without JavaScript; every filter is in the address, so a page can be bookmarked.
//!
//! - `GET /review`: choose a room, filter by author, dates and words; the transcript shows every
//!   earlier version and deleted text, the feedback given, and a form to give more; the
//!   per-student summary ("Students") takes grades.
//! - `export`: the same selection as CSV, JSON or a printable transcript, streamed.
//! - `feedback`: giving feedback, and the author's `/feedback` page.
//!
//! Every rights question goes to the policy (`decide_reviewer`, `decide_review`); each review
//! of a private room or direct conversation is written to the review log.

pub mod export;
pub mod feedback;
mod render;

use app::names::check_grade;
use app::protocol::RoomKind;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, SignedIn};
use crate::pages::{escape, page_in, parse_day, query_value, refused};
use crate::policy;
use crate::store::{RoomRow, Selection};

/// Messages per review page.
pub const PAGE: usize = 100;
/// Most words a search takes, and longest query.
const MAX_WORDS: usize = 10;
pub(crate) const MAX_QUERY: usize = 200;

/// The review page's address: its filters, each optional; `after` pages on.
#[derive(Deserialize, Default, Clone, Debug)]
pub struct ReviewQuery {
    #[serde(default)]
    room: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
    /// After a form: what was saved ("feedback", or the name graded).
    #[serde(default)]
    saved: String,
    #[serde(default)]
    error: String,
}

impl ReviewQuery {
    /// The room chosen, if any (a number that is not one is an error).
    fn room(&self) -> Result<Option<i64>, String> {
        optional_id(&self.room, "There is no such room.")
    }

    /// The filters as a selection of `room`'s messages.
    fn selection(&self, room: i64) -> Result<Selection, String> {
        let author = optional_id(&self.author, "There is no such author.")?;
        let day = |text: &str, label: &str| -> Result<Option<i64>, String> {
            if text.trim().is_empty() {
                return Ok(None);
            }
            parse_day(text)
                .map(Some)
                .ok_or_else(|| format!("{label} is not a date (YYYY-MM-DD)."))
        };
        let from = day(&self.from, "From")?;
        // "To" is the last day shown, whole.
        let to = day(&self.to, "To")?.map(|start| start + 86_400_000);
        if self.q.chars().count() > MAX_QUERY {
            return Err(format!("Search for at most {MAX_QUERY} characters."));
        }
        let words: Vec<String> = self.q.split_whitespace().map(str::to_owned).collect();
        if words.len() > MAX_WORDS {
            return Err(format!("Search for at most {MAX_WORDS} words."));
        }
        Ok(Selection {
            room,
            author,
            from,
            to,
            words,
        })
    }

    /// The filters (not the page, nor notices) as a query string, for links.
    fn filters(&self) -> String {
        let mut query = String::new();
        for (name, value) in [
            ("room", &self.room),
            ("author", &self.author),
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.trim().is_empty() {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str(name);
                query.push('=');
                query.push_str(&query_value(value.trim()));
            }
        }
        query
    }
}

fn optional_id(text: &str, error: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| error.to_owned())
}

/// The signed-in person, once the policy lets them review; the response for anyone else.
async fn reviewer(state: &AppState, headers: &HeaderMap, path: &str) -> Result<SignedIn, Response> {
    let Some(who) = auth::signed_in(state, headers).await else {
        return Err(Redirect::to(&format!("/login?next={}", query_value(path))).into_response());
    };
    policy::decide_reviewer(who.role)
        .map_err(|denial| refused(StatusCode::FORBIDDEN, denial.message))?;
    Ok(who)
}

/// Room `id`, once the policy lets `who` review it; logs the review (`what`) if the room is
/// private. A room they may not review is answered as if it did not exist.
async fn reviewed_room(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    what: &str,
) -> Result<RoomRow, Response> {
    let room = match state.store.room(id).await {
        Ok(Some(room)) => room,
        Ok(None) => return Err(refused(StatusCode::NOT_FOUND, policy::NO_SUCH_ROOM)),
        Err(error) => return Err(storage_failed(error)),
    };
    if let Err(denial) = policy::decide_review(who.role, &room, state.config.review_direct_messages)
    {
        let status = match denial.code {
            app::protocol::ErrorCode::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::FORBIDDEN,
        };
        return Err(refused(status, denial.message));
    }
    if policy::review_is_logged(&room)
        && let Err(error) = state
            .store
            .log_review(
                who.user.id,
                room.id,
                &display_name(state, &room).await,
                what,
            )
            .await
    {
        // A review that cannot be logged does not happen.
        return Err(storage_failed(error));
    }
    Ok(room)
}

/// A room's name as reviews show it: a direct conversation is named after its two people.
async fn display_name(state: &AppState, room: &RoomRow) -> String {
    if room.kind != RoomKind::Direct {
        return room.name.clone();
    }
    match state.store.members(room.id).await {
        Ok((people, _)) => people
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(" & "),
        Err(_) => room.name.clone(),
    }
}

fn storage_failed(error: sqlx::Error) -> Response {
    tracing::error!(%error, "review storage failed");
    refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server could not read that; try again.",
    )
}

/// `GET /review`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Response {
    let who = match reviewer(&state, &headers, "/review").await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let direct = state.config.review_direct_messages;
    let rooms = match state.store.reviewable_rooms(direct).await {
        Ok(rooms) => rooms,
        Err(error) => return storage_failed(error),
    };
    let mut body = String::from("<h1>Review</h1>\n");
    render::notices(&mut body, &query);
    let chosen = match query.room() {
        Ok(chosen) => chosen,
        Err(error) => {
            render::push_error(&mut body, &error);
            None
        }
    };
    let Some(id) = chosen else {
        body.push_str(&render::filters_form(&rooms, &[], &query));
        body.push_str(
            "<p class=\"hint\">Choose a room to read what was written there, every edit and deletion included.</p>",
        );
        return page_in("admin review", "Review", &body).into_response();
    };
    let room = match reviewed_room(&state, &who, id, "read").await {
        Ok(room) => room,
        Err(response) => return response,
    };
    // The author filter offers the room's members. (Not everyone who ever wrote there: without
    // an index of texts by author, finding those who left reads the whole room, 150 ms at a
    // million messages, on every page. Their messages stay in the transcript and the search.)
    let authors = match state.store.members(room.id).await {
        Ok((members, _)) => members,
        Err(error) => return storage_failed(error),
    };
    body.push_str(&render::filters_form(&rooms, &authors, &query));
    let selection = match query.selection(room.id) {
        Ok(selection) => selection,
        Err(error) => {
            render::push_error(&mut body, &error);
            return (
                StatusCode::BAD_REQUEST,
                page_in("admin review", "Review", &body),
            )
                .into_response();
        }
    };
    let after = query.after.trim().parse::<i64>().unwrap_or(0);
    let (messages, has_more) = match state.store.review_page(&selection, after, PAGE).await {
        Ok(page) => page,
        Err(error) => return storage_failed(error),
    };
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let feedback = match state.store.feedback_on(&ids).await {
        Ok(feedback) => feedback,
        Err(error) => return storage_failed(error),
    };
    let name = rooms
        .iter()
        .find(|r| r.id == room.id)
        .map_or_else(|| room.name.clone(), |r| r.name.clone());
    body.push_str(&format!(
        "<h2>{}</h2>\n<p class=\"hint\">{}</p>\n",
        escape(&name),
        render::describe(&room)
    ));
    let filters = query.filters();
    body.push_str(&format!(
        "<nav class=\"exports\" aria-label=\"Export\"><a href=\"/review/export.csv?{filters}\" download>Download CSV</a> <a href=\"/review/export.json?{filters}\" download>Download JSON</a> <a href=\"/review/print?{filters}\">Print</a></nav>\n"
    ));
    let back = format!("/review?{filters}");
    body.push_str(&render::transcript(&messages, &feedback, &back));
    body.push_str("<nav class=\"pager\" aria-label=\"Pages\">");
    if after > 0 {
        body.push_str(&format!("<a href=\"/review?{filters}\">First page</a> "));
    }
    if has_more && let Some(last) = ids.last() {
        body.push_str(&format!(
            "<a href=\"/review?{filters}&amp;after={last}\">Next page</a>"
        ));
    }
    body.push_str("</nav>\n");
    // The summary is the room's: shown beside the room's transcript, not beside search results
    // or one author's messages.
    // On the first page only: at a million messages it takes a couple of seconds to count.
    if selection.words.is_empty() && selection.author.is_none() && after == 0 {
        let (figures, grades, members) = match (
            state.store.student_figures(room.id).await,
            state.store.grades(Some(room.id), None).await,
            state.store.room_students(room.id).await,
        ) {
            (Ok(figures), Ok(grades), Ok(members)) => (figures, grades, members),
            (Err(error), ..) | (_, Err(error), _) | (.., Err(error)) => {
                return storage_failed(error);
            }
        };
        body.push_str(&render::students(
            room.id,
            &render::with_members(figures, &members),
            &grades,
            &back,
        ));
    }
    page_in("admin review", &format!("Review {name}"), &body).into_response()
}

/// Where a form sends the teacher back to: a review page (never another site or page).
fn back_to(back: &str, notice: &str, value: &str) -> Response {
    // Only a review page's own address (which the page writes percent-encoded): never another
    // site, and nothing that is not a valid header value.
    let own = back == "/review" || back.starts_with("/review?");
    let back = if own && back.chars().all(|c| c.is_ascii_graphic()) {
        back
    } else {
        "/review"
    };
    let joiner = if back.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{back}{joiner}{notice}={}", query_value(value))).into_response()
}

#[derive(Deserialize)]
pub struct FeedbackForm {
    message: i64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    back: String,
}

/// `POST /review/feedback`: feedback from the review page.
pub async fn give_feedback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<FeedbackForm>,
) -> Response {
    let who = match reviewer(&state, &headers, "/review").await {
        Ok(who) => who,
        Err(response) => return response,
    };
    match feedback::give(&state, who.user.id, form.message, &form.text).await {
        Ok(_) => back_to(&form.back, "saved", "feedback"),
        Err((_, why)) => back_to(&form.back, "error", &why),
    }
}

#[derive(Deserialize)]
pub struct GradeForm {
    room: i64,
    user: i64,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    back: String,
}

/// `POST /review/grade`: a student's grade and comment in a room (empty both: no grade).
pub async fn save_grade(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<GradeForm>,
) -> Response {
    let who = match reviewer(&state, &headers, "/review").await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let room = match reviewed_room(&state, &who, form.room, "grades").await {
        Ok(room) => room,
        Err(response) => return response,
    };
    let (grade, comment) = (form.grade.trim(), form.comment.trim());
    if let Err(why) = check_grade(grade, comment) {
        return back_to(&form.back, "error", &why);
    }
    let student = match state.store.user(form.user).await {
        Ok(Some(student)) => student,
        Ok(None) => return back_to(&form.back, "error", "There is no such student."),
        Err(error) => return storage_failed(error),
    };
    match state
        .store
        .set_grade(room.id, student.id, grade, comment, who.user.id)
        .await
    {
        Ok(()) => back_to(&form.back, "saved", &student.name),
        Err(error) => storage_failed(error),
    }
}
