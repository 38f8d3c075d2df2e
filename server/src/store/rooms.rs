//! Rooms, direct conversations and who belongs to them.

use app::protocol::{RoomKind, RoomSummary, Visibility};

#[derive(Clone, Debug)]
pub struct RoomRow {
    pub id: i64,
    pub kind: RoomKind,
    pub visibility: Visibility,
    pub name: String,
    pub created_by: Option<i64>,
    /// Deleted by a moderator: gone for its members, kept for review.
    pub archived: bool,
}

/// An archived room, as the administrator sees it before purging it.
#[derive(Clone, Debug)]
pub struct ArchivedRoom {
    pub id: i64,
    pub name: String,
    pub visibility: Visibility,
    pub archived_at: i64,
    pub messages: i64,
}

pub(crate) fn kind_of(kind: &str) -> RoomKind {
    if kind == "direct" {
        RoomKind::Direct
    } else {
        RoomKind::Room
    }
}

pub(crate) fn visibility_of(visibility: &str) -> Visibility {
    if visibility == "private" {
        Visibility::Private
    } else {
        Visibility::Public
    }
}

pub(crate) fn visibility_name(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

/// Unread messages of membership `m` in room `r`: text messages by others after the member's
/// read mark, from the running counts kept by [`Store::append_messages`], less those deleted
/// since (few: counted through their own partial index).
pub(crate) const UNREAD: &str = "MAX(r.texts - m.read_texts
        - (SELECT COUNT(*) FROM messages d
            WHERE d.room_id = r.id AND d.id > m.last_read AND d.author_id != m.user_id
              AND d.deleted_at IS NOT NULL AND d.kind = 'text'), 0)";

pub(crate) type SummaryRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<i64>,
    i64,
    i64,
    i64,
    Option<i64>,
);

/// A row of the room directory (`room_directory`) as the room it lists.
pub(crate) fn directory_entry(
    (joined, id, _, visibility, name, created_by, unread, latest, last_read, muted): SummaryRow,
) -> RoomSummary {
    RoomSummary {
        id,
        name,
        kind: RoomKind::Room,
        visibility: visibility_of(&visibility),
        created_by,
        joined: joined == 1,
        unread: unread as u32,
        mentions: 0,
        latest,
        last_read,
        online: 0,
        muted_until: muted,
    }
}
