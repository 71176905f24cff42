//! A filter that passes GitHub pushes to the configured branches.
//!
//! Config (all optional): `branches` (default `["main"]`; a trailing `*` matches any suffix,
//! e.g. `"release/*"`), `exclude_deleted` (default `true`: a push that deletes the branch is
//! dropped).

use serde::Deserialize;
use wasmhook_plugin_sdk::{Envelope, Error};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_branches")]
    branches: Vec<String>,
    #[serde(default = "default_true")]
    exclude_deleted: bool,
}

fn default_branches() -> Vec<String> {
    vec!["main".to_string()]
}

fn default_true() -> bool {
    true
}

#[wasmhook_plugin_sdk::filter]
fn push_only(e: &Envelope) -> Result<bool, Error> {
    let config: Config = e.config_as()?;
    if !e.is("push") {
        return Ok(false);
    }
    if config.exclude_deleted && e.body["deleted"].as_bool() == Some(true) {
        return Ok(false);
    }
    let Some(branch) = e
        .body_str("/ref")
        .and_then(|r| r.strip_prefix("refs/heads/"))
    else {
        return Ok(false); // a tag, or not a push body at all
    };
    Ok(config
        .branches
        .iter()
        .any(|pattern| matches(pattern, branch)))
}

/// `pattern` is a branch name, or a prefix followed by `*`.
fn matches(pattern: &str, branch: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => branch.starts_with(prefix),
        None => pattern == branch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhook_plugin_sdk::json;

    fn push(git_ref: &str, config: wasmhook_plugin_sdk::Value) -> Envelope {
        Envelope {
            event_type: Some("push".into()),
            body: json!({"ref": git_ref, "deleted": false}),
            config,
            ..Envelope::default()
        }
    }

    #[test]
    fn passes_main_by_default() {
        assert!(push_only(&push("refs/heads/main", json!({}))).unwrap());
        assert!(!push_only(&push("refs/heads/dev", json!({}))).unwrap());
    }

    #[test]
    fn uses_the_configured_branches() {
        let config = json!({"branches": ["dev", "release/*"]});
        assert!(push_only(&push("refs/heads/dev", config.clone())).unwrap());
        assert!(push_only(&push("refs/heads/release/1.2", config.clone())).unwrap());
        assert!(!push_only(&push("refs/heads/main", config)).unwrap());
    }

    #[test]
    fn drops_tags_and_other_events() {
        assert!(!push_only(&push("refs/tags/main", json!({}))).unwrap());
        let mut e = push("refs/heads/main", json!({}));
        e.event_type = Some("pull_request".into());
        assert!(!push_only(&e).unwrap());
        e.event_type = None;
        assert!(!push_only(&e).unwrap());
    }

    #[test]
    fn drops_deleted_branches_unless_told_not_to() {
        let mut e = push("refs/heads/main", json!({}));
        e.body["deleted"] = json!(true);
        assert!(!push_only(&e).unwrap());
        e.config = json!({"exclude_deleted": false});
        assert!(push_only(&e).unwrap());
    }

    #[test]
    fn a_bad_config_is_a_plugin_error() {
        let err = push_only(&push("refs/heads/main", json!({"branches": "main"}))).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid plugin config:"),
            "{err}"
        );
        let err = push_only(&push("refs/heads/main", json!({"branch": ["main"]}))).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn runs_on_envelope_json_like_the_host() {
        let input = br#"{"type":"push","body":{"ref":"refs/heads/main"},"config":{}}"#;
        let out = wasmhook_plugin_sdk::run::filter(input, push_only).unwrap();
        assert_eq!(out, b"true");
    }
}
