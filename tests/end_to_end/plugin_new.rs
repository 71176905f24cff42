//! The plugin author's workflow: `wasmhook plugin new` scaffolds a plugin that passes its own
//! test and builds, and `wasmhook plugin run` shows its result, the time it took and the
//! memory it used.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

/// A fresh folder under the repository's `target/`, inside the checkout.
fn scratch_in_repo() -> tempfile::TempDir {
    let parent = xtask::repo_root().join("target").join("scaffold-plugins");
    std::fs::create_dir_all(&parent).unwrap();
    tempfile::Builder::new()
        .prefix("new-")
        .tempdir_in(parent)
        .unwrap()
}

/// `cargo` in `dir`, offline, building into the shared `target/scaffold-test`. The scaffold's
/// dependencies are the SDK's and serde, which are in cargo's cache once [`plugins`] has built
/// the example plugins.
fn cargo_in(dir: &Path, args: &[&str]) -> Output {
    let mut cargo = xtask::cargo();
    cargo
        .current_dir(dir)
        .args(args)
        .arg("--offline")
        .arg("--target-dir")
        .arg(xtask::repo_root().join("target").join("scaffold-test"));
    // The settings of the `cargo test` running us are not meant for this build.
    xtask::without_caller_settings(&mut cargo);
    cargo.output().expect("running cargo")
}

/// `wasmhook plugin new <name> --lang rust --dir <dir>` and `more` arguments; checked to
/// succeed.
fn new_rust_plugin(name: &str, dir: &Path, more: &[&str]) -> Output {
    let mut args = vec!["plugin", "new", name, "--lang", "rust", "--dir"];
    args.push(dir.to_str().unwrap());
    args.extend(more);
    let output = wasmhook(&args, b"");
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    output
}

/// The `path` of the `wasmhook-plugin-sdk` dependency in `plugin`'s Cargo.toml.
fn sdk_path(plugin: &Path) -> PathBuf {
    let manifest = std::fs::read_to_string(plugin.join("Cargo.toml")).unwrap();
    let table: toml::Table = manifest.parse().unwrap();
    let path = table["dependencies"]["wasmhook-plugin-sdk"]
        .get("path")
        .and_then(|path| path.as_str())
        .unwrap_or_else(|| panic!("the SDK is not a path dependency:\n{manifest}"));
    PathBuf::from(path)
}

/// The checkout's `plugin-sdk`, canonical.
fn repo_sdk() -> PathBuf {
    xtask::repo_root()
        .join("plugin-sdk")
        .canonicalize()
        .unwrap()
}

/// The `ran in X ms, peak memory Y (limit Z MiB)` line of `plugin run`, checked and returned.
fn timing_line(output: &Output, limit_mib: u64) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("ran in "))
        .unwrap_or_else(|| panic!("no `ran in` line on stderr:\n{stderr}"))
        .to_owned();
    let rest = line.strip_prefix("ran in ").unwrap();
    let (millis, rest) = rest.split_once(" ms, peak memory ").expect(&line);
    assert!(millis.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{line}");
    let (peak, limit) = rest.split_once(" (limit ").expect(&line);
    assert_eq!(limit, format!("{limit_mib} MiB)"), "{line}");
    let (amount, unit) = peak.split_once(' ').expect(&line);
    let amount: f64 = amount.parse().expect(&line);
    let bytes = match unit {
        "KiB" => amount * 1024.0,
        "MiB" => amount * 1024.0 * 1024.0,
        _ => panic!("unknown unit in {line}"),
    };
    // Every instance has some linear memory, and never more than its limit.
    assert!(
        bytes > 0.0 && bytes <= (limit_mib * 1024 * 1024) as f64,
        "{line}"
    );
    line
}

#[test]
fn plugin_run_prints_the_time_and_the_peak_memory() {
    let plugins = plugins();
    let envelope = serde_json::json!({
        "id": "evt_1", "source": "github", "type": "push", "received_at": "2026-01-01T00:00:00Z",
        "request": {"method": "POST", "path": "/hooks/github", "query": {}, "headers": {}},
        "headers": {}, "body": {"ref": "refs/heads/main"}, "config": {}
    });
    let stdin = serde_json::to_vec(&envelope).unwrap();
    let wasm = plugins.push_only.to_str().unwrap();
    let output = wasmhook(&["plugin", "run", wasm, "--filter"], &stdin);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "true");
    timing_line(&output, 64);

    // The limit shown is the one applied; the command transport reports its memory too.
    let wasm = plugins.split_commits.to_str().unwrap();
    let output = wasmhook(&["plugin", "run", wasm, "--memory-mib", "32"], &stdin);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    timing_line(&output, 32);
}

#[test]
fn a_scaffolded_rust_filter_passes_its_test_builds_and_runs() {
    // Fills cargo's cache with the scaffold's dependencies, for the offline builds below.
    plugins();
    // Outside any checkout, as a user would create it.
    let scratch = tempfile::tempdir().unwrap();
    let output = new_rust_plugin("demo-filter", scratch.path(), &["--kind", "filter"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for next in [
        "cargo test",
        "cargo build --release --target wasm32-wasip2",
        "wasmhook plugin run target/wasm32-wasip2/release/demo_filter.wasm --filter < example.json",
    ] {
        assert!(stdout.contains(next), "no `{next}` in:\n{stdout}");
    }
    let plugin = scratch.path().join("demo-filter");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "README.md",
        "example.json",
        ".gitignore",
    ] {
        assert!(plugin.join(file).is_file(), "{file} was not created");
    }
    // The SDK this wasmhook was built from, by absolute path.
    assert_eq!(sdk_path(&plugin), repo_sdk());
    let said = format!(
        "depends on wasmhook-plugin-sdk at {} (the source this wasmhook was built from)",
        repo_sdk().display()
    );
    assert!(stdout.contains(&said), "no `{said}` in:\n{stdout}");
    let manifest = std::fs::read_to_string(plugin.join("Cargo.toml")).unwrap();

    let test = cargo_in(&plugin, &["test"]);
    assert!(test.status.success(), "cargo test:\n{}", printed(&test));
    assert!(
        String::from_utf8_lossy(&test.stdout).contains("test result: ok. 4 passed"),
        "{}",
        printed(&test)
    );
    let build = cargo_in(
        &plugin,
        &["build", "--release", "--target", "wasm32-wasip2"],
    );
    assert!(build.status.success(), "cargo build:\n{}", printed(&build));
    let wasm: PathBuf =
        xtask::repo_root().join("target/scaffold-test/wasm32-wasip2/release/demo_filter.wasm");
    let wasm = wasm.to_str().unwrap();

    // What the README promises: `true` for the example, `false` for another type.
    let example = std::fs::read(plugin.join("example.json")).unwrap();
    let run = wasmhook(&["plugin", "run", wasm, "--filter"], &example);
    assert_eq!(run.status.code(), Some(0), "{}", printed(&run));
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "true");
    timing_line(&run, 64);
    let config = r#"{"types": ["release"]}"#;
    let run = wasmhook(
        &["plugin", "run", wasm, "--filter", "--config", config],
        &example,
    );
    assert_eq!(run.status.code(), Some(0), "{}", printed(&run));
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "false");

    // Its routes.toml's route tests pass, with the .wasm where a plain `cargo build` puts it.
    let built = plugin.join("target/wasm32-wasip2/release/demo_filter.wasm");
    std::fs::create_dir_all(built.parent().unwrap()).unwrap();
    std::fs::copy(wasm, &built).unwrap();
    let tested = route_tests(&plugin);
    assert_eq!(tested.status.code(), Some(0), "{}", printed(&tested));
    assert!(String::from_utf8_lossy(&tested.stdout).contains("2 passed, 0 failed"));

    // The folder now exists: a second `plugin new` refuses to touch it.
    let again = wasmhook(
        &[
            "plugin",
            "new",
            "demo-filter",
            "--lang",
            "rust",
            "--dir",
            scratch.path().to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(again.status.code(), Some(1), "{}", printed(&again));
    assert!(
        printed(&again).contains("already exists"),
        "{}",
        printed(&again)
    );
    assert_eq!(
        std::fs::read_to_string(plugin.join("Cargo.toml")).unwrap(),
        manifest
    );
}

#[test]
fn a_rust_plugin_created_in_a_checkout_depends_on_its_sdk_by_relative_path() {
    let scratch = scratch_in_repo();
    let output = new_rust_plugin("demo", scratch.path(), &[]);
    let plugin = scratch.path().join("demo");
    let sdk = sdk_path(&plugin);
    assert!(sdk.is_relative(), "{}", sdk.display());
    assert_eq!(plugin.join(&sdk).canonicalize().unwrap(), repo_sdk());
    let said = format!("depends on wasmhook-plugin-sdk at {}", sdk.display());
    assert!(printed(&output).contains(&said), "{}", printed(&output));
}

#[test]
fn a_rust_plugin_depends_on_the_sdk_given_with_sdk() {
    let scratch = tempfile::tempdir().unwrap();
    let given = xtask::repo_root().join("host/../plugin-sdk");
    let output = new_rust_plugin("demo", scratch.path(), &["--sdk", given.to_str().unwrap()]);
    assert_eq!(sdk_path(&scratch.path().join("demo")), repo_sdk());
    assert!(printed(&output).contains("(--sdk)"), "{}", printed(&output));

    // A folder that is not the SDK is refused, and nothing is written.
    let not_sdk = xtask::repo_root().join("host");
    let refused = wasmhook(
        &[
            "plugin",
            "new",
            "other",
            "--lang",
            "rust",
            "--dir",
            scratch.path().to_str().unwrap(),
            "--sdk",
            not_sdk.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(refused.status.code(), Some(1), "{}", printed(&refused));
    assert!(
        printed(&refused).contains("is not the manifest of wasmhook-plugin-sdk"),
        "{}",
        printed(&refused)
    );
    assert!(!scratch.path().join("other").exists());
}

/// `wasmhook test -c routes.toml` in a scaffolded plugin's folder `dir`; its routes.toml names
/// a GitHub secret, which route tests do not use.
fn route_tests(dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .current_dir(dir)
        .args(["test", "-c", "routes.toml"])
        .env("GITHUB_WEBHOOK_SECRET", "unused")
        .output()
        .expect("running wasmhook test")
}

/// `make [target]` in `dir` with the checkout's toolchains (see `xtask::toolchains`) and
/// this build of wasmhook.
fn make(dir: &Path, target: Option<&str>) -> Output {
    let root = xtask::repo_root();
    let npm_bin = xtask::toolchains::npm_bin_dir(&root);
    let mut make = std::process::Command::new("make");
    make.current_dir(dir)
        .args(target)
        .envs(xtask::toolchains::environment(&root))
        .env("WASMHOOK", env!("CARGO_BIN_EXE_wasmhook"))
        // The templates' package.json would fetch these with npx; the tests stay offline.
        .env("COMPONENTIZE_JS", npm_bin.join("componentize-js"))
        .env("ASC", npm_bin.join("asc"));
    make.output().expect("running make")
}

/// `wasmhook plugin new demo --lang <lang>`, then what its README says: `make check` (the unit
/// tests, natively), `make` and `make test` (the `.wasm` through `wasmhook plugin run`, and the
/// route tests of its routes.toml through `wasmhook test`). The route tests must also be able
/// to fail: with another `config.types`, both do.
fn scaffold_passes_its_tests(lang: &str, toolchain: xtask::toolchains::Toolchain) {
    if let Err(problem) = toolchain.ensure(&xtask::repo_root()) {
        eprintln!(
            "skipping the {lang} scaffold: the {toolchain} toolchain cannot be had here: {problem}"
        );
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_str().unwrap();
    let output = wasmhook(
        &["plugin", "new", "demo", "--lang", lang, "--dir", dir],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for next in [
        "make check",
        "make test",
        "wasmhook plugin run demo.wasm --filter < example.json",
    ] {
        assert!(stdout.contains(next), "no `{next}` in:\n{stdout}");
    }
    let plugin = scratch.path().join("demo");
    for target in [Some("check"), None, Some("test")] {
        let output = make(&plugin, target);
        assert_eq!(
            output.status.code(),
            Some(0),
            "make {} in the {lang} scaffold:\n{}",
            target.unwrap_or(""),
            printed(&output)
        );
    }
    assert!(plugin.join("demo.wasm").is_file());

    let routes = std::fs::read_to_string(plugin.join("routes.toml")).unwrap();
    let run_tests = |routes: &str| {
        std::fs::write(plugin.join("routes.toml"), routes).unwrap();
        route_tests(&plugin)
    };
    let passed = run_tests(&routes);
    assert_eq!(passed.status.code(), Some(0), "{}", printed(&passed));
    assert!(
        String::from_utf8_lossy(&passed.stdout).contains("2 passed, 0 failed"),
        "{}",
        printed(&passed)
    );
    let wrong = routes.replace(r#"types = ["push"]"#, r#"types = ["release"]"#);
    assert_ne!(wrong, routes);
    let failed = run_tests(&wrong);
    assert_eq!(failed.status.code(), Some(1), "{}", printed(&failed));
    assert!(
        String::from_utf8_lossy(&failed.stdout).contains("0 passed, 2 failed"),
        "{}",
        printed(&failed)
    );
}

#[test]
fn a_scaffolded_c_filter_passes_its_tests() {
    scaffold_passes_its_tests("c", xtask::toolchains::Toolchain::C);
}

#[test]
fn a_scaffolded_zig_filter_passes_its_tests() {
    scaffold_passes_its_tests("zig", xtask::toolchains::Toolchain::Zig);
}

#[test]
fn a_scaffolded_go_filter_passes_its_tests() {
    scaffold_passes_its_tests("go", xtask::toolchains::Toolchain::Go);
}

#[test]
fn a_scaffolded_python_filter_passes_its_tests() {
    scaffold_passes_its_tests("python", xtask::toolchains::Toolchain::Python);
}

#[test]
fn a_scaffolded_javascript_filter_passes_its_tests() {
    scaffold_passes_its_tests("javascript", xtask::toolchains::Toolchain::JavaScript);
}

#[test]
fn a_scaffolded_assemblyscript_filter_passes_its_tests() {
    scaffold_passes_its_tests(
        "assemblyscript",
        xtask::toolchains::Toolchain::AssemblyScript,
    );
}

#[test]
fn names_are_checked_before_anything_is_written() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_str().unwrap();
    let bad = wasmhook(
        &["plugin", "new", "Only_Push", "--lang", "c", "--dir", dir],
        b"",
    );
    assert_eq!(bad.status.code(), Some(1), "{}", printed(&bad));
    assert!(!scratch.path().join("Only_Push").exists());
}
