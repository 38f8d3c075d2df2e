//! What a room's moderators do to its members: add people, remove them from a private room,
//! mute and unmute them.

use app::protocol::{ErrorCode, MessageKind, MuteLength, ServerFrame};

use super::rooms::{announce, summary_for};
use super::{Client, Outcome, Refusal, allowed};
use crate::AppState;
use crate::hub::encode;
use crate::policy::{self, Action, Standing};
use crate::store::{RoomRow, now_ms};

fn no_such_user() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "There is no such user.")
}

pub async fn add(state: &AppState, client: &Client, room: i64, username: &str) -> Outcome {
    allowed(state, client, room, Action::AddMember).await?;
    let person = state
        .store
        .user_by_name(username.trim())
        .await?
        .ok_or_else(|| no_such_user().in_room(room))?;
    if !state.store.join(room, person.id).await? {
        return Err(Refusal::new(
            ErrorCode::Conflict,
            format!("{} is in this room already.", person.name),
        )
        .in_room(room));
    }
    // Subscribed first, so their tabs hear the notice too; the room appears for them with its
    // history a click away.
    state.bus.subscribe_user(person.id, room);
    if let Some(summary) = summary_for(state, room, person.id).await? {
        state.bus.to_user(
            person.id,
            &encode(&ServerFrame::RoomAdded { room: summary }),
        );
    }
    announce(state, &person, room, MessageKind::Added, &client.me.name).await;
    Ok(None)
}

/// The standing of `user` in `room`, once the policy lets the client act on them.
async fn target(
    state: &AppState,
    me: &Standing,
    room: &RoomRow,
    user: i64,
    even_if_gone: bool,
) -> Result<Standing, Refusal> {
    let (target, _) = state.store.standing(user, room.id).await?;
    let mut target = target.ok_or_else(|| no_such_user().in_room(room.id))?;
    // A mute outlives a membership: an unmute may reach someone who has left.
    target.member |= even_if_gone;
    policy::decide_over(me, &target, room)
        .map_err(|denial| Refusal::from(denial).in_room(room.id))?;
    Ok(target)
}

pub async fn remove(state: &AppState, client: &Client, room: i64, user: i64) -> Outcome {
    let (me, row) = allowed(state, client, room, Action::RemoveMember).await?;
    target(state, &me, &row, user, false).await?;
    let person = state
        .store
        .user(user)
        .await?
        .ok_or_else(|| no_such_user().in_room(room))?;
    if state.store.leave(room, user).await? {
        // The notice reaches the room (the removed person included), then the room is gone for
        // them on every tab: no more frames, and every command about it is not_found.
        announce(state, &person, room, MessageKind::Removed, &client.me.name).await;
        state.bus.unsubscribe_user(user, room);
        state.bus.to_user(
            user,
            &encode(&ServerFrame::RoomRemoved {
                room,
                name: row.name,
            }),
        );
    }
    Ok(None)
}

/// Mutes `user` for `length`, or unmutes them (`None`).
pub async fn mute(
    state: &AppState,
    client: &Client,
    room: i64,
    user: i64,
    length: Option<MuteLength>,
) -> Outcome {
    let (me, row) = allowed(state, client, room, Action::Mute).await?;
    target(state, &me, &row, user, length.is_none()).await?;
    let until = match length {
        Some(length) => {
            let until = length.until(now_ms());
            state.store.mute(room, user, until, client.me.id).await?;
            Some(until)
        }
        None => {
            state.store.unmute(room, user).await?;
            None
        }
    };
    state.bus.to_room(
        room,
        &encode(&ServerFrame::MemberMuted { room, user, until }),
    );
    Ok(None)
}
