//! A command plugin (a WASI program: envelope on stdin, result on stdout) that unwraps an
//! Amazon SNS `Notification`: the message becomes the body (parsed when it is a JSON object
//! or array, else as text), SNS's fields become `x-sns-*` headers, and the type becomes the
//! message's SES `eventType`/`notificationType`, else its `Subject`. Other SNS message types
//! (subscription and unsubscribe confirmations) are dropped.

use std::collections::BTreeMap;

use wasmhook_plugin_sdk::{Envelope, Error, Message, Output, Value, serde_json};

pub fn sns_unwrap(e: Envelope) -> Result<Output, Error> {
    // SNS posts with `content-type: text/plain`, so the host usually hands over the
    // notification as a string; a JSON content type gives the parsed object.
    let parsed;
    let notification = match &e.body {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(_) => return Ok(Output::drop()),
        },
        other => other,
    };
    if notification["Type"] != "Notification" {
        return Ok(Output::drop());
    }
    let Some(text) = notification["Message"].as_str() else {
        return Err(Error::new("an SNS Notification without a string `Message`"));
    };
    let mut headers = e.headers.clone();
    for (name, field) in [
        ("x-sns-message-id", "MessageId"),
        ("x-sns-topic-arn", "TopicArn"),
        ("x-sns-subject", "Subject"),
        ("x-sns-timestamp", "Timestamp"),
    ] {
        if let Some(value) = non_empty(&notification[field]).filter(|v| header_safe(v)) {
            headers.insert(name.into(), value.into());
        }
    }
    attributes(&notification["MessageAttributes"], &mut headers);

    let inner = serde_json::from_str::<Value>(text)
        .ok()
        .filter(|value| value.is_object() || value.is_array());
    let event_type = inner
        .as_ref()
        .and_then(|inner| {
            ["eventType", "notificationType"]
                .into_iter()
                .find_map(|field| non_empty(&inner[field]))
        })
        .or_else(|| non_empty(&notification["Subject"]))
        .map(String::from);
    let body = match inner {
        Some(value) => value,
        None => {
            headers.insert("content-type".into(), "text/plain; charset=utf-8".into());
            Value::String(text.to_string())
        }
    };
    let mut message = Message::new(body).headers(headers);
    if let Some(event_type) = event_type {
        message = message.event_type(event_type);
    }
    Ok(message.into())
}

/// `MessageAttributes` of type `String`, `String.Array` and `Number` (and their custom
/// subtypes such as `Number.float`) as `x-sns-attribute-<lower-case name>` headers; `Binary`
/// ones and values that cannot be header values are left out.
fn attributes(attributes: &Value, headers: &mut BTreeMap<String, String>) {
    let Some(attributes) = attributes.as_object() else {
        return;
    };
    for (name, attribute) in attributes {
        let kind = attribute["Type"].as_str().unwrap_or_default();
        let textual = ["String", "Number"]
            .iter()
            .any(|base| kind == *base || kind.starts_with(&format!("{base}.")));
        let Some(value) = attribute["Value"].as_str() else {
            continue;
        };
        if textual && is_token(name) && !value.is_empty() && header_safe(value) {
            headers.insert(
                format!("x-sns-attribute-{}", name.to_ascii_lowercase()),
                value.into(),
            );
        }
    }
}

fn non_empty(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// A header name: RFC 9110 token characters only.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A value the host can send as a header: visible ASCII, spaces and tabs.
fn header_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

#[cfg(test)]
mod tests;
