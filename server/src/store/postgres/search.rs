//! Search on PostgreSQL: a review's selection as conditions on `messages m`, every word as
//! `ILIKE` (the pg_trgm indexes of the schema look up words of three characters or more).
//!
//! The words match as on SQLite: the long ones (3+ characters, which SQLite reads from its
//! trigram index) all in the current text or all in one earlier version; each short one in the
//! current text or in any earlier version. `ILIKE` ignores case as the database's locale
//! lowercases: all of Unicode under a UTF-8 locale, as SQLite's trigram index does for long
//! words (SQLite's `LIKE`, for short ones, folds ASCII only).

use app::protocol::ChatMessage;
use sqlx::Arguments;
use sqlx::postgres::PgArguments;

use super::Postgres;
use crate::store::Result;
use crate::store::messages::{Row, message, message_columns};
use crate::store::review::Selection;
use crate::store::search::like_pattern;

impl Postgres {
    /// Up to `limit` text messages, not deleted, of `rooms` whose current text holds every one
    /// of `words`, older than `before`, newest first, and whether more follow. The trigram
    /// index `messages_search` finds the candidates for words of three characters or more.
    pub async fn search_messages(
        &self,
        rooms: &[i64],
        words: &[String],
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool)> {
        let mut sql = format!(
            "SELECT {} FROM messages m JOIN users u ON u.id = m.author_id
             WHERE m.kind = 'text' AND m.deleted_at IS NULL
               AND m.room_id = ANY($1) AND m.id < $2",
            message_columns!()
        );
        for n in 0..words.len() {
            sql.push_str(&format!(" AND m.body ILIKE ${} ESCAPE '\\'", n + 3));
        }
        sql.push_str(&format!(" ORDER BY m.id DESC LIMIT ${}", words.len() + 3));
        let mut query = sqlx::query_as::<_, Row>(&sql)
            .bind(rooms)
            .bind(before.unwrap_or(i64::MAX));
        for word in words {
            query = query.bind(like_pattern(word));
        }
        let rows = query
            .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let more = rows.len() > limit;
        Ok((rows.into_iter().take(limit).map(message).collect(), more))
    }
}

/// A selection as SQL: the conditions on `messages m` and their bound values, numbered
/// `$1, $2…` in order. Every value is bound, never spliced into the SQL. The words the trigram
/// indexes can look up are kept apart ([`Filter::current_text`], [`Filter::earlier_text`]): a
/// page reads each way to match in a query of its own, an export adds both as one condition
/// ([`Filter::with_indexed_words`]).
pub(super) struct Filter {
    pub sql: String,
    values: Vec<Value>,
    /// The placeholders of the long words' patterns.
    indexed: Vec<String>,
}

enum Value {
    Int(i64),
    Text(String),
}

impl Filter {
    pub fn of(selection: &Selection) -> Filter {
        let mut filter = Filter {
            // `kind = 'text'` as a literal: the partial index `messages_search` needs it.
            sql: "m.room_id = $1 AND m.kind = 'text'".to_owned(),
            values: vec![Value::Int(selection.room)],
            indexed: Vec::new(),
        };
        if let Some(author) = selection.author {
            let p = filter.value(Value::Int(author));
            filter.sql.push_str(&format!(" AND m.author_id = {p}"));
        }
        if let Some(from) = selection.from {
            let p = filter.value(Value::Int(from));
            filter.sql.push_str(&format!(" AND m.sent_at >= {p}"));
        }
        if let Some(to) = selection.to {
            let p = filter.value(Value::Int(to));
            filter.sql.push_str(&format!(" AND m.sent_at < {p}"));
        }
        for word in &selection.words {
            // One placeholder serves the current text and the versions alike.
            let p = filter.value(Value::Text(like_pattern(word)));
            if word.chars().count() >= 3 {
                filter.indexed.push(p);
            } else {
                filter.sql.push_str(&format!(
                    " AND (m.body ILIKE {p} ESCAPE '\\'
                           OR EXISTS (SELECT 1 FROM message_versions v
                                      WHERE v.message_id = m.id AND v.body ILIKE {p} ESCAPE '\\'))"
                ));
            }
        }
        filter
    }

    /// Binds `value` after the others; returns its placeholder.
    pub fn int(&mut self, value: i64) -> String {
        self.value(Value::Int(value))
    }

    fn value(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    /// The long words, all in `column`.
    fn all_in(&self, column: &str) -> Option<String> {
        (!self.indexed.is_empty()).then(|| {
            self.indexed
                .iter()
                .map(|p| format!("{column} ILIKE {p} ESCAPE '\\'"))
                .collect::<Vec<_>>()
                .join(" AND ")
        })
    }

    /// The condition that the message's current text holds every long word; `None` without
    /// long words.
    pub fn current_text(&self) -> Option<String> {
        self.all_in("m.body")
    }

    /// The condition that one earlier version of the message holds every long word.
    pub fn earlier_text(&self) -> Option<String> {
        self.all_in("v.body").map(|words| {
            format!(
                "EXISTS (SELECT 1 FROM message_versions v WHERE v.message_id = m.id AND {words})"
            )
        })
    }

    /// The whole selection as one condition: the long words too (the message's current text
    /// holds them, or one of its earlier texts does).
    pub fn with_indexed_words(mut self) -> Filter {
        if let (Some(current), Some(earlier)) = (self.current_text(), self.earlier_text()) {
            self.sql
                .push_str(&format!(" AND (({current}) OR {earlier})"));
            self.indexed.clear();
        }
        self
    }

    /// The bound values, in placeholder order.
    pub fn arguments(&self) -> Result<PgArguments> {
        let mut arguments = PgArguments::default();
        for value in &self.values {
            match value {
                Value::Int(v) => arguments.add(*v),
                Value::Text(v) => arguments.add(v.as_str()),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        Ok(arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_as_conditions_are_added() {
        let selection = Selection {
            room: 7,
            author: Some(3),
            from: None,
            to: Some(100),
            words: vec!["essay".into(), "作业".into(), "50%".into()],
        };
        let mut filter = Filter::of(&selection);
        assert_eq!(filter.values.len(), 6);
        assert!(filter.sql.contains("m.author_id = $2 AND m.sent_at < $3"));
        // The short word ("作业", $5) is a condition; the long ones ($4, $6) are apart.
        assert!(filter.sql.contains("m.body ILIKE $5 ESCAPE '\\'"));
        assert!(!filter.sql.contains("$4") && !filter.sql.contains("$6"));
        assert_eq!(
            filter.current_text().as_deref(),
            Some("m.body ILIKE $4 ESCAPE '\\' AND m.body ILIKE $6 ESCAPE '\\'")
        );
        assert_eq!(filter.int(0), "$7");
        let whole = filter.with_indexed_words();
        assert!(
            whole
                .sql
                .contains("v.body ILIKE $4 ESCAPE '\\' AND v.body ILIKE $6")
        );
        assert_eq!(whole.current_text(), None);
    }
}
