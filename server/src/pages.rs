//! The server-rendered pages outside the Leptos app (the administrator's, the review pages,
//! the feedback page): one page frame, HTML escaping, times in UTC and query-string values.
//! They are plain HTML forms and links, usable without JavaScript, in the theme the person
//! chose in the chat (light or dark, read from their cookie by [`theme_scope`]).

use app::theme::Theme;
use app::time::civil;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::COOKIE;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

tokio::task_local! {
    /// The theme the request's cookie chose, while the request is handled.
    static THEME: Option<Theme>;
}

/// Runs the request with the theme its cookie chose in reach of [`page_in`].
pub async fn theme_scope(request: Request, next: Next) -> Response {
    let theme = request
        .headers()
        .get(COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(Theme::from_cookies);
    THEME.scope(theme, next.run(request)).await
}

/// Text made safe to put in HTML, in an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn page(title: &str, body: &str) -> Html<String> {
    page_in("admin", title, body)
}

/// A page whose `main` element has the classes `class` (styles in style/main.css).
pub fn page_in(class: &str, title: &str, body: &str) -> Html<String> {
    let theme = match THEME.try_with(|theme| *theme).ok().flatten() {
        Some(theme) => format!(" data-theme=\"{}\"", theme.as_str()),
        None => String::new(),
    };
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en"{theme}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/pkg/hearth.css">
<title>{title} · Hearth</title>
</head>
<body>
<main class="{class}">
<nav class="admin-nav"><a href="/rooms/1">Back to the chat</a></nav>
{body}
</main>
</body>
</html>"#,
        title = escape(title),
    ))
}

pub fn refused(status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<h1>Not allowed</h1><p class="error" role="alert">{}</p>"#,
        escape(message)
    );
    (status, page("Not allowed", &body)).into_response()
}

/// "2026-12-01 14:05 UTC".
pub fn utc_time(ms: i64) -> String {
    let (year, month, day, hour, minute, ..) = civil(ms);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// "2026-12-01T14:05:09.120Z" (ISO 8601, for exports and `datetime` attributes).
pub fn iso_time(ms: i64) -> String {
    let (year, month, day, hour, minute, second, milli) = civil(ms);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// "2026-12-01" (the date of `ms`, UTC).
pub fn utc_date(ms: i64) -> String {
    let (year, month, day, ..) = civil(ms);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The start (Unix ms) of the UTC day "YYYY-MM-DD", as a date input sends it.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil (the inverse of `civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let start = days * 86_400_000;
    // 2026-02-31 is not a day: it would come back as another date.
    (utc_date(start) == format!("{year:04}-{month:02}-{day:02}")).then_some(start)
}

/// `text` as a query-string value.
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape(r#"<b onclick="x">'&'</b>"#),
            "&lt;b onclick=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(1_796_085_900_000), "2026-12-01 00:45 UTC");
        assert_eq!(iso_time(1_796_085_909_120), "2026-12-01T00:45:09.120Z");
    }

    #[test]
    fn dates_from_date_inputs_are_utc_days() {
        assert_eq!(parse_day("1970-01-02"), Some(86_400_000));
        let day = parse_day("2026-12-01").unwrap();
        assert_eq!(utc_time(day), "2026-12-01 00:00 UTC");
        assert_eq!(
            parse_day("2024-02-29").map(utc_date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_day("2026-02-31"), None);
        assert_eq!(parse_day("tomorrow"), None);
        assert_eq!(parse_day(""), None);
    }
}
