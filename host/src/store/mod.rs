//! The durable record of every event, message and delivery attempt, and the queue delivery
//! works from.
//!
//! Two stores keep it, behind one interface ([`Store`]) and one set of rules that the
//! conformance suite (`conformance.rs`) checks on both:
//! - [`sqlite`], embedded: a file and a log in `data_dir`, for one node. The default.
//! - [`postgres`], shared: several nodes on one PostgreSQL database, splitting the work by
//!   leases (`[server] store = "postgres://..."`).
//!
//! # The rules
//! - An event is acknowledged to its sender only after [`Store::insert_event`] returned, and
//!   that means it is durable.
//! - An event is `received` until the pipeline commits its messages *in the same transaction*
//!   that marks it `processed`; a crash in between leaves it `received`, to run again.
//! - A message is `pending` until an attempt ends it `delivered` or `dead`, or it was born
//!   `filtered`/`dead` in the pipeline, or `held` for a route waiting on a plugin. Every HTTP
//!   attempt is recorded in the same transaction as the message's new state.
//! - [`Store::due_messages`] hands a pending message to one caller at a time: the one process
//!   of a SQLite store keeps track of its messages in flight, PostgreSQL nodes claim theirs.

mod backoff;
#[cfg(test)]
mod conformance;
mod error;
mod listing;
pub mod postgres;
mod records;
pub mod sqlite;
mod views;

pub use backoff::Backoff;
pub use error::StoreError;
pub use listing::{EventQuery, MessageQuery, Page, SubscriberQueue};
pub use records::{
    Attempt, AttemptOutcome, Dedup, DueMessage, DueRead, EventStatus, Expiry, Inserted,
    MessageStatus, NewEvent, NewMessage, NodeState, OpenCircuit, PRUNE_BATCH, RequestMeta,
};
pub use views::{AttemptRecord, EventRecord, EventSummary, MessageRecord, NodeRecord, json_column};

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::Store),
    Postgres(postgres::Store),
}

/// Calls the same method on whichever store this is.
macro_rules! each {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            Store::Sqlite($inner) => $call,
            Store::Postgres($inner) => $call,
        }
    };
}

impl Store {
    /// Opens (or creates) the embedded store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        sqlite::Store::open(data_dir).map(Store::Sqlite)
    }

    /// Connects to the shared store at `url` (`postgres://...`) as the node `state` describes.
    pub async fn connect(url: &str, state: NodeState) -> Result<Store, StoreError> {
        postgres::Store::connect(url, state)
            .await
            .map(Store::Postgres)
    }

    /// Tells the other nodes this node is alive and what it runs (see `GET /api/nodes`); in
    /// the shared store, this keeps its claims on work its own.
    pub async fn heartbeat(&self, state: &NodeState) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => {
                store.heartbeat(state);
                Ok(())
            }
            Store::Postgres(store) => store.heartbeat(state).await,
        }
    }

    /// The nodes sharing the store; this one alone for the embedded store.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        match self {
            Store::Sqlite(store) => Ok(store.nodes()),
            Store::Postgres(store) => store.nodes().await,
        }
    }

    /// Whether this node may start attempts: always with the embedded store; with the shared
    /// one, while its lease on its messages is safely its own.
    pub fn may_deliver(&self) -> bool {
        match self {
            Store::Sqlite(_) => true,
            Store::Postgres(store) => store.may_deliver(),
        }
    }

    /// At a clean stop: gives this node's unfinished work to the other nodes at once.
    pub async fn leave(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(store) => store.leave().await,
        }
    }

    /// Commits a new event, unless one of the `dedup` keys finds it is a redelivery or a
    /// replay. Returns once durable.
    /// `status` is `Received` for the pipeline to run it, or `Processed` for an event whose
    /// messages are known already (none where its source has no routes), committed with it:
    /// one write instead of two, and nothing for the pipeline to do.
    pub async fn insert_event(
        &self,
        event: Arc<NewEvent>,
        dedup: Vec<Dedup>,
        status: EventStatus,
        messages: Vec<NewMessage>,
    ) -> Result<Inserted, StoreError> {
        each!(self, s => s.insert_event(event, dedup, status, messages).await)
    }

    /// Commits the pipeline's messages for an event and marks it processed, atomically.
    pub async fn finish_event(
        &self,
        event_id: String,
        messages: Vec<NewMessage>,
    ) -> Result<(), StoreError> {
        each!(self, s => s.finish_event(event_id, messages).await)
    }

    /// Records one delivery attempt and the message state it leads to.
    pub async fn record_attempt(
        &self,
        message_id: String,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        each!(self, s => s.record_attempt(message_id, attempt, outcome).await)
    }

    /// Makes a dead message pending again, due now. False if it is not a dead, sendable message.
    pub async fn retry_message(&self, message_id: String) -> Result<bool, StoreError> {
        each!(self, s => s.retry_message(message_id).await)
    }

    /// Makes every dead message of `subscriber` that has a body pending, due now; how many.
    pub async fn retry_dead_of(&self, subscriber: String) -> Result<usize, StoreError> {
        each!(self, s => s.retry_dead_of(subscriber).await)
    }

    /// Marks an event `received` again so the pipeline runs it anew. False if there is no such event.
    pub async fn mark_for_replay(&self, event_id: String) -> Result<bool, StoreError> {
        each!(self, s => s.mark_for_replay(event_id).await)
    }

    pub async fn disable_subscriber(&self, name: String, reason: String) -> Result<(), StoreError> {
        each!(self, s => s.disable_subscriber(name, reason).await)
    }

    /// False if the subscriber was not disabled.
    pub async fn enable_subscriber(&self, name: String) -> Result<bool, StoreError> {
        each!(self, s => s.enable_subscriber(name).await)
    }

    /// Records that the subscriber's circuit is open (or was probed again).
    pub async fn open_circuit(
        &self,
        subscriber: String,
        circuit: OpenCircuit,
    ) -> Result<(), StoreError> {
        each!(self, s => s.open_circuit(subscriber, circuit).await)
    }

    pub async fn close_circuit(&self, subscriber: String) -> Result<(), StoreError> {
        each!(self, s => s.close_circuit(subscriber).await)
    }

    /// Removes up to [`PRUNE_BATCH`] expired events (see `retention` in routes.toml) and
    /// forgets expired delivery ids; returns how many events.
    pub async fn prune(&self, expiry: Expiry) -> Result<usize, StoreError> {
        each!(self, s => s.prune(expiry).await)
    }

    /// Changes whenever the store holds work this process did not hand it and may not know
    /// of: events accepted before to run again, messages to look for.
    /// Kept across waits, it misses none that came while its holder was busy.
    pub fn catch_ups(&self) -> tokio::sync::watch::Receiver<u64> {
        each!(self, s => s.catch_ups())
    }

    /// Changes when another node sharing the store committed messages it could not start at
    /// once: due messages to look for. `None` for the embedded store, which has one node.
    pub fn work_notices(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(store) => Some(store.work_notices()),
        }
    }

    /// Events accepted but not yet through the pipeline, oldest first.
    pub async fn unprocessed_events(&self, limit: usize) -> Result<Vec<NewEvent>, StoreError> {
        each!(self, s => s.unprocessed_events(limit).await)
    }

    /// One event as the pipeline takes it.
    pub async fn load_event(&self, id: String) -> Result<Option<NewEvent>, StoreError> {
        each!(self, s => s.load_event(id).await)
    }

    /// Subscribers disabled by a `410 Gone`, with when and why.
    pub async fn disabled_subscribers(
        &self,
    ) -> Result<BTreeMap<String, (i64, String)>, StoreError> {
        each!(self, s => s.disabled_subscribers().await)
    }

    /// The subscribers whose circuit is open.
    pub async fn open_circuits(&self) -> Result<BTreeMap<String, OpenCircuit>, StoreError> {
        each!(self, s => s.open_circuits().await)
    }

    /// Pending messages for `subscriber` whose attempt is due at `now`, skipping `in_flight`:
    /// up to `limit` messages, and past `max_bytes` of bodies only the first.
    ///
    /// With `per_key`, only the oldest pending message of each ordering key is due, and none
    /// while an earlier event is still in the pipeline (its messages could come first).
    pub async fn due_messages(
        &self,
        subscriber: String,
        now: i64,
        limits: (usize, usize),
        in_flight: HashSet<String>,
        per_key: bool,
    ) -> Result<DueRead, StoreError> {
        each!(self, s => s.due_messages(subscriber, now, limits, in_flight, per_key).await)
    }

    /// When the earliest pending message of these subscribers falls due after `now`.
    pub async fn next_due_after(
        &self,
        subscribers: Vec<String>,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        each!(self, s => s.next_due_after(subscribers, now).await)
    }

    /// A page of the events `query` asks for, the latest first.
    pub async fn list_events(&self, query: EventQuery) -> Result<Page<EventSummary>, StoreError> {
        each!(self, s => s.list_events(query).await)
    }

    /// One event with its messages and their attempts.
    pub async fn event(&self, id: String) -> Result<Option<EventRecord>, StoreError> {
        each!(self, s => s.event(id).await)
    }

    /// How many messages have `status`.
    pub async fn count_messages(&self, status: MessageStatus) -> Result<u64, StoreError> {
        each!(self, s => s.count_messages(status).await)
    }

    pub async fn message(&self, id: String) -> Result<Option<MessageRecord>, StoreError> {
        each!(self, s => s.message(id).await)
    }

    /// A page of the messages `query` asks for, the latest first.
    pub async fn list_messages(
        &self,
        query: MessageQuery,
    ) -> Result<Page<MessageRecord>, StoreError> {
        each!(self, s => s.list_messages(query).await)
    }

    /// How many messages wait for each subscriber, since when, and how many are dead.
    pub async fn subscriber_queues(&self) -> Result<Vec<SubscriberQueue>, StoreError> {
        each!(self, s => s.subscriber_queues().await)
    }

    /// Up to `limit` events that `route` holds, oldest first.
    pub async fn held_events(
        &self,
        route: String,
        limit: usize,
    ) -> Result<Vec<NewEvent>, StoreError> {
        each!(self, s => s.held_events(route, limit).await)
    }

    /// Replaces the messages `route` held for an event by `messages`, atomically. False, with
    /// nothing written, when it held none (already released).
    pub async fn release_held(
        &self,
        event_id: String,
        route: String,
        messages: Vec<NewMessage>,
    ) -> Result<bool, StoreError> {
        each!(self, s => s.release_held(event_id, route, messages).await)
    }
}
