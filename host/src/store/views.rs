//! What the admin API shows of the store: events, messages and attempts as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

/// An event as listed by the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub received_at: String,
    pub status: String,
}

/// One event with everything that happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    #[serde(flatten)]
    pub summary: EventSummary,
    pub request: serde_json::Value,
    /// The body as JSON when it is JSON, else as a string.
    pub body: serde_json::Value,
    pub messages: Vec<MessageRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    pub id: String,
    pub event_id: String,
    pub route: String,
    pub subscriber: String,
    pub status: String,
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    pub key: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub headers: serde_json::Value,
    /// The body as JSON when it is JSON, else as a string.
    pub body: serde_json::Value,
    pub plugins: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptRecord>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    pub at: String,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response: Option<String>,
    /// The node that made it; `None` in the embedded store, which has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A node sharing the store, as `GET /api/nodes` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRecord {
    pub id: String,
    pub name: String,
    pub address: String,
    pub started_at: String,
    pub heartbeat_at: String,
    /// `live`; `stopped` (a clean stop); `lost` (no heartbeat within its lease: its work was
    /// taken over).
    pub state: &'static str,
    pub routes_sha256: String,
    pub plugins: BTreeMap<String, String>,
}

/// Stored JSON stays JSON in answers; anything else becomes a string.
pub fn json_column(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}
