//! The command line: help, `check` with located errors, and `plugin run` for trying a plugin.

use std::path::Path;
use std::process::Output;

use crate::common::*;

fn check(config: &Path) -> Output {
    wasmhook(&["check", "-c", config.to_str().unwrap()], b"")
}

/// The 1-based line of the first line of `text` starting with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?}"))
        + 1
}

#[test]
fn help_lists_the_commands() {
    let output = wasmhook(&["--help"], b"");
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "check", "plugin"] {
        assert!(
            help.contains(command),
            "--help does not list {command}:\n{help}"
        );
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = wasmhook(&["--version"], b"");
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let version = String::from_utf8_lossy(&output.stdout);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(xtask::repo_root())
        .output()
        .expect("running git");
    assert!(head.status.success(), "{}", printed(&head));
    let head = String::from_utf8_lossy(&head.stdout);
    assert_eq!(
        version.trim(),
        format!(
            "wasmhook {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )
    );
}

/// What bash completes after `wasmhook <words>`, with the script of `wasmhook completions bash`
/// loaded as a user's shell loads it.
fn bash_completes(words: &str) -> Vec<String> {
    let script = wasmhook(&["completions", "bash"], b"");
    assert_eq!(script.status.code(), Some(0), "{}", printed(&script));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmhook.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let complete = format!(
        "source {path:?}; COMP_WORDS=(wasmhook {words}); COMP_CWORD=${{#COMP_WORDS[@]}}; \
         COMP_WORDS+=(''); _wasmhook wasmhook '' \"${{COMP_WORDS[-2]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &complete])
        .output()
        .expect("running bash");
    assert!(output.status.success(), "{}", printed(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_commands_and_options() {
    let commands = bash_completes("");
    for command in ["serve", "check", "plugin", "health", "completions", "man"] {
        assert!(
            commands.iter().any(|c| c == command),
            "{command} not offered: {commands:?}"
        );
    }
    let options = bash_completes("plugin new demo");
    assert!(
        options.iter().any(|o| o == "--lang"),
        "--lang not offered: {options:?}"
    );
}

#[test]
fn completions_for_zsh_and_fish_and_the_man_pages_are_generated() {
    let zsh = wasmhook(&["completions", "zsh"], b"");
    assert_eq!(zsh.status.code(), Some(0), "{}", printed(&zsh));
    assert!(String::from_utf8_lossy(&zsh.stdout).starts_with("#compdef wasmhook"));
    let fish = wasmhook(&["completions", "fish"], b"");
    assert_eq!(fish.status.code(), Some(0), "{}", printed(&fish));
    assert!(String::from_utf8_lossy(&fish.stdout).contains("complete -c wasmhook"));

    let page = wasmhook(&["man"], b"");
    assert_eq!(page.status.code(), Some(0), "{}", printed(&page));
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(page.starts_with(".ie"), "{page}");
    assert!(page.contains(".TH wasmhook 1"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let pages = wasmhook(&["man", "--out-dir", out], b"");
    assert_eq!(pages.status.code(), Some(0), "{}", printed(&pages));
    let run = std::fs::read_to_string(dir.path().join("wasmhook-plugin-run.1")).unwrap();
    assert!(run.contains("wasmhook plugin run"), "{run}");
    assert!(run.contains("\\-\\-filter"), "{run}");
}

#[test]
fn check_reports_every_error_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routes.toml");
    let text = "[sources.plain]\ncolour = \"blue\"\n\n[plugins.gone]\nwasm = \"plugins/missing.wasm\"\n\n[plugins.slow]\nwasm = \"plugins/missing-too.wasm\"\ntimeout = \"soon\"\n\n[subscribers.ci]\nurl = \"http://127.0.0.1:9/hook\"\n\n[[routes]]\nsource = \"plain\"\ntransforms = [\"gone\", \"slow\"]\nsubscribers = [\"ci\"]\n";
    std::fs::write(&config, text).unwrap();

    let output = check(&config);
    let printed = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    for (what, prefix) in [
        ("unknown key", "colour"),
        ("missing plugin", "wasm = \"plugins/missing.wasm\""),
        ("bad duration", "timeout"),
    ] {
        let at = format!("routes.toml:{}:", line_of(text, prefix));
        let located = printed.lines().any(|l| {
            l.split_once(&at).is_some_and(|(_, rest)| {
                rest.split_once(": ")
                    .is_some_and(|(col, msg)| col.parse::<u32>().is_ok() && !msg.is_empty())
            })
        });
        assert!(
            located,
            "no `{at}COL: message` line for the {what}:\n{printed}"
        );
    }
}

#[test]
fn check_compiles_every_plugin() {
    let plugins = plugins();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routes.toml");
    let wiring = |wasm: &Path| {
        format!(
            "[sources.github]\n\n[plugins.push-only]\nwasm = {wasm:?}\n\n[subscribers.ci]\nurl = \"http://127.0.0.1:9/hook\"\n\n[[routes]]\nsource = \"github\"\nfilters = [\"push-only\"]\nsubscribers = [\"ci\"]\n"
        )
    };
    std::fs::write(&config, wiring(&plugins.push_only)).unwrap();
    let output = check(&config);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a good config fails check:\n{}",
        printed(&output)
    );

    let garbage = dir.path().join("garbage_plugin.wasm");
    std::fs::write(&garbage, b"not webassembly at all").unwrap();
    std::fs::write(&config, wiring(&garbage)).unwrap();
    let output = check(&config);
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    assert!(
        printed(&output).contains("garbage_plugin.wasm"),
        "the error does not name the plugin file:\n{}",
        printed(&output)
    );
}

fn plugin_run(wasm: &Path, extra: &[&str], envelope: &Value) -> Output {
    let mut args = vec!["plugin", "run", wasm.to_str().unwrap()];
    args.extend_from_slice(extra);
    wasmhook(&args, envelope.to_string().as_bytes())
}

#[test]
fn plugin_run_shows_what_a_plugin_does_with_an_envelope() {
    let plugins = plugins();
    let main = envelope("github", "push", &push_to("main", 3), json!({}));
    let feature = envelope("github", "push", &push_to("feature-x", 1), json!({}));
    let config = r#"{"branches":["main"]}"#;

    let output = plugin_run(&plugins.push_only, &["--filter", "--config", config], &main);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "true");
    let output = plugin_run(
        &plugins.push_only,
        &["--filter", "--config", config],
        &feature,
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "false",
        "{}",
        printed(&output)
    );

    let output = plugin_run(&plugins.split_commits, &[], &main);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let messages: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("output is not JSON ({e}):\n{}", printed(&output)));
    assert_eq!(
        messages.as_array().map(Vec::len),
        Some(3),
        "one message per commit: {messages}"
    );
    for n in 0..3 {
        assert!(
            messages.to_string().contains(&commit_id(n)),
            "commit {n} missing: {messages}"
        );
    }

    let output = plugin_run(&plugins.chaos, &["--config", r#"{"mode":"error"}"#], &main);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a plugin error exits 1:\n{}",
        printed(&output)
    );
}
