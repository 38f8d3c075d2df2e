//! Who may do what in which room: every rights decision of the server, in one place.
//!
//! Commands gather the stored facts (the room, the person's role, membership and mute) and ask
//! [`decide`]; nothing else in the server judges rights. The browser hides buttons it expects to
//! be refused, but only this module decides.
//!
//! The rules, in short:
//! - A private room, a direct conversation of others, and an archived room do not exist for
//!   whoever may not see them: every command about them is `not_found`.
//! - A room's moderators are its owner (creator), teachers and the administrator. They rename
//!   and delete (archive) it, add people, mute members, remove members of a private room, and
//!   delete anyone's message. Direct conversations have no moderators.
//! - Posting and editing need a stored membership and no running mute.
//! - A moderator acts on people below them in that room: administrator over teacher over owner
//!   over member.
//! - A search looks in the rooms one may see, and nowhere else.
//! - Teachers and the administrator review rooms (every version, deleted text, exports,
//!   feedback and grades): named rooms of any visibility, archived ones included; direct
//!   conversations only when the server runs with `--review-direct-messages`.

use app::protocol::{ErrorCode, LOBBY_ID, Role, RoomKind, RoomSummary, Visibility};

use crate::store::RoomRow;

/// Something a person asks to do in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// History, members.
    Read,
    Post,
    EditOwn,
    /// Never allowed: a message's text is its author's alone.
    EditOthers,
    DeleteOwn,
    DeleteOthers,
    Join,
    Leave,
    Rename,
    Archive,
    AddMember,
    RemoveMember,
    /// Mute or unmute.
    Mute,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Read,
        Action::Post,
        Action::EditOwn,
        Action::EditOthers,
        Action::DeleteOwn,
        Action::DeleteOthers,
        Action::Join,
        Action::Leave,
        Action::Rename,
        Action::Archive,
        Action::AddMember,
        Action::RemoveMember,
        Action::Mute,
    ];
}

/// A person's standing in one room, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub user: i64,
    pub role: Role,
    pub member: bool,
    /// Until when they are muted there (Unix ms), if a mute is running.
    pub muted_until: Option<i64>,
}

/// Why something was refused: the error code and the sentence the person reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub code: ErrorCode,
    pub message: &'static str,
    /// For [`ErrorCode::Muted`]: until when.
    pub until: Option<i64>,
}

impl Denial {
    fn new(code: ErrorCode, message: &'static str) -> Self {
        Denial {
            code,
            message,
            until: None,
        }
    }
}

pub type Decision = Result<(), Denial>;

pub const NO_SUCH_ROOM: &str = "There is no such room.";

fn not_found() -> Denial {
    Denial::new(ErrorCode::NotFound, NO_SUCH_ROOM)
}

fn forbidden(message: &'static str) -> Denial {
    Denial::new(ErrorCode::Forbidden, message)
}

/// Whether `who` may know that `room` exists.
pub fn can_see(who: &Standing, room: &RoomRow) -> bool {
    !room.archived
        && (who.member || (room.kind == RoomKind::Room && room.visibility == Visibility::Public))
}

/// Whether a person's search may look in `room`, a room of their sidebar or of the rooms they
/// may browse (neither lists an archived room): the rooms they may see, as [`can_see`] says.
pub fn can_search(room: &RoomSummary) -> bool {
    room.joined || (room.kind == RoomKind::Room && room.visibility == Visibility::Public)
}

/// Whether `who` moderates `room` (owner, teacher or administrator of a named room they see).
pub fn moderates(who: &Standing, room: &RoomRow) -> bool {
    room.kind == RoomKind::Room
        && can_see(who, room)
        && (who.role.is_staff() || room.created_by == Some(who.user))
}

/// Rank in a room, for who may moderate whom.
fn rank(who: &Standing, room: &RoomRow) -> u8 {
    match who.role {
        Role::Admin => 3,
        Role::Teacher => 2,
        Role::Member if room.created_by == Some(who.user) => 1,
        Role::Member => 0,
    }
}

/// May `who` do `action` in `room` at time `now`?
pub fn decide(who: &Standing, room: &RoomRow, action: Action, now: i64) -> Decision {
    if !can_see(who, room) {
        return Err(not_found());
    }
    let direct = room.kind == RoomKind::Direct;
    let lobby = room.id == LOBBY_ID;
    let moderator = moderates(who, room);
    let muted = who.muted_until.filter(|&until| until > now);
    match action {
        Action::Read => Ok(()),
        Action::Post | Action::EditOwn => {
            if !who.member {
                Err(forbidden("Join the room to post in it."))
            } else if let Some(until) = muted {
                // The sentence is written from `until` where it is shown (`muted_notice`).
                Err(Denial {
                    code: ErrorCode::Muted,
                    message: "You are muted in this room.",
                    until: Some(until),
                })
            } else {
                Ok(())
            }
        }
        Action::EditOthers => Err(forbidden("You can only edit your own messages.")),
        Action::DeleteOwn => Ok(()),
        Action::DeleteOthers => {
            if moderator {
                Ok(())
            } else {
                Err(forbidden(
                    "Only the room's moderators can delete other people's messages.",
                ))
            }
        }
        Action::Join => Ok(()),
        Action::Leave if lobby => Err(forbidden("Everyone stays in the lobby.")),
        Action::Leave if direct => Err(forbidden("Conversations cannot be left.")),
        Action::Leave => Ok(()),
        _ if direct => Err(forbidden("Conversations have no moderators.")),
        Action::Archive if lobby => Err(forbidden("The lobby cannot be deleted.")),
        Action::AddMember if lobby => Err(forbidden("Everyone is in the lobby already.")),
        Action::RemoveMember if room.visibility == Visibility::Public => Err(forbidden(
            "People can be removed from private rooms only; mute them instead.",
        )),
        Action::Rename
        | Action::Archive
        | Action::AddMember
        | Action::RemoveMember
        | Action::Mute => {
            if moderator {
                Ok(())
            } else {
                Err(forbidden(
                    "Only the room's owner, teachers and the administrator can do that.",
                ))
            }
        }
    }
}

/// May `who` mute or remove `target` in `room`? (`who` has been allowed the action itself.)
pub fn decide_over(who: &Standing, target: &Standing, room: &RoomRow) -> Decision {
    if target.user == who.user {
        return Err(Denial::new(
            ErrorCode::Invalid,
            "You cannot do that to yourself.",
        ));
    }
    if !target.member {
        return Err(Denial::new(
            ErrorCode::NotFound,
            "That person is not in this room.",
        ));
    }
    if rank(target, room) >= rank(who, room) {
        return Err(forbidden(
            "You can only do that to people below you: teachers to members, the administrator to teachers.",
        ));
    }
    Ok(())
}

/// May someone with `role` use the review pages at all?
pub fn decide_reviewer(role: Role) -> Decision {
    if role.is_staff() {
        Ok(())
    } else {
        Err(forbidden(
            "Only teachers and the administrator can review rooms.",
        ))
    }
}

/// May someone with `role` review `room` (read every version and deleted text, export it, give
/// feedback on its messages, grade its members)? Membership does not matter: a teacher reviews
/// rooms they never joined. `direct_reviewable`: the server's `--review-direct-messages`.
pub fn decide_review(role: Role, room: &RoomRow, direct_reviewable: bool) -> Decision {
    decide_reviewer(role)?;
    if room.kind == RoomKind::Direct && !direct_reviewable {
        return Err(not_found());
    }
    Ok(())
}

/// Whether reviewing `room` goes in the review log: private rooms and direct conversations.
pub fn review_is_logged(room: &RoomRow) -> bool {
    room.kind == RoomKind::Direct || room.visibility == Visibility::Private
}

/// Things only the administrator does, outside any room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminAction {
    /// See the accounts page and change someone's role.
    ManageAccounts,
    /// Delete an archived room for good.
    Purge,
    /// Create bots, give them new API tokens and revoke them.
    ManageBots,
}

pub fn decide_admin(role: Role, _action: AdminAction) -> Decision {
    if role == Role::Admin {
        Ok(())
    } else {
        Err(forbidden("Only the administrator can do that."))
    }
}

/// May the administrator `who` give `target` another role? Not their own: the server must keep
/// its administrator.
pub fn decide_role_change(who: i64, role: Role, target: i64) -> Decision {
    decide_admin(role, AdminAction::ManageAccounts)?;
    if who == target {
        return Err(Denial::new(
            ErrorCode::Invalid,
            "You cannot change your own role.",
        ));
    }
    Ok(())
}

/// May the administrator `who` disable `target`, or set its password? Not their own account:
/// the server must keep its administrator (their own password is changed on /account).
pub fn decide_account_change(who: i64, role: Role, target: i64) -> Decision {
    decide_admin(role, AdminAction::ManageAccounts)?;
    if who == target {
        return Err(Denial::new(
            ErrorCode::Invalid,
            "You cannot disable your own account or set its password here; use Account.",
        ));
    }
    Ok(())
}

/// May someone with `role` make invite links (to let a class sign up)?
pub fn decide_invite(role: Role) -> Decision {
    if role.is_staff() {
        Ok(())
    } else {
        Err(forbidden(
            "Only teachers and the administrator can make invite links.",
        ))
    }
}

#[cfg(test)]
mod tests;
