//! From what a route made of an event to message rows, one per subscriber.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::store::{MessageStatus, NewEvent, NewMessage};
use crate::topology::Route;

use super::chain::{Outcome, RouteRun};
use super::envelope::{self, Envelope};

pub fn from_run(event: &NewEvent, route: &Route, run: RouteRun) -> Vec<NewMessage> {
    match run.outcome {
        Outcome::Messages(envelopes) => envelopes
            .into_iter()
            .flat_map(|envelope| deliverable(event, route, envelope, &run.plugins))
            .collect(),
        Outcome::Dropped(reason) => {
            settled(event, route, MessageStatus::Filtered, reason, run.plugins)
        }
        Outcome::Failed(reason) => failed(event, route, reason, run.plugins),
    }
}

/// Messages waiting for a plugin of the route to load, one per subscriber: the route runs on
/// the event once it has.
pub fn held(event: &NewEvent, route: &Route) -> Vec<NewMessage> {
    let reason = format!(
        "held: plugin {} has no version that loads; the route runs once it has",
        route.held_by.join(", ")
    );
    settled(event, route, MessageStatus::Held, reason, Vec::new())
}

/// Messages that a failure stopped: kept as dead letters, one per subscriber of the route.
pub fn failed(
    event: &NewEvent,
    route: &Route,
    reason: String,
    plugins: Vec<String>,
) -> Vec<NewMessage> {
    settled(event, route, MessageStatus::Dead, reason, plugins)
}

fn settled(
    event: &NewEvent,
    route: &Route,
    status: MessageStatus,
    reason: String,
    plugins: Vec<String>,
) -> Vec<NewMessage> {
    route
        .subscribers
        .iter()
        .map(|subscriber| NewMessage {
            status,
            error: Some(reason.clone()),
            ..blank(event, route, subscriber, plugins.clone())
        })
        .collect()
}

/// One pending message per subscriber of a route without plugins, whose body is the event's
/// JSON body as it came: what [`deliverable`] makes of the unchanged envelope, but with the
/// provider's bytes rather than the same JSON serialised again.
pub fn unchanged(event: &NewEvent, route: &Route) -> Vec<NewMessage> {
    let content = Content {
        message_type: event.event_type.clone(),
        key: default_key(event, event.event_type.as_deref()),
        headers: BTreeMap::new(),
        body: event.body.clone(),
        body_is_event: true,
    };
    pending(event, route, &route.subscribers, content, &[])
}

/// One pending message per subscriber the envelope goes to.
fn deliverable(
    event: &NewEvent,
    route: &Route,
    envelope: Envelope,
    plugins: &[String],
) -> Vec<NewMessage> {
    let targets = match targets(route, &envelope) {
        Ok(targets) => targets,
        Err(reason) => return failed(event, route, reason, plugins.to_vec()),
    };
    let message_type = string_field(&envelope, "type");
    let key = string_field(&envelope, "key")
        .unwrap_or_else(|| default_key(event, message_type.as_deref()));
    let body = body_bytes(&envelope);
    // A body a route left as it came (a filter passed the event on) is the event's: stored once.
    let body_is_event = body == event.body;
    let content = Content {
        message_type,
        key,
        headers: headers(&envelope),
        body: if body_is_event {
            event.body.clone()
        } else {
            body
        },
        body_is_event,
    };
    pending(event, route, targets, content, plugins)
}

/// What a message carries, the same for every subscriber it goes to.
struct Content {
    message_type: Option<String>,
    key: String,
    headers: BTreeMap<String, String>,
    body: Bytes,
    /// `body` is the event's own.
    body_is_event: bool,
}

/// One pending message carrying `content` per subscriber in `targets`.
fn pending<'a>(
    event: &NewEvent,
    route: &Route,
    targets: impl IntoIterator<Item = &'a String>,
    content: Content,
    plugins: &[String],
) -> Vec<NewMessage> {
    targets
        .into_iter()
        .map(|subscriber| NewMessage {
            message_type: content.message_type.clone(),
            key: Some(content.key.clone()),
            headers: content.headers.clone(),
            body: Some(content.body.clone()),
            body_is_event: content.body_is_event,
            ..blank(event, route, subscriber, plugins.to_vec())
        })
        .collect()
}

/// A message's `subscribers` must name a subset of the route's; absent means all of them.
fn targets<'a>(route: &'a Route, envelope: &Envelope) -> Result<Vec<&'a String>, String> {
    let Some(named) = envelope.get("subscribers") else {
        return Ok(route.subscribers.iter().collect());
    };
    let Some(named) = envelope::read::<Vec<Value>>(named) else {
        return Err(
            "a transform set `subscribers` to something other than an array of names".into(),
        );
    };
    named
        .iter()
        .map(|name| {
            let name = name.as_str().unwrap_or_default();
            route.subscribers.iter().find(|s| *s == name).ok_or_else(|| {
                format!("a transform sent a message to subscriber {name:?}, which route {} does not have", route.name)
            })
        })
        .collect()
}

/// A field that holds a string.
fn string_field(envelope: &Envelope, key: &str) -> Option<String> {
    envelope.get(key).and_then(|field| envelope::read(field))
}

/// A string body is sent as is; `body_base64` as its bytes; anything else as its JSON text.
fn body_bytes(envelope: &Envelope) -> Bytes {
    match (envelope.get("body"), string_field(envelope, "body_base64")) {
        (Some(text), _) if envelope::kind(text) == envelope::JsonKind::String => {
            envelope::read::<String>(text).map_or_else(
                || Bytes::copy_from_slice(text.get().as_bytes()),
                Bytes::from,
            )
        }
        (Some(json), _) => Bytes::copy_from_slice(json.get().as_bytes()),
        (None, Some(encoded)) => BASE64.decode(encoded).map(Bytes::from).unwrap_or_default(),
        (None, None) => Bytes::from_static(b"null"),
    }
}

fn headers(envelope: &Envelope) -> BTreeMap<String, String> {
    let Some(headers) = envelope
        .get("headers")
        .and_then(|headers| envelope::read::<Map<String, Value>>(headers))
    else {
        return BTreeMap::new();
    };
    headers
        .iter()
        .filter_map(|(name, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => return None,
            };
            Some((name.to_ascii_lowercase(), value))
        })
        .collect()
}

/// The ordering key of a message that names none: its source and type.
fn default_key(event: &NewEvent, message_type: Option<&str>) -> String {
    format!("{}:{}", event.source, message_type.unwrap_or(""))
}

fn blank(event: &NewEvent, route: &Route, subscriber: &str, plugins: Vec<String>) -> NewMessage {
    NewMessage {
        id: crate::ids::message_id(),
        event_id: event.id.clone(),
        route: route.name.clone(),
        subscriber: subscriber.to_owned(),
        status: MessageStatus::Pending,
        message_type: None,
        key: None,
        headers: BTreeMap::new(),
        body: None,
        body_is_event: false,
        error: None,
        plugins,
        created_at: crate::clock::now_ms(),
        claimed: false,
    }
}
