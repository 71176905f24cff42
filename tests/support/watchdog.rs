//! A shell that cleans up after the tests' process however it ends: a panic in another
//! thread, a timeout's SIGKILL, an exit that never unwinds. Servers a test starts (PostgreSQL,
//! chromedriver and its browser) must not outlive it.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Runs `script` under `sh` with `$1` this process's id and `args` after it, detached. The
/// script puts its polling loop in the background and the outer shell exits at once, so the
/// watchdog is not our child (nothing to wait for) and, being an asynchronous list, ignores
/// SIGINT. Its own process group keeps a Ctrl-C aimed at the tests away from it, and it has
/// no stdio so that nothing waiting for the tests' output waits for it.
pub fn start(name: &str, script: &str, args: impl IntoIterator<Item = OsString>) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(name)
        .arg(std::process::id().to_string())
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .status()
        .expect("the watchdog shell to run");
    assert!(status.success(), "starting {name}: {status}");
}
