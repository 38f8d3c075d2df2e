//! Teachers' feedback on messages, grades per student per room, and the log of reviews. (PostgreSQL)

use crate::store::feedback::*;
use crate::store::{Result, now_ms};
use app::protocol::User;
use std::collections::HashMap;

use super::Postgres;

impl Postgres {
    /// Stores feedback by `teacher` on text message `message`; `None` if there is no such
    /// text message.
    pub async fn give_feedback(
        &self,
        message: i64,
        teacher: i64,
        text: &str,
    ) -> Result<Option<FeedbackTarget>> {
        let row = sqlx::query_as::<_, (i64, i64)>(
            "WITH m AS (
                 SELECT id, room_id, author_id FROM messages WHERE id = $1 AND kind = 'text'
             ),
             f AS (
                 INSERT INTO feedback (message_id, author_id, teacher_id, body, given_at)
                 SELECT id, author_id, $2, $3, $4 FROM m
                 RETURNING author_id
             )
             SELECT m.room_id, f.author_id FROM m, f",
        )
        .bind(message)
        .bind(teacher)
        .bind(text)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(room, author)| FeedbackTarget { room, author }))
    }

    /// How much feedback each of `users` has not read, by user (those with none are absent).
    pub async fn unread_feedback(&self, users: &[i64]) -> Result<HashMap<i64, u32>> {
        let rows = sqlx::query_as::<_, (i64, i64)>(
            "SELECT author_id, COUNT(*) FROM feedback
             WHERE read_at IS NULL AND author_id = ANY($1)
             GROUP BY author_id",
        )
        .bind(users)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(user, count)| (user, count as u32))
            .collect())
    }

    /// The feedback on `user`'s messages, newest first.
    pub async fn feedback_for(&self, user: i64) -> Result<Vec<FeedbackItem>> {
        let rows = sqlx::query_as::<
            _,
            (
                i64,
                i64,
                Option<String>,
                String,
                i64,
                bool,
                i64,
                String,
                String,
                bool,
                i64,
            ),
        >(&format!(
            "SELECT {FEEDBACK_COLUMNS}, r.id, r.name, m.body, m.deleted_at IS NOT NULL, m.sent_at
                 FROM feedback f
                 JOIN messages m ON m.id = f.message_id
                 JOIN rooms r ON r.id = m.room_id
                 LEFT JOIN users t ON t.id = f.teacher_id
                 WHERE f.author_id = $1 ORDER BY f.id DESC"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    message,
                    teacher,
                    text,
                    given_at,
                    read,
                    room,
                    room_name,
                    quoted,
                    deleted,
                    sent_at,
                )| {
                    FeedbackItem {
                        feedback: feedback((id, message, teacher, text, given_at, read)),
                        room,
                        room_name,
                        quoted,
                        quoted_deleted: deleted,
                        sent_at,
                    }
                },
            )
            .collect())
    }

    /// Marks all of `user`'s feedback read; how many were unread.
    pub async fn mark_feedback_read(&self, user: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE feedback SET read_at = $2 WHERE author_id = $1 AND read_at IS NULL",
        )
        .bind(user)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The feedback on the messages `ids`, by message, oldest first.
    pub async fn feedback_on(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Feedback>>> {
        let rows = sqlx::query_as::<_, FeedbackRow>(&format!(
            "SELECT {FEEDBACK_COLUMNS} FROM feedback f LEFT JOIN users t ON t.id = f.teacher_id
             WHERE f.message_id = ANY($1) ORDER BY f.id"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let mut by_message: HashMap<i64, Vec<Feedback>> = HashMap::new();
        for row in rows {
            by_message.entry(row.1).or_default().push(feedback(row));
        }
        Ok(by_message)
    }

    /// Sets `user`'s grade in `room` (an empty grade and comment remove it).
    pub async fn set_grade(
        &self,
        room: i64,
        user: i64,
        grade: &str,
        comment: &str,
        by: i64,
    ) -> Result<()> {
        if grade.is_empty() && comment.is_empty() {
            sqlx::query("DELETE FROM grades WHERE room_id = $1 AND user_id = $2")
                .bind(room)
                .bind(user)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO grades (room_id, user_id, grade, comment, graded_by, graded_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (room_id, user_id) DO UPDATE SET grade = excluded.grade,
                 comment = excluded.comment, graded_by = excluded.graded_by,
                 graded_at = excluded.graded_at",
        )
        .bind(room)
        .bind(user)
        .bind(grade)
        .bind(comment)
        .bind(by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Grades in `room` (`Some`), or of `user` in every room (`None` room), by room then name
    /// (`lower(… COLLATE "C")`: ASCII-only lowercasing, bytewise order, as in SQLite).
    pub async fn grades(&self, room: Option<i64>, user: Option<i64>) -> Result<Vec<Grade>> {
        let rows = sqlx::query_as::<_, (i64, String, i64, String, String, String, Option<String>, i64)>(
            r#"SELECT g.room_id, r.name, u.id, u.username, g.grade, g.comment, t.username, g.graded_at
               FROM grades g JOIN rooms r ON r.id = g.room_id JOIN users u ON u.id = g.user_id
               LEFT JOIN users t ON t.id = g.graded_by
               WHERE ($1::bigint IS NULL OR g.room_id = $1) AND ($2::bigint IS NULL OR g.user_id = $2)
               ORDER BY lower(r.name COLLATE "C"), r.id, lower(u.username COLLATE "C"), u.id"#,
        )
        .bind(room)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(room, room_name, id, name, grade, comment, graded_by, graded_at)| Grade {
                    room,
                    room_name,
                    user: User { id, name },
                    grade,
                    comment,
                    graded_by,
                    graded_at,
                },
            )
            .collect())
    }

    /// Records that `reviewer` reviewed `room` (`what`: read, csv, json, print or grades).
    pub async fn log_review(
        &self,
        reviewer: i64,
        room: i64,
        room_name: &str,
        what: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO review_log (reviewer_id, room_id, room_name, what, at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(reviewer)
        .bind(room)
        .bind(room_name)
        .bind(what)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` entries of the review log, newest first.
    pub async fn review_log(&self, limit: usize) -> Result<Vec<ReviewEntry>> {
        let rows = sqlx::query_as::<_, (Option<String>, Option<i64>, String, String, i64)>(
            "SELECT u.username, l.room_id, l.room_name, l.what, l.at
             FROM review_log l LEFT JOIN users u ON u.id = l.reviewer_id
             ORDER BY l.id DESC LIMIT $1",
        )
        // PostgreSQL refuses a negative LIMIT; SQLite reads one (`usize` past `i64`) as none.
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(reviewer, room, room_name, what, at)| ReviewEntry {
                reviewer,
                room,
                room_name,
                what,
                at,
            })
            .collect())
    }
}
