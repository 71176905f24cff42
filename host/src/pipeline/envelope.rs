//! The envelope plugins see (SPEC section 5), and how a transform's output merges into it.
//!
//! An envelope is kept as its fields' JSON text, not as a tree of values: a body goes from the
//! provider's bytes to the plugin's input, and from a transform's output to the message sent,
//! without being parsed into values and serialised again. Only the small fields the router
//! reads itself (`type`, `key`, `headers`, `subscribers`) are parsed, where they are read.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::clock::rfc3339;
use crate::store::NewEvent;

/// A JSON object, each field as its JSON text: the event as plugins see it, a message derived
/// from it, or one message of a transform's output. Fields are in key order, as plugins have
/// always seen them.
pub type Envelope = BTreeMap<String, Box<RawValue>>;

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
    let (body_field, body) = body_json(content_type(event), &event.body)?;
    Ok(Envelope::from([
        ("id".into(), json(&event.id)),
        ("source".into(), json(&event.source)),
        ("type".into(), json(&event.event_type)),
        ("received_at".into(), json(&rfc3339(event.received_at))),
        ("request".into(), json(&event.request)),
        ("headers".into(), json(&serde_json::Map::new())),
        (body_field.into(), body),
        ("config".into(), json(&serde_json::Map::new())),
    ]))
}

/// The body as the envelope carries it, as JSON text: a JSON body is its own bytes, checked
/// but not parsed into values; any other is what [`parse_body`] makes of it.
fn body_json(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<(&'static str, Box<RawValue>), BodyError> {
    if is_json(content_type, bytes) {
        // Checked when it was accepted; a body that was not fails here as it would parsed.
        let text = String::from_utf8(bytes.to_vec()).map_err(|error| BodyError {
            content_type: "JSON",
            reason: error.to_string(),
        })?;
        return Ok(("body", RawValue::from_string(text).map_err(invalid_json)?));
    }
    let (field, value) = parse_body(content_type, bytes)?;
    Ok((field, json(&value)))
}

/// The JSON text of a value.
pub fn json(value: &(impl Serialize + ?Sized)) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("serialises as JSON")
}

/// A field read as `T`; `None` when it holds something else.
pub fn read<T: DeserializeOwned>(field: &RawValue) -> Option<T> {
    serde_json::from_str(field.get()).ok()
}

/// A plugin's output as JSON text, or why it is not JSON. Checked by the same parser as a
/// body declared as JSON (so the same documents fail: lone surrogates, numbers out of range,
/// nesting deeper than 128), and kept as the text it is.
pub fn parse_output(output: &[u8]) -> Result<Box<RawValue>, String> {
    serde_json::from_slice::<ValidJson>(output)
        .and_then(|ValidJson| serde_json::from_slice(output))
        .map_err(|error| {
            let shown = String::from_utf8_lossy(&output[..output.len().min(200)]).into_owned();
            format!("output that is not JSON ({error}): {shown:?}")
        })
}

/// A transform's output: `null`/`[]` drops, an object is one message, an array several.
pub fn split_output(output: &RawValue) -> Result<Vec<Envelope>, String> {
    match kind(output) {
        JsonKind::Null => Ok(Vec::new()),
        JsonKind::Object => Ok(vec![object(output)]),
        JsonKind::Array => {
            let items: Vec<&RawValue> =
                serde_json::from_str(output.get()).expect("a JSON array parses as one");
            items
                .into_iter()
                .map(|item| match kind(item) {
                    JsonKind::Object => Ok(object(item)),
                    other => Err(format!("an array holding {other}, not only objects")),
                })
                .collect()
        }
        other => Err(format!(
            "{other}, not an object, an array of objects or null"
        )),
    }
}

fn object(json: &RawValue) -> Envelope {
    serde_json::from_str(json.get()).expect("a JSON object parses as one")
}

/// A message's fields replace the envelope's; everything else is carried. Only what is
/// carried is copied: a transform usually replaces the body, the envelope's largest part.
pub fn merge(envelope: &Envelope, mut message: Envelope) -> Envelope {
    for (key, value) in envelope {
        if carries(&message, key) {
            message.insert(key.clone(), value.clone());
        }
    }
    message
}

/// Whether `message`, a transform's output, carries its envelope's field `key` when merged:
/// when it does not set that field, nor (for `body_base64`) a `body` that replaces it.
pub fn carries(message: &Envelope, key: &str) -> bool {
    let replaced_by_body = key == "body_base64" && message.contains_key("body");
    !message.contains_key(key) && !replaced_by_body
}

/// The type of a JSON text; shown, a short description for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    Null,
    Boolean,
    String,
    Array,
    Object,
    Number,
}

impl std::fmt::Display for JsonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonKind::Null => "null",
            JsonKind::Boolean => "a boolean",
            JsonKind::String => "a string",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
            JsonKind::Number => "a number",
        })
    }
}

/// The type of a valid JSON text: its first byte says it.
pub fn kind(json: &RawValue) -> JsonKind {
    match json.get().as_bytes().first() {
        Some(b'n') => JsonKind::Null,
        Some(b't' | b'f') => JsonKind::Boolean,
        Some(b'"') => JsonKind::String,
        Some(b'[') => JsonKind::Array,
        Some(b'{') => JsonKind::Object,
        _ => JsonKind::Number,
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

    #[test]
    fn a_plugins_output_is_json_by_the_same_rules_as_a_body() {
        let too_deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let outputs: &[&[u8]] = &[
            br#" {"b": 1, "a": [true, null]} "#,
            br#""\ud800""#,
            b"[1e999]",
            too_deep.as_bytes(),
            b"{\"a\": 1} trailing",
            b"\xff",
        ];
        for output in outputs {
            let as_value = serde_json::from_slice::<Value>(output).map_err(|e| e.to_string());
            let parsed = parse_output(output);
            assert_eq!(
                parsed.is_ok(),
                as_value.is_ok(),
                "{}",
                String::from_utf8_lossy(output)
            );
            if let Err(error) = as_value {
                assert!(parsed.unwrap_err().contains(&error));
            }
        }
        // Kept as written, key order and all, without the whitespace around it.
        let output = parse_output(br#" {"b": 1, "a": [true, null]} "#).unwrap();
        assert_eq!(output.get(), r#"{"b": 1, "a": [true, null]}"#);
    }

    #[test]
    fn a_transforms_output_is_none_one_or_several_messages() {
        let split = |output: &str| split_output(&parse_output(output.as_bytes()).unwrap());
        assert_eq!(split("null").unwrap().len(), 0);
        assert_eq!(split("[]").unwrap().len(), 0);
        let one = split(r#"{"body": {"z": 1, "a": 2}, "type": "t"}"#).unwrap();
        assert_eq!(one[0]["body"].get(), r#"{"z": 1, "a": 2}"#);
        assert_eq!(split(r#"[{"a": 1}, {}]"#).unwrap().len(), 2);
        assert_eq!(
            split(r#"[{}, 3]"#).unwrap_err(),
            "an array holding a number, not only objects"
        );
        assert_eq!(
            split(r#""text""#).unwrap_err(),
            "a string, not an object, an array of objects or null"
        );
    }

    #[test]
    fn a_message_carries_what_it_does_not_set() {
        let envelope: Envelope =
            serde_json::from_str(r#"{"id": "evt", "body_base64": "AA==", "headers": {}}"#).unwrap();
        let message: Envelope = serde_json::from_str(r#"{"body": "x", "id": "mine"}"#).unwrap();
        let merged = merge(&envelope, message);
        let fields: Vec<(&str, &str)> = merged
            .iter()
            .map(|(key, value)| (key.as_str(), value.get()))
            .collect();
        assert_eq!(
            fields,
            [("body", r#""x""#), ("headers", "{}"), ("id", r#""mine""#)]
        );
    }

    fn event(content_type: &str, body: &[u8]) -> NewEvent {
        NewEvent {
            id: "evt_1".into(),
            source: "github".into(),
            event_type: Some("push".into()),
            received_at: 0,
            request: crate::store::RequestMeta {
                method: "POST".into(),
                path: "/hooks/github".into(),
                query: Default::default(),
                headers: [("content-type".to_owned(), content_type.to_owned())].into(),
            },
            body: bytes::Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn a_json_body_reaches_plugins_as_it_was_sent() {
        let sent = br#"{"zen": "Keep it logically awesome.",  "hook_id": 1}"#;
        let envelope = from_event(&event("application/json", sent)).unwrap();
        assert_eq!(envelope["body"].get().as_bytes(), sent);
        assert_eq!(envelope["type"].get(), r#""push""#);
        assert_eq!(envelope["config"].get(), "{}");
        let form = from_event(&event("application/x-www-form-urlencoded", b"a=1&b=x+y")).unwrap();
        assert_eq!(form["body"].get(), r#"{"a":"1","b":"x y"}"#);
        let binary = from_event(&event("application/octet-stream", b"\xff\x00")).unwrap();
        assert_eq!(binary["body_base64"].get(), r#""/wA=""#);
    }
}
