//! Who is typing in which room ("alice is typing…"), and telling the server when this user
//! types (at most once every 3 s a room: the server drops more anyway).

use std::collections::HashMap;

use leptos::prelude::*;

use super::{Chat, now_ms};
use crate::protocol::{ClientFrame, TYPING_SHOWN_MS, User};

/// The least time between two `typing` frames of this tab for one room.
const SEND_EVERY_MS: i64 = 3_000;

/// Per room, who is typing and until when (Unix ms) it is shown.
pub type Typists = HashMap<i64, Vec<(User, i64)>>;

impl Chat {
    /// A `typing` frame: these people are writing in `room` (this user's own tabs aside).
    pub(super) fn typing_in(&self, room: i64, users: Vec<User>) {
        let me = self.me.get_untracked().map(|u| u.id);
        let until = now_ms() + TYPING_SHOWN_MS;
        self.typing.update(|all| {
            let list = all.entry(room).or_default();
            for user in users.into_iter().filter(|u| Some(u.id) != me) {
                list.retain(|(u, _)| u.id != user.id);
                list.push((user, until));
            }
        });
    }

    /// `user`'s message arrived in `room`: they are no longer typing it.
    pub(super) fn stopped_typing(&self, room: i64, user: i64) {
        let typing = self.typing.with_untracked(|all| {
            all.get(&room)
                .is_some_and(|l| l.iter().any(|(u, _)| u.id == user))
        });
        if typing {
            self.typing.update(|all| {
                if let Some(list) = all.get_mut(&room) {
                    list.retain(|(u, _)| u.id != user);
                }
            });
        }
    }

    /// Forgets the typists shown until `now` or before.
    pub fn forget_typists(&self, now: i64) {
        self.typing.update(|all| {
            for list in all.values_mut() {
                list.retain(|&(_, until)| until > now);
            }
            all.retain(|_, list| !list.is_empty());
        });
    }

    /// When the next typist is to be forgotten, if anyone is typing.
    pub fn next_typist_end(&self) -> Option<i64> {
        self.typing
            .with(|all| all.values().flatten().map(|&(_, until)| until).min())
    }

    /// "alice is typing…", "alice and bob are typing…", "several people are typing…", or
    /// nothing, for `room`.
    pub fn typing_line(&self, room: i64) -> Option<String> {
        self.typing.with(|all| {
            let names: Vec<&str> = all
                .get(&room)?
                .iter()
                .map(|(u, _)| u.name.as_str())
                .collect();
            match names.as_slice() {
                [] => None,
                [one] => Some(format!("{one} is typing…")),
                [one, two] => Some(format!("{one} and {two} are typing…")),
                _ => Some("several people are typing…".to_owned()),
            }
        })
    }

    /// This user typed in `room`: tell the server, unless this tab did less than 3 s ago.
    pub fn typed(&self, room: i64) {
        let now = now_ms();
        let due = self.typing_sent.try_update_value(|sent| {
            if sent.get(&room).is_some_and(|&at| now - at < SEND_EVERY_MS) {
                false
            } else {
                sent.insert(room, now);
                true
            }
        });
        if due == Some(true) {
            self.send(ClientFrame::Typing { room });
        }
    }
}
