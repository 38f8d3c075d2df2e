//! Stored messages: appending in batches, edits and deletions that keep every earlier version,
//! history pages, and catch-up after a reconnect. (PostgreSQL)

use crate::store::Result;
use crate::store::messages::*;
use app::protocol::ChatMessage;

use super::Postgres;

impl Postgres {
    pub async fn append_messages(&self, _batch: &[NewMessage], _sent_at: i64) -> Result<Vec<i64>> {
        todo!("postgres")
    }

    pub async fn refused(
        &self,
        _batch: &[NewMessage],
        _sent_at: i64,
    ) -> Result<Vec<(usize, Refused)>> {
        todo!("postgres")
    }

    pub async fn already_sent(&self, _batch: &[NewMessage]) -> Result<Vec<(usize, i64)>> {
        todo!("postgres")
    }

    pub async fn purge_nonces(&self, _before: i64) -> Result<u64> {
        todo!("postgres")
    }

    pub async fn change_message(
        &self,
        _id: i64,
        _by: i64,
        _change: &Change,
        _at: i64,
        _number: i64,
    ) -> Result<Option<ChatMessage>> {
        todo!("postgres")
    }

    pub async fn latest_change(&self) -> Result<i64> {
        todo!("postgres")
    }

    pub async fn changed_since(
        &self,
        _user: i64,
        _after: i64,
        _limit: usize,
    ) -> Result<Vec<ChatMessage>> {
        todo!("postgres")
    }

    pub async fn append_message(&self, _message: &NewMessage, _sent_at: i64) -> Result<i64> {
        todo!("postgres")
    }

    pub async fn history(
        &self,
        _room: i64,
        _before: Option<i64>,
        _limit: usize,
    ) -> Result<(Vec<ChatMessage>, bool)> {
        todo!("postgres")
    }

    pub async fn missed(&self, _user: i64, _after: i64, _limit: usize) -> Result<Vec<ChatMessage>> {
        todo!("postgres")
    }
}
