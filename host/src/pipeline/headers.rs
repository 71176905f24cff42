//! The headers a transform sets on a message, as far as the router will send them: a name and
//! value that are valid HTTP, and not one of the router's own ([`crate::router_headers`]).
//! The rest is dropped where the transform's output is read, so the next transform, the
//! store and `wasmhook test` see what subscribers will get, and one bad header costs none of
//! the others.

use serde_json::{Map, Value};

use crate::plugin::Plugin;
use crate::telemetry;

/// Drops from `message`'s `headers` what the router does not send, and reports it.
pub fn keep_sendable(plugin: &Plugin, message: &mut Map<String, Value>) {
    let Some(headers) = message.get_mut("headers") else {
        return;
    };
    let mut dropped = Vec::new();
    match headers {
        Value::Object(headers) => headers.retain(|name, value| {
            let sendable = sendable(name, value);
            if !sendable {
                dropped.push(name.clone());
            }
            sendable
        }),
        other => {
            dropped.push(format!("(headers as {})", super::envelope::kind(other)));
            *other = Value::Object(Map::new());
        }
    }
    if !dropped.is_empty() {
        telemetry::plugin_headers_dropped(plugin, &dropped);
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
        && crate::router_headers::reserved(&name.to_ascii_lowercase()).is_none()
}

#[cfg(test)]
mod tests {
    use super::sendable;
    use serde_json::json;

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
