//! What the policy needs to know before it decides: a person's role, membership and mute in a
//! room, and who wrote a message. (PostgreSQL)

use crate::policy::Standing;
use crate::store::Result;
use crate::store::rights::*;
use crate::store::rooms::RoomRow;

use super::Postgres;

impl Postgres {
    pub async fn standing(
        &self,
        _user: i64,
        _room: i64,
    ) -> Result<(Option<Standing>, Option<RoomRow>)> {
        todo!("postgres")
    }

    pub async fn room(&self, _id: i64) -> Result<Option<RoomRow>> {
        todo!("postgres")
    }

    pub async fn message_facts(&self, _id: i64) -> Result<Option<MessageFacts>> {
        todo!("postgres")
    }
}
