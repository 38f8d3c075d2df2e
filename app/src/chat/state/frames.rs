//! How each server frame changes the browser's picture of the chat.

use std::collections::HashSet;

use leptos::prelude::*;

use super::{Chat, RoomLog, Status};
use crate::chat::message::clock;
use crate::protocol::{
    ChatMessage, ClientFrame, ErrorCode, LOBBY_ID, MessageKind, RoomSummary, ServerFrame,
    muted_notice,
};

impl Chat {
    /// Applies one frame from the server.
    pub fn apply(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                me,
                role,
                rooms,
                changes,
                feedback_unread,
                direct_reviewable,
                replay_truncated,
                ..
            } => {
                self.me.set(Some(me));
                self.role.set(role);
                self.feedback_unread.set(feedback_unread);
                self.direct_reviewable.set(direct_reviewable);
                self.changes.set_value(changes);
                // The first welcome: nothing was replayed (there was no cursor to resume
                // from), and everything of this user's rooms up to now is in history. Messages
                // after the newest of them come live, so a reconnect resumes there.
                if self.resume.get_value().is_none() {
                    self.resume
                        .set_value(rooms.iter().filter(|r| r.joined).map(|r| r.latest).max());
                }
                let current = self.current.get_untracked();
                let listed: HashSet<i64> = rooms.iter().map(|r| r.id).collect();
                let joined: HashSet<i64> =
                    rooms.iter().filter(|r| r.joined).map(|r| r.id).collect();
                let was_joined: HashSet<i64> = self.rooms.with_untracked(|rooms| {
                    rooms.iter().filter(|r| r.joined).map(|r| r.id).collect()
                });
                let current_listed = listed.contains(&current);
                // Rooms left, removed or deleted while away take their messages with them;
                // the room on screen stays until the server says whether it still exists.
                let kept = |room: &i64| listed.contains(room) || *room == current;
                self.rooms.set(rooms);
                self.status.set(Status::Online);
                self.logs.update(|logs| {
                    logs.retain(|room, _| kept(room));
                    for (room, log) in logs.iter_mut() {
                        // The catch-up replays only the first 1,000 missed messages, so past
                        // them the held logs have a gap of unknown size. Forget them: each
                        // room starts again from its newest page when opened (the one on
                        // screen now, below). What the replay still brings is held in a log
                        // marked `gap`, whose newest page then drops what is older than
                        // itself, so no fragment from before the gap stays beside it.
                        // A preview (a room this user is not in) got nothing while away, and a
                        // room joined while away replays only what came after this tab's
                        // cursor: both may also have a gap, and are forgotten the same way.
                        if replay_truncated || !joined.contains(room) || !was_joined.contains(room)
                        {
                            *log = RoomLog {
                                gap: true,
                                ..RoomLog::default()
                            };
                        } else {
                            // Pages fetched before the drop join up with the catch-up; the one
                            // on screen is fetched again.
                            log.loaded = false;
                        }
                    }
                    if replay_truncated {
                        for &room in &joined {
                            logs.entry(room).or_insert_with(|| RoomLog {
                                gap: true,
                                ..RoomLog::default()
                            });
                        }
                    }
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
                self.resend_outbox();
            }
            ServerFrame::Message { message } => self.receive(message),
            ServerFrame::MessageChanged { message } => self.change(message),
            ServerFrame::Sent { nonce, id } => self.acknowledged(&nonce, id),
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
                    if log.gap && !was_older {
                        // The newest page after a gap: what is held from before it is on the
                        // far side of the gap. (What is newer came live after the page was
                        // read; an empty page means the room was empty then.)
                        if let Some(oldest) = messages.first().map(|m| m.id) {
                            log.messages.retain(|m| m.id >= oldest);
                        }
                        log.gap = false;
                        log.loaded = false;
                    }
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
            ServerFrame::HistoryAround {
                room,
                messages,
                has_more,
                has_newer,
                ..
            } => self.logs.update(|logs| {
                logs.entry(room)
                    .or_default()
                    .merge_around(messages, has_more, has_newer);
            }),
            ServerFrame::HistoryNewer {
                room,
                after,
                messages,
                has_newer,
            } => self.logs.update(|logs| {
                if let Some(log) = logs.get_mut(&room) {
                    log.merge_newer(after, messages, has_newer);
                }
            }),
            ServerFrame::Typing { room, users } => self.typing_in(room, users),
            ServerFrame::SearchResults {
                query,
                before,
                messages,
                rooms,
                more,
            } => self.found_messages(query, before, messages, rooms, more),
            ServerFrame::Members {
                room,
                members,
                online,
                muted,
                more,
            } => {
                let me = self.me.get_untracked().map(|u| u.id);
                let mine = muted.iter().find(|m| Some(m.user) == me).map(|m| m.until);
                self.set_members_after(room, more, &members);
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
            ServerFrame::FeedbackGiven { room, message } => {
                let unmarked = self.logs.with_untracked(|logs| {
                    logs.get(&room)
                        .and_then(|log| log.get(message))
                        .is_some_and(|m| !m.feedback)
                });
                if unmarked {
                    self.logs.update(|logs| {
                        if let Some(log) = logs.get_mut(&room) {
                            log.mark_feedback(message);
                        }
                    });
                }
                // This tab's feedback arrived: its form is done.
                if self.feedback_pending.get_untracked() == Some(message) {
                    self.close_feedback();
                }
            }
            ServerFrame::FeedbackUnread { count } => self.feedback_unread.set(count),
            ServerFrame::MoreMembers {
                room,
                members,
                online,
                more,
            } => {
                self.set_members_after(room, more, &members);
                self.members.update(|all| {
                    let list = all.entry(room).or_default();
                    for member in members {
                        if list.iter().all(|m| m.id != member.id) {
                            list.push(member);
                        }
                    }
                });
                self.online.update(|set| set.extend(online));
            }
            ServerFrame::Users { users, more } => {
                self.users_after
                    .set(more.then(|| users.last().map(|u| u.name.clone())).flatten());
                self.users.set(users);
            }
            ServerFrame::MoreUsers { users, more } => {
                self.users_after
                    .set(more.then(|| users.last().map(|u| u.name.clone())).flatten());
                self.users.update(|all| {
                    for user in users {
                        if all.iter().all(|u| u.id != user.id) {
                            all.push(user);
                        }
                    }
                });
            }
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
                        r.mentions = 0;
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
                // A refused post: its entry in the outbox says why.
                let posted = nonce
                    .as_deref()
                    .is_some_and(|nonce| self.refused(nonce, code, message.clone(), until));
                if posted {
                    return;
                }
                if code == ErrorCode::NotFound
                    && let Some(room) = room
                    && self.vanished(room)
                {
                    self.leave_vanished_room(room, None);
                } else if room.is_none() && self.search.with_untracked(|s| s.loading) {
                    // The refusal of this tab's search (errors do not say which command they
                    // answer; a search is the one waiting on a reply).
                    self.search_failed(message);
                } else {
                    self.awaiting.set(None);
                    // Possibly the refusal of feedback sent from this tab (errors do not say
                    // which command they answer): its form can send again.
                    if self.feedback_pending.get_untracked().is_some() {
                        self.feedback_pending.set(None);
                    }
                    self.notice.set(Some(message));
                }
            }
        }
    }

    pub(super) fn update_room(&self, room: i64, change: impl FnOnce(&mut RoomSummary)) {
        self.rooms.update(|rooms| {
            if let Some(r) = rooms.iter_mut().find(|r| r.id == room) {
                change(r);
            }
        });
    }

    /// Drops everything the client holds about a room that is gone for this user.
    /// Remembers where `room`'s next page of members starts (after this page's last name), or
    /// that none follows.
    fn set_members_after(&self, room: i64, more: bool, page: &[crate::protocol::User]) {
        let after = page.last().map(|u| u.name.clone()).filter(|_| more);
        self.members_after.update(|all| match after {
            Some(after) => {
                all.insert(room, after);
            }
            None => {
                all.remove(&room);
            }
        });
    }

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
    pub(super) fn set_muted_until(&self, room: i64, until: Option<i64>) {
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
        let ours = |chat: &Chat| {
            chat.rooms
                .with_untracked(|rooms| rooms.iter().any(|r| r.id == room && r.joined))
        };
        let ours_before = ours(self);
        let counts = message.kind == MessageKind::Text && !mine;
        let mentions_me = counts && self.mentions_me(&message);
        if counts {
            self.stopped_typing(room, message.author.id);
            if self.room(room).is_some_and(|r| r.joined && id > r.latest) {
                self.maybe_attention(&message, mentions_me);
            }
        }
        // Posting in a room marks it read up to one's own message (the server does the same).
        let clears = message.kind == MessageKind::Text && mine;
        // Membership changes ride on the join/leave and added/removed notices.
        if let Some(joined) = message.kind.membership() {
            if mine {
                self.update_room(room, |r| {
                    r.joined = joined;
                    r.unread = 0;
                    r.mentions = 0;
                    r.last_read = r.last_read.max(id);
                });
                // A preview got no live messages: what was said since it loaded may be more than
                // a page, so its pages give way to the newest one (fetched now if on screen,
                // otherwise when opened).
                if joined && !ours_before {
                    self.logs.update(|logs| {
                        if let Some(log) = logs.get_mut(&room) {
                            log.gap = true;
                            log.loaded = false;
                        }
                    });
                }
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
                    r.mentions = 0;
                    r.last_read = id;
                } else if counts && on_screen {
                    r.last_read = id;
                } else if counts && r.joined {
                    r.unread += 1;
                    r.mentions += u32::from(mentions_me);
                }
            }
        });
        // Delivered in this user's rooms (in one they just joined or left too): the server
        // streams these in id order, so a reconnect resumes after it.
        if ours_before || ours(self) {
            self.resume
                .update_value(|cursor| *cursor = Some(cursor.map_or(id, |c| c.max(id))));
        }
        self.arrived(id, room, message.kind, mine, &message.text);
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
                .map(|m| (m.change, m.deleted, self.mentions_me(m)))
        });
        let newly_deleted = message.deleted && fresh && here.is_none_or(|(_, deleted, _)| !deleted);
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
                let mentioned = here.is_some_and(|(.., mentions_me)| mentions_me);
                self.update_room(room, |r| {
                    r.unread = r.unread.saturating_sub(1);
                    if mentioned {
                        r.mentions = r.mentions.saturating_sub(1);
                    }
                });
            }
        }
        if here.is_some_and(|(change, ..)| message.change > change) {
            self.logs.update(|logs| {
                if let Some(log) = logs.get_mut(&room) {
                    log.insert(message);
                }
            });
        }
    }
}
