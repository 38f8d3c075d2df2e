//! The policy matrix over the socket: each role, in a public and a private room, tries each
//! moderation and posting command on a fresh room, and gets it done or refused with the code the
//! policy gives.

use crate::support::{Client, TestServer, without_flood_limits};
use app::protocol::{ClientFrame, ErrorCode, MuteLength, Role, Visibility};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Admin,
    Teacher,
    Owner,
    Member,
    Outsider,
}

#[derive(Clone, Copy, Debug)]
enum Act {
    Rename,
    Delete,
    Add,
    Remove,
    Mute,
    DeleteOthers,
    Post,
    History,
}

const ACTS: [Act; 8] = [
    Act::Rename,
    Act::Delete,
    Act::Add,
    Act::Remove,
    Act::Mute,
    Act::DeleteOthers,
    Act::Post,
    Act::History,
];
const WHO: [Who; 5] = [
    Who::Admin,
    Who::Teacher,
    Who::Owner,
    Who::Member,
    Who::Outsider,
];

/// What the policy says, for the set-up below: in a public room only the owner, the member and
/// the target are members; in a private one the teacher is too, the administrator is not.
fn expected(visibility: Visibility, who: Who, act: Act) -> Option<ErrorCode> {
    use ErrorCode::{Forbidden, NotFound};
    let private = visibility == Visibility::Private;
    let hidden = private && matches!(who, Who::Admin | Who::Outsider);
    let moderator = matches!(who, Who::Admin | Who::Teacher | Who::Owner);
    let member = matches!(who, Who::Owner | Who::Member) || (private && who == Who::Teacher);
    if hidden {
        return Some(NotFound);
    }
    match act {
        Act::History => None,
        Act::Post => (!member).then_some(Forbidden),
        Act::Remove if !private => Some(Forbidden),
        _ => (!moderator).then_some(Forbidden),
    }
}

struct People {
    admin: Client,
    teacher: Client,
    owner: Client,
    member: Client,
    outsider: Client,
    target: Client,
}

impl People {
    fn get(&mut self, who: Who) -> &mut Client {
        match who {
            Who::Admin => &mut self.admin,
            Who::Teacher => &mut self.teacher,
            Who::Owner => &mut self.owner,
            Who::Member => &mut self.member,
            Who::Outsider => &mut self.outsider,
        }
    }
}

#[tokio::test]
async fn every_role_in_every_kind_of_room_may_do_exactly_what_the_policy_says() {
    let server = TestServer::start_with(without_flood_limits).await;
    let admin = server.register("admin").await;
    let teacher = server.register("teacher").await;
    let mut people = People {
        admin: server.connect(&admin).await,
        teacher: server.connect(&teacher).await,
        owner: server.connect(&server.register("owner").await).await,
        member: server.connect(&server.register("member").await).await,
        outsider: server.connect(&server.register("outsider").await).await,
        target: server.connect(&server.register("target").await).await,
    };
    server.register("newcomer").await;
    server
        .set_role(&admin, people.teacher.me().id, Role::Teacher)
        .await;

    let mut wrong = Vec::new();
    let mut n = 0;
    for visibility in [Visibility::Public, Visibility::Private] {
        for act in ACTS {
            for who in WHO {
                n += 1;
                let name = format!("room{n}");
                let room = match visibility {
                    Visibility::Public => people.owner.create_room(&name).await,
                    Visibility::Private => people.owner.create_private_room(&name).await,
                };
                match visibility {
                    Visibility::Public => {
                        people.member.join_room(room).await;
                        people.target.join_room(room).await;
                    }
                    Visibility::Private => {
                        for name in ["member", "target", "teacher"] {
                            people.owner.add_member(room, name).await;
                        }
                    }
                }
                let target = people.target.me().id;
                let message = people.target.say(room, "mine").await;
                let frame = match act {
                    Act::Rename => ClientFrame::RenameRoom {
                        room,
                        name: format!("renamed{n}"),
                    },
                    Act::Delete => ClientFrame::DeleteRoom { room },
                    Act::Add => ClientFrame::AddMember {
                        room,
                        username: "newcomer".into(),
                    },
                    Act::Remove => ClientFrame::RemoveMember { room, user: target },
                    Act::Mute => ClientFrame::MuteMember {
                        room,
                        user: target,
                        length: MuteLength::TenMinutes,
                    },
                    Act::DeleteOthers => ClientFrame::DeleteMessage { message },
                    Act::Post => ClientFrame::Send {
                        room,
                        text: "hello".into(),
                        nonce: None,
                    },
                    Act::History => ClientFrame::History { room, before: None },
                };
                let got = people.get(who).outcome(&frame).await;
                let want = expected(visibility, who, act);
                if got != want {
                    wrong.push(format!(
                        "{who:?} {act:?} in a {visibility:?} room: expected {want:?}, got {got:?}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
