//! Project tasks, as a library (the end-to-end tests call [`build_plugins`] once per run) and
//! as the `cargo xtask` binary.
//!
//! The example plugins live in `plugins/`, one folder each. Those in Rust form a cargo workspace
//! of their own built for WebAssembly: function plugins are components (`wasm32-wasip2`);
//! command plugins are core modules (`wasm32-wasip1`) or command components (`wasm32-wasip2`).
//! Those in other languages each have a `Makefile` that builds `$(OUT)` with the language's
//! own toolchain, which [`toolchains`] installs from package registries. Each built plugin is
//! published as `plugins/target/<crate_name>.wasm`, the path routes.toml files point at; a file
//! is replaced by rename, so a router watching it never loads a half-written plugin.

#![forbid(unsafe_code)]

pub mod dist;
pub mod fuzz;
pub mod toolchains;

use std::path::{Path, PathBuf};
use std::process::Command;

use toolchains::Toolchain;

/// How a Rust plugin is carried, which decides the target it is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A component exporting `handle` (a `cdylib`).
    Function,
    /// A WASI program reading stdin and writing stdout (a `bin`), as a core module.
    Command,
    /// The same, as a component exporting `wasi:cli/run`.
    CommandComponent,
}

impl Transport {
    pub fn target(self) -> &'static str {
        match self {
            Transport::Function | Transport::CommandComponent => "wasm32-wasip2",
            Transport::Command => "wasm32-wasip1",
        }
    }
}

/// The language of an example plugin, which decides how it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A package of the `plugins/` cargo workspace.
    Rust(Transport),
    /// A folder with a `Makefile` whose default target builds `$(OUT)` and whose `test`
    /// target runs the plugin's own unit tests natively.
    Make(Toolchain),
}

/// One example plugin: the folder `plugins/<folder>`.
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    pub folder: &'static str,
    pub language: Language,
}

const fn rust(folder: &'static str, transport: Transport) -> Plugin {
    Plugin {
        folder,
        language: Language::Rust(transport),
    }
}

const fn make(folder: &'static str, toolchain: Toolchain) -> Plugin {
    Plugin {
        folder,
        language: Language::Make(toolchain),
    }
}

/// The example plugins.
pub const PLUGINS: &[Plugin] = &[
    rust("push-only", Transport::Function),
    rust("github-to-slack", Transport::Function),
    rust("chaos", Transport::Function),
    rust("stripe-to-slack", Transport::Function),
    rust("shopify-order-compact", Transport::Function),
    rust("split-commits", Transport::Command),
    rust("chaos-command", Transport::Command),
    rust("sns-unwrap", Transport::CommandComponent),
    make("drop-bots", Toolchain::C),
    make("sendgrid-bounces", Toolchain::Zig),
    make("github-to-discord", Toolchain::Go),
    make("form-to-json", Toolchain::Python),
    make("redact", Toolchain::JavaScript),
    make("sample", Toolchain::AssemblyScript),
];

impl Plugin {
    /// The crate name: the folder name with `_` for `-`.
    pub fn crate_name(&self) -> String {
        self.folder.replace('-', "_")
    }

    /// Where cargo leaves a Rust plugin, relative to the target directory.
    fn cargo_artifact(&self, transport: Transport) -> PathBuf {
        // A cdylib is named after the crate, a bin after the package.
        let file = match transport {
            Transport::Function => format!("{}.wasm", self.crate_name()),
            Transport::Command | Transport::CommandComponent => format!("{}.wasm", self.folder),
        };
        Path::new(transport.target()).join("release").join(file)
    }

    /// Where the plugin is published: `plugins/target/<crate_name>.wasm`.
    pub fn output(&self, root: &Path) -> PathBuf {
        target_dir(root).join(format!("{}.wasm", self.crate_name()))
    }

    fn rust_transport(&self) -> Option<Transport> {
        match self.language {
            Language::Rust(transport) => Some(transport),
            Language::Make(_) => None,
        }
    }
}

/// The repository root (the folder of the root `Cargo.toml`).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    root.join("plugins").join("target")
}

/// `cargo`, as the one running us if any.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the example plugins (Rust ones in release mode) and publishes them as
/// `plugins/target/<crate_name>.wasm`; returns the published paths.
///
/// Installs what the build needs and is missing: the `wasm32-wasip1` and `wasm32-wasip2`
/// targets with rustup, and the other languages' toolchains (see [`toolchains`]).
pub fn build_plugins(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut outputs = build_rust_plugins(root)?;
    for plugin in PLUGINS {
        if let Language::Make(toolchain) = plugin.language {
            outputs.push(build_with_make(root, plugin, toolchain)?);
        }
    }
    Ok(outputs)
}

/// Runs each non-Rust example plugin's own unit tests (`make test` in its folder).
pub fn test_make_plugins(root: &Path) -> Result<(), String> {
    for plugin in PLUGINS {
        if let Language::Make(toolchain) = plugin.language {
            eprintln!("testing plugins/{} ({toolchain})…", plugin.folder);
            let mut test = toolchain.make(root)?;
            test.arg("-C").arg(plugin_dir(root, plugin)).arg("test");
            run(&mut test)?;
        }
    }
    Ok(())
}

fn plugin_dir(root: &Path, plugin: &Plugin) -> PathBuf {
    root.join("plugins").join(plugin.folder)
}

/// Builds the Rust example plugins only (those the example routes.toml uses), which needs
/// nothing but rustup's WebAssembly targets.
pub fn build_rust_plugins(root: &Path) -> Result<Vec<PathBuf>, String> {
    let manifest = root.join("plugins").join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("no plugins workspace at {}", manifest.display()));
    }
    let mut outputs = Vec::new();
    for target in ["wasm32-wasip2", "wasm32-wasip1"] {
        let plugins: Vec<(&Plugin, Transport)> = PLUGINS
            .iter()
            .filter_map(|p| Some((p, p.rust_transport()?)))
            .filter(|(_, transport)| transport.target() == target)
            .collect();
        ensure_target(root, target)?;
        eprintln!("building the Rust example plugins for {target}…");
        let mut build = cargo();
        build
            .current_dir(root)
            .args(["build", "--release", "--target", target, "--manifest-path"])
            .arg(&manifest)
            // Explicit, so a `build.target-dir` in the user's cargo config cannot move it.
            .arg("--target-dir")
            .arg(target_dir(root));
        for (plugin, _) in &plugins {
            build.args(["-p", plugin.folder]);
        }
        without_caller_settings(&mut build);
        run(&mut build)?;
        for (plugin, transport) in plugins {
            let built = target_dir(root).join(plugin.cargo_artifact(transport));
            let output = plugin.output(root);
            publish(&built, &output)?;
            outputs.push(output);
        }
    }
    Ok(outputs)
}

/// Removes the settings meant for the caller's cargo build (a test run, a native target),
/// which would break or needlessly rebuild a build of plugins.
pub fn without_caller_settings(cargo: &mut Command) -> &mut Command {
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cargo.env_remove(var);
    }
    cargo
}

/// `make -C plugins/<folder> OUT=plugins/target/make/<crate_name>.wasm`, then publishes it.
fn build_with_make(root: &Path, plugin: &Plugin, toolchain: Toolchain) -> Result<PathBuf, String> {
    let built = target_dir(root)
        .join("make")
        .join(format!("{}.wasm", plugin.crate_name()));
    std::fs::create_dir_all(built.parent().unwrap_or(root))
        .map_err(|e| format!("cannot create {}: {e}", built.display()))?;
    eprintln!("building plugins/{} ({toolchain})…", plugin.folder);
    let mut build = toolchain.make(root)?;
    build
        .arg("-C")
        .arg(plugin_dir(root, plugin))
        .arg(format!("OUT={}", built.display()));
    run(&mut build)?;
    let output = plugin.output(root);
    publish(&built, &output)?;
    Ok(output)
}

/// Copies `built` to `output` through a temporary file and a rename. An unchanged file is
/// left alone, so a router watching it does not reload for nothing.
fn publish(built: &Path, output: &Path) -> Result<(), String> {
    let bytes =
        std::fs::read(built).map_err(|e| format!("cannot read {}: {e}", built.display()))?;
    if std::fs::read(output).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let name = output
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("plugin.wasm");
    let temp = output.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, &bytes).map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    std::fs::rename(&temp, output).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot replace {}: {e}", output.display())
    })
}

/// Installs the rustup target `target` unless the toolchain already has it.
pub(crate) fn ensure_target(root: &Path, target: &str) -> Result<(), String> {
    let output = Command::new("rustc")
        .current_dir(root)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`rustc --print sysroot` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib").join("rustlib").join(target).is_dir() {
        return Ok(());
    }
    eprintln!("installing the {target} target with rustup…");
    run(Command::new("rustup")
        .current_dir(root)
        .args(["target", "add", target]))
    .map_err(|e| format!("the {target} target is missing and could not be installed: {e}"))
}

pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_named_after_the_crate() {
        let root = Path::new("/repo");
        let names: Vec<PathBuf> = PLUGINS.iter().map(|p| p.output(root)).collect();
        assert!(names.contains(&PathBuf::from("/repo/plugins/target/push_only.wasm")));
        assert!(names.contains(&PathBuf::from("/repo/plugins/target/split_commits.wasm")));
    }

    #[test]
    fn commands_keep_the_package_name_and_functions_use_the_crate_name() {
        let split = PLUGINS
            .iter()
            .find(|p| p.folder == "split-commits")
            .unwrap();
        assert_eq!(
            split.cargo_artifact(Transport::Command),
            Path::new("wasm32-wasip1/release/split-commits.wasm")
        );
        let slack = PLUGINS
            .iter()
            .find(|p| p.folder == "github-to-slack")
            .unwrap();
        assert_eq!(
            slack.cargo_artifact(Transport::Function),
            Path::new("wasm32-wasip2/release/github_to_slack.wasm")
        );
    }

    #[test]
    fn repo_root_holds_the_plugins_workspace() {
        assert!(repo_root().join("plugins").join("Cargo.toml").is_file());
    }

    #[test]
    fn publish_replaces_only_changed_files() {
        let dir = std::env::temp_dir().join(format!("xtask-publish-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (built, output) = (dir.join("built.wasm"), dir.join("out.wasm"));
        std::fs::write(&built, b"v1").unwrap();
        publish(&built, &output).unwrap();
        assert_eq!(std::fs::read(&output).unwrap(), b"v1");
        let modified = std::fs::metadata(&output).unwrap().modified().unwrap();
        publish(&built, &output).unwrap();
        assert_eq!(
            std::fs::metadata(&output).unwrap().modified().unwrap(),
            modified
        );
        std::fs::write(&built, b"v2").unwrap();
        publish(&built, &output).unwrap();
        assert_eq!(std::fs::read(&output).unwrap(), b"v2");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
