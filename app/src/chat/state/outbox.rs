//! The outbox: messages written in this tab that the server has not stored yet.
//!
//! A message leaves the composer at once and waits here, shown in its room as this user's own,
//! "Sending…". It goes out with its nonce when written if the socket is up, and again after
//! every welcome until the server answers: the server stores a nonce once and answers a repeat
//! with the same `sent`, so a resend after a dropped connection never doubles it. `sent`
//! clears it (the message itself arrives from the room's broadcast); a refusal leaves it here,
//! "Not sent" with the reason, for Retry; "too fast" puts the text back in the composer.

use leptos::prelude::*;

use super::{Chat, Status, now_ms};
use crate::chat::message::{clock, clock_seconds};
use crate::protocol::{ClientFrame, ErrorCode, MessageKind, muted_notice};

/// Where a message written in this tab stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Waiting for the connection, or sent and not answered yet: "Sending…".
    Sending,
    /// Stored as message `id`, which has not arrived yet: shown as sent until it does.
    Stored(i64),
    /// Refused, for this reason: "Not sent", with Retry.
    NotSent(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub nonce: String,
    pub room: i64,
    pub text: String,
    /// When it was written (Unix ms).
    pub written_at: i64,
    pub delivery: Delivery,
    /// A message of this user with the same text that arrived in the room before this one's
    /// `sent` (the broadcast may overtake the acknowledgement): most likely this very message,
    /// so it is hidden while that message is shown. A guess only: the `sent` or a refusal
    /// settles it.
    pub seen: Option<i64>,
}

impl Outgoing {
    /// The id of the message this entry already is on screen, if any.
    fn shown_as(&self) -> Option<i64> {
        match self.delivery {
            Delivery::Stored(id) => Some(id),
            Delivery::Sending => self.seen,
            Delivery::NotSent(_) => None,
        }
    }
}

impl Chat {
    /// Posts a message: it joins the outbox and goes out now if the connection is up, or after
    /// the next welcome otherwise.
    pub fn post(&self, room: i64, text: String) {
        let entry = Outgoing {
            nonce: self.new_nonce(),
            room,
            text,
            written_at: now_ms(),
            delivery: Delivery::Sending,
            seen: None,
        };
        self.composer_error.set(None);
        if self.status.get_untracked() == Status::Online {
            self.transmit(&entry);
        }
        self.outbox.update(|outbox| outbox.push(entry));
    }

    /// Sends a message that was not sent again, with its nonce.
    pub fn retry(&self, nonce: &str) {
        let mut again = None;
        self.outbox.update(|outbox| {
            if let Some(entry) = outbox.iter_mut().find(|e| e.nonce == nonce) {
                entry.delivery = Delivery::Sending;
                entry.seen = None;
                again = Some(entry.clone());
            }
        });
        if let Some(entry) = again
            && self.status.get_untracked() == Status::Online
        {
            self.transmit(&entry);
        }
    }

    /// Drops a message that was not sent.
    pub fn discard(&self, nonce: &str) {
        self.outbox
            .update(|outbox| outbox.retain(|e| e.nonce != nonce));
    }

    /// The outbox entries to show in `room`: not yet stored, or stored and not arrived.
    pub fn outgoing(&self, room: i64) -> Vec<Outgoing> {
        self.outbox.with(|outbox| {
            self.logs.with(|logs| {
                let log = logs.get(&room);
                outbox
                    .iter()
                    .filter(|e| e.room == room)
                    .filter(|e| {
                        e.shown_as()
                            .is_none_or(|id| log.is_none_or(|log| log.get(id).is_none()))
                    })
                    .cloned()
                    .collect()
            })
        })
    }

    fn transmit(&self, entry: &Outgoing) {
        self.send(ClientFrame::Send {
            room: entry.room,
            text: entry.text.clone(),
            nonce: Some(entry.nonce.clone()),
        });
    }

    /// After a welcome: what was stored meanwhile arrives as catch-up (or from history); what
    /// was not answered goes again, in the order written.
    pub(super) fn resend_outbox(&self) {
        self.outbox.update(|outbox| {
            outbox.retain(|e| !matches!(e.delivery, Delivery::Stored(_)));
        });
        let waiting: Vec<Outgoing> = self.outbox.with_untracked(|outbox| {
            outbox
                .iter()
                .filter(|e| e.delivery == Delivery::Sending)
                .cloned()
                .collect()
        });
        for entry in &waiting {
            self.transmit(entry);
        }
    }

    /// The server stored the message with `nonce` as `id`.
    pub(super) fn acknowledged(&self, nonce: &str, id: i64) {
        let Some(room) = self
            .outbox
            .with_untracked(|outbox| outbox.iter().find(|e| e.nonce == nonce).map(|e| e.room))
        else {
            return;
        };
        let arrived = self
            .logs
            .with_untracked(|logs| logs.get(&room).is_some_and(|log| log.get(id).is_some()));
        self.outbox.update(|outbox| {
            if arrived {
                outbox.retain(|e| e.nonce != nonce);
            } else if let Some(entry) = outbox.iter_mut().find(|e| e.nonce == nonce) {
                entry.delivery = Delivery::Stored(id);
                entry.seen = None;
            }
        });
    }

    /// A message arrived in `room`: the entry stored as it is done, and if it is this user's
    /// own text that some entry still awaits an answer for, that entry is most likely it (see
    /// [`Outgoing::seen`]).
    pub(super) fn arrived(&self, id: i64, room: i64, kind: MessageKind, mine: bool, text: &str) {
        let (stored, guessed) = self.outbox.with_untracked(|outbox| {
            let stored = outbox.iter().any(|e| e.delivery == Delivery::Stored(id));
            let guessed = (mine && kind == MessageKind::Text && !stored)
                .then(|| {
                    outbox.iter().position(|e| {
                        e.room == room
                            && e.delivery == Delivery::Sending
                            && e.seen.is_none()
                            && e.text == text
                    })
                })
                .flatten();
            (stored, guessed)
        });
        if stored {
            self.outbox
                .update(|outbox| outbox.retain(|e| e.delivery != Delivery::Stored(id)));
        } else if let Some(at) = guessed {
            self.outbox.update(|outbox| outbox[at].seen = Some(id));
        }
    }

    /// The server refused the message with `nonce`; false if no such message is waiting here.
    pub(super) fn refused(
        &self,
        nonce: &str,
        code: ErrorCode,
        message: String,
        until: Option<i64>,
    ) -> bool {
        let Some(entry) = self
            .outbox
            .with_untracked(|outbox| outbox.iter().find(|e| e.nonce == nonce).cloned())
        else {
            return false;
        };
        let reason = match (code, until) {
            (ErrorCode::RateLimited, Some(until)) => {
                format!("{message} You can send again at {}.", clock_seconds(until))
            }
            (ErrorCode::Muted, Some(until)) => {
                self.set_muted_until(entry.room, Some(until));
                muted_notice(until, clock)
            }
            _ => message,
        };
        // Too fast: nothing was stored, and the person only has to wait. The text goes back
        // where it was written, if the composer is on that room and empty (otherwise it would
        // overwrite something, or go to another room: it stays here, Not sent, for Retry).
        if code == ErrorCode::RateLimited
            && self.current.get_untracked() == entry.room
            && self.draft.with_untracked(String::is_empty)
        {
            self.outbox
                .update(|outbox| outbox.retain(|e| e.nonce != nonce));
            self.draft.set(entry.text);
            self.composer_error.set(Some(reason));
            return true;
        }
        self.outbox.update(|outbox| {
            if let Some(entry) = outbox.iter_mut().find(|e| e.nonce == nonce) {
                entry.delivery = Delivery::NotSent(reason);
                entry.seen = None;
            }
        });
        true
    }
}
