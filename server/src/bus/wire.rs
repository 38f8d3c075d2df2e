//! What one node tells the others over Redis: an envelope (which node, its running number, what
//! happened) on the first line, then the encoded client frames it carries, one per line.
//!
//! Frames are the JSON the clients get, encoded once by the node where the event happened;
//! compact JSON has no raw newline, so a line is a frame. A receiving node copies each frame
//! once, however many of its connections get it.

use serde::{Deserialize, Serialize};

use crate::hub::{Frame, KickReason, Sessions};

/// One publication.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Envelope {
    /// The node that published it (nodes skip their own).
    pub from: u64,
    /// That node's publication number, rising by one each time: a jump means one was lost.
    pub seq: u64,
    pub event: Event,
}

/// What happened; the frames it carries follow the envelope, in this order.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "e", rename_all = "snake_case")]
pub enum Event {
    /// A commit of the cluster's log (messages, or one edit or deletion), one frame per item.
    Log { position: i64, items: Vec<Item> },
    /// One frame for the members of a room online.
    Room { room: i64 },
    /// One frame for every connection of a user.
    User { user: i64 },
    /// One frame for everyone.
    All,
    /// One frame (a presence change) for those watching any of these rooms' members.
    Watchers { rooms: Vec<i64> },
    /// Close a user's connections opened with some sessions.
    Kick {
        user: i64,
        sessions: Sessions,
        reason: KickReason,
    },
    /// A user joined a room (or was added): their connections hear it from now on.
    Subscribe { user: i64, room: i64 },
    /// A user left a room (or was removed).
    Unsubscribe { user: i64, room: i64 },
    /// A room was deleted.
    DropRoom { room: i64 },
    /// These rooms' online counts changed (someone came or went on the publishing node, or a
    /// dead node was taken out): room, count.
    Counts { counts: Vec<(i64, u32)> },
}

/// One item of a log commit: a new message (`change` 0) or a message's new state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    pub room: i64,
    pub id: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub change: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The publication's bytes: the envelope, then each frame on a line of its own.
pub fn encode(envelope: &Envelope, frames: &[&Frame]) -> Vec<u8> {
    let mut out = serde_json::to_vec(envelope).unwrap_or_default();
    for frame in frames {
        out.push(b'\n');
        out.extend_from_slice(frame.as_str().as_bytes());
    }
    out
}

/// Why a publication could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable;

/// The envelope and frames of a publication.
pub fn decode(bytes: &[u8]) -> Result<(Envelope, Vec<Frame>), Unreadable> {
    let text = std::str::from_utf8(bytes).map_err(|_| Unreadable)?;
    let mut lines = text.split('\n');
    let envelope: Envelope =
        serde_json::from_str(lines.next().ok_or(Unreadable)?).map_err(|_| Unreadable)?;
    let frames: Vec<Frame> = lines.map(Frame::from).collect();
    let expected = match &envelope.event {
        Event::Log { items, .. } => items.len(),
        Event::Room { .. } | Event::User { .. } | Event::All | Event::Watchers { .. } => 1,
        _ => 0,
    };
    if frames.len() != expected {
        return Err(Unreadable);
    }
    Ok((envelope, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_commit_travels_with_its_frames_in_order() {
        let envelope = Envelope {
            from: 7,
            seq: 42,
            event: Event::Log {
                position: 9,
                items: vec![
                    Item {
                        room: 1,
                        id: 100,
                        change: 0,
                    },
                    Item {
                        room: 2,
                        id: 80,
                        change: 9,
                    },
                ],
            },
        };
        let one = Frame::from(r#"{"type":"message","text":"a\nb"}"#);
        let two = Frame::from(r#"{"type":"message_changed"}"#);
        let bytes = encode(&envelope, &[&one, &two]);
        let (back, frames) = decode(&bytes).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(frames, [one, two]);
    }

    #[test]
    fn a_publication_missing_its_frame_is_unreadable() {
        let envelope = Envelope {
            from: 1,
            seq: 1,
            event: Event::User { user: 3 },
        };
        assert_eq!(decode(&encode(&envelope, &[])), Err(Unreadable));
        assert_eq!(decode(b"not json"), Err(Unreadable));
        assert_eq!(decode(&[0xff, 0xfe]), Err(Unreadable));
    }
}
