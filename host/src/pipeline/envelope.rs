//! The envelope plugins see (SPEC section 5), and how a transform's output merges into it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::clock::rfc3339;
use crate::store::NewEvent;

/// A JSON object: the event as plugins see it, or a message derived from it.
pub type Envelope = Map<String, Value>;

/// Why a body cannot be given to plugins in the form its content type promises.
#[derive(Debug, thiserror::Error)]
#[error("the body is declared as {content_type} but is not valid: {reason}")]
pub struct BodyError {
    pub content_type: &'static str,
    pub reason: String,
}

/// The body as the envelope carries it: the field name (`body` or `body_base64`) and value.
pub fn parse_body(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<(&'static str, Value), BodyError> {
    let media_type = media_type(content_type);
    if declares_json(media_type) {
        return serde_json::from_slice(bytes)
            .map(|value| ("body", value))
            .map_err(invalid_json);
    }
    if media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let form = url::form_urlencoded::parse(bytes)
            .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
            .collect();
        return Ok(("body", Value::Object(form)));
    }
    // No declared type: JSON if it parses, like most providers' payloads.
    if media_type.is_empty()
        && let Ok(value) = serde_json::from_slice(bytes)
    {
        return Ok(("body", value));
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => ("body", Value::String(text.to_owned())),
        Err(_) => ("body_base64", Value::String(BASE64.encode(bytes))),
    })
}

/// Fails exactly when [`parse_body`] would, without building the body: ingest answers `400`
/// to a body declared as JSON that is not, and the envelope is built later, once per route.
pub fn check_body(content_type: Option<&str>, bytes: &[u8]) -> Result<(), BodyError> {
    if declares_json(media_type(content_type)) {
        serde_json::from_slice::<ValidJson>(bytes).map_err(invalid_json)?;
    }
    Ok(())
}

/// Whether [`parse_body`] takes the body of an accepted event as JSON (and then as `body`): a
/// route without plugins can pass such a body on as it came, without building it. A body
/// declared as JSON is not parsed again: every event passed [`check_body`] before it was
/// stored (ingest answers `400` otherwise, and `wasmhook test` refuses it the same way).
pub fn is_json(content_type: Option<&str>, bytes: &[u8]) -> bool {
    let media_type = media_type(content_type);
    if declares_json(media_type) {
        debug_assert!(check_body(content_type, bytes).is_ok(), "an unchecked body");
        return true;
    }
    media_type.is_empty() && serde_json::from_slice::<ValidJson>(bytes).is_ok()
}

/// The event's declared content type.
pub fn content_type(event: &NewEvent) -> Option<&str> {
    event
        .request
        .headers
        .get("content-type")
        .map(String::as_str)
}

/// The media type of a `content-type` value, without parameters; empty when there is none.
fn media_type(content_type: Option<&str>) -> &str {
    content_type
        .and_then(|value| value.split(';').next())
        .map_or("", str::trim)
}

fn declares_json(media_type: &str) -> bool {
    media_type.eq_ignore_ascii_case("application/json")
        || media_type
            .get(media_type.len().saturating_sub(5)..)
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
}

fn invalid_json(error: serde_json::Error) -> BodyError {
    BodyError {
        content_type: "JSON",
        reason: error.to_string(),
    }
}

/// Any JSON document, checked by the same parser, on the same path, as a [`Value`] (so the
/// same documents fail, lone surrogates in strings included) but kept nowhere: strings are
/// borrowed from the input or from the parser's scratch buffer, nothing is allocated.
/// `serde::de::IgnoredAny` would be cheaper still but skips strings without decoding them.
struct ValidJson;

impl<'de> serde::Deserialize<'de> for ValidJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValidJson)
    }
}

impl<'de> serde::de::Visitor<'de> for ValidJson {
    type Value = ValidJson;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_i64<E>(self, _: i64) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_u64<E>(self, _: u64) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_f64<E>(self, _: f64) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_str<E>(self, _: &str) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_unit<E>(self) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ValidJson, A::Error> {
        while seq.next_element::<ValidJson>()?.is_some() {}
        Ok(ValidJson)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ValidJson, A::Error> {
        while map.next_entry::<ValidJson, ValidJson>()?.is_some() {}
        Ok(ValidJson)
    }
}

/// Builds the envelope of an event; `headers` starts empty, `config` is set per plugin.
pub fn from_event(event: &NewEvent) -> Result<Envelope, BodyError> {
    let (body_field, body) = parse_body(content_type(event), &event.body)?;
    let mut envelope = Map::new();
    envelope.insert("id".into(), event.id.clone().into());
    envelope.insert("source".into(), event.source.clone().into());
    envelope.insert(
        "type".into(),
        event.event_type.clone().map_or(Value::Null, Value::String),
    );
    envelope.insert("received_at".into(), rfc3339(event.received_at).into());
    envelope.insert(
        "request".into(),
        serde_json::to_value(&event.request).expect("request metadata is JSON"),
    );
    envelope.insert("headers".into(), Value::Object(Map::new()));
    envelope.insert(body_field.into(), body);
    envelope.insert("config".into(), Value::Object(Map::new()));
    Ok(envelope)
}

/// A transform's output: `null`/`[]` drops, an object is one message, an array several.
pub fn split_output(output: Value) -> Result<Vec<Map<String, Value>>, String> {
    match output {
        Value::Null => Ok(Vec::new()),
        Value::Object(message) => Ok(vec![message]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(message) => Ok(message),
                other => Err(format!(
                    "an array holding {}, not only objects",
                    kind(&other)
                )),
            })
            .collect(),
        other => Err(format!(
            "{}, not an object, an array of objects or null",
            kind(&other)
        )),
    }
}

/// A message's fields replace the envelope's; everything else is carried. Only what is
/// carried is copied: a transform usually replaces the body, the envelope's largest part.
pub fn merge(envelope: &Envelope, mut message: Map<String, Value>) -> Envelope {
    let carried: Vec<(&String, &Value)> = envelope
        .iter()
        .filter(|(key, _)| carries(&message, key))
        .collect();
    for (key, value) in carried {
        message.insert(key.clone(), value.clone());
    }
    message
}

/// Whether `message`, a transform's output, carries its envelope's field `key` when merged:
/// when it does not set that field, nor (for `body_base64`) a `body` that replaces it.
pub fn carries(message: &Map<String, Value>, key: &str) -> bool {
    let replaced_by_body = key == "body_base64" && message.contains_key("body");
    !message.contains_key(key) && !replaced_by_body
}

/// A short description of a JSON value's type, for error messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_body_fails_exactly_when_parse_body_does() {
        let deep_enough = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let too_deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let bodies: &[&[u8]] = &[
            br#"{"a": [1, -2, 3.5e10, true, null, "x\n\u00e9\ud83d\ude00"], "a": {}}"#,
            b"  42 ",
            deep_enough.as_bytes(),
            too_deep.as_bytes(),
            br#"{"lone": "\ud800"}"#,
            br#"{"bad escape": "\q"}"#,
            b"{\"control\": \"a\x01b\"}",
            b"[1e999]",
            b"{\"a\": 1} trailing",
            b"{\"a\": 1,}",
            b"\xff\xfe",
            b"",
        ];
        for content_type in [
            Some("application/json"),
            Some("Application/Problem+JSON; charset=utf-8"),
        ] {
            for body in bodies {
                let parsed = parse_body(content_type, body)
                    .map(drop)
                    .map_err(|e| e.to_string());
                let checked = check_body(content_type, body).map_err(|e| e.to_string());
                assert_eq!(checked, parsed, "{}", String::from_utf8_lossy(body));
            }
        }
        assert!(check_body(Some("application/json"), br#"{"lone": "\ud800"}"#).is_err());
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            for body in bodies {
                assert!(parse_body(content_type, body).is_ok());
                assert!(check_body(content_type, body).is_ok());
            }
        }
    }
}
