//! {{name}}: a wasmhook filter. It passes the events whose `type` is one of `config.types`
//! (default `["push"]`) and drops every other event.
//!
//! routes.toml:
//!
//! ```toml
//! [plugins.{{name}}]
//! wasm = "target/wasm32-wasip2/release/{{crate_name}}.wasm"
//! config = { types = ["push"] }
//! ```

use serde::Deserialize;
use wasmhook_plugin_sdk::{Envelope, Error};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_types")]
    types: Vec<String>,
}

fn default_types() -> Vec<String> {
    vec!["push".to_string()]
}

/// `true` passes the event on, `false` drops it; an `Err` is a plugin error.
#[wasmhook_plugin_sdk::filter]
fn accept(e: &Envelope) -> Result<bool, Error> {
    let config: Config = e.config_as()?;
    Ok(e.event_type
        .as_ref()
        .is_some_and(|t| config.types.contains(t)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhook_plugin_sdk::{Value, json};

    fn event(event_type: Option<&str>, config: Value) -> Envelope {
        Envelope {
            event_type: event_type.map(str::to_string),
            config,
            ..Envelope::default()
        }
    }

    #[test]
    fn passes_pushes_by_default() {
        assert!(accept(&event(Some("push"), json!({}))).unwrap());
        assert!(!accept(&event(Some("issues"), json!({}))).unwrap());
        assert!(!accept(&event(None, json!({}))).unwrap());
    }

    #[test]
    fn passes_the_configured_types() {
        let config = json!({"types": ["release", "issues"]});
        assert!(accept(&event(Some("issues"), config.clone())).unwrap());
        assert!(!accept(&event(Some("push"), config)).unwrap());
    }

    #[test]
    fn a_bad_config_is_a_plugin_error() {
        assert!(accept(&event(Some("push"), json!({"types": "push"}))).is_err());
    }

    /// The example envelope, run exactly as the host runs the plugin.
    #[test]
    fn runs_the_example_like_the_host() {
        let example = include_bytes!("../example.json");
        let out = wasmhook_plugin_sdk::run::filter(example, accept).unwrap();
        assert_eq!(out, b"true");
    }
}
