//! The message log: stores every message, then publishes it, in id order.
//!
//! One task owns all message writes. It takes whatever appends are waiting (up to
//! [`MAX_BATCH`]), stores them in one transaction (group commit: one fsync for the batch),
//! publishes each through the hub, and only then acknowledges each sender. Because one task
//! assigns ids and publishes, clients see ids in increasing order, which makes "everything after
//! id N" a correct resume cursor.

use std::sync::Arc;

use app::protocol::{ChatMessage, MessageKind, ServerFrame, User};
use tokio::sync::{mpsc, oneshot};

use crate::hub::{Hub, encode};
use crate::store::{NewMessage, Store, now_ms};

/// Most appends stored in one transaction.
pub const MAX_BATCH: usize = 512;

/// The message could not be stored (the room is gone, or the database failed).
#[derive(Debug)]
pub struct NotStored;

struct Append {
    message: NewMessage,
    done: Done,
}

#[derive(Clone)]
pub struct MessageLog {
    appends: mpsc::Sender<Append>,
}

impl MessageLog {
    pub fn start(store: Store, hub: Arc<Hub>) -> Self {
        let (appends, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, hub, rx));
        MessageLog { appends }
    }

    /// Stores and publishes a message; returns it once it is durable and sent to the room.
    pub async fn append(
        &self,
        room: i64,
        author: User,
        kind: MessageKind,
        text: String,
    ) -> Result<ChatMessage, NotStored> {
        let (done, result) = oneshot::channel();
        let message = NewMessage {
            room,
            author,
            kind,
            text,
        };
        self.appends
            .send(Append { message, done })
            .await
            .map_err(|_| NotStored)?;
        result.await.map_err(|_| NotStored)?
    }
}

async fn run(store: Store, hub: Arc<Hub>, mut rx: mpsc::Receiver<Append>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let sent_at = now_ms();
        let (messages, dones): (Vec<NewMessage>, Vec<_>) =
            batch.drain(..).map(|a| (a.message, a.done)).unzip();
        match store.append_messages(&messages, sent_at).await {
            Ok(ids) => {
                for ((message, done), id) in messages.into_iter().zip(dones).zip(ids) {
                    publish(&hub, message, id, sent_at, done);
                }
            }
            // One bad append (say, to a room deleted a moment ago) must not sink the others:
            // retry one by one.
            Err(_) => {
                for (message, done) in messages.into_iter().zip(dones) {
                    match store.append_message(&message, sent_at).await {
                        Ok(id) => publish(&hub, message, id, sent_at, done),
                        Err(error) => {
                            tracing::warn!(%error, room = message.room, "message not stored");
                            let _ = done.send(Err(NotStored));
                        }
                    }
                }
            }
        }
    }
}

type Done = oneshot::Sender<Result<ChatMessage, NotStored>>;

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
        },
    };
    hub.to_room(room, &encode(&frame));
    if let ServerFrame::Message { message } = frame {
        let _ = done.send(Ok(message));
    }
}

#[cfg(test)]
mod tests {
    use app::protocol::LOBBY_ID;

    use super::*;
    use crate::store::test_support::{fresh_store, remove};

    #[tokio::test]
    async fn a_message_to_a_room_just_deleted_does_not_sink_the_others_in_its_batch() {
        let (store, path) = fresh_store("log").await;
        let alice = store.create_user("alice", "x").await.unwrap().unwrap().user;
        let chess = store
            .create_room("chess", alice.id)
            .await
            .unwrap()
            .unwrap()
            .id;
        store.delete_room(chess).await.unwrap();
        let log = MessageLog::start(store.clone(), Arc::new(Hub::default()));

        // Both are queued before the log's task runs (this runtime has one thread), so they
        // reach the database as one batch, which the message to the deleted room fails.
        let text = |room| log.append(room, alice.clone(), MessageKind::Text, "hi".into());
        let (lost, kept) = tokio::join!(text(chess), text(LOBBY_ID));

        assert!(lost.is_err(), "the deleted room's message is refused");
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
