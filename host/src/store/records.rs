//! The rows the rest of wasmhook hands to the store and gets back from it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What the sender's HTTP request looked like, kept so plugins see it on every (re)run.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RequestMeta {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewEvent {
    pub id: String,
    pub source: String,
    pub event_type: Option<String>,
    /// Unix milliseconds.
    pub received_at: i64,
    /// Logged apart from the rest, as a body (see `store::bodies`).
    #[serde(skip)]
    pub request: RequestMeta,
    /// Logged apart from the rest (see `store::bodies`).
    #[serde(skip)]
    pub body: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Received,
    Processed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Pending,
    Delivered,
    Dead,
    Filtered,
    /// Waits for a plugin of its route to load: the route has not run on the event yet.
    Held,
}

macro_rules! string_enum {
    ($ty:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}
string_enum!(EventStatus { Received => "received", Processed => "processed" });
string_enum!(MessageStatus {
    Pending => "pending",
    Delivered => "delivered",
    Dead => "dead",
    Filtered => "filtered",
    Held => "held",
});

/// A message as the pipeline produced it: one per (event, output message, subscriber).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewMessage {
    pub id: String,
    pub event_id: String,
    pub route: String,
    pub subscriber: String,
    pub status: MessageStatus,
    pub message_type: Option<String>,
    /// Ordering key.
    pub key: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// What is POSTed; `None` for messages that will never be sent (filtered, dead in the pipeline).
    /// Logged apart from the rest (see `store::bodies`).
    #[serde(skip)]
    pub body: Option<Bytes>,
    /// The body is the event's, as it came: the store keeps it once, with the event.
    pub body_is_event: bool,
    /// Why a message is filtered or dead.
    pub error: Option<String>,
    /// sha256 of each plugin that shaped the message.
    pub plugins: Vec<String>,
    pub created_at: i64,
    /// A lane of this process took it before its commit and sends it from memory: a shared
    /// store commits it claimed by this node, the others leave it to whichever claims it.
    #[serde(skip)]
    pub claimed: bool,
}

/// One HTTP delivery attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub at: i64,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The first bytes of the answer.
    pub response: Option<Bytes>,
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(i64),
    Dead,
    /// A probe of the subscriber's open circuit failed: the message waits as it was, its
    /// retries unspent.
    Probed,
}

/// A subscriber's open circuit, as stored so that it stays open across a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenCircuit {
    /// Unix ms.
    pub opened_at: i64,
    /// When the next probe may start, Unix ms.
    pub probe_at: i64,
    /// The wait before that probe; doubled after each failed one.
    pub probe_interval_ms: i64,
    /// Probes made since it opened.
    pub probes: u32,
    pub reason: String,
}

/// A pending message whose next attempt is due.
#[derive(Debug, Clone)]
pub struct DueMessage {
    pub id: String,
    pub subscriber: String,
    pub headers: BTreeMap<String, String>,
    pub body: Bytes,
    /// Attempts made so far.
    pub attempts: u32,
}

/// What a read of due messages found.
#[derive(Debug, Clone)]
pub struct DueRead {
    /// Oldest first.
    pub messages: Vec<DueMessage>,
    /// Every due message is among them (else a limit cut the read short).
    pub complete: bool,
}

/// A key to check an event against, a provider delivery id or a replay key: a request with
/// the same key within `window_ms` of the first is answered without storing a new event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dedup {
    pub key: String,
    pub window_ms: i64,
}

/// What inserting an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// A redelivery of this earlier event.
    Duplicate(String),
}

/// The most events one prune removes; the caller prunes again while a prune removes this many.
pub const PRUNE_BATCH: usize = 1000;

/// What has expired: events by their age and state, delivery ids by the longest dedup window.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Expiry {
    pub settled_before: i64,
    pub dead_before: i64,
    pub dedup_before: i64,
}

/// What a node runs, as it tells the other nodes sharing its store (see `GET /api/nodes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeState {
    pub name: String,
    /// Where its ingest listens.
    pub address: String,
    pub routes_sha256: String,
    /// Plugin name → sha256 of the version it runs.
    pub plugins: BTreeMap<String, String>,
    /// How long its claims hold after its last heartbeat: longer than any attempt it may
    /// still be making when it stops starting new ones.
    pub lease_ms: i64,
}
