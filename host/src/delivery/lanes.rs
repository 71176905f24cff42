//! Per-subscriber lanes: a subscriber's permits, the messages it has claimed, and those of them
//! ready in memory.
//!
//! The pipeline hands each new pending message to its subscriber's lane as it commits it, so
//! that delivery starts it without reading it back from the store. The store stays the queue
//! of record: retries, what did not fit in a lane and everything pending at start are found
//! there. A lane counts the changes that may have left due messages in the store that it does
//! not hold, and the dispatcher reads the store for that lane only while some are unseen.
//!
//! While a lane has unseen changes it takes no new messages: they wait in the store behind
//! those it could not take, and the dispatcher reads them in order once the ready ones are
//! started. So a store read skips no more than the messages in flight, and a burst past the
//! lane's room is delivered in acceptance order.
//!
//! A message is *claimed* from the moment it is handed over or read from the store until its
//! attempt is recorded. A claimed message is never claimed again, so it is never attempted
//! twice at once, and a store read skips the claimed ones.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::store::DueMessage;

/// Messages a lane holds ready in memory; past this, new messages wait in the store. It also
/// bounds how many claimed ids a store read has to skip.
const READY_MESSAGES: usize = 256;
/// Body bytes a lane holds ready in memory.
const READY_BYTES: usize = 8 << 20;

#[derive(Default)]
pub struct Lanes {
    lanes: Mutex<HashMap<String, Lane>>,
}

struct Lane {
    concurrency: usize,
    permits: Arc<Semaphore>,
    claimed: HashSet<String>,
    ready: VecDeque<DueMessage>,
    ready_bytes: usize,
    /// Bumped whenever the store may have gained a due message this lane does not hold.
    store_changes: u64,
    /// `store_changes` as of the last store read that found everything due.
    store_seen: u64,
}

/// Which of a lane's changes a store read answers.
pub struct StoreMark(u64);

impl Lane {
    fn new(concurrency: usize) -> Lane {
        Lane {
            concurrency,
            permits: Arc::new(Semaphore::new(concurrency)),
            claimed: HashSet::new(),
            ready: VecDeque::new(),
            ready_bytes: 0,
            // Unseen from the start: whatever an earlier run left pending is in the store.
            store_changes: 1,
            store_seen: 0,
        }
    }

    /// Room for one more message of `body` bytes; counts the claims not yet ready too.
    fn has_room(&self, body: usize) -> bool {
        self.claimed.len() < READY_MESSAGES + self.concurrency
            && self.ready_bytes + body <= READY_BYTES
    }
}

impl Lanes {
    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Lane) -> T) -> T {
        let mut lanes = self.lanes.lock().expect("delivery lanes");
        let lane = match lanes.get_mut(name) {
            Some(lane) => lane,
            // A lane is created with one permit until the dispatcher sets its concurrency.
            None => lanes.entry(name.to_owned()).or_insert_with(|| Lane::new(1)),
        };
        f(lane)
    }

    /// The lane's permits, renewed if its `concurrency` changed in a reload.
    pub fn permits(&self, name: &str, concurrency: usize) -> Arc<Semaphore> {
        self.with(name, |lane| {
            if lane.concurrency != concurrency {
                lane.concurrency = concurrency;
                lane.permits = Arc::new(Semaphore::new(concurrency));
            }
            lane.permits.clone()
        })
    }

    /// Claims a message that is about to be committed, if the lane has room to hold it ready
    /// and the store holds none it lacks.
    pub fn claim_new(&self, name: &str, id: &str, body: usize) -> bool {
        self.with(name, |lane| {
            lane.store_changes == lane.store_seen
                && lane.has_room(body)
                && lane.claimed.insert(id.to_owned())
        })
    }

    /// Makes a claimed message ready, now that it is committed.
    pub fn make_ready(&self, name: &str, message: DueMessage) {
        self.with(name, |lane| {
            lane.ready_bytes += message.body.len();
            lane.ready.push_back(message);
        })
    }

    /// Gives a claim up, e.g. when its commit failed: the store decides again.
    pub fn release(&self, name: &str, id: &str) {
        self.with(name, |lane| {
            lane.claimed.remove(id);
            lane.store_changes += 1;
        })
    }

    /// Notes that the store may hold due messages for the lane that it does not hold.
    pub fn store_changed(&self, name: &str) {
        self.with(name, |lane| lane.store_changes += 1)
    }

    /// [`store_changed`](Self::store_changed) for every lane.
    pub fn store_changed_everywhere(&self) {
        for lane in self.lanes.lock().expect("delivery lanes").values_mut() {
            lane.store_changes += 1;
        }
    }

    /// The claimed ids a store read must skip, or `None` if the store has nothing due that
    /// the lane does not already hold. `always` reads anyway: with per-key ordering, what is
    /// due also changes when an attempt or an earlier event elsewhere ends.
    ///
    /// A lane still holding ready messages reads nothing: they are older than what the
    /// store holds, and the read that filled it reads again once they are started.
    pub fn store_read(&self, name: &str, always: bool) -> Option<(HashSet<String>, StoreMark)> {
        self.with(name, |lane| {
            (always || (lane.store_changes != lane.store_seen && lane.ready.is_empty()))
                .then(|| (lane.claimed.clone(), StoreMark(lane.store_changes)))
        })
    }

    /// Claims what a store read returned, leaving out what was claimed meanwhile; `complete`
    /// says the read found everything due, so the lane need not read again until a change.
    pub fn claim_read(
        &self,
        name: &str,
        mark: StoreMark,
        messages: Vec<DueMessage>,
        complete: bool,
    ) -> Vec<DueMessage> {
        self.with(name, |lane| {
            if complete {
                lane.store_seen = mark.0;
            }
            messages
                .into_iter()
                .filter(|message| lane.claimed.insert(message.id.clone()))
                .collect()
        })
    }

    /// How many more messages, and body bytes, the lane can hold ready.
    pub fn room(&self, name: &str) -> (usize, usize) {
        self.with(name, |lane| {
            (
                READY_MESSAGES.saturating_sub(lane.ready.len()),
                READY_BYTES.saturating_sub(lane.ready_bytes),
            )
        })
    }

    /// Up to `limit` ready messages, oldest first.
    pub fn take_ready(&self, name: &str, limit: usize) -> Vec<DueMessage> {
        self.with(name, |lane| {
            let taken: Vec<DueMessage> = lane.ready.drain(..limit.min(lane.ready.len())).collect();
            lane.ready_bytes -= taken.iter().map(|m| m.body.len()).sum::<usize>();
            taken
        })
    }

    /// Puts claimed messages that could not be started back at the front, in their order.
    pub fn put_back(&self, name: &str, messages: Vec<DueMessage>) {
        self.with(name, |lane| {
            for message in messages.into_iter().rev() {
                lane.ready_bytes += message.body.len();
                lane.ready.push_front(message);
            }
        })
    }

    /// Drops the ready messages, unclaimed, to be read from the store in order instead: for a
    /// lane whose subscriber switched to per-key ordering.
    pub fn return_ready_to_store(&self, name: &str) {
        self.with(name, |lane| {
            if lane.ready.is_empty() {
                return;
            }
            for message in lane.ready.drain(..) {
                lane.claimed.remove(&message.id);
            }
            lane.ready_bytes = 0;
            lane.store_changes += 1;
        })
    }

    /// Ends a message's claim once its attempt is recorded.
    pub fn finished(&self, name: &str, id: &str) {
        self.with(name, |lane| lane.claimed.remove(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(id: &str) -> DueMessage {
        DueMessage {
            id: id.into(),
            subscriber: "s".into(),
            headers: Default::default(),
            body: bytes::Bytes::from_static(b"{}"),
            attempts: 0,
        }
    }

    /// A lane that has read the store and found everything due.
    fn caught_up(concurrency: usize) -> Lanes {
        let lanes = Lanes::default();
        lanes.permits("s", concurrency);
        let (_, mark) = lanes.store_read("s", false).expect("unseen at start");
        lanes.claim_read("s", mark, Vec::new(), true);
        lanes
    }

    #[test]
    fn a_message_is_claimed_once_whether_handed_over_or_read_from_the_store() {
        let lanes = caught_up(4);
        assert!(lanes.claim_new("s", "m1", 2));
        assert!(!lanes.claim_new("s", "m1", 2), "claimed twice");
        lanes.store_changed("s");
        let (claimed, mark) = lanes.store_read("s", false).expect("a change");
        assert!(claimed.contains("m1"));
        let read = lanes.claim_read("s", mark, vec![due("m1"), due("m2")], true);
        assert_eq!(
            read.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["m2"]
        );
        lanes.finished("s", "m1");
        assert!(lanes.claim_new("s", "m1", 2), "free again once finished");
    }

    #[test]
    fn the_store_is_read_again_only_after_a_change_it_has_not_answered() {
        let lanes = caught_up(4);
        assert!(lanes.store_read("s", false).is_none(), "nothing new");
        assert!(
            lanes.store_read("s", true).is_some(),
            "per-key reads always"
        );

        lanes.store_changed("s");
        let (_, mark) = lanes.store_read("s", false).expect("a change");
        lanes.store_changed("s");
        lanes.claim_read("s", mark, Vec::new(), true);
        assert!(
            lanes.store_read("s", false).is_some(),
            "a change during the read is still unseen"
        );

        let (_, mark) = lanes.store_read("s", false).unwrap();
        lanes.claim_read("s", mark, vec![due("m1")], false);
        assert!(
            lanes.store_read("s", false).is_some(),
            "a read that filled every permit may have left more behind"
        );
    }

    #[test]
    fn a_full_lane_leaves_new_messages_to_the_store_until_it_has_read_them() {
        let lanes = caught_up(1);
        let room = (0..2 * READY_MESSAGES)
            .take_while(|n| lanes.claim_new("s", &format!("m{n}"), 2))
            .count();
        assert_eq!(room, READY_MESSAGES + 1, "ready ones and one per permit");
        lanes.finished("s", "m0");
        assert!(
            !lanes.claim_new("s", "big", READY_BYTES + 1),
            "too many bytes"
        );

        lanes.store_changed("s");
        assert!(
            !lanes.claim_new("s", "next", 2),
            "behind what waits in the store"
        );
        let (_, mark) = lanes.store_read("s", false).unwrap();
        lanes.claim_read("s", mark, Vec::new(), true);
        assert!(lanes.claim_new("s", "next", 2), "caught up");
    }
}
