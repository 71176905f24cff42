//! The envelope plugins see (SPEC section 5), and how a transform's output merges into it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::store::{NewEvent, rfc3339};

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
    let media_type = content_type
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media_type == "application/json" || media_type.ends_with("+json") {
        return serde_json::from_slice(bytes)
            .map(|value| ("body", value))
            .map_err(|error| BodyError {
                content_type: "JSON",
                reason: error.to_string(),
            });
    }
    if media_type == "application/x-www-form-urlencoded" {
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

/// Builds the envelope of an event; `headers` starts empty, `config` is set per plugin.
pub fn from_event(event: &NewEvent) -> Result<Envelope, BodyError> {
    let content_type = event
        .request
        .headers
        .get("content-type")
        .map(String::as_str);
    let (body_field, body) = parse_body(content_type, &event.body)?;
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

/// A message's fields replace the envelope's; everything else is carried.
pub fn merge(envelope: &Envelope, message: Map<String, Value>) -> Envelope {
    let mut merged = envelope.clone();
    if message.contains_key("body") {
        merged.remove("body_base64");
    }
    merged.extend(message);
    merged
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
