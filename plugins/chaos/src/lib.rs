//! A plugin that misbehaves on request, for operators who want to see what their limits
//! (`timeout`, `memory`, the output limit, `on_error`) do before a real plugin hits them.
//!
//! Config: `mode` (default `"pass"`), `as_filter` (default `false`), `bytes` (for
//! `big-output` and `big-error`, default 2 MiB), `lines` (for `stderr`, default 1), `ms` (for
//! `sleep`, default 30 s), `messages` and `carry` (for `fan-out`, default 10,000 messages
//! with bodies of their own), `headers` (for `headers`). See the README.
//!
//! The same code runs as a function plugin (this crate, `chaos.wasm`) and as a WASI command
//! (`chaos-command`, built without the `function` feature), so each limit can be tried on
//! either transport.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use wasmhook_plugin_sdk::{Envelope, Error, Message, Output, Value, serde_json};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// The identity: `true` as a filter, the envelope unchanged as a transform.
    #[default]
    Pass,
    /// Spins forever: the host's `timeout` must stop it.
    Loop,
    /// Allocates and touches memory without bound: the host's `memory` limit must stop it.
    Hog,
    /// Panics, which is a trap (`unreachable`).
    Trap,
    /// Returns a plugin error.
    Error,
    /// Returns a JSON string of `bytes` bytes: over the host's output limit if large enough.
    BigOutput,
    /// Returns a plugin error whose message is `bytes` bytes long: the host must keep what it
    /// logs and stores of it short.
    BigError,
    /// Writes `lines` lines to stderr, then returns a plugin error.
    Stderr,
    /// Counts its calls in a static and adds the count to an object body as `calls`: always 1
    /// with fresh instances, whose memory starts anew; rising with `reuse = true`.
    Count,
    /// Sleeps `ms` milliseconds in a blocking WASI call, then passes: the host's `timeout`
    /// must stop it although no guest code runs while it waits.
    Sleep,
    /// Returns `messages` messages, bodies `{"n": 0}`, `{"n": 1}`, ... (or, with `carry`,
    /// keys `"0"`, `"1"`, ... and the event's body carried): the host's caps on messages per
    /// event, and on the bytes they add up to, must hold.
    FanOut,
    /// Returns the envelope with its `headers` set to the config's `headers`, as given: the
    /// host must keep the headers that are its own (framing, `host`, `webhook-*`).
    Headers,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    as_filter: bool,
    #[serde(default = "default_bytes")]
    bytes: usize,
    #[serde(default = "default_lines")]
    lines: usize,
    #[serde(default = "default_ms")]
    ms: u64,
    #[serde(default = "default_messages")]
    messages: usize,
    #[serde(default)]
    carry: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn default_bytes() -> usize {
    2 << 20
}

fn default_lines() -> usize {
    1
}

fn default_ms() -> u64 {
    30_000
}

fn default_messages() -> usize {
    10_000
}

const CHUNK: usize = 1 << 20;

/// Calls of this instance so far (`count`).
static CALLS: AtomicU64 = AtomicU64::new(0);

/// The plugin: a function plugin's `handle` with the `function` feature, and what the
/// `chaos-command` program runs on stdin.
#[cfg_attr(feature = "function", wasmhook_plugin_sdk::handler)]
pub fn chaos(e: Envelope) -> Result<Value, Error> {
    let config: Config = e.config_as()?;
    match config.mode {
        Mode::Pass => pass(e, config.as_filter),
        Mode::Loop => spin(),
        Mode::Hog => hog(),
        Mode::Trap => panic!("chaos: asked to trap"),
        Mode::Error => Err(Error::new("chaos: asked to fail")),
        Mode::BigOutput => Ok(Value::String(big_string(config.bytes))),
        Mode::BigError => Err(Error::new("e".repeat(config.bytes))),
        Mode::Count => {
            let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
            let mut e = e;
            if let Some(body) = e.body.as_object_mut() {
                body.insert("calls".into(), calls.into());
            }
            Ok(serde_json::to_value(Output::identity(e))?)
        }
        Mode::Sleep => {
            std::thread::sleep(Duration::from_millis(config.ms));
            pass(e, config.as_filter)
        }
        Mode::FanOut => Ok(serde_json::to_value(fan_out(config.messages, config.carry))?),
        Mode::Headers => {
            let mut e = e;
            e.headers = config.headers;
            Ok(serde_json::to_value(Output::identity(e))?)
        }
        Mode::Stderr => {
            for n in 1..=config.lines {
                eprintln!("chaos: line {n} on stderr, as asked");
            }
            Err(Error::new("chaos: asked to fail after writing to stderr"))
        }
    }
}

fn pass(e: Envelope, as_filter: bool) -> Result<Value, Error> {
    if as_filter {
        return Ok(Value::Bool(true));
    }
    Ok(serde_json::to_value(Output::identity(e))?)
}

/// `messages` messages, each with a body of its own or, when `carry`, with only a key of its
/// own: every one of those carries the event's body.
fn fan_out(messages: usize, carry: bool) -> Output {
    let message = |n: usize| match carry {
        true => Message::default().key(n.to_string()),
        false => Message::new(serde_json::json!({ "n": n })),
    };
    Output::Many((0..messages).map(message).collect())
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn hog() -> ! {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        // `vec![1; _]` writes every byte, so the pages are really used, not just reserved.
        held.push(black_box(vec![1u8; CHUNK]));
        black_box(&held);
    }
}

/// A string whose JSON encoding (with its quotes) is `bytes` long.
fn big_string(bytes: usize) -> String {
    "x".repeat(bytes.saturating_sub(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmhook_plugin_sdk::json;

    fn with(config: Value) -> Envelope {
        Envelope {
            id: "evt_1".into(),
            source: "plain".into(),
            received_at: "2026-11-28T17:30:00Z".into(),
            body: json!({"hello": "world"}),
            config,
            ..Envelope::default()
        }
    }

    #[test]
    fn pass_returns_the_envelope_unchanged() {
        let input = json!({
            "id": "evt_1", "source": "plain", "type": null, "received_at": "t",
            "request": {"method": "POST", "path": "/hooks/plain", "query": {}, "headers": {}},
            "headers": {}, "body": {"a": [1, 2]}, "config": {"mode": "pass"}
        });
        let bytes = serde_json::to_vec(&input).unwrap();
        let out = wasmhook_plugin_sdk::run::handler(&bytes, chaos).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), input);
        assert_eq!(
            chaos(with(json!({}))).unwrap()["body"],
            json!({"hello": "world"})
        );
    }

    #[test]
    fn pass_as_a_filter_is_true() {
        assert_eq!(
            chaos(with(json!({"as_filter": true}))).unwrap(),
            json!(true)
        );
    }

    #[test]
    fn error_and_stderr_fail() {
        let err = chaos(with(json!({"mode": "error"}))).unwrap_err();
        assert_eq!(err.to_string(), "chaos: asked to fail");
        let err = chaos(with(json!({"mode": "stderr", "lines": 2}))).unwrap_err();
        assert!(err.to_string().contains("stderr"), "{err}");
    }

    #[test]
    fn big_output_has_the_asked_size() {
        let out = wasmhook_plugin_sdk::run::handler(
            &serde_json::to_vec(&with(json!({"mode": "big-output", "bytes": 1000}))).unwrap(),
            chaos,
        )
        .unwrap();
        assert_eq!(out.len(), 1000);
        let default = chaos(with(json!({"mode": "big-output"}))).unwrap();
        assert_eq!(default.as_str().unwrap().len() + 2, 2 << 20);
    }

    #[test]
    fn big_error_has_the_asked_size() {
        let err = chaos(with(json!({"mode": "big-error", "bytes": 1000}))).unwrap_err();
        assert_eq!(err.to_string().len(), 1000);
    }

    #[test]
    #[should_panic(expected = "chaos: asked to trap")]
    fn trap_panics() {
        let _ = chaos(with(json!({"mode": "trap"})));
    }

    #[test]
    fn count_adds_the_calls_so_far_to_the_body() {
        let calls = |e| chaos(e).unwrap()["body"]["calls"].as_u64().unwrap();
        let first = calls(with(json!({"mode": "count"})));
        assert_eq!(calls(with(json!({"mode": "count"}))), first + 1);
    }

    #[test]
    fn sleep_waits_then_passes() {
        let started = std::time::Instant::now();
        let out = chaos(with(json!({"mode": "sleep", "ms": 20, "as_filter": true}))).unwrap();
        assert_eq!(out, json!(true));
        assert!(started.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn fan_out_returns_the_asked_number_of_messages() {
        let out = chaos(with(json!({"mode": "fan-out", "messages": 3}))).unwrap();
        assert_eq!(
            out,
            json!([{"body": {"n": 0}}, {"body": {"n": 1}}, {"body": {"n": 2}}])
        );
    }

    #[test]
    fn fan_out_with_carry_sets_keys_and_leaves_the_body_to_carry() {
        let out = chaos(with(json!({"mode": "fan-out", "messages": 2, "carry": true}))).unwrap();
        assert_eq!(out, json!([{"key": "0"}, {"key": "1"}]));
    }

    #[test]
    fn headers_sets_the_given_headers() {
        let out = chaos(with(json!({"mode": "headers", "headers": {"host": "evil.example"}})))
            .unwrap();
        assert_eq!(out["headers"], json!({"host": "evil.example"}));
        assert_eq!(out["body"], json!({"hello": "world"}));
    }

    #[test]
    fn unknown_modes_and_keys_are_config_errors() {
        let err = chaos(with(json!({"mode": "explode"}))).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid plugin config:"),
            "{err}"
        );
        let err = chaos(with(json!({"mdoe": "loop"}))).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
