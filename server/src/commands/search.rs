//! Searching messages: every room and conversation the person may read, newest first.

use std::collections::HashMap;

use app::protocol::{ErrorCode, RoomSummary, SEARCH_PAGE, ServerFrame};
use app::search::query_words;

use super::{Client, Outcome, Refusal, rate_limited};
use crate::AppState;
use crate::policy;
use crate::store::only_for;

pub async fn search(
    state: &AppState,
    client: &Client,
    query: String,
    before: Option<i64>,
) -> Outcome {
    let words = query_words(&query).map_err(|why| Refusal::new(ErrorCode::Invalid, why))?;
    let me = client.me.id;
    if let Err(wait) = state.limits.searches_per_user.check(me).await {
        return Err(rate_limited(
            "search",
            wait,
            "You have searched too often in the last minute.",
        ));
    }
    // The rooms to look in: the person's own (conversations too) and the public ones.
    let mut rooms: HashMap<i64, RoomSummary> = HashMap::new();
    let own = state.store.rooms_of(&[me]).await?.remove(&me);
    let listed = state.store.room_directory(me).await?;
    for room in listed.into_iter().chain(own.into_iter().flatten()) {
        if policy::can_search(&room) {
            rooms.insert(room.id, room);
        }
    }
    let ids: Vec<i64> = rooms.keys().copied().collect();
    let (messages, more) = state
        .store
        .search_messages(&ids, &words, before, SEARCH_PAGE)
        .await?;
    // Feedback markers belong to a room's view; a result shows none but one's own.
    let messages = only_for(messages, me, false);
    // Each room once: taken out of the map as its first message comes.
    let found: Vec<RoomSummary> = messages
        .iter()
        .filter_map(|message| rooms.remove(&message.room))
        .collect();
    Ok(Some(ServerFrame::SearchResults {
        query,
        before,
        messages,
        rooms: found,
        more,
    }))
}
