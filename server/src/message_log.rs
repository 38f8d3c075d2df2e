//! The message log: stores every message, edit and deletion, then publishes it, in order.
//!
//! One task owns all writes of message content. It takes whatever is waiting (up to
//! [`MAX_BATCH`]; while busy, waiting up to the configured linger for a small batch to fill),
//! stores runs of new messages in one transaction each (group commit: one fsync
//! for the run), applies edits and deletions one by one in between, publishes each through the
//! bus, and only then acknowledges each sender. The database gives message ids and change
//! numbers in commit order, and the bus delivers commits in that order (on every node, when
//! there are several), so clients see both in increasing order, which makes "everything after
//! id N" and "every change after number C" correct resume cursors.

use std::sync::Arc;
use std::time::Duration;

use app::protocol::{ChatMessage, MessageKind, ServerFrame, User};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::bus::Bus;
use crate::bus::wire::Item;
use crate::hub::encode;
use crate::store::{Appended, Change, Changed, NewMessage, Refused, Store, is_duplicate, now_ms};

/// Most writes taken at once; a run of new messages among them is one transaction.
pub const MAX_BATCH: usize = 512;

/// The log counts as busy (and a small batch may linger) this long after its last commit.
const BUSY_FOR: Duration = Duration::from_millis(100);

/// Why a write was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStored {
    /// The storage refused it: no such room, not a member, or muted.
    Refused(Refused),
    /// The message to change does not exist or is deleted already.
    NoMessage,
    /// The database failed, or the server is stopping.
    Failed,
    /// Its author sent this nonce before: that message, with this id, is the one stored.
    Duplicate(i64),
}

enum Write {
    Append {
        message: NewMessage,
        done: Done,
    },
    Change {
        message: i64,
        by: i64,
        change: Change,
        done: Done,
    },
}

type Done = oneshot::Sender<Result<ChatMessage, NotStored>>;

#[derive(Clone)]
pub struct MessageLog {
    writes: mpsc::Sender<Write>,
}

impl MessageLog {
    /// Starts the writer task; while busy, a batch smaller than [`MAX_BATCH`] waits up to
    /// `linger` for company before it is committed.
    pub fn start(store: Store, bus: Arc<Bus>, linger: Duration) -> Self {
        let (writes, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(Writer { store, bus, linger }.run(rx));
        MessageLog { writes }
    }

    /// Stores and publishes a message; returns it once it is durable and sent to the room.
    pub async fn append(
        &self,
        room: i64,
        author: User,
        kind: MessageKind,
        text: String,
    ) -> Result<ChatMessage, NotStored> {
        self.append_once(room, author, kind, text, None).await
    }

    /// Like [`append`](Self::append), but a `nonce` its author sent before (within a day) is
    /// not stored again: it is answered with [`NotStored::Duplicate`] and the stored id.
    pub async fn append_once(
        &self,
        room: i64,
        author: User,
        kind: MessageKind,
        text: String,
        nonce: Option<String>,
    ) -> Result<ChatMessage, NotStored> {
        let message = NewMessage {
            room,
            author,
            kind,
            text,
            nonce,
        };
        self.write(|done| Write::Append { message, done }).await
    }

    /// Edits or deletes a message (the caller has checked the rights) and publishes its new
    /// state to the room.
    pub async fn change(
        &self,
        message: i64,
        by: i64,
        change: Change,
    ) -> Result<ChatMessage, NotStored> {
        self.write(|done| Write::Change {
            message,
            by,
            change,
            done,
        })
        .await
    }

    async fn write(&self, write: impl FnOnce(Done) -> Write) -> Result<ChatMessage, NotStored> {
        let (done, result) = oneshot::channel();
        self.writes
            .send(write(done))
            .await
            .map_err(|_| NotStored::Failed)?;
        result.await.map_err(|_| NotStored::Failed)?
    }
}

struct Writer {
    store: Store,
    bus: Arc<Bus>,
    linger: Duration,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Write>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut run = Vec::with_capacity(MAX_BATCH);
        let mut last_commit: Option<Instant> = None;
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            if last_commit.is_some_and(|at| at.elapsed() < BUSY_FOR) {
                let until = Instant::now() + self.linger;
                while batch.len() < MAX_BATCH {
                    let room = MAX_BATCH - batch.len();
                    match tokio::time::timeout_at(until, rx.recv_many(&mut batch, room)).await {
                        Ok(n) if n > 0 => {}
                        _ => break,
                    }
                }
            }
            for write in batch.drain(..) {
                match write {
                    Write::Append { message, done } => run.push((message, done)),
                    Write::Change {
                        message,
                        by,
                        change,
                        done,
                    } => {
                        // Messages sent before the change are stored (and published) first.
                        self.append_run(&mut run).await;
                        self.change(message, by, change, done).await;
                    }
                }
            }
            self.append_run(&mut run).await;
            last_commit = Some(Instant::now());
        }
    }

    /// Stores a run of new messages as one commit and publishes them.
    async fn append_run(&mut self, run: &mut Vec<(NewMessage, Done)>) {
        if run.is_empty() {
            return;
        }
        let sent_at = now_ms();
        let (messages, dones): (Vec<NewMessage>, Vec<Done>) = run.drain(..).unzip();
        let started = std::time::Instant::now();
        let failure = match self.store.append_messages(&messages, sent_at).await {
            Ok(appended) => {
                crate::operations::committed(messages.len(), started.elapsed());
                publish(&self.bus, messages, dones, appended, sent_at);
                return;
            }
            Err(error) => error,
        };
        // The trigger refuses the whole batch for one message it may not store (its author
        // left the room a moment ago, say, or sent this nonce before): ask which, answer those,
        // and store the rest together.
        let mut aside: Vec<(usize, NotStored)> = Vec::new();
        if Refused::of(&failure).is_some() {
            let refused = self.store.refused(&messages, sent_at).await;
            aside.extend(
                refused
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(at, why)| (at, NotStored::Refused(why))),
            );
        } else if is_duplicate(&failure) {
            let sent = self.store.already_sent(&messages).await;
            aside.extend(
                sent.unwrap_or_default()
                    .into_iter()
                    .map(|(at, id)| (at, NotStored::Duplicate(id))),
            );
        }
        let mut keep = Vec::with_capacity(messages.len());
        for (at, (message, done)) in messages.into_iter().zip(dones).enumerate() {
            match aside.iter().find(|(a, _)| *a == at) {
                Some(&(_, why)) => {
                    let _ = done.send(Err(why));
                }
                None => keep.push((message, done)),
            }
        }
        if !aside.is_empty() && !keep.is_empty() {
            let (messages, dones): (Vec<NewMessage>, Vec<Done>) = keep.into_iter().unzip();
            let started = std::time::Instant::now();
            match self.store.append_messages(&messages, sent_at).await {
                Ok(appended) => {
                    crate::operations::committed(messages.len(), started.elapsed());
                    publish(&self.bus, messages, dones, appended, sent_at);
                    return;
                }
                Err(_) => keep = messages.into_iter().zip(dones).collect(),
            }
        }
        // Still failing (the database, rights that changed again, or one nonce twice in the
        // batch): one by one.
        for (message, done) in keep {
            let started = std::time::Instant::now();
            match self.store.append_message(&message, sent_at).await {
                Ok(appended) => {
                    crate::operations::committed(1, started.elapsed());
                    publish(&self.bus, vec![message], vec![done], appended, sent_at);
                }
                Err(error) => {
                    let why = if let Some(why) = Refused::of(&error) {
                        NotStored::Refused(why)
                    } else if is_duplicate(&error)
                        && let Ok(sent) = self
                            .store
                            .already_sent(std::slice::from_ref(&message))
                            .await
                        && let Some(&(_, id)) = sent.first()
                    {
                        NotStored::Duplicate(id)
                    } else {
                        tracing::warn!(%error, room = message.room, "message not stored");
                        NotStored::Failed
                    };
                    let _ = done.send(Err(why));
                }
            }
        }
    }

    async fn change(&mut self, message: i64, by: i64, change: Change, done: Done) {
        let result = match self
            .store
            .change_message(message, by, &change, now_ms())
            .await
        {
            Ok(Some(Changed {
                message: changed,
                position,
            })) => {
                let item = Item {
                    room: changed.room,
                    id: changed.id,
                    change: changed.change,
                };
                let frame = encode(&ServerFrame::MessageChanged {
                    message: changed.clone(),
                });
                self.bus.log(position, vec![(item, frame)]);
                Ok(changed)
            }
            Ok(None) => Err(NotStored::NoMessage),
            Err(error) => {
                tracing::warn!(%error, message, "change not stored");
                Err(NotStored::Failed)
            }
        };
        let _ = done.send(result);
    }
}

/// Publishes a stored commit of messages (each encoded once, for every recipient on every
/// node), then answers each sender.
fn publish(
    bus: &Bus,
    messages: Vec<NewMessage>,
    dones: Vec<Done>,
    appended: Appended,
    sent_at: i64,
) {
    let mut stored = Vec::with_capacity(messages.len());
    let mut items = Vec::with_capacity(messages.len());
    for (message, id) in messages.into_iter().zip(appended.ids) {
        let item = Item {
            room: message.room,
            id,
            change: 0,
        };
        let frame = ServerFrame::Message {
            message: ChatMessage {
                id,
                room: message.room,
                author: message.author,
                kind: message.kind,
                text: message.text,
                sent_at,
                edited_at: None,
                deleted: false,
                change: 0,
                feedback: false,
            },
        };
        items.push((item, encode(&frame)));
        if let ServerFrame::Message { message } = frame {
            stored.push(message);
        }
    }
    bus.log(appended.position, items);
    for (message, done) in stored.into_iter().zip(dones) {
        let _ = done.send(Ok(message));
    }
}

#[cfg(test)]
mod tests {
    use app::protocol::{LOBBY_ID, Visibility};

    use super::*;
    use crate::hub::Hub;
    use crate::store::test_support::{fresh_store, remove};

    /// A message log on `store`, publishing to a hub of its own, lingering `linger` while busy.
    async fn start_log(store: &Store, linger: Duration) -> MessageLog {
        let config = crate::Config::new("127.0.0.1:0".parse().unwrap(), "unused");
        let bus = Bus::start(store.clone(), Arc::new(Hub::default()), &config)
            .await
            .unwrap();
        MessageLog::start(store.clone(), bus, linger)
    }

    #[tokio::test]
    async fn a_message_to_a_room_just_deleted_does_not_sink_the_others_in_its_batch() {
        let (store, path) = fresh_store("log").await;
        let alice = store.create_user("alice", "x").await.unwrap().unwrap().user;
        let chess = store
            .create_room("chess", Visibility::Public, alice.id)
            .await
            .unwrap()
            .unwrap()
            .id;
        store.archive_room(chess).await.unwrap();
        let log = start_log(&store, Duration::ZERO).await;

        // Both are queued before the log's task runs (this runtime has one thread), so they
        // reach the database as one batch, which the message to the deleted room fails.
        let text = |room| log.append(room, alice.clone(), MessageKind::Text, "hi".into());
        let (lost, kept) = tokio::join!(text(chess), text(LOBBY_ID));

        assert_eq!(
            lost.unwrap_err(),
            NotStored::Refused(Refused::NoRoom),
            "the deleted room's message is refused"
        );
        let kept = kept.expect("the lobby's message is stored");
        let (lobby, _) = store.history(LOBBY_ID, None, 10).await.unwrap();
        assert_eq!(
            lobby
                .iter()
                .map(|m| (m.id, m.text.as_str()))
                .collect::<Vec<_>>(),
            [(kept.id, "hi")]
        );
        remove(store, path).await;
    }

    #[tokio::test]
    async fn a_message_on_a_quiet_server_is_committed_at_once() {
        let (store, path) = fresh_store("quiet").await;
        let alice = store.create_user("alice", "x").await.unwrap().unwrap().user;
        let log = start_log(&store, Duration::from_secs(60)).await;

        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            log.append(LOBBY_ID, alice, MessageKind::Text, "hi".into()),
        )
        .await;

        assert!(
            sent.expect("not held for company").is_ok(),
            "the message is stored"
        );
        remove(store, path).await;
    }

    #[tokio::test]
    async fn while_busy_messages_sent_a_moment_apart_share_one_commit() {
        let (store, path) = fresh_store("busy").await;
        let alice = store.create_user("alice", "x").await.unwrap().unwrap().user;
        let log = start_log(&store, Duration::from_millis(500)).await;
        let text = |t: &str| log.append(LOBBY_ID, alice.clone(), MessageKind::Text, t.into());
        text("first").await.unwrap();

        // The log has just committed, so the next message waits for company, which comes
        // 50 ms later: both are stored by one commit (one time of sending, consecutive ids).
        let second = text("second");
        let third = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            text("third").await
        };
        let (second, third) = tokio::join!(second, third);
        let (second, third) = (second.unwrap(), third.unwrap());

        assert_eq!(second.sent_at, third.sent_at, "one commit");
        assert_eq!(third.id, second.id + 1);
        remove(store, path).await;
    }
}
