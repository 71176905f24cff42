//! Numbers in routes.toml that would overflow where wasmhook computes with them (a deadline on
//! a clock, milliseconds, epoch ticks, semaphore permits) are errors at their line and column:
//! `check` lists them, `serve` refuses to start. Nothing panics.

use std::process::{Command, Stdio};

use crate::common::*;

/// One hostile value per numeric key, each on a line of its own.
fn hostile(chaos: &std::path::Path) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"
data_dir = "data"
max_body = "17179869183GiB"
plugin_concurrency = 2305843009213693953
delivery_concurrency = 9223372036854775807
retention = "213503982334601d"
dead_retention = "18446744073709551615s"
shutdown_timeout = "18446744073709551615s 999ms"

[sources.stripe]
verify = {{ scheme = "stripe", secret = "whsec_test_secret", tolerance = "213503982334601d" }}
dedup = {{ window = "18446744073709551615s" }}

[plugins.chaos]
wasm = {chaos:?}
timeout = "18446744073709551615s"
memory = "18446744073709551615"
max_output = "17179869184GiB"

[subscribers.ci]
url = "http://127.0.0.1:9/hook"
timeout = "213503982334601d"
retry = ["18446744073709551615s"]
concurrency = 2305843009213693953

[[routes]]
source = "stripe"
transforms = ["chaos"]
subscribers = ["ci"]
"#
    )
}

/// The `routes.toml:LINE:` of every line that sets `key = ...`.
fn lines_setting(text: &str, keys: &[&str]) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            keys.iter()
                .any(|key| line.starts_with(&format!("{key} = ")))
        })
        .map(|(n, _)| format!("routes.toml:{}:", n + 1))
        .collect()
}

const KEYS: &[&str] = &[
    "max_body",
    "plugin_concurrency",
    "delivery_concurrency",
    "retention",
    "dead_retention",
    "shutdown_timeout",
    "verify",
    "dedup",
    "timeout",
    "memory",
    "max_output",
    "retry",
    "concurrency",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_numbers_are_config_errors_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routes.toml");
    let text = hostile(&plugins().chaos);
    std::fs::write(&config, &text).unwrap();
    let expected = lines_setting(&text, KEYS);
    assert_eq!(expected.len(), 14, "one line per hostile value");

    let checked = run_cli(&["check", "-c", config.to_str().unwrap()]).await;
    let said = printed(&checked);
    assert_eq!(checked.status.code(), Some(1), "{said}");
    for at in &expected {
        assert!(said.contains(at.as_str()), "no error at {at}:\n{said}");
    }
    assert!(!said.contains("panicked"), "{said}");

    let mut serve = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .arg("serve")
        .arg("-c")
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for("serve to refuse the config", WAIT, async || {
        serve.try_wait().unwrap()
    })
    .await;
    let said = printed(&serve.wait_with_output().unwrap());
    assert_eq!(status.code(), Some(1), "{said}");
    for at in &expected {
        assert!(said.contains(at.as_str()), "no error at {at}:\n{said}");
    }
    assert!(!said.contains("panicked"), "{said}");
    assert!(!said.contains("listening"), "{said}");
}
