//! Rooms, direct conversations and who belongs to them. (PostgreSQL)

use crate::store::rooms::*;
use crate::store::{NameTaken, Result};
use app::protocol::{Muted, RoomSummary, User, Visibility};
use std::collections::HashMap;

use super::Postgres;

impl Postgres {
    pub async fn rooms_of(&self, _users: &[i64]) -> Result<HashMap<i64, Vec<RoomSummary>>> {
        todo!("postgres")
    }

    pub async fn summary(&self, _room: i64, _user: i64) -> Result<Option<RoomSummary>> {
        todo!("postgres")
    }

    pub async fn room_directory(&self, _user: i64) -> Result<Vec<RoomSummary>> {
        todo!("postgres")
    }

    pub async fn create_room(
        &self,
        _name: &str,
        _visibility: Visibility,
        _creator: i64,
    ) -> Result<Result<RoomRow, NameTaken>> {
        todo!("postgres")
    }

    pub async fn rename_room(&self, _id: i64, _name: &str) -> Result<Result<(), NameTaken>> {
        todo!("postgres")
    }

    pub async fn archive_room(&self, _id: i64) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn purge_room(&self, _id: i64) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn archived_rooms(&self) -> Result<Vec<ArchivedRoom>> {
        todo!("postgres")
    }

    pub async fn join(&self, _room: i64, _user: i64) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn leave(&self, _room: i64, _user: i64) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn members(&self, _room: i64) -> Result<(Vec<User>, Vec<Muted>)> {
        todo!("postgres")
    }

    pub async fn members_page(
        &self,
        _room: i64,
        _after: Option<&str>,
        _limit: usize,
    ) -> Result<(Vec<User>, bool)> {
        todo!("postgres")
    }

    pub async fn muted_in(&self, _room: i64) -> Result<Vec<Muted>> {
        todo!("postgres")
    }

    pub async fn mute(&self, _room: i64, _user: i64, _until: i64, _moderator: i64) -> Result<()> {
        todo!("postgres")
    }

    pub async fn unmute(&self, _room: i64, _user: i64) -> Result<bool> {
        todo!("postgres")
    }

    pub async fn open_direct(&self, _a: i64, _b: i64) -> Result<(i64, bool)> {
        todo!("postgres")
    }

    pub async fn mark_read(&self, _room: i64, _user: i64, _message: i64) -> Result<()> {
        todo!("postgres")
    }
}
