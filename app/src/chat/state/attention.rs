//! What calls for the reader's attention: a message that mentions them (counted apart in the
//! sidebar) or that came in one of their direct conversations. The newest such message is
//! [`Chat::attention`], which the page turns into a browser notification while the tab is
//! hidden (`chat::notifications`).

use leptos::prelude::*;

use super::Chat;
use crate::format;
use crate::protocol::{ChatMessage, MessageKind, RoomKind};

/// The longest text a notification shows, in characters.
const SHOWN_CHARS: usize = 140;

/// A message worth a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attention {
    pub room: i64,
    pub message: i64,
    /// "bob" in a direct conversation, "bob in lobby" for a mention in a room.
    pub title: String,
    /// The start of the message's text.
    pub body: String,
}

impl Chat {
    /// Whether `message` (by someone else) mentions this reader.
    pub(super) fn mentions_me(&self, message: &ChatMessage) -> bool {
        message.kind == MessageKind::Text
            && self.me.with_untracked(|me| {
                me.as_ref()
                    .is_some_and(|me| format::mentions(&message.text, &me.name))
            })
    }

    /// A new message by someone else arrived: if it mentions the reader or came in a direct
    /// conversation, it becomes [`Chat::attention`].
    pub(super) fn maybe_attention(&self, message: &ChatMessage, mentions_me: bool) {
        let Some(room) = self.room(message.room) else {
            return;
        };
        let direct = room.kind == RoomKind::Direct;
        if message.kind != MessageKind::Text || !(direct || mentions_me) {
            return;
        }
        let author = &message.author.name;
        let title = if direct {
            author.clone()
        } else {
            format!("{author} in {}", room.name)
        };
        let mut body: String = message.text.chars().take(SHOWN_CHARS).collect();
        if message.text.chars().nth(SHOWN_CHARS).is_some() {
            body.push('…');
        }
        self.attention.set(Some(Attention {
            room: message.room,
            message: message.id,
            title,
            body,
        }));
    }
}
