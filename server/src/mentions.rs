//! Unread mentions: at connect, how many of each room's unread messages mention the person
//! (`@name`, as `app::format::mentions` reads it), counted apart in their sidebar. Live, the
//! browser counts the new ones itself.

use app::format;
use app::protocol::{RoomSummary, User};
use std::collections::HashMap;

use crate::store::{Result, Store};

/// Most unread messages naming the person that are read for the count (the newest): past it,
/// the count stops growing.
pub const READ_MAX: usize = 1000;

/// Fills in `mentions` for the rooms with unread messages. Only the messages holding
/// `@<name>` are read, and each is checked with the same parser the browser draws with.
pub async fn count(store: &Store, me: &User, rooms: &mut [RoomSummary]) -> Result<()> {
    let unread: Vec<(i64, i64)> = rooms
        .iter()
        .filter(|room| room.unread > 0)
        .map(|room| (room.id, room.last_read))
        .collect();
    if unread.is_empty() {
        return Ok(());
    }
    let texts = store
        .unread_texts_holding(me.id, &unread, &format!("@{}", me.name), READ_MAX)
        .await?;
    let at: HashMap<i64, usize> = rooms
        .iter()
        .enumerate()
        .map(|(index, room)| (room.id, index))
        .collect();
    for (room, text) in texts {
        if format::mentions(&text, &me.name)
            && let Some(&index) = at.get(&room)
        {
            let room = &mut rooms[index];
            room.mentions = (room.mentions + 1).min(room.unread);
        }
    }
    Ok(())
}
