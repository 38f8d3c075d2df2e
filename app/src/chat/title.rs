//! The page's title: "Hearth", or with messages waiting, their number first: "(3) Hearth", so
//! that a tab in the background shows there is something to read.

use crate::protocol::RoomSummary;

/// Unread messages in the rooms and conversations the person is in (a conversation is one
/// they are in, as for every other use of `joined`).
fn unread_total(rooms: &[RoomSummary]) -> u32 {
    rooms
        .iter()
        .filter(|r| r.joined)
        .map(|r| r.unread)
        .fold(0, u32::saturating_add)
}

pub fn page_title(rooms: &[RoomSummary]) -> String {
    match unread_total(rooms) {
        0 => "Hearth".to_owned(),
        n => format!("({n}) Hearth"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::state::tests::room;
    use crate::protocol::RoomKind;

    #[test]
    fn the_title_is_the_name_alone_when_nothing_is_unread() {
        assert_eq!(page_title(&[]), "Hearth");
        assert_eq!(page_title(&[room(1, "lobby", true, 0)]), "Hearth");
    }

    #[test]
    fn the_title_counts_unread_messages_of_joined_rooms_and_conversations() {
        let rooms = [
            room(1, "lobby", true, 2),
            RoomSummary {
                kind: RoomKind::Direct,
                ..room(2, "bob", true, 1)
            },
            // A room the person could join is not theirs to read.
            room(3, "chess", false, 5),
        ];
        assert_eq!(page_title(&rooms), "(3) Hearth");
    }
}
