//! The messages of one room the client holds, and the window a search result opens: a page
//! around the found message, shown on its own until scrolling down joins it up with the
//! room's newest messages.

use leptos::prelude::*;

use super::Chat;
use crate::protocol::{ChatMessage, ClientFrame};

/// The messages of one room the client has, sorted by id, without duplicates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoomLog {
    pub messages: Vec<ChatMessage>,
    /// Whether older messages exist before the first one here.
    pub has_more: bool,
    /// Whether the newest page has been fetched.
    pub loaded: bool,
    /// An older page has been asked for and not arrived yet.
    pub loading_older: bool,
    /// What is held here may not join up with the room's newest messages (more was missed than
    /// a reconnect replays, or a room seen only as a preview): the next newest page drops what
    /// is older than it instead of merging with it.
    pub gap: bool,
    /// Messages after this id may be missing up to the next one held: the log holds a page
    /// fetched around a found message that has not joined up with the room's newest yet. Only
    /// what is up to it is shown; scrolling down fetches the rest (see `window.rs`).
    pub newer_gap: Option<i64>,
    /// A page after [`RoomLog::newer_gap`] has been asked for and not arrived yet.
    pub loading_newer: bool,
}

impl RoomLog {
    /// Inserts in id order, or refreshes the copy here if this one carries a newer change (a
    /// page fetched after an edit); false if nothing changed.
    ///
    /// The feedback marker only ever appears: room-wide edits and deletions never carry it, so
    /// a newer copy keeps the one held, and a copy that has it (a page fetched after feedback
    /// was given) marks the one held even without a newer change.
    pub fn insert(&mut self, message: ChatMessage) -> bool {
        match self.messages.binary_search_by_key(&message.id, |m| m.id) {
            Ok(at) => {
                let held = &mut self.messages[at];
                if message.change > held.change {
                    let feedback = held.feedback || message.feedback;
                    *held = ChatMessage {
                        feedback,
                        ..message
                    };
                    true
                } else if message.feedback && !held.feedback {
                    held.feedback = true;
                    true
                } else {
                    false
                }
            }
            Err(at) => {
                self.messages.insert(at, message);
                true
            }
        }
    }

    /// Marks message `id` as having feedback; false if it is not here or was marked already.
    pub fn mark_feedback(&mut self, id: i64) -> bool {
        match self.messages.binary_search_by_key(&id, |m| m.id) {
            Ok(at) if !self.messages[at].feedback => {
                self.messages[at].feedback = true;
                true
            }
            _ => false,
        }
    }

    pub fn get(&self, id: i64) -> Option<&ChatMessage> {
        self.messages
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .map(|at| &self.messages[at])
    }

    /// The messages shown: all of them, or up to [`RoomLog::newer_gap`].
    pub fn visible(&self) -> &[ChatMessage] {
        match self.newer_gap {
            Some(gap) => &self.messages[..self.messages.partition_point(|m| m.id <= gap)],
            None => &self.messages,
        }
    }

    pub fn oldest(&self) -> Option<i64> {
        self.messages.first().map(|m| m.id)
    }

    pub fn newest(&self) -> Option<i64> {
        self.messages.last().map(|m| m.id)
    }
}

impl RoomLog {
    /// Merges a page fetched around a found message (`history_around`). A window from an
    /// earlier search is dropped first, so the log never holds more than one gap.
    pub fn merge_around(&mut self, page: Vec<ChatMessage>, has_more: bool, has_newer: bool) {
        if let Some(gap) = self.newer_gap.take() {
            self.messages.retain(|m| m.id > gap);
            self.has_more = true;
            self.loading_newer = false;
        }
        let (Some(first), Some(last)) = (page.first().map(|m| m.id), page.last().map(|m| m.id))
        else {
            return;
        };
        match self.oldest() {
            // Held messages (the room's newest) begin after the page: there may be messages
            // between the two, unless the page reaches the newest.
            Some(oldest) if first < oldest => {
                self.has_more = has_more;
                if has_newer && last < oldest {
                    self.newer_gap = Some(last);
                }
            }
            Some(_) => {}
            None => {
                self.has_more = has_more;
                self.loaded = true;
                if has_newer {
                    self.newer_gap = Some(last);
                }
            }
        }
        for message in page {
            self.insert(message);
        }
    }

    /// Merges a page of the messages after `after` (`history_newer`): the gap closes when the
    /// page reaches the newest messages or those held after it.
    pub fn merge_newer(&mut self, after: i64, page: Vec<ChatMessage>, has_newer: bool) {
        self.loading_newer = false;
        if self.newer_gap != Some(after) {
            return; // asked for a gap that is gone (another search, a jump to the newest)
        }
        let next_held = self.messages.iter().map(|m| m.id).find(|&id| id > after);
        let last = page.last().map_or(after, |m| m.id);
        let joined_up = !has_newer || next_held.is_some_and(|next| last >= next);
        for message in page {
            self.insert(message);
        }
        self.newer_gap = (!joined_up).then_some(last);
    }
}

impl Chat {
    /// Asks for the page after the window on screen, once at a time.
    pub fn load_newer(&self, room: i64) {
        let after = self.logs.try_update(|logs| {
            let log = logs.get_mut(&room)?;
            let gap = log.newer_gap.filter(|_| !log.loading_newer)?;
            log.loading_newer = true;
            Some(gap)
        });
        if let Some(Some(after)) = after {
            self.send(ClientFrame::HistoryNewer { room, after });
        }
    }

    /// Whether the room on screen shows a window that has not joined up with the newest yet.
    pub fn has_newer_gap(&self, room: i64) -> bool {
        self.logs
            .with(|logs| logs.get(&room).is_some_and(|log| log.newer_gap.is_some()))
    }

    /// Leaves a window for the room's newest page: what is held after the gap stays, the rest
    /// goes, and the newest page drops whatever older fragment is left beside it.
    pub fn jump_to_newest(&self, room: i64) {
        let jumped = self.logs.try_update(|logs| {
            let log = logs.get_mut(&room)?;
            let gap = log.newer_gap.take()?;
            log.messages.retain(|m| m.id > gap);
            log.loading_newer = false;
            log.gap = true;
            log.loaded = false;
            Some(())
        });
        if let Some(Some(())) = jumped {
            self.send(ClientFrame::History { room, before: None });
        }
    }
}
