//! What teachers review: the rooms they may choose, a room's messages with every earlier version
//! and deleted text, filtered by author, dates and words (through the trigram indexes of the
//! schema, see [`Filter`]), the per-student figures, and the same selection streamed for export.
//! (PostgreSQL)
//!
//! Names are ordered by `lower(… COLLATE "C")`: ASCII-only lowercasing and bytewise order, as
//! SQLite's `lower` and comparisons do.

use std::collections::HashMap;

use app::protocol::User;
use futures::{SinkExt, Stream, StreamExt};
use sqlx::postgres::{PgPool, PgRow};

use super::Postgres;
use super::search::Filter;
use crate::store::Result;
use crate::store::review::*;
use crate::store::rooms::{kind_of, visibility_of};

/// Rows an export reads from its cursor per `FETCH`.
const FETCH_ROWS: usize = 256;

impl Postgres {
    /// Every room a review may choose, named rooms first (by name, archived last), then direct
    /// conversations if `with_direct`.
    pub async fn reviewable_rooms(&self, with_direct: bool) -> Result<Vec<ReviewRoom>> {
        // A direct conversation with no members left (never, unless accounts are deleted)
        // keeps its stored name rather than failing the listing.
        let rows = sqlx::query_as::<_, (i64, String, String, String, bool)>(
            r#"SELECT r.id, r.kind, r.visibility,
                      CASE WHEN r.kind = 'direct' THEN
                          COALESCE((SELECT string_agg(u.username, ' & '
                                                      ORDER BY lower(u.username COLLATE "C"), u.id)
                                    FROM memberships o JOIN users u ON u.id = o.user_id
                                    WHERE o.room_id = r.id), r.name)
                      ELSE r.name END,
                      r.archived_at IS NOT NULL
               FROM rooms r
               WHERE r.kind = 'room' OR $1
               ORDER BY r.kind DESC, r.archived_at IS NOT NULL, lower(r.name COLLATE "C"), r.id"#,
        )
        .bind(with_direct)
        .fetch_all(&self.pool)
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
            r#"SELECT u.id, u.username FROM memberships m JOIN users u ON u.id = m.user_id
               WHERE m.room_id = $1 AND u.role = 'member'
               ORDER BY lower(u.username COLLATE "C"), u.id"#,
        )
        .bind(room)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| User { id, name })
            .collect())
    }

    /// Up to `limit` messages of `selection` after message `after`, oldest first, each with its
    /// versions, and whether more follow.
    ///
    /// With long words, as on SQLite, two queries merged in id order: messages whose current
    /// text holds them, and those one of whose earlier versions does. Apart, each may use its
    /// trigram index (or walk the room in id order, if PostgreSQL expects that to stop sooner);
    /// one `OR` of the two would use neither. Searches are not kept prepared: that choice rests
    /// on the words, which a generic plan does not see.
    pub async fn review_page(
        &self,
        selection: &Selection,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<ReviewedMessage>, bool)> {
        let mut filter = Filter::of(selection);
        let after = filter.int(after);
        let fetch = filter.int(i64::try_from(limit).map_or(i64::MAX, |l| l.saturating_add(1)));
        let ways = match (filter.current_text(), filter.earlier_text()) {
            (Some(current), Some(earlier)) => {
                vec![format!(" AND {current}"), format!(" AND {earlier}")]
            }
            _ => vec![String::new()],
        };
        let mut rows = Vec::new();
        for way in &ways {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id
                 WHERE {}{way} AND m.id > {after} ORDER BY m.id LIMIT {fetch}",
                filter.sql
            );
            rows.extend(
                sqlx::query_as_with::<_, MessageRow, _>(&sql, filter.arguments()?)
                    .persistent(selection.words.is_empty())
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        if ways.len() > 1 {
            rows.sort_by_key(|row| row.0);
            rows.dedup_by_key(|row| row.0);
        }
        let has_more = rows.len() > limit;
        let mut page: Vec<ReviewedMessage> = rows.into_iter().take(limit).map(reviewed).collect();
        if page.is_empty() {
            return Ok((page, has_more));
        }
        let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
        let versions = sqlx::query_as::<_, VersionRow>(&format!(
            "{VERSIONS_OF} WHERE v.message_id = ANY($1) ORDER BY v.message_id, v.id"
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
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
        let rows = cursor_rows::<Joined>(self.pool.clone(), sql, filter);
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
        // `SUM` of BIGINT is NUMERIC in PostgreSQL: cast back.
        let rows = sqlx::query_as::<_, (i64, String, i64, i64, i64, i64)>(
            r#"SELECT u.id, u.username, t.messages, t.words,
                      (SELECT sent_at FROM messages WHERE id = t.first_id),
                      (SELECT sent_at FROM messages WHERE id = t.last_id)
               FROM (SELECT author_id, COUNT(*) AS messages, SUM(words)::bigint AS words,
                            MIN(id) AS first_id, MAX(id) AS last_id
                     FROM messages
                     WHERE room_id = $1 AND kind = 'text' GROUP BY author_id) AS t
               JOIN users u ON u.id = t.author_id
               ORDER BY lower(u.username COLLATE "C"), u.id"#,
        )
        .bind(room)
        .fetch_all(&self.pool)
        .await?;
        // (author, edits, deletions, latest change): from the versions kept of changed texts.
        let changed = sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT m.author_id, COUNT(*) FILTER (WHERE v.change = 'edit'),
                    COUNT(*) FILTER (WHERE v.change = 'delete'), MAX(v.replaced_at)
             FROM message_versions v JOIN messages m ON m.id = v.message_id
             WHERE m.room_id = $1 AND m.kind = 'text'
             GROUP BY m.author_id",
        )
        .bind(room)
        .fetch_all(&self.pool)
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

/// The rows of `sql` bound with `filter`, as an owned stream fed by a task through a bounded
/// channel.
///
/// The task reads through a cursor, `FETCH_ROWS` at a time, each `FETCH` streamed row by row.
/// A plain query would stream too, but if the reader goes away (a cancelled download) the
/// connection could go back to the pool only after reading the rest of the result, the whole
/// room; here dropping the transaction closes the cursor, and at most one `FETCH` is left to
/// read. The cursor's snapshot is the export's, taken when it opens.
fn cursor_rows<O>(
    pool: PgPool,
    sql: String,
    filter: Filter,
) -> impl Stream<Item = Result<O>> + Send + 'static
where
    O: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static,
{
    let (mut rows, received) = futures::channel::mpsc::channel::<Result<O>>(64);
    tokio::spawn(async move {
        if let Err(error) = feed(&pool, &sql, &filter, &mut rows).await {
            let _ = rows.send(Err(error)).await;
        }
    });
    received
}

/// Sends the rows of `sql` to `rows` until they end or the reader goes away.
async fn feed<O>(
    pool: &PgPool,
    sql: &str,
    filter: &Filter,
    rows: &mut futures::channel::mpsc::Sender<Result<O>>,
) -> Result<()>
where
    O: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static,
{
    let mut transaction = pool.begin().await?;
    // Not kept prepared: its SQL varies with the selection.
    sqlx::query_with(
        &format!("DECLARE review NO SCROLL CURSOR FOR {sql}"),
        filter.arguments()?,
    )
    .persistent(false)
    .execute(&mut *transaction)
    .await?;
    let fetch = format!("FETCH FORWARD {FETCH_ROWS} FROM review");
    loop {
        let mut batch = sqlx::query_as::<_, O>(&fetch).fetch(&mut *transaction);
        let mut read = 0;
        while let Some(row) = batch.next().await {
            read += 1;
            // The reader went away (the download was cancelled): stop reading. Dropping the
            // transaction rolls it back, which closes the cursor.
            if rows.send(Ok(row?)).await.is_err() {
                return Ok(());
            }
        }
        if read < FETCH_ROWS {
            break;
        }
    }
    transaction.rollback().await
}

/// PostgreSQL's answers against SQLite's on the same data (run when
/// `HEARTH_TEST_DATABASE=postgres`; on SQLite alone there is nothing to compare).
#[cfg(test)]
mod tests {
    use app::protocol::{MessageKind, Role, Visibility};
    use futures::StreamExt;

    use crate::store::test_support::{fresh_sqlite_store, fresh_store, remove};
    use crate::store::{Change, NewMessage, Selection, Store};

    /// The same rooms, people and messages (with edits and deletions) in `store`; the rooms
    /// to review.
    async fn fill(store: &Store) -> Vec<i64> {
        let mut people = Vec::new();
        for name in ["admin", "teacher", "alice", "Bob", "zoe", "Émile", "bob_2"] {
            let account = store.create_user(name, "x").await.unwrap().unwrap();
            people.push(account.user);
        }
        store.set_role(people[1].id, Role::Teacher).await.unwrap();
        let maths = store
            .create_room("Maths", Visibility::Public, people[2].id)
            .await
            .unwrap()
            .unwrap()
            .id;
        let art = store
            .create_room("art", Visibility::Private, people[4].id)
            .await
            .unwrap()
            .unwrap()
            .id;
        let old = store
            .create_room("Zebra", Visibility::Public, people[2].id)
            .await
            .unwrap()
            .unwrap()
            .id;
        for person in &people[2..] {
            store.join(maths, person.id).await.unwrap();
            store.join(old, person.id).await.unwrap();
        }
        store.join(art, people[2].id).await.unwrap();
        let (direct, _) = store.open_direct(people[3].id, people[2].id).await.unwrap();
        let texts = [
            "essay draft",
            "The homework is due on Friday",
            "我们明天有数学作业",
            "50% done_ok",
            "ok",
            "Hello WORLD",
            "école et ÉCOLE",
        ];
        let mut ids = Vec::new();
        for batch in 0..12 {
            let messages: Vec<NewMessage> = (0..50)
                .map(|i| {
                    let n = batch * 50 + i;
                    let room = [maths, maths, maths, art, old, direct, 1][n % 7];
                    let author = match room {
                        r if r == art => &people[2 + (n % 2) * 2],
                        r if r == direct => &people[2 + n % 2],
                        _ => &people[2 + n % 5],
                    };
                    NewMessage {
                        room,
                        author: author.clone(),
                        kind: MessageKind::Text,
                        text: format!("{} {n}", texts[n % texts.len()]),
                        nonce: None,
                    }
                })
                .collect();
            ids.extend(
                store
                    .append_messages(&messages, 1_000 * batch as i64)
                    .await
                    .unwrap()
                    .ids,
            );
        }
        let mut number = 0;
        for (n, id) in ids.iter().enumerate() {
            let changes: &[Change] = match n % 13 {
                3 => &[Change::Edit(format!("final version {n}"))],
                5 => &[
                    Change::Edit("second".into()),
                    Change::Edit("third essay".into()),
                ],
                8 => &[Change::Delete],
                9 => &[Change::Edit("now ok".into()), Change::Delete],
                _ => &[],
            };
            for change in changes {
                number += 1;
                let by = if n % 2 == 0 {
                    people[0].id
                } else {
                    people[2].id
                };
                store
                    .change_message(*id, by, change, 20_000 + number)
                    .await
                    .unwrap();
            }
        }
        store.archive_room(old).await.unwrap();
        vec![1, maths, art, old, direct]
    }

    fn selections(rooms: &[i64]) -> Vec<Selection> {
        let words: &[&[&str]] = &[
            &[],
            &["essay"],
            &["ESSAY"],
            &["draft"],
            &["final", "draft"],
            &["essay", "draft"],
            &["third", "es"],
            &["es"],
            &["数学作业"],
            &["作业"],
            &["50%"],
            &["%"],
            &["_"],
            &["e_o"],
            &["École"],
            &["world", "friday"],
            &["nothing"],
        ];
        let mut selections = Vec::new();
        for &room in rooms {
            for words in words {
                let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                selections.push(Selection {
                    room,
                    words: words.clone(),
                    ..Selection::default()
                });
                selections.push(Selection {
                    room,
                    author: Some(3),
                    from: Some(2_000),
                    to: Some(9_000),
                    words,
                });
            }
        }
        selections
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_reviews_as_sqlite_does() {
        let (postgres, database) = fresh_store("review-compare").await;
        if postgres.backend() != "postgres" {
            return remove(postgres, database).await;
        }
        let (sqlite, file) = fresh_sqlite_store("review-compare").await;
        let rooms = fill(&sqlite).await;
        assert_eq!(fill(&postgres).await, rooms);

        for with_direct in [false, true] {
            assert_eq!(
                postgres.reviewable_rooms(with_direct).await.unwrap(),
                sqlite.reviewable_rooms(with_direct).await.unwrap()
            );
        }
        for &room in &rooms {
            assert_eq!(
                postgres.room_students(room).await.unwrap(),
                sqlite.room_students(room).await.unwrap()
            );
            assert_eq!(
                postgres.student_figures(room).await.unwrap(),
                sqlite.student_figures(room).await.unwrap()
            );
        }
        for selection in selections(&rooms) {
            for limit in [7, 100] {
                let mut after = 0;
                loop {
                    let expected = sqlite.review_page(&selection, after, limit).await.unwrap();
                    let got = postgres
                        .review_page(&selection, after, limit)
                        .await
                        .unwrap();
                    assert_eq!(got, expected, "{selection:?} after {after}");
                    match expected.0.last() {
                        Some(last) if expected.1 => after = last.id,
                        _ => break,
                    }
                }
            }
            let expected: Vec<_> = sqlite.review_stream(&selection).collect().await;
            let got: Vec<_> = postgres.review_stream(&selection).collect().await;
            let expected: Vec<_> = expected.into_iter().map(Result::unwrap).collect();
            let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
            assert_eq!(got, expected, "{selection:?}");
        }
        remove(sqlite, file).await;
        remove(postgres, database).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_export_gives_its_connection_back() {
        let (store, database) = fresh_store("review-cancel").await;
        if store.backend() != "postgres" {
            return remove(store, database).await;
        }
        let rooms = fill(&store).await;
        let selection = Selection {
            room: rooms[1],
            ..Selection::default()
        };
        let all = store.review_stream(&selection).count().await;
        assert!(all > super::FETCH_ROWS, "{all}");
        // More cancelled exports than the pool has connections.
        for _ in 0..40 {
            let mut stream = Box::pin(store.review_stream(&selection));
            assert!(stream.next().await.unwrap().is_ok());
        }
        let started = std::time::Instant::now();
        for _ in 0..20 {
            let (page, _) = store.review_page(&selection, 0, 5).await.unwrap();
            assert_eq!(page.len(), 5);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(store.review_stream(&selection).count().await, all);
        remove(store, database).await;
    }
}
