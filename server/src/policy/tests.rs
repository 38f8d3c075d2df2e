//! The policy matrix: role × room × action → allowed, or refused with which code.

use super::*;
use app::protocol::MUTED_INDEFINITELY;

const NOW: i64 = 1_000_000;
const OWNER: i64 = 10;

fn room(id: i64, kind: RoomKind, visibility: Visibility, archived: bool) -> RoomRow {
    RoomRow {
        id,
        kind,
        visibility,
        name: "r".into(),
        created_by: (kind == RoomKind::Room && id != LOBBY_ID).then_some(OWNER),
        archived,
    }
}

fn lobby() -> RoomRow {
    room(LOBBY_ID, RoomKind::Room, Visibility::Public, false)
}
fn public() -> RoomRow {
    room(2, RoomKind::Room, Visibility::Public, false)
}
fn private() -> RoomRow {
    room(3, RoomKind::Room, Visibility::Private, false)
}
fn direct() -> RoomRow {
    room(4, RoomKind::Direct, Visibility::Private, false)
}
fn archived() -> RoomRow {
    room(5, RoomKind::Room, Visibility::Public, true)
}

fn person(user: i64, role: Role, member: bool) -> Standing {
    Standing {
        user,
        role,
        member,
        muted_until: None,
    }
}

fn member(member: bool) -> Standing {
    person(20, Role::Member, member)
}
fn owner() -> Standing {
    person(OWNER, Role::Member, true)
}
fn teacher(member: bool) -> Standing {
    person(30, Role::Teacher, member)
}
fn admin(member: bool) -> Standing {
    person(1, Role::Admin, member)
}
fn muted(until: i64) -> Standing {
    Standing {
        muted_until: Some(until),
        ..member(true)
    }
}

/// One letter per action of [`Action::ALL`]: y allowed, n not_found, f forbidden, m muted.
fn outcomes(who: &Standing, room: &RoomRow) -> String {
    Action::ALL
        .iter()
        .map(|&action| match decide(who, room, action, NOW) {
            Ok(()) => 'y',
            Err(Denial {
                code: ErrorCode::NotFound,
                ..
            }) => 'n',
            Err(Denial {
                code: ErrorCode::Forbidden,
                ..
            }) => 'f',
            Err(Denial {
                code: ErrorCode::Muted,
                ..
            }) => 'm',
            Err(other) => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn the_matrix_of_roles_rooms_and_actions() {
    // Read Post EditOwn EditOthers DeleteOwn DeleteOthers Join Leave Rename Archive AddMember
    // RemoveMember Mute
    let matrix: [(&str, Standing, RoomRow, &str); 18] = [
        (
            "member, not in a public room",
            member(false),
            public(),
            "yfffyfyyfffff",
        ),
        (
            "member in a public room",
            member(true),
            public(),
            "yyyfyfyyfffff",
        ),
        (
            "muted member in a public room",
            muted(NOW + 1),
            public(),
            "ymmfyfyyfffff",
        ),
        (
            "member whose mute ended",
            muted(NOW),
            public(),
            "yyyfyfyyfffff",
        ),
        ("owner of a public room", owner(), public(), "yyyfyyyyyyyfy"),
        (
            "teacher, not in a public room",
            teacher(false),
            public(),
            "yfffyyyyyyyfy",
        ),
        (
            "administrator in a public room",
            admin(true),
            public(),
            "yyyfyyyyyyyfy",
        ),
        (
            "member of a private room",
            member(true),
            private(),
            "yyyfyfyyfffff",
        ),
        (
            "owner of a private room",
            owner(),
            private(),
            "yyyfyyyyyyyyy",
        ),
        (
            "teacher in a private room",
            teacher(true),
            private(),
            "yyyfyyyyyyyyy",
        ),
        (
            "teacher, not in a private room",
            teacher(false),
            private(),
            "nnnnnnnnnnnnn",
        ),
        (
            "administrator, not in a private room",
            admin(false),
            private(),
            "nnnnnnnnnnnnn",
        ),
        (
            "member in the lobby",
            member(true),
            lobby(),
            "yyyfyfyffffff",
        ),
        (
            "teacher in the lobby",
            teacher(true),
            lobby(),
            "yyyfyyyfyfffy",
        ),
        (
            "member in their conversation",
            member(true),
            direct(),
            "yyyfyfyffffff",
        ),
        (
            "administrator in their conversation",
            admin(true),
            direct(),
            "yyyfyfyffffff",
        ),
        (
            "administrator, not in a conversation",
            admin(false),
            direct(),
            "nnnnnnnnnnnnn",
        ),
        (
            "administrator in an archived room",
            admin(true),
            archived(),
            "nnnnnnnnnnnnn",
        ),
    ];
    let mut wrong = Vec::new();
    for (case, who, room, expected) in &matrix {
        let got = outcomes(who, room);
        if got != *expected {
            wrong.push(format!("{case}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_muted_member_is_told_until_when() {
    let denial = decide(&muted(NOW + 5), &public(), Action::Post, NOW).unwrap_err();
    assert_eq!(denial.until, Some(NOW + 5));
    let forever = decide(&muted(MUTED_INDEFINITELY), &public(), Action::Post, NOW).unwrap_err();
    assert_eq!(forever.until, Some(MUTED_INDEFINITELY));
}

#[test]
fn moderators_act_only_on_people_below_them() {
    let room = private();
    let code =
        |who: &Standing, target: &Standing| decide_over(who, target, &room).err().map(|d| d.code);
    assert_eq!(code(&owner(), &member(true)), None);
    assert_eq!(code(&teacher(true), &owner()), None);
    assert_eq!(code(&admin(true), &teacher(true)), None);
    assert_eq!(code(&owner(), &teacher(true)), Some(ErrorCode::Forbidden));
    assert_eq!(
        code(&teacher(true), &person(31, Role::Teacher, true)),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(
        code(&teacher(true), &admin(true)),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(code(&owner(), &owner()), Some(ErrorCode::Invalid));
    assert_eq!(code(&owner(), &member(false)), Some(ErrorCode::NotFound));
}

#[test]
fn only_the_administrator_changes_roles_and_not_their_own() {
    assert!(decide_role_change(1, Role::Admin, 2).is_ok());
    assert_eq!(
        decide_role_change(1, Role::Admin, 1).unwrap_err().code,
        ErrorCode::Invalid
    );
    assert_eq!(
        decide_role_change(2, Role::Teacher, 3).unwrap_err().code,
        ErrorCode::Forbidden
    );
    assert!(decide_admin(Role::Admin, AdminAction::Purge).is_ok());
    assert!(decide_admin(Role::Teacher, AdminAction::Purge).is_err());
}

#[test]
fn teachers_and_the_administrator_review_every_named_room_and_members_none() {
    for room in [lobby(), public(), private(), archived()] {
        for role in [Role::Teacher, Role::Admin] {
            assert_eq!(
                decide_review(role, &room, false),
                Ok(()),
                "{role:?} {room:?}"
            );
        }
        let refused = decide_review(Role::Member, &room, true).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Forbidden, "{room:?}");
    }
    assert!(decide_reviewer(Role::Member).is_err());
}

#[test]
fn direct_conversations_are_reviewable_only_when_the_server_allows_it() {
    let refused = decide_review(Role::Teacher, &direct(), false).unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotFound);
    assert_eq!(decide_review(Role::Teacher, &direct(), true), Ok(()));
    assert_eq!(
        decide_review(Role::Member, &direct(), true)
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
}

#[test]
fn reviews_of_private_rooms_and_conversations_are_logged_and_public_ones_not() {
    assert!(review_is_logged(&private()));
    assert!(review_is_logged(&direct()));
    assert!(!review_is_logged(&public()));
    assert!(!review_is_logged(&archived()));
}

#[test]
fn only_staff_make_invite_links() {
    assert!(decide_invite(Role::Admin).is_ok());
    assert!(decide_invite(Role::Teacher).is_ok());
    assert!(decide_invite(Role::Member).is_err());
}

#[test]
fn the_administrator_cannot_disable_their_own_account() {
    assert!(decide_account_change(1, Role::Admin, 2).is_ok());
    assert!(decide_account_change(1, Role::Admin, 1).is_err());
    assert!(decide_account_change(1, Role::Teacher, 2).is_err());
}
