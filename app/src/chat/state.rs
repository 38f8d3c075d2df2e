//! The browser's picture of the chat: rooms, messages and their edits, members, presence,
//! mutes, this user's role, teachers' feedback and the connection status, as signals, and how
//! each server frame changes it.
//!
//! Nothing here touches the network or the DOM, so the same code renders on the server
//! (with everything empty) and runs in the browser.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;

use crate::names::check_feedback;
use crate::protocol::{
    ClientFrame, LOBBY_ID, MUTED_INDEFINITELY, Role, RoomKind, RoomSummary, User,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Online,
    Reconnecting,
    /// The account has too many sockets open (close code 4008): this tab retries slowly.
    TooManyTabs,
    /// The session ended (signed out, disabled, expired): the page goes to the sign-in page.
    SignedOut,
}

impl Status {
    /// What the header's status line says.
    pub fn text(self) -> &'static str {
        match self {
            Status::Connecting => "Connecting…",
            Status::Online => "",
            Status::Reconnecting => "Reconnecting…",
            Status::TooManyTabs => {
                "Too many tabs or devices are connected to this account. Close one; this tab tries again every 30 seconds."
            }
            Status::SignedOut => "Your session has ended; going to the sign-in page…",
        }
    }
}

#[cfg(feature = "hydrate")]
pub type Outbox = futures::channel::mpsc::UnboundedSender<ClientFrame>;
#[cfg(not(feature = "hydrate"))]
pub type Outbox = ();

/// The current time, Unix ms.
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// Shared through context; every field is a cheap `Copy` handle.
#[derive(Clone, Copy)]
pub struct Chat {
    pub me: RwSignal<Option<User>>,
    /// This user's role: staff see moderation buttons everywhere, the administrator a link to
    /// the accounts page. A hint for the screen only; the server decides.
    pub role: RwSignal<Role>,
    /// Feedback on this user's messages not read yet (on /feedback): the header's count.
    pub feedback_unread: RwSignal<u32>,
    /// The newest message that mentions this user or came in their direct conversations.
    pub attention: RwSignal<Option<Attention>>,
    /// The server lets teachers review direct conversations: they may give feedback there, and
    /// each conversation says so.
    pub direct_reviewable: RwSignal<bool>,
    /// The message whose feedback form is open in this tab (one at a time). Kept here rather
    /// than in the message's row, so that the row being redrawn (the author edits the message)
    /// loses nothing.
    pub feedback_form: RwSignal<Option<i64>>,
    /// The text in the open feedback form.
    pub feedback_draft: RwSignal<String>,
    /// The open feedback form's problem: unsendable text, or a dropped connection.
    pub feedback_error: RwSignal<Option<String>>,
    /// The message whose feedback was sent and awaits its `feedback_given`: the form closes
    /// when it comes.
    pub feedback_pending: RwSignal<Option<i64>>,
    pub rooms: RwSignal<Vec<RoomSummary>>,
    pub logs: RwSignal<HashMap<i64, RoomLog>>,
    pub members: RwSignal<HashMap<i64, Vec<User>>>,
    /// Who is muted in each room whose members were asked for: user id → until (Unix ms).
    pub muted: RwSignal<HashMap<i64, HashMap<i64, i64>>>,
    pub online: RwSignal<HashSet<i64>>,
    /// Per room whose members were asked for: the last name of the last page received, while
    /// another page follows (`more_members` asks for it).
    pub members_after: RwSignal<HashMap<i64, String>>,
    pub users: RwSignal<Vec<User>>,
    /// The last name of the last page of accounts received, while another page follows.
    pub users_after: RwSignal<Option<String>>,
    pub status: RwSignal<Status>,
    /// The time mutes are compared with (Unix ms); the chat page refreshes it when one ends.
    pub now: RwSignal<i64>,
    /// The room on screen.
    pub current: RwSignal<i64>,
    /// A message for everyone to see (a failed command, a deleted room).
    pub notice: RwSignal<Option<String>>,
    /// The composer's problem: an unsendable message, or the server's "too fast".
    pub composer_error: RwSignal<Option<String>>,
    /// The text in the composer (here rather than in the composer, so that a message sent too
    /// fast can come back into it).
    pub draft: RwSignal<String>,
    /// Messages written in this tab that the server has not stored yet, in the order written:
    /// shown in their room as "Sending…" or "Not sent". See `outbox.rs`.
    pub outbox: RwSignal<Vec<Outgoing>>,
    /// Where to go next (set when the current room disappears or a new room is ready).
    pub go_to: RwSignal<Option<String>>,
    /// A room this tab asked to create or a person it asked to talk to: open it when it appears.
    pub awaiting: RwSignal<Option<String>>,
    /// The last search and its results (see `search.rs`).
    pub search: RwSignal<Search>,
    /// A message chosen among search results: the room's log scrolls to it and marks it.
    pub found: RwSignal<Option<i64>>,
    /// Who is typing where (see `typing.rs`).
    pub typing: RwSignal<Typists>,
    /// When this tab last told the server it types, per room (Unix ms).
    pub typing_sent: StoredValue<HashMap<i64, i64>>,
    /// The change cursor: the welcome's `changes`, raised by every live `message_changed`.
    /// A reconnect sends it, and the server replays the edits and deletions made since.
    pub changes: StoredValue<i64>,
    /// The resume cursor: the newest message id received as a `message` frame (live, or
    /// replayed after a reconnect) in a room this user is in; before the first such message,
    /// the newest message of their rooms at the first welcome. History pages and previews of
    /// other rooms never move it: the server streams a connection's messages in id order, so
    /// everything in this user's rooms up to it has reached this tab, and nothing after it is
    /// skipped on reconnect.
    pub resume: StoredValue<Option<i64>>,
    /// The connection task's end of the channel to the socket.
    pub sender: StoredValue<Option<Outbox>>,
    /// Set once the socket task runs, so it starts only once per page.
    pub started: StoredValue<bool>,
    /// This page is signing out (its form was sent): the socket's close that follows needs no
    /// trip to the sign-in page, the form's answer goes there.
    pub leaving: StoredValue<bool>,
    /// Makes this page's nonces unlike any other page's: the server treats a `send` whose nonce
    /// it has seen from this user as a repeat (so a resend after a reconnect is stored once).
    pub nonce_prefix: StoredValue<String>,
    next_nonce: StoredValue<u64>,
}

impl Chat {
    pub fn new() -> Self {
        Chat {
            me: RwSignal::new(None),
            role: RwSignal::new(Role::Member),
            feedback_unread: RwSignal::new(0),
            attention: RwSignal::new(None),
            direct_reviewable: RwSignal::new(false),
            feedback_form: RwSignal::new(None),
            feedback_draft: RwSignal::new(String::new()),
            feedback_error: RwSignal::new(None),
            feedback_pending: RwSignal::new(None),
            rooms: RwSignal::new(Vec::new()),
            logs: RwSignal::new(HashMap::new()),
            members: RwSignal::new(HashMap::new()),
            muted: RwSignal::new(HashMap::new()),
            online: RwSignal::new(HashSet::new()),
            users: RwSignal::new(Vec::new()),
            users_after: RwSignal::new(None),
            members_after: RwSignal::new(HashMap::new()),
            status: RwSignal::new(Status::Connecting),
            now: RwSignal::new(now_ms()),
            current: RwSignal::new(LOBBY_ID),
            notice: RwSignal::new(None),
            composer_error: RwSignal::new(None),
            draft: RwSignal::new(String::new()),
            outbox: RwSignal::new(Vec::new()),
            go_to: RwSignal::new(None),
            awaiting: RwSignal::new(None),
            search: RwSignal::new(Search::default()),
            found: RwSignal::new(None),
            typing: RwSignal::new(HashMap::new()),
            typing_sent: StoredValue::new(HashMap::new()),
            changes: StoredValue::new(0),
            resume: StoredValue::new(None),
            sender: StoredValue::new(None),
            started: StoredValue::new(false),
            leaving: StoredValue::new(false),
            nonce_prefix: StoredValue::new("m".to_owned()),
            next_nonce: StoredValue::new(0),
        }
    }

    /// Queues a frame for the server; false if there is no connection task.
    pub fn send(&self, frame: ClientFrame) -> bool {
        #[cfg(feature = "hydrate")]
        {
            self.sender.with_value(|sender| {
                sender
                    .as_ref()
                    .is_some_and(|tx| tx.unbounded_send(frame).is_ok())
            })
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = frame;
            false
        }
    }

    /// A nonce no other message of this user carries.
    fn new_nonce(&self) -> String {
        let n = self.next_nonce.get_value();
        self.next_nonce.set_value(n + 1);
        format!("{}{n}", self.nonce_prefix.get_value())
    }

    pub fn room(&self, id: i64) -> Option<RoomSummary> {
        self.rooms
            .with(|rooms| rooms.iter().find(|r| r.id == id).cloned())
    }

    /// Whether this user may manage `room` (rename, delete, add people, mute, delete others'
    /// messages): a named room, and staff or its creator. A hint for showing buttons; the
    /// server decides.
    pub fn moderates(&self, room: &RoomSummary) -> bool {
        room.kind == RoomKind::Room
            && (self.role.get().is_staff()
                || (room.created_by.is_some() && room.created_by == self.me.get().map(|u| u.id)))
    }

    /// Whether this user may give feedback on messages in `room`: staff, in a named room, or in
    /// a direct conversation when the server lets teachers review those. A hint for showing
    /// the button; the server decides.
    pub fn reviews(&self, room: &RoomSummary) -> bool {
        self.role.get().is_staff() && (room.kind == RoomKind::Room || self.direct_reviewable.get())
    }

    /// Opens the feedback form on `message` (closing any other), empty.
    pub fn open_feedback(&self, message: i64) {
        self.feedback_draft.set(String::new());
        self.feedback_error.set(None);
        self.feedback_pending.set(None);
        self.feedback_form.set(Some(message));
    }

    /// Closes the feedback form, dropping its text.
    pub fn close_feedback(&self) {
        self.feedback_form.set(None);
        self.feedback_draft.set(String::new());
        self.feedback_error.set(None);
        self.feedback_pending.set(None);
    }

    /// Sends `text` as feedback on `message`, once it is acceptable and the socket is up;
    /// otherwise says why. The form stays open until the server's `feedback_given` (a refusal
    /// comes as a notice, and the text is still there to send again).
    pub fn give_feedback(&self, message: i64, text: String) -> Result<(), String> {
        check_feedback(&text)?;
        if self.status.get_untracked() != Status::Online {
            return Err(
                "Not connected right now; your feedback is kept here. Send it once reconnected."
                    .into(),
            );
        }
        self.feedback_error.set(None);
        self.feedback_pending.set(Some(message));
        self.send(ClientFrame::GiveFeedback { message, text });
        Ok(())
    }

    /// Until when this user is muted in `room`, if that is still ahead of [`Chat::now`].
    pub fn muted_until(&self, room: i64) -> Option<i64> {
        let until = self
            .rooms
            .with(|rooms| rooms.iter().find(|r| r.id == room)?.muted_until)?;
        (until > self.now.get()).then_some(until)
    }

    /// Whether `user` is muted in `room` now (known once the room's members were asked for).
    pub fn is_muted(&self, room: i64, user: i64) -> bool {
        let until = self
            .muted
            .with(|all| all.get(&room).and_then(|m| m.get(&user)).copied());
        until.is_some_and(|until| until > self.now.get())
    }

    /// The ends of every timed mute the client knows of: when the screen has to change.
    pub fn mute_ends(&self) -> Vec<i64> {
        let mut ends: Vec<i64> = self
            .rooms
            .with(|rooms| rooms.iter().filter_map(|r| r.muted_until).collect());
        self.muted
            .with(|all| ends.extend(all.values().flat_map(|m| m.values().copied())));
        ends.retain(|&until| until != MUTED_INDEFINITELY);
        ends
    }

    /// Where a reconnect resumes: see [`Chat::resume`].
    pub fn resume_cursor(&self) -> Option<i64> {
        self.resume.get_value()
    }

    /// The change cursor to send in a hello: none before the first welcome (nothing to catch
    /// up on yet).
    pub fn change_cursor(&self) -> Option<i64> {
        self.me
            .with_untracked(Option::is_some)
            .then(|| self.changes.get_value())
    }

    /// Asks for the next page of `room`'s members, if another follows.
    pub fn more_members(&self, room: i64) {
        if let Some(after) = self
            .members_after
            .with_untracked(|all| all.get(&room).cloned())
        {
            self.send(ClientFrame::MoreMembers { room, after });
        }
    }

    /// Asks for the next page of accounts, if another follows.
    pub fn more_users(&self) {
        if let Some(after) = self.users_after.get_untracked() {
            self.send(ClientFrame::MoreUsers { after });
        }
    }

    /// Asks for what the room on screen needs: its newest page, its members, and marks it read.
    pub fn open_room(&self, room: i64) {
        let loaded = self
            .logs
            .with_untracked(|logs| logs.get(&room).is_some_and(|log| log.loaded));
        if !loaded {
            self.send(ClientFrame::History { room, before: None });
        }
        self.send(ClientFrame::Members { room });
        self.mark_read(room);
    }

    /// Asks for the page before the oldest message on screen, once at a time.
    pub fn load_older(&self, room: i64) {
        let before = self.logs.try_update(|logs| {
            let log = logs.get_mut(&room)?;
            if !log.has_more || log.loading_older {
                return None;
            }
            log.loading_older = true;
            log.oldest()
        });
        if let Some(Some(before)) = before {
            self.send(ClientFrame::History {
                room,
                before: Some(before),
            });
        }
    }

    /// Marks the room read up to its newest message, telling the server if anything was
    /// unread.
    pub fn mark_read(&self, room: i64) {
        let Some(summary) = self
            .rooms
            .with_untracked(|rooms| rooms.iter().find(|r| r.id == room).cloned())
        else {
            return;
        };
        if !summary.joined || (summary.unread == 0 && summary.last_read >= summary.latest) {
            return;
        }
        self.update_room(room, |r| {
            r.unread = 0;
            r.mentions = 0;
            r.last_read = r.last_read.max(r.latest);
        });
        if summary.unread > 0 {
            self.send(ClientFrame::MarkRead {
                room,
                message: summary.latest,
            });
        }
    }

    /// The connection dropped: whatever was in flight may or may not have arrived. Messages
    /// stay in the outbox, "Sending…", and go again with the same nonces after the next
    /// welcome (the server stores a nonce once).
    pub fn disconnected(&self) {
        self.status.set(Status::Reconnecting);
        if self.search.with_untracked(|s| s.loading) {
            self.search_failed("The connection dropped; search again once reconnected.".into());
        }
        if self.feedback_pending.get_untracked().is_some() {
            self.feedback_pending.set(None);
            self.feedback_error
                .set(Some("The connection dropped before the server confirmed this feedback. It is still here; check the message's marker and send it again if needed.".into()));
        }
    }

    /// The named rooms this user belongs to, in creation order.
    pub fn my_rooms(&self) -> Vec<RoomSummary> {
        self.named_rooms(true)
    }

    /// The named rooms this user knows of (listed or announced) and is not in, in creation order.
    pub fn rooms_to_join(&self) -> Vec<RoomSummary> {
        self.named_rooms(false)
    }

    fn named_rooms(&self, joined: bool) -> Vec<RoomSummary> {
        let mut list: Vec<RoomSummary> = self.rooms.with(|rooms| {
            rooms
                .iter()
                .filter(|r| r.kind == RoomKind::Room && r.joined == joined)
                .cloned()
                .collect()
        });
        list.sort_by_key(|r| r.id);
        list
    }

    /// Direct conversations, by the other person's name.
    pub fn conversations(&self) -> Vec<RoomSummary> {
        let mut list: Vec<RoomSummary> = self.rooms.with(|rooms| {
            rooms
                .iter()
                .filter(|r| r.kind == RoomKind::Direct)
                .cloned()
                .collect()
        });
        list.sort_by_key(|r| r.name.to_lowercase());
        list
    }
}

impl Default for Chat {
    fn default() -> Self {
        Self::new()
    }
}

mod attention;
mod frames;
mod log;
mod outbox;
mod search;
#[cfg(test)]
pub(crate) mod tests;
mod typing;

pub use attention::Attention;
pub use log::RoomLog;
pub use outbox::{Delivery, Outgoing};
pub use search::Search;
pub use typing::Typists;
