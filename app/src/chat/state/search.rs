//! Searching messages from the header: the query asked, the results as they come (a page at
//! a time), and opening one in its room.

use leptos::prelude::*;

use super::Chat;
use crate::protocol::{ChatMessage, ClientFrame, RoomSummary};
use crate::search::query_words;

/// The last search of this tab.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Search {
    /// The query as asked; an answer to another one is dropped.
    pub query: String,
    /// Its words, to highlight in the results.
    pub words: Vec<String>,
    /// The messages found so far, newest first.
    pub messages: Vec<ChatMessage>,
    /// The rooms they are in.
    pub rooms: Vec<RoomSummary>,
    /// Another page follows.
    pub more: bool,
    /// A page has been asked for and not arrived yet.
    pub loading: bool,
    /// Why the search could not be run (an empty query, a dropped connection, the server's
    /// refusal).
    pub error: Option<String>,
    /// The results panel is open.
    pub open: bool,
}

impl Search {
    /// The room a result is in.
    pub fn room(&self, id: i64) -> Option<&RoomSummary> {
        self.rooms.iter().find(|r| r.id == id)
    }
}

impl Chat {
    /// Searches every room this user may read for `query`, opening the results panel.
    pub fn search(&self, query: String) {
        let words = query_words(&query);
        let online = self.status.get_untracked() == super::Status::Online;
        self.search.set(Search {
            query: query.clone(),
            words: words.clone().unwrap_or_default(),
            loading: words.is_ok() && online,
            error: match (&words, online) {
                (Err(why), _) => Some(why.clone()),
                (Ok(_), false) => {
                    Some("Not connected right now; search again once reconnected.".into())
                }
                (Ok(_), true) => None,
            },
            open: true,
            ..Search::default()
        });
        if words.is_ok() && online {
            self.send(ClientFrame::Search {
                query,
                before: None,
            });
        }
    }

    /// Asks for the next page of results, if one follows.
    pub fn more_results(&self) {
        let next = self.search.try_update(|search| {
            if !search.more || search.loading {
                return None;
            }
            search.loading = true;
            Some((search.query.clone(), search.messages.last()?.id))
        });
        if let Some(Some((query, before))) = next {
            self.send(ClientFrame::Search {
                query,
                before: Some(before),
            });
        }
    }

    /// A page of results (`search_results`).
    pub(super) fn found_messages(
        &self,
        query: String,
        before: Option<i64>,
        messages: Vec<ChatMessage>,
        rooms: Vec<RoomSummary>,
        more: bool,
    ) {
        self.search.update(|search| {
            let expected = search.messages.last().map(|m| m.id);
            if search.query != query || !search.loading || before != expected {
                return; // an answer to an earlier search
            }
            search.loading = false;
            search.more = more;
            search.messages.extend(messages);
            for room in rooms {
                if search.room(room.id).is_none() {
                    search.rooms.push(room);
                }
            }
        });
    }

    /// A search the server refused: say why in the panel.
    pub(super) fn search_failed(&self, why: String) {
        self.search.update(|search| {
            search.loading = false;
            search.error = Some(why);
        });
    }

    /// Opens result `message` of room `room`: the room, scrolled to the message with its
    /// neighbours (fetched around it unless held already). The panel closes.
    pub fn open_found(&self, room: i64, message: i64) {
        let summary = self.search.with_untracked(|s| s.room(room).cloned());
        // A public room this user has not joined: list it, so that it has a name and a Join
        // button like any room found in the directory.
        if let Some(summary) = summary {
            self.rooms.update(|rooms| {
                if rooms.iter().all(|r| r.id != room) {
                    rooms.push(summary);
                }
            });
        }
        let held = self.logs.with_untracked(|logs| {
            logs.get(&room)
                .is_some_and(|log| log.visible().iter().any(|m| m.id == message))
        });
        if !held {
            self.send(ClientFrame::HistoryAround { room, message });
        }
        self.found.set(Some(message));
        self.search.update(|s| s.open = false);
        self.go_to.set(Some(format!("/rooms/{room}")));
    }
}
