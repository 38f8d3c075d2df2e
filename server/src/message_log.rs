//! The message log: stores every message, edit and deletion, then publishes it, in order.
//!
//! One task owns all writes of message content. It takes whatever is waiting (up to
//! [`MAX_BATCH`]), stores runs of new messages in one transaction each (group commit: one fsync
//! for the run), applies edits and deletions one by one in between, publishes each through the
//! hub, and only then acknowledges each sender. Because one task assigns message ids and change
//! numbers and publishes, clients see both in increasing order, which makes "everything after
//! id N" and "every change after number C" correct resume cursors.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use app::protocol::{ChatMessage, MessageKind, ServerFrame, User};
use tokio::sync::{mpsc, oneshot};

use crate::hub::{Hub, encode};
use crate::store::{Change, NewMessage, Refused, Store, is_duplicate, now_ms};

/// Most writes taken at once; a run of new messages among them is one transaction.
pub const MAX_BATCH: usize = 512;

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
    /// The newest change number published so far.
    published_change: Arc<AtomicI64>,
}

impl MessageLog {
    /// Starts the writer task, numbering changes on from the newest stored one.
    pub async fn start(store: Store, hub: Arc<Hub>) -> Result<Self, sqlx::Error> {
        let latest = store.latest_change().await?;
        let published_change = Arc::new(AtomicI64::new(latest));
        let (writes, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            store,
            hub,
            next_change: latest + 1,
            published_change: published_change.clone(),
        };
        tokio::spawn(writer.run(rx));
        Ok(MessageLog {
            writes,
            published_change,
        })
    }

    /// The newest change number published: a connection subscribed before reading it hears every
    /// later change live, and finds every earlier one stored.
    pub fn published_change(&self) -> i64 {
        self.published_change.load(Ordering::Acquire)
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
    hub: Arc<Hub>,
    next_change: i64,
    published_change: Arc<AtomicI64>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Write>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut run = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
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
            Ok(ids) => {
                crate::operations::committed(messages.len(), started.elapsed());
                for ((message, done), id) in messages.into_iter().zip(dones).zip(ids) {
                    publish(&self.hub, message, id, sent_at, done);
                }
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
                Ok(ids) => {
                    crate::operations::committed(messages.len(), started.elapsed());
                    for ((message, done), id) in messages.into_iter().zip(dones).zip(ids) {
                        publish(&self.hub, message, id, sent_at, done);
                    }
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
                Ok(id) => {
                    crate::operations::committed(1, started.elapsed());
                    publish(&self.hub, message, id, sent_at, done);
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
        let number = self.next_change;
        let result = match self
            .store
            .change_message(message, by, &change, now_ms(), number)
            .await
        {
            Ok(Some(changed)) => {
                self.next_change += 1;
                let frame = encode(&ServerFrame::MessageChanged {
                    message: changed.clone(),
                });
                self.hub.to_room(changed.room, &frame);
                self.published_change.store(number, Ordering::Release);
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

fn publish(hub: &Hub, message: NewMessage, id: i64, sent_at: i64, done: Done) {
    let room = message.room;
    let frame = ServerFrame::Message {
        message: ChatMessage {
            id,
            room,
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
    hub.to_room(room, &encode(&frame));
    if let ServerFrame::Message { message } = frame {
        let _ = done.send(Ok(message));
    }
}

#[cfg(test)]
mod tests {
    use app::protocol::{LOBBY_ID, Visibility};

    use super::*;
    use crate::store::test_support::{fresh_store, remove};

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
        let log = MessageLog::start(store.clone(), Arc::new(Hub::default()))
            .await
            .unwrap();

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
}
