//! The envelope: what a plugin receives for every event.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// One event as the host hands it to a plugin (stdin of a command plugin, the argument of a
/// function plugin's `handle`).
///
/// Every field has a default, so hand-written test envelopes may leave out what they do not
/// need. Fields this version of the SDK does not know are kept in [`Envelope::extra`] and
/// written back unchanged, so `Output::from(envelope)` is the identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// The event id assigned by the host, e.g. `evt_01JDX3Q4Z9...`.
    pub id: String,
    /// The name of the source in routes.toml (`github` for `POST /hooks/github`).
    pub source: String,
    /// The provider's event type where the source scheme knows it (GitHub `X-GitHub-Event`,
    /// Stripe `type`, ...). Serialised as `type`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// When the host accepted the event, RFC 3339 in UTC.
    pub received_at: String,
    /// The HTTP request the event arrived with.
    pub request: Request,
    /// Headers that will be sent to subscribers; starts empty.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body; an object of strings for form bodies; otherwise a string.
    pub body: Value,
    /// The plugin's `config` table from routes.toml (`{}` when absent).
    pub config: Value,
    /// Fields not listed above (for example `body_base64`), carried unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The HTTP request an event arrived with.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Query parameters.
    pub query: Map<String, Value>,
    /// Request headers; names are lower-case.
    pub headers: BTreeMap<String, String>,
    /// Fields not listed above, carried unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope {
            id: String::new(),
            source: String::new(),
            event_type: None,
            received_at: String::new(),
            request: Request::default(),
            headers: BTreeMap::new(),
            body: Value::Null,
            config: empty_object(),
            extra: Map::new(),
        }
    }
}

/// `Deserialize` for a struct that starts from its `Default` and keeps unknown members in its
/// `extra` map. `#[serde(flatten)]` would do the same, but it first buffers the whole object
/// and then reads every field a second time from the buffer: that doubled what a plugin spends
/// on a 2 KiB envelope before its own code runs.
macro_rules! deserialize_with_extra {
    ($type:ident { $($key:literal => $field:ident),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Members;
                impl<'de> serde::de::Visitor<'de> for Members {
                    type Value = $type;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("an object (", stringify!($type), ")"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$type, A::Error> {
                        let mut value = $type::default();
                        while let Some(MemberName(name)) = map.next_key()? {
                            match name.as_ref() {
                                $($key => value.$field = map.next_value()?,)*
                                _ => {
                                    value.extra.insert(name.into_owned(), map.next_value()?);
                                }
                            }
                        }
                        Ok(value)
                    }
                }
                deserializer.deserialize_map(Members)
            }
        }
    };
}

/// A member name, borrowed from the input when it has no escapes: known members cost no
/// allocation. (`Cow<str>`'s own `Deserialize` always allocates.)
struct MemberName<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> serde::de::Visitor<'de> for Name {
            type Value = MemberName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(std::borrow::Cow::Borrowed(name)))
            }
            fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
                Ok(MemberName(std::borrow::Cow::Owned(name.to_owned())))
            }
            fn visit_string<E>(self, name: String) -> Result<Self::Value, E> {
                Ok(MemberName(std::borrow::Cow::Owned(name)))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

deserialize_with_extra!(Envelope {
    "id" => id,
    "source" => source,
    "type" => event_type,
    "received_at" => received_at,
    "request" => request,
    "headers" => headers,
    "body" => body,
    "config" => config,
});

deserialize_with_extra!(Request {
    "method" => method,
    "path" => path,
    "query" => query,
    "headers" => headers,
});

impl Envelope {
    /// Parses an envelope from its JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::new(format!("invalid envelope: {e}")))
    }

    /// The request header `name` (case-insensitive), e.g. `e.header("X-GitHub-Delivery")`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// `true` when the event's type is `event_type`.
    pub fn is(&self, event_type: &str) -> bool {
        self.event_type.as_deref() == Some(event_type)
    }

    /// The plugin's config as a typed value. A missing or `null` config reads as `{}`, so a
    /// struct whose fields all have `#[serde(default)]` needs no config at all.
    pub fn config_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let config = match &self.config {
            Value::Null => empty_object(),
            other => other.clone(),
        };
        T::deserialize(config).map_err(|e| Error::new(format!("invalid plugin config: {e}")))
    }

    /// The body as a typed value.
    pub fn body_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(&self.body).map_err(|e| Error::new(format!("unexpected event body: {e}")))
    }

    /// The string at `pointer` (RFC 6901, e.g. `"/repository/full_name"`) in the body.
    pub fn body_str(&self, pointer: &str) -> Option<&str> {
        self.body.pointer(pointer).and_then(Value::as_str)
    }

    /// The base64 of a body that is not UTF-8; the host then sends `body_base64` instead of
    /// `body`.
    pub fn body_base64(&self) -> Option<&str> {
        self.extra.get("body_base64").and_then(Value::as_str)
    }
}

impl Request {
    /// The header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        if let Some(value) = self.headers.get(name) {
            return Some(value);
        }
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec_example() -> Value {
        json!({
            "id": "evt_01JDX3Q4Z9",
            "source": "github",
            "type": "push",
            "received_at": "2026-11-28T17:30:00.123Z",
            "request": { "method": "POST", "path": "/hooks/github", "query": {},
                         "headers": { "content-type": "application/json", "x-github-event": "push" } },
            "headers": {},
            "body": { "ref": "refs/heads/main" },
            "config": { "branches": ["main"] }
        })
    }

    #[test]
    fn parses_the_spec_example() {
        let e: Envelope = serde_json::from_value(spec_example()).unwrap();
        assert_eq!(e.id, "evt_01JDX3Q4Z9");
        assert_eq!(e.event_type.as_deref(), Some("push"));
        assert!(e.is("push"));
        assert_eq!(e.request.method, "POST");
        assert_eq!(e.header("X-GitHub-Event"), Some("push"));
        assert_eq!(e.body_str("/ref"), Some("refs/heads/main"));
        assert!(e.extra.is_empty());
    }

    #[test]
    fn round_trips_unchanged_including_unknown_fields() {
        let mut input = spec_example();
        input["type"] = Value::Null;
        input["trace"] = json!({"span": 7});
        input["request"]["remote_addr"] = json!("10.0.0.1");
        let e: Envelope = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(e.extra["trace"], json!({"span": 7}));
        assert_eq!(serde_json::to_value(&e).unwrap(), input);
    }

    #[test]
    fn a_minimal_envelope_gets_defaults() {
        let e = Envelope::from_json(br#"{"body": "hi"}"#).unwrap();
        assert_eq!(e.event_type, None);
        assert_eq!(e.config, json!({}));
        assert_eq!(e.body, json!("hi"));
    }

    #[test]
    fn invalid_json_is_an_error_naming_the_envelope() {
        let err = Envelope::from_json(b"{nope").unwrap_err();
        assert!(err.to_string().starts_with("invalid envelope:"), "{err}");
    }

    #[test]
    fn config_as_reads_null_as_empty() {
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            verbose: bool,
        }
        let e = Envelope {
            config: Value::Null,
            ..Envelope::default()
        };
        assert!(!e.config_as::<Config>().unwrap().verbose);
        let e = Envelope {
            config: json!({"verbose": "yes"}),
            ..Envelope::default()
        };
        let err = e.config_as::<Config>().err().unwrap();
        assert!(
            err.to_string().starts_with("invalid plugin config:"),
            "{err}"
        );
    }

    #[test]
    fn body_base64_is_read_from_extra() {
        let e = Envelope::from_json(br#"{"body_base64": "AAE="}"#).unwrap();
        assert_eq!(e.body_base64(), Some("AAE="));
        assert_eq!(e.body, Value::Null);
    }
}
