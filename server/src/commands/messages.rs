//! Posting, editing and deleting messages, history pages, read marks, and teachers' feedback
//! on a message.

use app::names::check_message;
use app::protocol::{ErrorCode, HISTORY_PAGE, MessageKind, ServerFrame};

use super::{Client, Outcome, Refusal, allowed, internal, rate_limited};
use crate::AppState;
use crate::hub::encode;
use crate::message_log::NotStored;
use crate::policy::Action;
use crate::store::{Change, MessageFacts, only_for};

use std::time::Instant;

const NONCE_MAX: usize = 64;

pub async fn send(
    state: &AppState,
    client: &Client,
    room: i64,
    text: String,
    nonce: Option<String>,
) -> Outcome {
    let refuse = |refusal: Refusal| Err(refusal.in_room(room));
    if nonce.as_ref().is_some_and(|n| n.len() > NONCE_MAX) {
        return refuse(Refusal::new(
            ErrorCode::Invalid,
            format!("nonce is at most {NONCE_MAX} bytes"),
        ));
    }
    if let Err(why) = check_message(&text) {
        return refuse(Refusal::new(ErrorCode::Invalid, why));
    }
    if let Err(wait) = state.limits.messages_per_user.check(client.me.id).await {
        return refuse(rate_limited(
            "message",
            wait,
            "You are sending messages too fast; this one was not sent.",
        ));
    }
    // The statement that stores the message checks the stored membership and mute (the
    // message log's batch trigger), so a member's post costs no extra read. A socket that is
    // not even subscribed to the room is asked the policy first, so that a stranger's posts are
    // refused without a write.
    if !state.bus.hub().is_subscribed(client.conn, room) {
        allowed(state, client, room, Action::Post).await?;
    }
    match state
        .log
        .append_once(
            room,
            client.me.clone(),
            MessageKind::Text,
            text,
            nonce.clone(),
        )
        .await
    {
        Ok(message) => Ok(nonce.map(|nonce| ServerFrame::Sent {
            nonce,
            id: message.id,
        })),
        // Sent before (the acknowledgement was lost): the same answer as then.
        Err(NotStored::Duplicate(id)) => Ok(nonce.map(|nonce| ServerFrame::Sent { nonce, id })),
        Err(NotStored::Refused(_)) => {
            // Say why, in the policy's words (not found, not a member, muted until when).
            allowed(state, client, room, Action::Post).await?;
            refuse(internal())
        }
        Err(_) => refuse(Refusal::new(
            ErrorCode::Internal,
            "The message was not stored; try again.",
        )),
    }
}

fn no_such_message() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "There is no such message.")
}

/// The message, once the policy allows `own` (on one's own message) or `others` (on someone
/// else's). A message in a room the client may not see does not exist for them.
async fn changeable(
    state: &AppState,
    client: &Client,
    message: i64,
    own: Action,
    others: Action,
) -> Result<MessageFacts, Refusal> {
    let facts = state
        .store
        .message_facts(message)
        .await?
        .ok_or_else(no_such_message)?;
    let action = if facts.author == client.me.id {
        own
    } else {
        others
    };
    allowed(state, client, facts.room, action)
        .await
        .map_err(|refusal| match refusal.code {
            ErrorCode::NotFound => no_such_message(),
            _ => refusal,
        })?;
    if facts.kind != MessageKind::Text {
        return Err(Refusal::new(
            ErrorCode::Invalid,
            "Only text messages can be edited or deleted.",
        ));
    }
    Ok(facts)
}

pub async fn edit(state: &AppState, client: &Client, message: i64, text: String) -> Outcome {
    if let Err(why) = check_message(&text) {
        return Err(Refusal::new(ErrorCode::Invalid, why));
    }
    let facts = changeable(state, client, message, Action::EditOwn, Action::EditOthers).await?;
    if facts.deleted {
        return Err(Refusal::new(
            ErrorCode::NotFound,
            "That message was deleted.",
        ));
    }
    stored(
        state
            .log
            .change(message, client.me.id, Change::Edit(text))
            .await,
    )
}

pub async fn delete(state: &AppState, client: &Client, message: i64) -> Outcome {
    let facts = changeable(
        state,
        client,
        message,
        Action::DeleteOwn,
        Action::DeleteOthers,
    )
    .await?;
    if facts.deleted {
        return Ok(None); // deleted already (say, from another tab)
    }
    stored(
        state
            .log
            .change(message, client.me.id, Change::Delete)
            .await,
    )
}

/// The change reached the room (its `message_changed` frame), or why not.
fn stored<T>(result: Result<T, NotStored>) -> Outcome {
    match result {
        Ok(_) => Ok(None),
        Err(NotStored::NoMessage) => Err(Refusal::new(
            ErrorCode::NotFound,
            "That message was deleted.",
        )),
        Err(_) => Err(internal()),
    }
}

pub async fn history(state: &AppState, client: &Client, room: i64, before: Option<i64>) -> Outcome {
    let (standing, _) = allowed(state, client, room, Action::Read).await?;
    let (messages, has_more) = state.store.history(room, before, HISTORY_PAGE).await?;
    Ok(Some(ServerFrame::History {
        room,
        messages: only_for(messages, client.me.id, standing.role.is_staff()),
        has_more,
    }))
}

/// The messages of `room` around `message`: half a page before it, and it with those after.
pub async fn history_around(state: &AppState, client: &Client, room: i64, message: i64) -> Outcome {
    let (standing, _) = allowed(state, client, room, Action::Read).await?;
    let half = HISTORY_PAGE / 2;
    let (mut messages, has_more) = state.store.history(room, Some(message), half).await?;
    let (newer, has_newer) = state
        .store
        .history_after(room, message.saturating_sub(1), HISTORY_PAGE - half)
        .await?;
    messages.extend(newer);
    Ok(Some(ServerFrame::HistoryAround {
        room,
        message,
        messages: only_for(messages, client.me.id, standing.role.is_staff()),
        has_more,
        has_newer,
    }))
}

/// A page of `room`'s messages after `after`.
pub async fn history_newer(state: &AppState, client: &Client, room: i64, after: i64) -> Outcome {
    let (standing, _) = allowed(state, client, room, Action::Read).await?;
    let (messages, has_newer) = state.store.history_after(room, after, HISTORY_PAGE).await?;
    Ok(Some(ServerFrame::HistoryNewer {
        room,
        after,
        messages: only_for(messages, client.me.id, standing.role.is_staff()),
        has_newer,
    }))
}

/// The person writes in `room`: their name goes to the room's members at the next tick,
/// unless it went lately. Nothing is stored.
pub async fn typing(state: &AppState, client: &Client, room: i64) -> Outcome {
    if state.bus.hub().is_subscribed(client.conn, room) {
        state.typing.note(room, &client.me, Instant::now());
    } else {
        // Not one of this connection's rooms: say why (no such room, not a member).
        allowed(state, client, room, Action::Post).await?;
    }
    Ok(None)
}

pub async fn mark_read(state: &AppState, client: &Client, room: i64, message: i64) -> Outcome {
    if !state.bus.hub().is_subscribed(client.conn, room) {
        return Ok(None); // nothing to mark outside one's rooms
    }
    // The store moves only an existing membership's mark.
    state.store.mark_read(room, client.me.id, message).await?;
    state
        .bus
        .to_user(client.me.id, &encode(&ServerFrame::Read { room, message }));
    Ok(None)
}

/// Feedback on a message, from a teacher in the room (the review page posts a form instead).
/// The teacher's tabs hear `feedback_given` like the author's.
pub async fn give_feedback(
    state: &AppState,
    client: &Client,
    message: i64,
    text: String,
) -> Outcome {
    match crate::review::feedback::give(state, client.me.id, message, &text).await {
        Ok(_) => Ok(None),
        Err((code, why)) => Err(Refusal::new(code, why)),
    }
}
