//! Unread mentions: at connect, how many of each room's unread messages mention the person
//! (`@name`, as `app::format::mentions` reads it), counted apart in their sidebar. Live, the
//! browser counts the new ones itself.

use app::format;
use app::protocol::{RoomSummary, User};
use std::collections::HashMap;

use crate::store::{Result, Store};

/// Of each room, the newest messages looked at: a person far behind (or new, with the whole
/// lobby unread) costs the same as one a page behind. Older mentions are not counted.
pub const WINDOW: usize = 200;
/// Most mentions counted over all rooms.
pub const COUNTED_MAX: usize = 1000;

/// Fills in `mentions` for the rooms with unread messages, from the newest [`WINDOW`] of each.
/// The database passes on only the texts holding `@<name>`, and each is checked with the same
/// parser the browser draws with.
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
        .unread_texts_holding(
            me.id,
            &unread,
            &format!("@{}", me.name),
            WINDOW,
            COUNTED_MAX,
        )
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
