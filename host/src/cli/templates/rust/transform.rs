//! {{name}}: a wasmhook transform. It turns each event into one chat message,
//! `{"text": "<source>: <type> on <repository>"}`, and drops events without a `type`.
//!
//! routes.toml:
//!
//! ```toml
//! [plugins.{{name}}]
//! wasm = "target/wasm32-wasip2/release/{{crate_name}}.wasm"
//! config = { prefix = "[webhook]" }
//! ```

use serde::Deserialize;
use wasmhook_plugin_sdk::{Envelope, Error, Message, Output, json};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Put in front of every message's text.
    #[serde(default)]
    prefix: Option<String>,
}

/// Returns the messages to deliver: `Output::drop()` for none, one `Message`, or several.
#[wasmhook_plugin_sdk::transform]
fn transform(e: Envelope) -> Result<Output, Error> {
    let config: Config = e.config_as()?;
    let Some(event_type) = e.event_type.as_deref() else {
        return Ok(Output::drop());
    };
    let mut text = format!("{}: {event_type}", e.source);
    if let Some(repo) = e.body_str("/repository/full_name") {
        text.push_str(&format!(" on {repo}"));
    }
    if let Some(prefix) = config.prefix {
        text = format!("{prefix} {text}");
    }
    Ok(Message::new(json!({ "text": text }))
        .header("x-wasmhook-plugin", "{{name}}")
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhook_plugin_sdk::{Value, serde_json};

    fn event(event_type: Option<&str>, config: Value) -> Envelope {
        Envelope {
            source: "github".into(),
            event_type: event_type.map(str::to_string),
            body: json!({"repository": {"full_name": "acme/api"}}),
            config,
            ..Envelope::default()
        }
    }

    fn run(e: Envelope) -> Value {
        let input = serde_json::to_vec(&e).unwrap();
        let out = wasmhook_plugin_sdk::run::transform(&input, transform).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn makes_one_chat_message() {
        let out = run(event(Some("push"), json!({})));
        assert_eq!(out["body"], json!({"text": "github: push on acme/api"}));
        assert_eq!(out["headers"]["x-wasmhook-plugin"], "{{name}}");
    }

    #[test]
    fn uses_the_configured_prefix() {
        let out = run(event(Some("push"), json!({"prefix": "[ci]"})));
        assert_eq!(out["body"]["text"], "[ci] github: push on acme/api");
    }

    #[test]
    fn drops_events_without_a_type() {
        assert_eq!(run(event(None, json!({}))), Value::Null);
    }

    /// The example envelope, run exactly as the host runs the plugin.
    #[test]
    fn runs_the_example_like_the_host() {
        let example = include_bytes!("../example.json");
        let out = wasmhook_plugin_sdk::run::transform(example, transform).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["body"]["text"], "github: push on acme/api");
    }
}
