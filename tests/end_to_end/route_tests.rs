//! `wasmhook test`: the `[[tests]]` of routes.toml run through the real plugins, without
//! network; a failure exits 1 and shows what the subscriber got against what was expected.

use std::process::{Command, Output};

use crate::common::plugins::plugins;

fn wasmhook_test(config: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["test", "-c", config.to_str().unwrap()])
        .env("GITHUB_WEBHOOK_SECRET", "unused-by-tests")
        .output()
        .expect("running wasmhook test")
}

fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A GitHub source whose pushes to main go to `chat` as Slack text, and a test file.
fn routes(tests: &str) -> String {
    let p = plugins();
    format!(
        r#"
[sources.github]
verify = {{ scheme = "github", secret = "${{GITHUB_WEBHOOK_SECRET}}" }}

[plugins.push-only]
wasm = {push_only:?}

[plugins.to-slack]
wasm = {to_slack:?}

[subscribers.chat]
url = "http://127.0.0.1:9/chat"
headers = {{ "x-team" = "platform" }}

[[routes]]
source = "github"
filters = ["push-only"]
transforms = ["to-slack"]
subscribers = ["chat"]
{tests}"#,
        push_only = p.push_only,
        to_slack = p.github_to_slack,
    )
}

const PUSH: &str = r#"{"ref":"refs/heads/main","repository":{"full_name":"acme/api","html_url":"https://github.com/acme/api"},"pusher":{"name":"alice"},"commits":[]}"#;

#[test]
fn passing_and_failing_tests_are_reported_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    std::fs::write(dir.path().join("fixtures/push.json"), PUSH).unwrap();
    let tests = r#"
[[tests]]
name = "a push to main is announced"
source = "github"
file = "fixtures/push.json"
headers = { "x-github-event" = "push" }
[tests.expect]
chat = [{ body = { text = "*alice* pushed 0 commits to <https://github.com/acme/api|acme/api>:main" }, headers = { "x-team" = "platform" } }]

[[tests]]
name = "a ping is announced too"
source = "github"
json = { zen = "Keep it logically awesome.", repository = { full_name = "acme/api" } }
headers = { "x-github-event" = "ping" }
expect = { chat = [{ body = { text = "a ping" } }] }
"#;
    let config = dir.path().join("routes.toml");
    std::fs::write(&config, routes(tests)).unwrap();
    let output = wasmhook_test(&config);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("test a push to main is announced ... ok"),
        "{text}"
    );
    assert!(
        text.contains("test a ping is announced too ... FAILED"),
        "{text}"
    );
    // The filter drops pings: the diff shows "dropped" where a message was expected, and why.
    let expected_diff = [
        "subscriber \"chat\" (- expected, + actual):",
        "- [",
        "-   {",
        "-     \"body\": {",
        "-       \"text\": \"a ping\"",
        "-     }",
        "-   }",
        "- ]",
        "+ \"dropped\"",
        "note: dropped by filter push-only",
    ];
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let start = lines
        .iter()
        .position(|l| *l == expected_diff[0])
        .unwrap_or_else(|| panic!("no diff in:\n{text}"));
    assert_eq!(
        &lines[start..start + expected_diff.len()],
        expected_diff,
        "{text}"
    );
    assert!(text.contains("\n1 passed, 1 failed\n"), "{text}");
}

#[test]
fn a_wrong_message_body_is_diffed_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let tests = format!(
        r#"
[[tests]]
name = "wrong text"
source = "github"
body = '{PUSH}'
headers = {{ "x-github-event" = "push", "content-type" = "application/json" }}
expect = {{ chat = [{{ body = {{ text = "something else" }} }}] }}
"#
    );
    let config = dir.path().join("routes.toml");
    std::fs::write(&config, routes(&tests)).unwrap();
    let output = wasmhook_test(&config);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("-       \"text\": \"something else\""),
        "{text}"
    );
    assert!(
        text.contains("+       \"text\": \"*alice* pushed 0 commits to"),
        "{text}"
    );
    assert!(text.contains("0 passed, 1 failed"), "{text}");
}

#[test]
fn the_example_routes_pass_their_own_tests() {
    plugins();
    let config = xtask::repo_root().join("routes.toml");
    let output = wasmhook_test(&config);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");
}
