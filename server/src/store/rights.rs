//! What the policy needs to know before it decides: a person's role, membership and mute in a
//! room, and who wrote a message.

use app::protocol::MessageKind;

/// A stored message's place and author, for deciding who may change it.
#[derive(Clone, Debug)]
pub struct MessageFacts {
    pub id: i64,
    pub room: i64,
    pub author: i64,
    pub kind: MessageKind,
    pub deleted: bool,
}

pub(crate) type StandingRow = (
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    bool,
    bool,
    Option<i64>,
);
