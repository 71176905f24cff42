//! Records the commit wasmhook is built from, for `wasmhook --version`.
//!
//! `WASMHOOK_COMMIT` set at build time wins (builds from a source archive, where there is no
//! `.git`); otherwise `git` is asked. A build that knows neither says `unknown commit`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WASMHOOK_COMMIT");
    let commit = std::env::var("WASMHOOK_COMMIT")
        .ok()
        .filter(|commit| !commit.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo:rustc-env=WASMHOOK_COMMIT={commit}");
}

/// `commit 1a2b3c4d5e6f`, and asks Cargo to run this again when `HEAD` moves.
fn git_commit() -> Option<String> {
    let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD names a branch whose ref file (or packed-refs) changes with each commit; a detached
    // HEAD changes itself. Watching the index too would rebuild on every `git add`.
    for path in ["HEAD", "packed-refs"] {
        if let Some(file) = git(&["rev-parse", "--git-path", path]) {
            rerun_if_changed(file);
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(file) = git(&["rev-parse", "--git-path", &branch])
    {
        rerun_if_changed(file);
    }
    Some(format!("commit {hash}"))
}

/// Only for files that exist: Cargo would take a missing one as changed at every build.
fn rerun_if_changed(git_path: String) {
    let path = PathBuf::from(git_path);
    if path.exists() {
        let path = std::path::absolute(&path).unwrap_or(path);
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// What `git args` prints, trimmed; `None` where git or the repository is missing.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}
