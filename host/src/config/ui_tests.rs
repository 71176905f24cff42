//! The messages an operator sees, one rule per file: `host/tests/ui/NAME.toml` is parsed and
//! its errors must be exactly `NAME.err`. `BLESS=1 cargo test` rewrites the `.err` files.
//!
//! The environment is fixed (see [`env`]) so that results do not depend on the machine.
//! `WASMHOOK_UI_DIR` overrides where the cases are.

use std::path::{Path, PathBuf};

use super::Config;

/// The only variables set while the cases are parsed.
fn env(name: &str) -> Option<String> {
    match name {
        "ADMIN_TOKEN" => Some("t0ken".to_owned()),
        "GITHUB_WEBHOOK_SECRET" => Some("gh-secret".to_owned()),
        "CI_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        "NOT_A_WHSEC" => Some("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        _ => None,
    }
}

/// `host/tests/ui`, found from this file's path: `file!()` is relative to the workspace root in
/// the host crate, and absolute when this module is compiled from elsewhere.
fn cases_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WASMHOOK_UI_DIR") {
        return PathBuf::from(dir);
    }
    let this_file = Path::new(file!());
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = manifest_dir
        .ancestors()
        .map(|dir| dir.join(this_file))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "cannot find {} from {}",
                this_file.display(),
                manifest_dir.display()
            )
        });
    // .../host/src/config/ui_tests.rs -> .../host/tests/ui
    let host = found
        .ancestors()
        .nth(3)
        .expect("ui_tests.rs is in host/src/config");
    host.join("tests").join("ui")
}

/// What `check` would print for `text`, one line per problem; empty when it is valid.
fn render(name: &str, text: &str) -> String {
    match Config::parse(Path::new(name), text, &env) {
        Ok(_) => String::new(),
        Err(errors) => format!("{errors}\n"),
    }
}

#[test]
fn ui() {
    let dir = cases_dir();
    let bless = std::env::var_os("BLESS").is_some_and(|v| v != "0" && !v.is_empty());
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());

    let mut failures = Vec::new();
    for case in &cases {
        let file_name = case
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(case).expect("readable case");
        let actual = render(&file_name, &text);
        let expected_path = case.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writable .err file");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{file_name}\n--- expected ({})\n{expected}--- actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} ui cases differ (BLESS=1 to accept):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
