//! The browser's picture of the chat: rooms, messages and their edits, members, presence,
//! mutes, this user's role and the connection status, as signals, and how each server frame
//! changes it.
//!
//! Nothing here touches the network or the DOM, so the same code renders on the server
//! (with everything empty) and runs in the browser.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;

use super::message::clock;
use crate::protocol::{
    ChatMessage, ClientFrame, ErrorCode, LOBBY_ID, MUTED_INDEFINITELY, MessageKind, Role, RoomKind,
    RoomSummary, ServerFrame, User, muted_notice,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Online,
    Reconnecting,
}

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
}

impl RoomLog {
    /// Inserts in id order, or refreshes the copy here if this one carries a newer change (a
    /// page fetched after an edit); false if nothing changed.
    pub fn insert(&mut self, message: ChatMessage) -> bool {
        match self.messages.binary_search_by_key(&message.id, |m| m.id) {
            Ok(at) if message.change > self.messages[at].change => {
                self.messages[at] = message;
                true
            }
            Ok(_) => false,
            Err(at) => {
                self.messages.insert(at, message);
                true
            }
        }
    }

    pub fn get(&self, id: i64) -> Option<&ChatMessage> {
        self.messages
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .map(|at| &self.messages[at])
    }

    pub fn oldest(&self) -> Option<i64> {
        self.messages.first().map(|m| m.id)
    }

    pub fn newest(&self) -> Option<i64> {
        self.messages.last().map(|m| m.id)
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
    pub rooms: RwSignal<Vec<RoomSummary>>,
    pub logs: RwSignal<HashMap<i64, RoomLog>>,
    pub members: RwSignal<HashMap<i64, Vec<User>>>,
    /// Who is muted in each room whose members were asked for: user id → until (Unix ms).
    pub muted: RwSignal<HashMap<i64, HashMap<i64, i64>>>,
    pub online: RwSignal<HashSet<i64>>,
    pub users: RwSignal<Vec<User>>,
    pub status: RwSignal<Status>,
    /// The time mutes are compared with (Unix ms); the chat page refreshes it when one ends.
    pub now: RwSignal<i64>,
    /// The room on screen.
    pub current: RwSignal<i64>,
    /// A message for everyone to see (a failed command, a deleted room).
    pub notice: RwSignal<Option<String>>,
    /// The composer's problem: a refused or unsendable message.
    pub composer_error: RwSignal<Option<String>>,
    /// The nonce of the message waiting for its `sent` acknowledgement.
    pub pending: RwSignal<Option<String>>,
    /// Text of the message that was acknowledged: the composer clears it if unchanged.
    pub delivered: RwSignal<Option<String>>,
    /// Where to go next (set when the current room disappears or a new room is ready).
    pub go_to: RwSignal<Option<String>>,
    /// A room this tab asked to create or a person it asked to talk to: open it when it appears.
    pub awaiting: RwSignal<Option<String>>,
    /// The change cursor: the welcome's `changes`, raised by every live `message_changed`.
    /// A reconnect sends it, and the server replays the edits and deletions made since.
    pub changes: StoredValue<i64>,
    pub outbox: StoredValue<Option<Outbox>>,
    /// Set once the socket task runs, so it starts only once per page.
    pub started: StoredValue<bool>,
    next_nonce: StoredValue<u64>,
}

impl Chat {
    pub fn new() -> Self {
        Chat {
            me: RwSignal::new(None),
            role: RwSignal::new(Role::Member),
            rooms: RwSignal::new(Vec::new()),
            logs: RwSignal::new(HashMap::new()),
            members: RwSignal::new(HashMap::new()),
            muted: RwSignal::new(HashMap::new()),
            online: RwSignal::new(HashSet::new()),
            users: RwSignal::new(Vec::new()),
            status: RwSignal::new(Status::Connecting),
            now: RwSignal::new(now_ms()),
            current: RwSignal::new(LOBBY_ID),
            notice: RwSignal::new(None),
            composer_error: RwSignal::new(None),
            pending: RwSignal::new(None),
            delivered: RwSignal::new(None),
            go_to: RwSignal::new(None),
            awaiting: RwSignal::new(None),
            changes: StoredValue::new(0),
            outbox: StoredValue::new(None),
            started: StoredValue::new(false),
            next_nonce: StoredValue::new(0),
        }
    }

    /// Queues a frame for the server; false if there is no connection task.
    pub fn send(&self, frame: ClientFrame) -> bool {
        #[cfg(feature = "hydrate")]
        {
            self.outbox.with_value(|outbox| {
                outbox
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

    /// Posts a message; the composer keeps the text until the server acknowledges it.
    pub fn post(&self, room: i64, text: String) {
        let nonce = self.next_nonce.with_value(|n| format!("m{n}"));
        self.next_nonce.update_value(|n| *n += 1);
        self.pending.set(Some(nonce.clone()));
        self.composer_error.set(None);
        self.send(ClientFrame::Send {
            room,
            text,
            nonce: Some(nonce),
        });
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

    /// The newest message id the client has in any room: where a reconnect resumes.
    pub fn resume_cursor(&self) -> Option<i64> {
        self.logs
            .with_untracked(|logs| logs.values().filter_map(RoomLog::newest).max())
    }

    /// The change cursor to send in a hello: none before the first welcome (nothing to catch
    /// up on yet).
    pub fn change_cursor(&self) -> Option<i64> {
        self.me
            .with_untracked(Option::is_some)
            .then(|| self.changes.get_value())
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
            r.last_read = r.last_read.max(r.latest);
        });
        if summary.unread > 0 {
            self.send(ClientFrame::MarkRead {
                room,
                message: summary.latest,
            });
        }
    }

    /// The connection dropped: whatever was in flight may or may not have arrived.
    pub fn disconnected(&self) {
        self.status.set(Status::Reconnecting);
        if self.pending.get_untracked().is_some() {
            self.pending.set(None);
            self.composer_error
                .set(Some("The connection dropped before the server confirmed this message. It is still here; check the room and send it again if needed.".into()));
        }
    }

    /// Applies one frame from the server.
    pub fn apply(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                me,
                role,
                rooms,
                changes,
                ..
            } => {
                self.me.set(Some(me));
                self.role.set(role);
                self.changes.set_value(changes);
                let current = self.current.get_untracked();
                let listed: HashSet<i64> = rooms.iter().map(|r| r.id).collect();
                let current_listed = listed.contains(&current);
                // Rooms left, removed or deleted while away take their messages with them;
                // the room on screen stays until the server says whether it still exists.
                let kept = |room: &i64| listed.contains(room) || *room == current;
                self.rooms.set(rooms);
                self.status.set(Status::Online);
                // Pages fetched before the drop may have gaps; refetch what is on screen.
                self.logs.update(|logs| {
                    logs.retain(|room, _| kept(room));
                    logs.values_mut().for_each(|log| log.loaded = false);
                });
                self.members.update(|all| all.retain(|room, _| kept(room)));
                self.muted.update(|all| all.retain(|room, _| kept(room)));
                if !current_listed {
                    // A room this user is not in (a link, or a preview before the drop): look
                    // it up. If it is gone, opening it fails with not_found and leads back to
                    // the lobby.
                    self.send(ClientFrame::ListRooms);
                }
                self.open_room(current);
            }
            ServerFrame::Message { message } => self.receive(message),
            ServerFrame::MessageChanged { message } => self.change(message),
            ServerFrame::Sent { nonce, .. } => {
                if self.pending.get_untracked().as_deref() == Some(nonce.as_str()) {
                    self.pending.set(None);
                    self.delivered.set(Some(nonce));
                }
            }
            ServerFrame::History {
                room,
                messages,
                has_more,
            } => {
                let newest_page = self
                    .logs
                    .with_untracked(|logs| logs.get(&room).is_none_or(|log| !log.loading_older));
                self.logs.update(|logs| {
                    let log = logs.entry(room).or_default();
                    let was_older = log.loading_older;
                    if was_older || !log.loaded || log.messages.is_empty() {
                        log.has_more = has_more;
                    }
                    log.loading_older = false;
                    log.loaded = true;
                    // A page is the messages' state now; it does not move the change cursor,
                    // which counts only the changes this client was sent.
                    for message in messages {
                        log.insert(message);
                    }
                });
                if newest_page && self.current.get_untracked() == room {
                    self.mark_read(room);
                }
            }
            ServerFrame::Members {
                room,
                members,
                online,
                muted,
            } => {
                let me = self.me.get_untracked().map(|u| u.id);
                let mine = muted.iter().find(|m| Some(m.user) == me).map(|m| m.until);
                self.members.update(|all| {
                    all.insert(room, members);
                });
                self.muted.update(|all| {
                    all.insert(room, muted.into_iter().map(|m| (m.user, m.until)).collect());
                });
                self.set_muted_until(room, mine);
                // Presence follows for this room's members only: the set starts afresh.
                self.online.set(online.into_iter().collect());
            }
            ServerFrame::RoomAdded { room } => {
                let id = room.id;
                let name = room.name.clone();
                self.rooms.update(|rooms| {
                    if rooms.iter().all(|r| r.id != id) {
                        rooms.push(room);
                    }
                });
                if self
                    .awaiting
                    .get_untracked()
                    .is_some_and(|wanted| wanted.eq_ignore_ascii_case(&name))
                {
                    self.awaiting.set(None);
                    self.go_to.set(Some(format!("/rooms/{id}")));
                }
            }
            ServerFrame::RoomRenamed { room, name } => {
                self.update_room(room, |r| r.name = name);
            }
            ServerFrame::RoomDeleted { room, name } => {
                self.forget_room(room);
                if self.current.get_untracked() == room {
                    self.leave_vanished_room(room, Some(name));
                }
            }
            ServerFrame::RoomRemoved { room, name } => {
                self.forget_room(room);
                if self.current.get_untracked() == room && room != LOBBY_ID {
                    self.notice.set(Some(format!(
                        "You are no longer in “{name}”; you are back in the lobby."
                    )));
                    self.go_to.set(Some(format!("/rooms/{LOBBY_ID}")));
                }
            }
            ServerFrame::Presence { user, online } => {
                self.online.update(|set| {
                    if online {
                        set.insert(user);
                    } else {
                        set.remove(&user);
                    }
                });
            }
            ServerFrame::OnlineCount { room, online } => {
                if self.room(room).is_some_and(|r| r.online != online) {
                    self.update_room(room, |r| r.online = online);
                }
            }
            ServerFrame::MemberMuted { room, user, until } => {
                self.muted.update(|all| {
                    let muted = all.entry(room).or_default();
                    match until {
                        Some(until) => muted.insert(user, until),
                        None => muted.remove(&user),
                    };
                });
                if self.me.get_untracked().is_some_and(|me| me.id == user) {
                    self.set_muted_until(room, until);
                }
            }
            ServerFrame::RoleChanged { role } => self.role.set(role),
            ServerFrame::Users { users } => self.users.set(users),
            ServerFrame::Rooms { rooms: listed } => self.rooms.update(|rooms| {
                // Rooms this client belongs to are kept live since the welcome: keep those
                // entries. Every other named room comes from the listing, which also drops
                // rooms deleted meanwhile.
                rooms.retain(|r| r.joined);
                for room in listed {
                    if rooms.iter().all(|r| r.id != room.id) {
                        rooms.push(room);
                    }
                }
            }),
            ServerFrame::Read { room, message } => {
                self.update_room(room, |r| {
                    r.last_read = r.last_read.max(message);
                    if message >= r.latest {
                        r.unread = 0;
                    }
                });
            }
            ServerFrame::Error {
                code,
                message,
                nonce,
                room,
                until,
            } => {
                if nonce.is_some() && nonce == self.pending.get_untracked() {
                    self.pending.set(None);
                    match until.filter(|_| code == ErrorCode::Muted) {
                        Some(until) => {
                            let room = room.unwrap_or_else(|| self.current.get_untracked());
                            self.set_muted_until(room, Some(until));
                            self.composer_error.set(Some(muted_notice(until, clock)));
                        }
                        None => self.composer_error.set(Some(message)),
                    }
                } else if code == ErrorCode::NotFound
                    && let Some(room) = room
                    && self.vanished(room)
                {
                    self.leave_vanished_room(room, None);
                } else {
                    self.awaiting.set(None);
                    self.notice.set(Some(message));
                }
            }
        }
    }

    fn update_room(&self, room: i64, change: impl FnOnce(&mut RoomSummary)) {
        self.rooms.update(|rooms| {
            if let Some(r) = rooms.iter_mut().find(|r| r.id == room) {
                change(r);
            }
        });
    }

    /// Drops everything the client holds about a room that is gone for this user.
    fn forget_room(&self, room: i64) {
        self.rooms.update(|rooms| rooms.retain(|r| r.id != room));
        self.logs.update(|logs| {
            logs.remove(&room);
        });
        self.members.update(|all| {
            all.remove(&room);
        });
        self.muted.update(|all| {
            all.remove(&room);
        });
    }

    /// Whether a not_found about `room` means the room on screen does not exist (for this
    /// user): it is on screen, this user is not in it (rooms one is in disappear through
    /// `room_deleted` and `room_removed`) and its first page has not come. Any other not_found
    /// naming the room is about something in it: a person to add, a message.
    fn vanished(&self, room: i64) -> bool {
        room == self.current.get_untracked()
            && !self
                .rooms
                .with_untracked(|rooms| rooms.iter().any(|r| r.id == room && r.joined))
            && !self
                .logs
                .with_untracked(|logs| logs.get(&room).is_some_and(|log| log.loaded))
    }

    fn leave_vanished_room(&self, room: i64, name: Option<String>) {
        if room == LOBBY_ID {
            return;
        }
        // A private room this user was removed from while away answers not_found too: its
        // messages must not stay behind.
        self.logs.update(|logs| {
            logs.remove(&room);
        });
        let what = name.map_or_else(|| "That room".to_owned(), |n| format!("The room “{n}”"));
        self.notice.set(Some(format!(
            "{what} no longer exists; you are back in the lobby."
        )));
        self.go_to.set(Some(format!("/rooms/{LOBBY_ID}")));
    }

    /// This user's own mute in `room` changed; an unmute also withdraws the composer's
    /// "You are muted" error.
    fn set_muted_until(&self, room: i64, until: Option<i64>) {
        let before = self.room(room).and_then(|r| r.muted_until);
        if before == until {
            return;
        }
        self.update_room(room, |r| r.muted_until = until);
        if until.is_none()
            && let Some(before) = before
            && self.composer_error.get_untracked() == Some(muted_notice(before, clock))
        {
            self.composer_error.set(None);
        }
    }

    fn receive(&self, message: ChatMessage) {
        let me = self.me.get_untracked().map(|u| u.id);
        let room = message.room;
        let id = message.id;
        let on_screen = self.current.get_untracked() == room;
        let mine = Some(message.author.id) == me;
        let counts = message.kind == MessageKind::Text && !mine;
        // Posting in a room marks it read up to one's own message (the server does the same).
        let clears = message.kind == MessageKind::Text && mine;
        // Membership changes ride on the join/leave and added/removed notices.
        if let Some(joined) = message.kind.membership() {
            if mine {
                self.update_room(room, |r| {
                    r.joined = joined;
                    r.unread = 0;
                    r.last_read = r.last_read.max(id);
                });
                // A preview got no live messages: fetch what was said since it loaded.
                if joined && on_screen {
                    self.send(ClientFrame::History { room, before: None });
                }
            }
            if joined && message.kind == MessageKind::Joined {
                // Joining takes a connection: whoever joined is online. (Someone added by a
                // moderator may well be away.)
                self.online.update(|set| {
                    set.insert(message.author.id);
                });
            }
            self.members.update(|all| {
                if let Some(list) = all.get_mut(&room) {
                    list.retain(|u| u.id != message.author.id);
                    if joined {
                        list.push(message.author.clone());
                        list.sort_by_key(|u| u.name.to_lowercase());
                    }
                }
            });
        }
        self.rooms.update(|rooms| {
            if let Some(r) = rooms.iter_mut().find(|r| r.id == room)
                && id > r.latest
            {
                r.latest = id;
                if clears {
                    r.unread = 0;
                    r.last_read = id;
                } else if counts && on_screen {
                    r.last_read = id;
                } else if counts && r.joined {
                    r.unread += 1;
                }
            }
        });
        self.logs.update(|logs| {
            logs.entry(room).or_default().insert(message);
        });
        if on_screen && counts {
            // The reader is looking at this room: keep the server's read mark current.
            self.send(ClientFrame::MarkRead { room, message: id });
        }
    }

    /// A live edit or deletion (or one replayed after a reconnect): the message's new state.
    fn change(&self, message: ChatMessage) {
        // Numbers at or below the cursor were counted in the welcome's unread counts already.
        let fresh = message.change > self.changes.get_value();
        self.changes
            .update_value(|cursor| *cursor = (*cursor).max(message.change));
        let room = message.room;
        let id = message.id;
        let here = self.logs.with_untracked(|logs| {
            logs.get(&room)
                .and_then(|log| log.get(id))
                .map(|m| (m.change, m.deleted))
        });
        let newly_deleted = message.deleted && fresh && here.is_none_or(|(_, deleted)| !deleted);
        let counted = message.kind == MessageKind::Text
            && self
                .me
                .get_untracked()
                .is_none_or(|me| me.id != message.author.id);
        if newly_deleted && counted {
            // It was unread if it came after the read mark: it no longer counts.
            let unread = self
                .room(room)
                .is_some_and(|r| r.joined && id > r.last_read && r.unread > 0);
            if unread {
                self.update_room(room, |r| r.unread = r.unread.saturating_sub(1));
            }
        }
        if here.is_some_and(|(change, _)| message.change > change) {
            self.logs.update(|logs| {
                if let Some(log) = logs.get_mut(&room) {
                    log.insert(message);
                }
            });
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

#[cfg(test)]
mod tests;
