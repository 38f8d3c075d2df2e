//! Exports of a review selection: CSV and JSON downloads and a printable transcript, every
//! version included, streamed from the database as the download goes, so that exporting a
//! million messages holds a few hundred in memory at a time. And a room's grades as CSV.
//!
//! CSV follows RFC 4180 (quoted cells, CRLF) with a UTF-8 byte order mark, which spreadsheet
//! programs need to read Chinese text as UTF-8, and never starts a cell with a formula
//! character: `=`, `+`, `-`, `@` (and tab, carriage return) get a leading `'`.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Serialize;

use super::{ReviewQuery, display_name, reviewed_room, reviewer, storage_failed};
use crate::AppState;
use crate::pages::{escape, iso_time, utc_date, utc_time};
use crate::store::{ReviewedMessage, Selection, Store};

/// Messages formatted into one chunk of the download (whatever is ready, up to this many).
const CHUNK: usize = 256;

pub const CSV_HEADER: &str =
    "message,version,author,sent_at,written_at,status,text,changed_by,changed_at\r\n";

/// Appends `value` as one CSV cell.
pub fn csv_cell(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || value.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quoted {
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn csv_row(out: &mut String, cells: &[&str]) {
    for (at, cell) in cells.iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        csv_cell(out, cell);
    }
    out.push_str("\r\n");
}

/// The CSV rows of one message: a row per version, oldest first. Each earlier text is a row
/// whose status says what replaced it ("edited" or "deleted", by whom and when); a message not
/// deleted ends with its current text ("current").
pub fn csv_rows(out: &mut String, message: &ReviewedMessage) {
    let id = message.id.to_string();
    let sent = iso_time(message.sent_at);
    for (at, version) in message.versions.iter().enumerate() {
        csv_row(
            out,
            &[
                &id,
                &(at + 1).to_string(),
                &message.author.name,
                &sent,
                &iso_time(version.written_at),
                if version.deleted { "deleted" } else { "edited" },
                &version.text,
                version.replaced_by.as_deref().unwrap_or(""),
                &iso_time(version.replaced_at),
            ],
        );
    }
    if message.deletion().is_none() {
        csv_row(
            out,
            &[
                &id,
                &(message.versions.len() + 1).to_string(),
                &message.author.name,
                &sent,
                &iso_time(message.edited_at.unwrap_or(message.sent_at)),
                "current",
                &message.text,
                "",
                "",
            ],
        );
    }
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    id: i64,
    author: &'a str,
    sent_at: String,
    /// The current text; empty once deleted.
    text: &'a str,
    edited_at: Option<String>,
    deleted: Option<JsonDeletion<'a>>,
    /// Every earlier text, oldest first; a deleted message's last is its deleted text.
    versions: Vec<JsonVersion<'a>>,
}

#[derive(Serialize)]
struct JsonDeletion<'a> {
    at: String,
    by: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonVersion<'a> {
    text: &'a str,
    written_at: String,
    replaced_at: String,
    replaced_by: Option<&'a str>,
    /// "edit" or "delete": what replaced this text.
    change: &'static str,
}

/// One message as a JSON object (one line).
pub fn json_object(message: &ReviewedMessage) -> String {
    let object = JsonMessage {
        id: message.id,
        author: &message.author.name,
        sent_at: iso_time(message.sent_at),
        text: &message.text,
        edited_at: message.edited_at.map(iso_time),
        deleted: message.deletion().map(|d| JsonDeletion {
            at: iso_time(d.replaced_at),
            by: d.replaced_by.as_deref(),
        }),
        versions: message
            .versions
            .iter()
            .map(|v| JsonVersion {
                text: &v.text,
                written_at: iso_time(v.written_at),
                replaced_at: iso_time(v.replaced_at),
                replaced_by: v.replaced_by.as_deref(),
                change: if v.deleted { "delete" } else { "edit" },
            })
            .collect(),
    };
    // Plain data: serializing cannot fail.
    serde_json::to_string(&object).unwrap_or_default()
}

/// The selection's messages, formatted a chunk at a time by `format` (which gets each
/// message's position in the whole export), between `head` and `tail`.
fn formatted(
    store: &Store,
    selection: &Selection,
    head: String,
    tail: &'static str,
    format: impl Fn(&mut String, usize, &ReviewedMessage) + Send + 'static,
) -> impl Stream<Item = Result<String, sqlx::Error>> + Send + 'static {
    let mut count = 0;
    let body = store
        .review_stream(selection)
        .ready_chunks(CHUNK)
        .map(move |chunk| {
            let mut out = String::with_capacity(chunk.len() * 160);
            for message in chunk {
                format(&mut out, count, &message?);
                count += 1;
            }
            Ok(out)
        });
    futures::stream::once(async move { Ok(head) })
        .chain(body)
        .chain(futures::stream::once(async move { Ok(tail.to_owned()) }))
}

/// `hearth-<room>-<date>.<extension>`, as an attachment: an ASCII name for every client, and
/// the room's own name (Chinese, say) for those that read `filename*`.
fn attachment(room: &str, extension: &str) -> HeaderValue {
    let date = utc_date(crate::store::now_ms());
    let ascii: String = room
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let ascii = ascii.trim_matches('-');
    let ascii = if ascii.is_empty() { "room" } else { ascii };
    let unicode: String = format!("hearth-{room}-{date}.{extension}")
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let value = format!(
        "attachment; filename=\"hearth-{ascii}-{date}.{extension}\"; filename*=UTF-8''{unicode}"
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// Who asks, the room and the selection; or the response that refuses.
async fn prepare(
    state: &AppState,
    headers: &HeaderMap,
    query: &ReviewQuery,
    what: &str,
) -> Result<(String, Selection), Response> {
    let who = reviewer(state, headers, "/review").await?;
    let room = query
        .room()
        .ok()
        .flatten()
        .ok_or_else(|| bad_request("Choose a room."))?;
    let room = reviewed_room(state, &who, room, what).await?;
    let selection = query.selection(room.id).map_err(|why| bad_request(&why))?;
    Ok((display_name(state, &room).await, selection))
}

fn bad_request(why: &str) -> Response {
    crate::pages::refused(axum::http::StatusCode::BAD_REQUEST, why)
}

fn download(content_type: &'static str, disposition: Option<HeaderValue>, body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(disposition) = disposition {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// `GET /review/export.csv`.
pub async fn csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Response {
    let (name, selection) = match prepare(&state, &headers, &query, "csv").await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let head = format!("\u{FEFF}{CSV_HEADER}");
    let rows = formatted(&state.store, &selection, head, "", |out, _, message| {
        csv_rows(out, message)
    });
    download(
        "text/csv; charset=utf-8",
        Some(attachment(&name, "csv")),
        Body::from_stream(rows),
    )
}

/// `GET /review/export.json`: an array of messages, one per line.
pub async fn json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Response {
    let (name, selection) = match prepare(&state, &headers, &query, "json").await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let rows = formatted(
        &state.store,
        &selection,
        "[\n".to_owned(),
        "\n]\n",
        |out, at, message| {
            if at > 0 {
                out.push_str(",\n");
            }
            out.push_str(&json_object(message));
        },
    );
    download(
        "application/json",
        Some(attachment(&name, "json")),
        Body::from_stream(rows),
    )
}

/// `GET /review/print`: the whole selection as one plain page, for the browser's Print.
pub async fn print(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Response {
    let (name, selection) = match prepare(&state, &headers, &query, "print").await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let name = escape(&name);
    let head = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/pkg/hearth.css">
<title>Transcript of {name} · Hearth</title>
</head>
<body>
<main class="admin print">
<nav class="admin-nav"><a href="/review?{filters}">Back to the review</a></nav>
<h1>Transcript of {name}</h1>
<p class="hint">Printed from Hearth on {today}. Times are UTC. Use your browser's Print command.</p>
<table class="transcript" aria-label="Transcript"><thead><tr><th scope="col">Time</th><th scope="col">Author</th><th scope="col">Message</th></tr></thead><tbody>
"#,
        filters = query.filters(),
        today = utc_time(crate::store::now_ms()),
    );
    let rows = formatted(
        &state.store,
        &selection,
        head,
        "</tbody></table>\n</main>\n</body>\n</html>\n",
        |out, _, message| out.push_str(&super::render::message_row(message, &[], None)),
    );
    download("text/html; charset=utf-8", None, Body::from_stream(rows))
}

/// `GET /review/grades.csv?room=…`: the room's grades.
pub async fn grades(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Response {
    let (name, selection) = match prepare(&state, &headers, &query, "grades").await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let grades = match state.store.grades(Some(selection.room), None).await {
        Ok(grades) => grades,
        Err(error) => return storage_failed(error),
    };
    let mut out = String::from("\u{FEFF}student,grade,comment,graded_by,graded_at\r\n");
    for grade in &grades {
        csv_row(
            &mut out,
            &[
                &grade.user.name,
                &grade.grade,
                &grade.comment,
                grade.graded_by.as_deref().unwrap_or(""),
                &iso_time(grade.graded_at),
            ],
        );
    }
    download(
        "text/csv; charset=utf-8",
        Some(attachment(&format!("{name}-grades"), "csv")),
        Body::from(out),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str) -> String {
        let mut out = String::new();
        csv_cell(&mut out, value);
        out
    }

    #[test]
    fn csv_cells_are_quoted_only_when_needed() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("作业"), "作业");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(cell("=cmd|' /C calc'!A0"), "\"'=cmd|' /C calc'!A0\"");
        assert_eq!(cell("+1"), "\"'+1\"");
        assert_eq!(cell("-2"), "\"'-2\"");
        assert_eq!(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(cell("1+1"), "1+1");
    }

    #[test]
    fn attachment_names_carry_the_room_and_the_date() {
        let value = attachment("maths 7B", "csv");
        let value = value.to_str().unwrap();
        let date = utc_date(crate::store::now_ms());
        assert!(
            value.starts_with(&format!(
                "attachment; filename=\"hearth-maths-7B-{date}.csv\""
            )),
            "{value}"
        );
        let chinese = attachment("数学", "csv");
        assert!(
            chinese
                .to_str()
                .unwrap()
                .contains("filename*=UTF-8''hearth-%E6%95%B0%E5%AD%A6-"),
            "{chinese:?}"
        );
    }
}
