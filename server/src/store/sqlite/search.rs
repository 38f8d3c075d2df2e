//! Search on SQLite: words as a query of the full-text index (migration 0006, trigram), and
//! LIKE for words too short for it; for a review's selection, and for everyone's search of the
//! rooms they may read.

use app::protocol::ChatMessage;

use super::Sqlite;
use crate::store::Result;
use crate::store::json_array;
use crate::store::messages::{Row, message, message_columns};
use crate::store::review::Selection;
use crate::store::search::like_pattern;

impl Sqlite {
    /// Up to `limit` text messages, not deleted, of `rooms` whose current text holds every one
    /// of `words`, older than `before`, newest first, and whether more follow.
    ///
    /// With a word of three characters or more, the index is read newest first and the other
    /// conditions checked as it goes, so a page stops at its `limit + 1`th match; with short
    /// words only, the rooms' messages are read newest first instead.
    pub async fn search_messages(
        &self,
        rooms: &[i64],
        words: &[String],
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool)> {
        let before = before.unwrap_or(i64::MAX);
        let indexed = fts_query(words);
        let short: Vec<String> = words
            .iter()
            .filter(|w| w.chars().count() < 3)
            .map(|w| like_pattern(w))
            .collect();
        let conditions = "m.kind = 'text' AND m.deleted_at IS NULL
             AND m.room_id IN (SELECT value FROM json_each(?))"
            .to_owned()
            + &" AND m.body LIKE ? ESCAPE '\\'".repeat(short.len());
        let sql = match indexed {
            // CROSS JOIN keeps the index as the outer loop, newest first.
            Some(_) => format!(
                "SELECT {} FROM message_search s
                 CROSS JOIN messages m ON m.id = s.rowid
                 JOIN users u ON u.id = m.author_id
                 WHERE message_search MATCH ? AND s.rowid < ? AND {conditions}
                 ORDER BY s.rowid DESC LIMIT ?",
                message_columns!()
            ),
            None => format!(
                "SELECT {} FROM messages m JOIN users u ON u.id = m.author_id
                 WHERE m.id < ? AND {conditions}
                 ORDER BY m.id DESC LIMIT ?",
                message_columns!()
            ),
        };
        let mut query = sqlx::query_as::<_, Row>(&sql);
        if let Some(indexed) = &indexed {
            query = query.bind(indexed.as_str());
        }
        query = query.bind(before).bind(json_array(rooms)?);
        for pattern in &short {
            query = query.bind(pattern.as_str());
        }
        let rows = query
            .bind(limit as i64 + 1)
            .fetch_all(&self.readers)
            .await?;
        let more = rows.len() > limit;
        Ok((rows.into_iter().take(limit).map(message).collect(), more))
    }
}

/// The part of a query that FTS5 matches: each word of three characters or more as a quoted
/// string (the trigram index finds it anywhere in a text); shorter words, which a trigram
/// index cannot look up, are matched with LIKE instead (see [`Filter`]).
pub(super) fn fts_query(words: &[String]) -> Option<String> {
    let long: Vec<String> = words
        .iter()
        .filter(|w| w.chars().count() >= 3)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!long.is_empty()).then(|| long.join(" "))
}

/// A selection as SQL: the conditions on `messages m` and their bound values, in order. Every
/// value is bound, never spliced into the SQL. The words the index can look up are kept apart
/// (`indexed`): a page reads them from the index in id order ([`Store::review_page`]), an
/// export adds them as a condition ([`Filter::with_indexed_words`]).
pub(super) struct Filter {
    pub sql: String,
    values: Vec<Value>,
    pub indexed: Option<String>,
}

enum Value {
    Int(i64),
    Text(String),
}

impl Filter {
    pub fn of(selection: &Selection) -> Filter {
        let mut filter = Filter {
            sql: "m.room_id = ? AND m.kind = 'text'".to_owned(),
            values: vec![Value::Int(selection.room)],
            indexed: fts_query(&selection.words),
        };
        if let Some(author) = selection.author {
            filter.push(" AND m.author_id = ?", Value::Int(author));
        }
        if let Some(from) = selection.from {
            filter.push(" AND m.sent_at >= ?", Value::Int(from));
        }
        if let Some(to) = selection.to {
            filter.push(" AND m.sent_at < ?", Value::Int(to));
        }
        for word in selection.words.iter().filter(|w| w.chars().count() < 3) {
            let pattern = like_pattern(word);
            filter.sql.push_str(
                " AND (m.body LIKE ? ESCAPE '\\'
                       OR EXISTS (SELECT 1 FROM message_versions v
                                  WHERE v.message_id = m.id AND v.body LIKE ? ESCAPE '\\'))",
            );
            filter.values.push(Value::Text(pattern.clone()));
            filter.values.push(Value::Text(pattern));
        }
        filter
    }

    /// The whole selection as one condition: the indexed words too (the message's current
    /// text matches, or one of its earlier texts does).
    pub fn with_indexed_words(mut self) -> Filter {
        if let Some(query) = self.indexed.take() {
            self.sql.push_str(
                " AND (m.id IN (SELECT rowid FROM message_search WHERE message_search MATCH ?)
                       OR m.id IN (SELECT v.message_id FROM version_search s
                                   JOIN message_versions v ON v.id = s.rowid
                                   WHERE version_search MATCH ?))",
            );
            self.values.push(Value::Text(query.clone()));
            self.values.push(Value::Text(query));
        }
        self
    }

    fn push(&mut self, sql: &str, value: Value) {
        self.sql.push_str(sql);
        self.values.push(value);
    }

    pub fn bind<'q, O>(
        &'q self,
        mut query: sqlx::query::QueryAs<'q, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments<'q>> {
        for value in &self.values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_go_to_the_index_and_short_ones_to_like() {
        let words: Vec<String> = ["essay", "作业", "a\"b\"c"]
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(
            fts_query(&words).as_deref(),
            Some("\"essay\" \"a\"\"b\"\"c\"")
        );
        assert_eq!(fts_query(&["ok".into()]), None);
    }
}
