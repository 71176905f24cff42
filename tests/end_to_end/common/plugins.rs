//! The example plugins, built once per test run by the xtask library.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub struct Plugins {
    /// Filter: GitHub pushes to `config.branches` (default `["main"]`).
    pub push_only: PathBuf,
    /// Transform: GitHub events to a Slack `{"text"}` message.
    pub github_to_slack: PathBuf,
    /// Command plugin: one message per commit of a push, header `x-commit-id`.
    pub split_commits: PathBuf,
    /// Misbehaves on demand: `config.mode` = pass, loop, hog, trap, error, big-output, stderr,
    /// count, sleep, fan-out, headers.
    pub chaos: PathBuf,
    /// chaos as a command module (`wasm32-wasip1`, `_start`): the same modes.
    pub chaos_command: PathBuf,
    /// Command component (`wasi:cli/run`): an SNS notification's inner `Message`.
    pub sns_unwrap: PathBuf,
    /// Every published plugin, by file name (`drop_bots.wasm`).
    all: Vec<PathBuf>,
}

impl Plugins {
    /// The example plugin published as `file` (`<crate_name>.wasm`).
    pub fn named(&self, file: &str) -> &Path {
        self.all
            .iter()
            .find(|p| p.file_name().is_some_and(|f| f == file))
            .unwrap_or_else(|| panic!("xtask::build_plugins did not publish {file}"))
    }
}

/// Builds the example plugins the first time it is called (this takes minutes on a cold
/// cache) and returns their paths. Tests that modify a plugin file work on a copy ([`copy`]).
pub fn plugins() -> &'static Plugins {
    static PLUGINS: OnceLock<Plugins> = OnceLock::new();
    PLUGINS.get_or_init(|| {
        let root = xtask::repo_root();
        let built = xtask::build_plugins(&root)
            .unwrap_or_else(|e| panic!("building the example plugins failed: {e}"));
        let find = |name: &str| {
            let path = built
                .iter()
                .find(|p| p.file_name().is_some_and(|f| f == name))
                .cloned()
                .unwrap_or_else(|| root.join("plugins/target").join(name));
            assert!(
                path.is_file(),
                "xtask::build_plugins did not produce {}",
                path.display()
            );
            path
        };
        Plugins {
            push_only: find("push_only.wasm"),
            github_to_slack: find("github_to_slack.wasm"),
            split_commits: find("split_commits.wasm"),
            chaos: find("chaos.wasm"),
            chaos_command: find("chaos_command.wasm"),
            sns_unwrap: find("sns_unwrap.wasm"),
            all: built,
        }
    })
}

/// Copies `plugin` to `dir/name` and returns the new path.
pub fn copy(plugin: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(plugin, &to)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", plugin.display(), to.display()));
    to
}

/// Replaces `path` the way deploy tools do: write a temporary file beside it, then rename.
pub fn replace_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Makes a command component (`wasi:cli/run`) of the WASI preview 1 command module at `module`,
/// as `wasm-tools component new --adapt` does, writes it to `dir/name` and returns its path:
/// the program's preview 1 calls then reach the host as WASI 0.2 calls (a `poll_oneoff` sleep
/// becomes `subscribe-duration` and `poll`).
pub fn command_component(module: &Path, dir: &Path, name: &str) -> PathBuf {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    };
    let bytes = std::fs::read(module).unwrap();
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|encoder| {
            encoder.adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|e| panic!("{} as a command component: {e:#}", module.display()));
    let to = dir.join(name);
    std::fs::write(&to, component).unwrap();
    to
}
