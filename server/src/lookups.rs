//! Reads that many connections need at the same moment (whose session a socket carries, what a
//! user's sidebar holds), gathered into one query per turn.
//!
//! Every query to SQLite is a round trip to the thread that owns its connection: two thread
//! switches, which cost more than a small query itself. When 10,000 clients reconnect after a
//! restart, one round trip per client per question was most of the server's work. A [`Lookup`]
//! task takes every request waiting (up to [`MAX_BATCH`]), asks the store once for all of them,
//! and answers each. A request on its own is still one query, answered as soon as it is done.

use std::collections::HashMap;
use std::hash::Hash;

use app::protocol::{Role, RoomSummary, User};
use tokio::sync::{mpsc, oneshot};

use crate::store::Store;

/// Most requests answered by one query.
pub const MAX_BATCH: usize = 256;

/// The store failed; the error was logged where it happened.
#[derive(Debug)]
pub struct LookupFailed;

type Answer<V> = oneshot::Sender<Result<Option<V>, LookupFailed>>;

/// A batched read: `get(key)` from many tasks, one query per batch of keys.
pub struct Lookup<K, V> {
    requests: mpsc::Sender<(K, Answer<V>)>,
}

impl<K, V> Clone for Lookup<K, V> {
    fn clone(&self) -> Self {
        Lookup {
            requests: self.requests.clone(),
        }
    }
}

impl<K, V> Lookup<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// Starts the task that answers requests with `query`, which gets distinct keys and returns
    /// what it found (a key it did not find has no value).
    pub fn start<F, Fut>(what: &'static str, query: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = sqlx::Result<HashMap<K, V>>> + Send,
    {
        let (requests, mut rx) = mpsc::channel::<(K, Answer<V>)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let mut keys: Vec<K> = batch.iter().map(|(key, _)| key.clone()).collect();
                let mut seen = std::collections::HashSet::with_capacity(keys.len());
                keys.retain(|key| seen.insert(key.clone()));
                match query(keys).await {
                    Ok(found) => {
                        for (key, answer) in batch.drain(..) {
                            let _ = answer.send(Ok(found.get(&key).cloned()));
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, what, "lookup failed");
                        for (_, answer) in batch.drain(..) {
                            let _ = answer.send(Err(LookupFailed));
                        }
                    }
                }
            }
        });
        Lookup { requests }
    }

    /// The value for `key`, or `None` if there is none.
    pub async fn get(&self, key: K) -> Result<Option<V>, LookupFailed> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send((key, answer))
            .await
            .map_err(|_| LookupFailed)?;
        answered.await.map_err(|_| LookupFailed)?
    }
}

/// The lookups every connection makes when it opens.
#[derive(Clone)]
pub struct Lookups {
    /// Token hash → the signed-in user and their role.
    pub sessions: Lookup<String, (User, Role)>,
    /// User id → their sidebar (see [`Store::rooms_of`]).
    pub rooms: Lookup<i64, Vec<RoomSummary>>,
    /// User id → how much feedback they have not read (absent: none).
    pub unread_feedback: Lookup<i64, u32>,
}

impl Lookups {
    pub fn start(store: &Store) -> Self {
        let sessions = {
            let store = store.clone();
            Lookup::start("sessions", move |hashes: Vec<String>| {
                let store = store.clone();
                async move { store.session_users(&hashes).await }
            })
        };
        let rooms = {
            let store = store.clone();
            Lookup::start("rooms", move |users: Vec<i64>| {
                let store = store.clone();
                async move { store.rooms_of(&users).await }
            })
        };
        let unread_feedback = {
            let store = store.clone();
            Lookup::start("unread feedback", move |users: Vec<i64>| {
                let store = store.clone();
                async move { store.unread_feedback(&users).await }
            })
        };
        Lookups {
            sessions,
            rooms,
            unread_feedback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn requests_waiting_together_share_one_query_and_each_gets_its_answer() {
        let queries = Arc::new(AtomicUsize::new(0));
        let counted = queries.clone();
        let squares = Lookup::start("squares", move |keys: Vec<i64>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(keys.windows(2).all(|w| w[0] != w[1]), "keys are distinct");
                Ok(keys
                    .iter()
                    .filter(|&&k| k >= 0)
                    .map(|&k| (k, k * k))
                    .collect())
            }
        });
        // Sixty requests (three of them for the same key) made at once, on one thread: the task
        // sees them all waiting.
        let keys: Vec<i64> = (0..57).chain([5, 5, -1]).collect();
        let answers = futures::future::join_all(keys.iter().map(|&k| squares.get(k))).await;
        for (key, answer) in keys.iter().zip(answers) {
            let expected = (*key >= 0).then_some(key * key);
            assert_eq!(answer.unwrap(), expected, "key {key}");
        }
        assert_eq!(queries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_query_fails_every_request_in_its_batch() {
        let broken: Lookup<i64, i64> =
            Lookup::start("broken", |_| async { Err(sqlx::Error::PoolClosed) });
        let answers = futures::future::join_all((0..3).map(|k| broken.get(k))).await;
        assert!(answers.iter().all(|a| a.is_err()));
    }
}
