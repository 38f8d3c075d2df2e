//! Teachers' feedback on messages, grades per student per room, and the log of reviews. (PostgreSQL)

use crate::store::Result;
use crate::store::feedback::*;
use std::collections::HashMap;

use super::Postgres;

impl Postgres {
    pub async fn give_feedback(
        &self,
        _message: i64,
        _teacher: i64,
        _text: &str,
    ) -> Result<Option<FeedbackTarget>> {
        todo!("postgres")
    }

    pub async fn unread_feedback(&self, _users: &[i64]) -> Result<HashMap<i64, u32>> {
        todo!("postgres")
    }

    pub async fn feedback_for(&self, _user: i64) -> Result<Vec<FeedbackItem>> {
        todo!("postgres")
    }

    pub async fn mark_feedback_read(&self, _user: i64) -> Result<u64> {
        todo!("postgres")
    }

    pub async fn feedback_on(&self, _ids: &[i64]) -> Result<HashMap<i64, Vec<Feedback>>> {
        todo!("postgres")
    }

    pub async fn set_grade(
        &self,
        _room: i64,
        _user: i64,
        _grade: &str,
        _comment: &str,
        _by: i64,
    ) -> Result<()> {
        todo!("postgres")
    }

    pub async fn grades(&self, _room: Option<i64>, _user: Option<i64>) -> Result<Vec<Grade>> {
        todo!("postgres")
    }

    pub async fn log_review(
        &self,
        _reviewer: i64,
        _room: i64,
        _room_name: &str,
        _what: &str,
    ) -> Result<()> {
        todo!("postgres")
    }

    pub async fn review_log(&self, _limit: usize) -> Result<Vec<ReviewEntry>> {
        todo!("postgres")
    }
}
