//! Rooms and conversations: create, rename, delete (archive), join, leave, open a
//! conversation, the member list and the room listing.

use app::names::parse_room_name;
use app::protocol::{
    ErrorCode, MessageKind, PEOPLE_PAGE, RoomKind, RoomSummary, ServerFrame, User, Visibility,
};

use super::{Client, Outcome, Refusal, allowed, rate_limited};
use crate::AppState;
use crate::hub::{Frame, encode};
use crate::policy::Action;
use crate::store::RoomRow;

fn invalid(why: String) -> Refusal {
    Refusal::new(ErrorCode::Invalid, why)
}

fn name_taken(name: &str) -> Refusal {
    Refusal::new(
        ErrorCode::Conflict,
        format!("A room named “{name}” already exists."),
    )
}

/// Delivers a frame about `room` to whoever may know of it: everyone for a public room, its
/// members for a private one.
fn to_viewers(state: &AppState, room: &RoomRow, frame: &Frame) {
    match room.visibility {
        Visibility::Public => state.bus.to_all(frame),
        Visibility::Private => state.bus.to_room(room.id, frame),
    }
}

/// Stores and publishes a membership notice ("alice joined", "bob was added by alice").
pub(super) async fn announce(state: &AppState, who: &User, room: i64, kind: MessageKind, by: &str) {
    if state
        .log
        .append(room, who.clone(), kind, by.to_owned())
        .await
        .is_err()
    {
        tracing::warn!(room, "membership notice not stored");
    }
}

/// `room` as `user`'s sidebar shows it, with its online count, for a `room_added` frame.
pub(super) async fn summary_for(
    state: &AppState,
    room: i64,
    user: i64,
) -> Result<Option<RoomSummary>, Refusal> {
    let mut summary = state.store.summary(room, user).await?;
    if let Some(summary) = summary.as_mut() {
        summary.online = state.bus.online_count(room).await;
    }
    Ok(summary)
}

pub async fn members(state: &AppState, client: &Client, room: i64) -> Outcome {
    allowed(state, client, room, Action::Read).await?;
    // Watch first, then read who is online: a change in between arrives after this reply.
    state.bus.hub().watch(client.conn, room);
    let (members, more) = state.store.members_page(room, None, PEOPLE_PAGE).await?;
    let muted = state.store.muted_in(room).await?;
    let online = state
        .bus
        .online_among(members.iter().map(|u| u.id).collect())
        .await;
    Ok(Some(ServerFrame::Members {
        room,
        members,
        online,
        muted,
        more,
    }))
}

/// The next page of `room`'s members, after the one named `after`.
pub async fn more_members(state: &AppState, client: &Client, room: i64, after: &str) -> Outcome {
    allowed(state, client, room, Action::Read).await?;
    let (members, more) = state
        .store
        .members_page(room, Some(after), PEOPLE_PAGE)
        .await?;
    let online = state
        .bus
        .online_among(members.iter().map(|u| u.id).collect())
        .await;
    Ok(Some(ServerFrame::MoreMembers {
        room,
        members,
        online,
        more,
    }))
}

/// The accounts by name, a page at a time: the first (`after` none), or the next.
pub async fn users(state: &AppState, after: Option<&str>) -> Outcome {
    let (users, more) = state.store.users_page(after, PEOPLE_PAGE).await?;
    Ok(Some(match after {
        None => ServerFrame::Users { users, more },
        Some(_) => ServerFrame::MoreUsers { users, more },
    }))
}

pub async fn list(state: &AppState, client: &Client) -> Outcome {
    let mut rooms = state.store.room_directory(client.me.id).await?;
    state.bus.count_online(&mut rooms).await;
    Ok(Some(ServerFrame::Rooms { rooms }))
}

/// Counts one room creation or rename against the person's limit.
async fn room_change_allowed(state: &AppState, client: &Client) -> Result<(), Refusal> {
    state
        .limits
        .room_changes_per_user
        .check(client.me.id)
        .await
        .map_err(|wait| {
            rate_limited(
                "room_change",
                wait,
                "You have created or renamed too many rooms lately.",
            )
        })
}

pub async fn create(
    state: &AppState,
    client: &Client,
    name: &str,
    visibility: Visibility,
) -> Outcome {
    let name = parse_room_name(name).map_err(invalid)?;
    room_change_allowed(state, client).await?;
    let room = state
        .store
        .create_room(&name, visibility, client.me.id)
        .await?
        .map_err(|_| name_taken(&name))?;
    state.bus.subscribe_user(client.me.id, room.id);
    let summary = RoomSummary {
        id: room.id,
        name: room.name.clone(),
        kind: RoomKind::Room,
        visibility,
        created_by: room.created_by,
        joined: false,
        unread: 0,
        mentions: 0,
        latest: 0,
        last_read: 0,
        online: state.bus.online_count(room.id).await,
        muted_until: None,
    };
    // A private room appears for its creator alone; the join notice below marks it joined.
    let added = encode(&ServerFrame::RoomAdded { room: summary });
    match visibility {
        Visibility::Public => state.bus.to_all(&added),
        Visibility::Private => state.bus.to_user(client.me.id, &added),
    }
    announce(state, &client.me, room.id, MessageKind::Joined, "").await;
    Ok(None)
}

pub async fn rename(state: &AppState, client: &Client, room: i64, name: &str) -> Outcome {
    let (_, row) = allowed(state, client, room, Action::Rename).await?;
    let name = parse_room_name(name).map_err(|why| invalid(why).in_room(room))?;
    room_change_allowed(state, client)
        .await
        .map_err(|refusal| refusal.in_room(room))?;
    state
        .store
        .rename_room(room, &name)
        .await?
        .map_err(|_| name_taken(&name).in_room(room))?;
    to_viewers(
        state,
        &row,
        &encode(&ServerFrame::RoomRenamed { room, name }),
    );
    Ok(None)
}

/// Deleting a room archives it: it disappears for its members at once, its messages stay for
/// review, and only the administrator can purge it (from /admin).
pub async fn archive(state: &AppState, client: &Client, room: i64) -> Outcome {
    let (_, row) = allowed(state, client, room, Action::Archive).await?;
    if state.store.archive_room(room).await? {
        let frame = encode(&ServerFrame::RoomDeleted {
            room,
            name: row.name.clone(),
        });
        to_viewers(state, &row, &frame);
        state.bus.drop_room(room);
    }
    Ok(None)
}

pub async fn join(state: &AppState, client: &Client, room: i64) -> Outcome {
    let (me, row) = allowed(state, client, room, Action::Join).await?;
    if me.member {
        return Ok(None);
    }
    if state.store.join(room, client.me.id).await? {
        state.bus.subscribe_user(client.me.id, room);
        announce(state, &client.me, room, MessageKind::Joined, "").await;
        // The user's other tabs may not have listed the room: it appears there too.
        if let Some(summary) = summary_for(state, row.id, client.me.id).await? {
            state.bus.to_user(
                client.me.id,
                &encode(&ServerFrame::RoomAdded { room: summary }),
            );
        }
    }
    Ok(None)
}

pub async fn leave(state: &AppState, client: &Client, room: i64) -> Outcome {
    let (_, row) = allowed(state, client, room, Action::Leave).await?;
    if state.store.leave(room, client.me.id).await? {
        // The notice goes out while the leaver is still subscribed, so their tabs see it too.
        announce(state, &client.me, room, MessageKind::Left, "").await;
        state.bus.unsubscribe_user(client.me.id, room);
        if row.visibility == Visibility::Private {
            // Gone for them: their other tabs drop it.
            state.bus.to_user(
                client.me.id,
                &encode(&ServerFrame::RoomRemoved {
                    room,
                    name: row.name,
                }),
            );
        }
    }
    Ok(None)
}

pub async fn open_direct(state: &AppState, client: &Client, user: i64) -> Outcome {
    if user == client.me.id {
        return Err(Refusal::new(
            ErrorCode::Invalid,
            "Pick someone else to talk to.",
        ));
    }
    let other = state
        .store
        .user(user)
        .await?
        .ok_or_else(|| Refusal::new(ErrorCode::NotFound, "There is no such user."))?;
    let (room, created) = state.store.open_direct(client.me.id, other.id).await?;
    if created {
        state.bus.subscribe_user(client.me.id, room);
        state.bus.subscribe_user(other.id, room);
    }
    let online = state.bus.online_count(room).await;
    let summary_for = |peer: &User| ServerFrame::RoomAdded {
        room: RoomSummary {
            id: room,
            name: peer.name.clone(),
            kind: RoomKind::Direct,
            visibility: Visibility::Private,
            created_by: None,
            joined: true,
            unread: 0,
            mentions: 0,
            latest: 0,
            last_read: 0,
            online,
            muted_until: None,
        },
    };
    if created {
        state
            .bus
            .to_user(other.id, &encode(&summary_for(&client.me)));
        state
            .bus
            .to_user(client.me.id, &encode(&summary_for(&other)));
        Ok(None)
    } else {
        Ok(Some(summary_for(&other)))
    }
}
