//! A message: one output of a transform.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Envelope;

/// One message produced by a transform. Every field that is set replaces the envelope's;
/// every field left unset is carried over from the envelope.
///
/// ```
/// use wasmhook_plugin_sdk::Message;
/// use serde_json::json;
///
/// let m = Message::new(json!({"text": "deployed"}))
///     .header("x-team", "platform")
///     .subscribers(["slack"])
///     .key("deploy-42");
/// assert_eq!(
///     serde_json::to_value(&m).unwrap(),
///     json!({"body": {"text": "deployed"}, "headers": {"x-team": "platform"},
///            "subscribers": ["slack"], "key": "deploy-42"}),
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Message {
    /// The body sent to subscribers: JSON-serialised, or as is when it is a string.
    #[serde(default)]
    pub body: Option<Value>,
    /// Headers sent to subscribers (after the subscriber's own headers).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// The event type of this message; serialised as `type`.
    #[serde(rename = "type", default)]
    pub event_type: Option<String>,
    /// The subscribers this message goes to: a subset of the route's, by name.
    #[serde(default)]
    pub subscribers: Option<Vec<String>>,
    /// The ordering key for subscribers with `ordering = "per-key"`.
    #[serde(default)]
    pub key: Option<String>,
    /// Any other fields, carried to the next transform.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// A message with this body; everything else is carried over from the envelope.
    pub fn new(body: impl Into<Value>) -> Self {
        Self {
            body: Some(body.into()),
            ..Self::default()
        }
    }

    /// Adds a header (replacing the envelope's headers with this message's).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), value.into());
        self
    }

    /// Adds several headers.
    pub fn headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map = self.headers.get_or_insert_with(BTreeMap::new);
        map.extend(headers.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets the event type.
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Limits delivery to these subscribers of the route.
    pub fn subscribers<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.subscribers = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the ordering key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets any other field, carried to the next transform.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

/// The whole envelope as a message: a transform returning it is the identity.
impl From<Envelope> for Message {
    fn from(e: Envelope) -> Self {
        let mut extra = e.extra;
        // A non-UTF-8 body arrives as `body_base64` with no `body`; keep it that way.
        let body = if e.body.is_null() && extra.contains_key("body_base64") {
            None
        } else {
            Some(e.body)
        };
        if e.event_type.is_none() {
            extra.insert("type".into(), Value::Null);
        }
        extra.insert("id".into(), e.id.into());
        extra.insert("source".into(), e.source.into());
        extra.insert("received_at".into(), e.received_at.into());
        extra.insert(
            "request".into(),
            serde_json::to_value(e.request).unwrap_or_default(),
        );
        extra.insert("config".into(), e.config);
        Self {
            body,
            headers: Some(e.headers),
            event_type: e.event_type,
            subscribers: None,
            key: None,
            extra,
        }
    }
}

// Hand-written so that a field that is set always wins over a same-named entry in `extra`,
// and the JSON never has a key twice.
impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in &self.extra {
            let overridden = match k.as_str() {
                "body" => self.body.is_some(),
                "headers" => self.headers.is_some(),
                "type" => self.event_type.is_some(),
                "subscribers" => self.subscribers.is_some(),
                "key" => self.key.is_some(),
                _ => false,
            };
            if !overridden {
                map.serialize_entry(k, v)?;
            }
        }
        if let Some(v) = &self.body {
            map.serialize_entry("body", v)?;
        }
        if let Some(v) = &self.headers {
            map.serialize_entry("headers", v)?;
        }
        if let Some(v) = &self.event_type {
            map.serialize_entry("type", v)?;
        }
        if let Some(v) = &self.subscribers {
            map.serialize_entry("subscribers", v)?;
        }
        if let Some(v) = &self.key {
            map.serialize_entry("key", v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unset_fields_are_left_out() {
        let m = Message::new(json!({"a": 1}));
        assert_eq!(serde_json::to_value(&m).unwrap(), json!({"body": {"a": 1}}));
    }

    #[test]
    fn builder_sets_every_field() {
        let m = Message::new("plain text")
            .header("x-a", "1")
            .headers([("x-b", "2")])
            .event_type("push.commit")
            .subscribers(vec!["ci".to_string(), "audit".to_string()])
            .key("abc")
            .field("priority", 3);
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"body": "plain text", "headers": {"x-a": "1", "x-b": "2"},
                   "type": "push.commit", "subscribers": ["ci", "audit"], "key": "abc",
                   "priority": 3})
        );
    }

    #[test]
    fn named_fields_win_over_extra() {
        let mut m = Message::new(1).event_type("b");
        m.extra.insert("type".into(), json!("a"));
        m.extra.insert("body".into(), json!(2));
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text.matches("\"type\"").count(), 1, "{text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"body": 1, "type": "b"})
        );
    }

    #[test]
    fn an_envelope_as_a_message_equals_the_envelope() {
        let input = json!({
            "id": "evt_1", "source": "plain", "type": null, "received_at": "2026-11-28T17:30:00Z",
            "request": {"method": "POST", "path": "/hooks/plain", "query": {"a": "1"}, "headers": {}},
            "headers": {"x": "y"}, "body": [1, 2], "config": {}, "extra": true
        });
        let e: Envelope = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(Message::from(e)).unwrap(), input);
    }

    #[test]
    fn a_binary_body_stays_base64() {
        let input = json!({
            "id": "evt_1", "source": "plain", "type": "x", "received_at": "t",
            "request": {"method": "POST", "path": "/", "query": {}, "headers": {}},
            "headers": {}, "body_base64": "AAE=", "config": {"k": 1}
        });
        let e: Envelope = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(Message::from(e)).unwrap(), input);
    }

    #[test]
    fn deserializes_what_it_serializes() {
        let m = Message::new(json!({"a": 1})).key("k").field("z", "zz");
        let back: Message = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
