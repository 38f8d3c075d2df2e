//! The browser's picture of the chat: rooms, messages, members, presence and connection
//! status, as signals, and how each server frame changes it.
//!
//! Nothing here touches the network or the DOM, so the same code renders on the server
//! (with everything empty) and runs in the browser.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;

use crate::protocol::{
    ChatMessage, ClientFrame, ErrorCode, LOBBY_ID, MessageKind, RoomKind, RoomSummary, ServerFrame,
    User,
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
    /// Inserts in id order; false if the message was already there.
    pub fn insert(&mut self, message: ChatMessage) -> bool {
        match self.messages.binary_search_by_key(&message.id, |m| m.id) {
            Ok(_) => false,
            Err(at) => {
                self.messages.insert(at, message);
                true
            }
        }
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

/// Shared through context; every field is a cheap `Copy` handle.
#[derive(Clone, Copy)]
pub struct Chat {
    pub me: RwSignal<Option<User>>,
    pub is_admin: RwSignal<bool>,
    pub rooms: RwSignal<Vec<RoomSummary>>,
    pub logs: RwSignal<HashMap<i64, RoomLog>>,
    pub members: RwSignal<HashMap<i64, Vec<User>>>,
    pub online: RwSignal<HashSet<i64>>,
    pub users: RwSignal<Vec<User>>,
    pub status: RwSignal<Status>,
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
    pub outbox: StoredValue<Option<Outbox>>,
    /// Set once the socket task runs, so it starts only once per page.
    pub started: StoredValue<bool>,
    next_nonce: StoredValue<u64>,
}

impl Chat {
    pub fn new() -> Self {
        Chat {
            me: RwSignal::new(None),
            is_admin: RwSignal::new(false),
            rooms: RwSignal::new(Vec::new()),
            logs: RwSignal::new(HashMap::new()),
            members: RwSignal::new(HashMap::new()),
            online: RwSignal::new(HashSet::new()),
            users: RwSignal::new(Vec::new()),
            status: RwSignal::new(Status::Connecting),
            current: RwSignal::new(LOBBY_ID),
            notice: RwSignal::new(None),
            composer_error: RwSignal::new(None),
            pending: RwSignal::new(None),
            delivered: RwSignal::new(None),
            go_to: RwSignal::new(None),
            awaiting: RwSignal::new(None),
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

    /// The newest message id the client has in any room: where a reconnect resumes.
    pub fn resume_cursor(&self) -> Option<i64> {
        self.logs
            .with_untracked(|logs| logs.values().filter_map(RoomLog::newest).max())
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

    /// Marks the room read up to its newest message, if there is anything unread.
    pub fn mark_read(&self, room: i64) {
        let Some(summary) = self
            .rooms
            .with_untracked(|rooms| rooms.iter().find(|r| r.id == room).cloned())
        else {
            return;
        };
        if summary.unread == 0 || !summary.joined {
            return;
        }
        self.rooms.update(|rooms| {
            if let Some(r) = rooms.iter_mut().find(|r| r.id == room) {
                r.unread = 0;
            }
        });
        self.send(ClientFrame::MarkRead {
            room,
            message: summary.latest,
        });
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
                is_admin,
                rooms,
                ..
            } => {
                self.me.set(Some(me));
                self.is_admin.set(is_admin);
                self.rooms.set(rooms);
                self.status.set(Status::Online);
                // Pages fetched before the drop may have gaps; refetch what is on screen.
                self.logs
                    .update(|logs| logs.values_mut().for_each(|log| log.loaded = false));
                let current = self.current.get_untracked();
                if self.room(current).is_none() {
                    // A room this user is not in (a link, or a preview before the drop): look
                    // it up. If it is gone, opening it fails with not_found and leads back to
                    // the lobby.
                    self.send(ClientFrame::ListRooms);
                }
                self.open_room(current);
            }
            ServerFrame::Message { message } => self.receive(message),
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
            } => {
                self.members.update(|all| {
                    all.insert(room, members);
                });
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
                self.rooms.update(|rooms| {
                    if let Some(r) = rooms.iter_mut().find(|r| r.id == room) {
                        r.name = name;
                    }
                });
            }
            ServerFrame::RoomDeleted { room, name } => {
                self.rooms.update(|rooms| rooms.retain(|r| r.id != room));
                self.logs.update(|logs| {
                    logs.remove(&room);
                });
                if self.current.get_untracked() == room {
                    self.leave_vanished_room(room, Some(name));
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
                self.rooms.update(|rooms| {
                    if let Some(r) = rooms.iter_mut().find(|r| r.id == room)
                        && message >= r.latest
                    {
                        r.unread = 0;
                    }
                });
            }
            ServerFrame::Error {
                code,
                message,
                nonce,
                room,
            } => {
                if nonce.is_some() && nonce == self.pending.get_untracked() {
                    self.pending.set(None);
                    self.composer_error.set(Some(message));
                } else if code == ErrorCode::NotFound && room == Some(self.current.get_untracked())
                {
                    self.leave_vanished_room(self.current.get_untracked(), None);
                } else {
                    self.awaiting.set(None);
                    self.notice.set(Some(message));
                }
            }
        }
    }

    fn leave_vanished_room(&self, room: i64, name: Option<String>) {
        if room == LOBBY_ID {
            return;
        }
        let what = name.map_or_else(|| "That room".to_owned(), |n| format!("The room “{n}”"));
        self.notice.set(Some(format!(
            "{what} no longer exists; you are back in the lobby."
        )));
        self.go_to.set(Some(format!("/rooms/{LOBBY_ID}")));
    }

    fn receive(&self, message: ChatMessage) {
        let me = self.me.get_untracked().map(|u| u.id);
        let room = message.room;
        let on_screen = self.current.get_untracked() == room;
        let mine = Some(message.author.id) == me;
        let counts = message.kind == MessageKind::Text && !mine;
        // Posting in a room marks it read up to one's own message (the server does the same).
        let clears = message.kind == MessageKind::Text && mine;
        // Membership changes ride on the join/leave notices.
        match message.kind {
            MessageKind::Joined | MessageKind::Left => {
                let joined = message.kind == MessageKind::Joined;
                if mine {
                    self.rooms.update(|rooms| {
                        if let Some(r) = rooms.iter_mut().find(|r| r.id == room) {
                            r.joined = joined;
                            r.unread = 0;
                        }
                    });
                    // A preview got no live messages: fetch what was said since it loaded.
                    if joined && on_screen {
                        self.send(ClientFrame::History { room, before: None });
                    }
                }
                if joined {
                    // Joining takes a connection: whoever joined is online.
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
            MessageKind::Text => {}
        }
        let id = message.id;
        self.rooms.update(|rooms| {
            if let Some(r) = rooms.iter_mut().find(|r| r.id == room)
                && id > r.latest
            {
                r.latest = id;
                if clears {
                    r.unread = 0;
                } else if counts && r.joined && !on_screen {
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
mod tests {
    use super::*;
    use crate::protocol::PROTOCOL_VERSION;

    fn room(id: i64, name: &str, joined: bool, unread: u32) -> RoomSummary {
        RoomSummary {
            id,
            name: name.into(),
            kind: RoomKind::Room,
            created_by: None,
            joined,
            unread,
            latest: 0,
        }
    }

    /// Alice (user 1) connects with `rooms` in her sidebar.
    fn welcome_alice(rooms: Vec<RoomSummary>) -> ServerFrame {
        ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            me: User {
                id: 1,
                name: "alice".into(),
            },
            is_admin: false,
            rooms,
        }
    }

    fn names(rooms: Vec<RoomSummary>) -> Vec<(String, u32)> {
        rooms.into_iter().map(|r| (r.name, r.unread)).collect()
    }

    #[test]
    fn the_room_listing_fills_in_rooms_to_join_and_keeps_my_rooms_live() {
        // Signals live in a reactive owner, as they do in the app.
        Owner::new().with(|| {
            let chat = Chat::new();
            // The lobby is on screen, so it is read at once; chess has 2 unread.
            chat.apply(welcome_alice(vec![
                room(LOBBY_ID, "lobby", true, 0),
                room(3, "chess", true, 2),
            ]));
            // The listing's count for chess is older than what the client tracks: keep ours.
            chat.apply(ServerFrame::Rooms {
                rooms: vec![
                    room(LOBBY_ID, "lobby", true, 0),
                    room(3, "chess", true, 0),
                    room(7, "rust", false, 0),
                    room(4, "books", false, 0),
                ],
            });
            assert_eq!(
                names(chat.my_rooms()),
                [("lobby".to_owned(), 0), ("chess".to_owned(), 2)]
            );
            assert_eq!(
                names(chat.rooms_to_join()),
                [("books".to_owned(), 0), ("rust".to_owned(), 0)]
            );

            // A later listing without "rust" (deleted meanwhile) drops it.
            chat.apply(ServerFrame::Rooms {
                rooms: vec![room(LOBBY_ID, "lobby", true, 0), room(4, "books", false, 0)],
            });
            assert_eq!(names(chat.rooms_to_join()), [("books".to_owned(), 0)]);
        });
    }

    fn text(id: i64, room: i64, author: i64) -> ServerFrame {
        ServerFrame::Message {
            message: ChatMessage {
                id,
                room,
                author: User {
                    id: author,
                    name: format!("user{author}"),
                },
                kind: MessageKind::Text,
                text: "hi".into(),
                sent_at: 0,
            },
        }
    }

    #[test]
    fn others_messages_count_as_unread_and_my_own_post_clears_the_count() {
        Owner::new().with(|| {
            let chat = Chat::new();
            chat.apply(welcome_alice(vec![
                room(LOBBY_ID, "lobby", true, 0),
                room(3, "chess", true, 0),
            ]));
            chat.apply(text(10, 3, 2));
            chat.apply(text(11, 3, 2));
            assert_eq!(names(chat.my_rooms())[1], ("chess".to_owned(), 2));
            // Posted from another tab: having written there, she has read the room.
            chat.apply(text(12, 3, 1));
            assert_eq!(names(chat.my_rooms())[1], ("chess".to_owned(), 0));
        });
    }
}
