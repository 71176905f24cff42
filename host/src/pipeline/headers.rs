//! The headers a transform sets on a message, as far as the router will send them: a name and
//! value that are valid HTTP, and not one of the router's own ([`crate::router_headers`]).
//! The rest is dropped where the transform's output is read, so the next transform, the
//! store and `wasmhook test` see what subscribers will get, and one bad header costs none of
//! the others.

use serde_json::{Map, Value};

use crate::plugin::{Plugin, PluginError};
use crate::telemetry;

use super::envelope::{self, Envelope};

/// Headers a message a transform makes may set, and their bytes (names and values). A
/// request with more is refused by common HTTP servers (431, or a closed connection; Node
/// takes 16 KiB of headers in all, nginx 8 KiB per line), so a message over these would
/// fail every attempt until it is dead. Over them is a plugin error, for the plugin's
/// `on_error`, at once and with the reason: dropping some instead would deliver a message
/// other than the plugin made, missing headers picked by nothing but their order.
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Drops from `message`'s `headers` what the router does not send, and reports it; returns
/// the headers kept, parsed, for [`within_limits`], when the message sets any.
pub fn keep_sendable(plugin: &Plugin, message: &mut Envelope) -> Option<Map<String, Value>> {
    let headers = message.get_mut("headers")?;
    let mut dropped = Vec::new();
    let kept = match envelope::read::<Map<String, Value>>(headers) {
        Some(mut kept) => {
            kept.retain(|name, value| {
                let sendable = sendable(name, value);
                if !sendable {
                    dropped.push(name.clone());
                }
                sendable
            });
            if !dropped.is_empty() {
                *headers = envelope::json(&kept);
            }
            kept
        }
        None => {
            dropped.push(format!("(headers as {})", envelope::kind(headers)));
            *headers = envelope::json(&Map::new());
            Map::new()
        }
    };
    if !dropped.is_empty() {
        telemetry::plugin_headers_dropped(plugin, &dropped);
    }
    Some(kept)
}

/// Fails when the headers a message sets are more, or larger, than a message may carry.
/// Give it what [`keep_sendable`] kept: only headers that are sent count.
pub fn within_limits(headers: &Map<String, Value>) -> Result<(), PluginError> {
    if headers.len() > MAX_HEADERS {
        return Err(PluginError::TooManyHeaders {
            count: headers.len(),
            limit: MAX_HEADERS,
        });
    }
    let bytes = headers
        .iter()
        .map(|(name, value)| name.len() + value_len(value))
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(PluginError::HeadersTooLarge {
            bytes,
            limit: MAX_HEADER_BYTES,
        });
    }
    Ok(())
}

/// The length of a header value as sent: a string as is, a number or boolean as its JSON.
fn value_len(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        other => other.to_string().len(),
    }
}

fn sendable(name: &str, value: &Value) -> bool {
    let valid_value = match value {
        Value::String(text) => http::HeaderValue::from_str(text).is_ok(),
        // Sent as their JSON text.
        Value::Number(_) | Value::Bool(_) => true,
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    };
    valid_value
        && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && crate::router_headers::reserved(name).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_carries_at_most_64_headers_of_8_kib() {
        let many = |n: usize| (0..n).map(|i| (format!("x-{i}"), json!("v"))).collect();
        assert!(within_limits(&many(64)).is_ok());
        assert!(matches!(
            within_limits(&many(65)),
            Err(PluginError::TooManyHeaders { count: 65, .. })
        ));
        let long = |len: usize| Map::from_iter([("x-big".to_owned(), json!("v".repeat(len)))]);
        assert!(within_limits(&long(8192 - 5)).is_ok());
        assert!(matches!(
            within_limits(&long(8192 - 4)),
            Err(PluginError::HeadersTooLarge { bytes: 8193, .. })
        ));
    }

    #[test]
    fn only_valid_headers_that_are_not_the_routers_are_sent() {
        assert!(sendable("x-team", &json!("platform")));
        assert!(sendable("X-Count", &json!(3)));
        assert!(sendable("content-type", &json!("text/plain")));
        assert!(!sendable("Host", &json!("evil.example")));
        assert!(!sendable("webhook-signature", &json!("v1,x")));
        assert!(!sendable("transfer-encoding", &json!("chunked")));
        assert!(!sendable("bad name", &json!("x")));
        assert!(!sendable("x-split", &json!("a\r\nx-injected: 1")));
        assert!(!sendable("x-list", &json!(["a"])));
    }
}
