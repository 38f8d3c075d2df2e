//! What teachers review: the rooms they may choose, a room's messages with every earlier version
//! and deleted text, filtered by author, dates and words (through the full-text index of
//! migration 0006), the per-student figures, and the same selection streamed for export.

use super::search::Filter;
use crate::store::review::*;
use crate::store::rooms::{kind_of, visibility_of};
use crate::store::{Result, json_array};
use app::protocol::User;
use futures::{Stream, StreamExt};
use std::collections::HashMap;

use super::Sqlite;

impl Sqlite {
    /// Every room a review may choose, named rooms first (by name, archived last), then direct
    /// conversations if `with_direct`.
    pub async fn reviewable_rooms(&self, with_direct: bool) -> Result<Vec<ReviewRoom>> {
        let rows = sqlx::query_as::<_, (i64, String, String, String, bool)>(
            "SELECT r.id, r.kind, r.visibility,
                    CASE WHEN r.kind = 'direct' THEN
                        (SELECT group_concat(username, ' & ') FROM
                            (SELECT u.username FROM memberships o JOIN users u ON u.id = o.user_id
                              WHERE o.room_id = r.id ORDER BY lower(u.username), u.id))
                    ELSE r.name END,
                    r.archived_at IS NOT NULL
             FROM rooms r
             WHERE r.kind = 'room' OR ?1
             ORDER BY r.kind DESC, r.archived_at IS NOT NULL, lower(r.name), r.id",
        )
        .bind(with_direct)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, visibility, name, archived)| ReviewRoom {
                id,
                name,
                kind: kind_of(&kind),
                visibility: visibility_of(&visibility),
                archived,
            })
            .collect())
    }

    /// The members of `room` who are students (role member), by name.
    pub async fn room_students(&self, room: i64) -> Result<Vec<User>> {
        let rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT u.id, u.username FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = ?1 AND u.role = 'member' ORDER BY lower(u.username), u.id",
        )
        .bind(room)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| User { id, name })
            .collect())
    }

    /// Up to `limit` messages of `selection` after message `after`, oldest first, each with its
    /// versions, and whether more follow.
    ///
    /// With words to look up, the index is read in id order and the other conditions checked
    /// as it goes, so a page stops at its `limit + 1`th match however many messages match in
    /// all; messages whose earlier versions match (few: only edited and deleted ones) are read
    /// apart and merged in.
    pub async fn review_page(
        &self,
        selection: &Selection,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<ReviewedMessage>, bool)> {
        let filter = Filter::of(selection);
        let rows = match &filter.indexed {
            None => {
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id
                     WHERE {} AND m.id > ? ORDER BY m.id LIMIT ?",
                    filter.sql
                );
                filter
                    .bind(sqlx::query_as::<_, MessageRow>(&sql))
                    .bind(after)
                    .bind(limit as i64 + 1)
                    .fetch_all(&self.readers)
                    .await?
            }
            Some(query) => {
                // CROSS JOIN keeps the index as the outer loop, in rowid (= message id) order.
                let current = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM message_search s
                     CROSS JOIN messages m ON m.id = s.rowid
                     JOIN users u ON u.id = m.author_id
                     WHERE message_search MATCH ? AND s.rowid > ? AND {}
                     ORDER BY s.rowid LIMIT ?",
                    filter.sql
                );
                let earlier = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id
                     WHERE m.id IN (SELECT v.message_id FROM version_search s
                                    JOIN message_versions v ON v.id = s.rowid
                                    WHERE version_search MATCH ?)
                       AND m.id > ? AND {} ORDER BY m.id LIMIT ?",
                    filter.sql
                );
                let mut rows = Vec::new();
                for sql in [current, earlier] {
                    let mut query_as = sqlx::query_as::<_, MessageRow>(&sql)
                        .bind(query.as_str())
                        .bind(after);
                    query_as = filter.bind(query_as);
                    rows.extend(
                        query_as
                            .bind(limit as i64 + 1)
                            .fetch_all(&self.readers)
                            .await?,
                    );
                }
                rows.sort_by_key(|row| row.0);
                rows.dedup_by_key(|row| row.0);
                rows
            }
        };
        let has_more = rows.len() > limit;
        let mut page: Vec<ReviewedMessage> = rows.into_iter().take(limit).map(reviewed).collect();
        let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
        let versions = sqlx::query_as::<_, VersionRow>(&format!(
            "{VERSIONS_OF} WHERE v.message_id IN (SELECT value FROM json_each(?1))
             ORDER BY v.message_id, v.id"
        ))
        .bind(json_array(&ids)?)
        .fetch_all(&self.readers)
        .await?;
        let mut by_message: HashMap<i64, Vec<Version>> = HashMap::new();
        for row in versions {
            by_message.entry(row.0).or_default().push(version(row));
        }
        for message in &mut page {
            message.versions = by_message.remove(&message.id).unwrap_or_default();
        }
        Ok((page, has_more))
    }

    /// Every message of `selection`, oldest first, each with its versions, read as the stream
    /// goes: however many there are, only a few rows are in memory at once.
    pub fn review_stream(
        &self,
        selection: &Selection,
    ) -> impl Stream<Item = Result<ReviewedMessage>> + Send + 'static {
        let store = self.clone();
        let filter = Filter::of(selection).with_indexed_words();
        // One query, messages joined with their versions in (message, version) order: the
        // rows of a message are consecutive, and the stream folds them into one item.
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS}, v.message_id, v.body, v.written_at, v.replaced_at,
                    b.username, v.change
             FROM messages m JOIN users u ON u.id = m.author_id
             LEFT JOIN message_versions v ON v.message_id = m.id
             LEFT JOIN users b ON b.id = v.replaced_by
             WHERE {} ORDER BY m.id, v.id",
            filter.sql
        );
        type Joined = (
            i64,
            i64,
            String,
            i64,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows = async_rows::<Joined>(store, sql, filter);
        // Fold consecutive rows of one message; emit a message when the next one starts.
        futures::stream::unfold(
            (Box::pin(rows), None::<ReviewedMessage>, false),
            |(mut rows, mut pending, done)| async move {
                if done {
                    return None;
                }
                loop {
                    match rows.next().await {
                        Some(Ok(row)) => {
                            let (
                                id,
                                author,
                                name,
                                sent_at,
                                text,
                                edited_at,
                                vm,
                                vb,
                                vw,
                                vr,
                                vby,
                                vc,
                            ) = row;
                            let version = match (vm, vb, vw, vr, vc) {
                                (Some(m), Some(b), Some(w), Some(r), Some(c)) => {
                                    Some(version((m, b, w, r, vby, c)))
                                }
                                _ => None,
                            };
                            match &mut pending {
                                Some(current) if current.id == id => {
                                    current.versions.extend(version);
                                }
                                _ => {
                                    let mut next =
                                        reviewed((id, author, name, sent_at, text, edited_at));
                                    next.versions.extend(version);
                                    if let Some(finished) = pending.replace(next) {
                                        return Some((Ok(finished), (rows, pending, false)));
                                    }
                                }
                            }
                        }
                        Some(Err(error)) => return Some((Err(error), (rows, None, true))),
                        None => return pending.take().map(|last| (Ok(last), (rows, None, true))),
                    }
                }
            },
        )
    }

    /// Each author's figures in `room`, by name.
    ///
    /// Counts and words (counted when each text was stored or edited) from one pass over the
    /// room's texts; first and last activity from the two messages at each author's ends;
    /// edits and deletions from the few messages that have any.
    pub async fn student_figures(&self, room: i64) -> Result<Vec<StudentFigures>> {
        let rows = sqlx::query_as::<_, (i64, String, i64, i64, i64, i64)>(
            "SELECT u.id, u.username, t.messages, t.words,
                    (SELECT sent_at FROM messages WHERE id = t.first),
                    (SELECT sent_at FROM messages WHERE id = t.last)
             FROM (SELECT author_id, COUNT(*) AS messages, SUM(words) AS words,
                          MIN(id) AS first, MAX(id) AS last
                   FROM messages
                   WHERE room_id = ?1 AND kind = 'text' GROUP BY author_id) AS t
             JOIN users u ON u.id = t.author_id
             ORDER BY lower(u.username), u.id",
        )
        .bind(room)
        .fetch_all(&self.readers)
        .await?;
        // (author, edits, deletions, latest change): from the versions kept of changed texts.
        // CROSS JOIN walks the versions (few) and looks each message up; left to itself SQLite
        // walked the room's messages (all of them) probing for versions: 75 ms at a million.
        let changed = sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT m.author_id, SUM(v.change = 'edit'), SUM(v.change = 'delete'),
                    MAX(v.replaced_at)
             FROM message_versions v CROSS JOIN messages m ON m.id = v.message_id
             WHERE m.room_id = ?1 AND m.kind = 'text'
             GROUP BY m.author_id",
        )
        .bind(room)
        .fetch_all(&self.readers)
        .await?;
        let changed: HashMap<i64, (i64, i64, i64)> = changed
            .into_iter()
            .map(|(author, edits, deletions, latest)| (author, (edits, deletions, latest)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|(id, name, messages, words, first, last)| {
                let (edits, deletions, latest) = changed.get(&id).copied().unwrap_or_default();
                StudentFigures {
                    user: User { id, name },
                    messages,
                    words,
                    first,
                    last: last.max(latest),
                    edits,
                    deletions,
                }
            })
            .collect())
    }
}

/// The rows of `sql` bound with `filter`, as an owned stream (the query borrows its SQL and
/// values, which the stream keeps alive).
fn async_rows<O>(
    store: Sqlite,
    sql: String,
    filter: Filter,
) -> impl Stream<Item = Result<O>> + Send + 'static
where
    O: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin + 'static,
{
    let (rows, received) = futures::channel::mpsc::channel::<Result<O>>(64);
    tokio::spawn(async move {
        let mut rows = rows;
        let mut stream = filter
            .bind(sqlx::query_as::<_, O>(&sql))
            .fetch(&store.readers);
        while let Some(row) = stream.next().await {
            let failed = row.is_err();
            // The reader went away (the download was cancelled): stop reading.
            if futures::SinkExt::send(&mut rows, row).await.is_err() || failed {
                break;
            }
        }
    });
    received
}
