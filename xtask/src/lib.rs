//! Project tasks, as a library (the end-to-end tests call [`build_plugins`] once per run) and
//! as the `cargo xtask` binary.
//!
//! The example plugins live in `plugins/`, a cargo workspace of their own built for
//! WebAssembly. Function plugins are components (`wasm32-wasip2`); command plugins are core
//! modules (`wasm32-wasip1`) or command components (`wasm32-wasip2`). Each built plugin is published as
//! `plugins/target/<crate_name>.wasm`, the path routes.toml files point at; a file is
//! replaced by rename, so a router watching it never loads a half-written plugin.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// How a plugin is carried, which decides the target it is built for.
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

/// One example plugin: a package of the `plugins/` workspace.
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    pub package: &'static str,
    pub transport: Transport,
}

/// The example plugins written in Rust.
pub const PLUGINS: &[Plugin] = &[
    Plugin {
        package: "push-only",
        transport: Transport::Function,
    },
    Plugin {
        package: "github-to-slack",
        transport: Transport::Function,
    },
    Plugin {
        package: "chaos",
        transport: Transport::Function,
    },
    Plugin {
        package: "stripe-to-slack",
        transport: Transport::Function,
    },
    Plugin {
        package: "shopify-order-compact",
        transport: Transport::Function,
    },
    Plugin {
        package: "split-commits",
        transport: Transport::Command,
    },
    Plugin {
        package: "sns-unwrap",
        transport: Transport::CommandComponent,
    },
];

impl Plugin {
    /// The crate name: the package name with `_` for `-`.
    pub fn crate_name(&self) -> String {
        self.package.replace('-', "_")
    }

    /// Where cargo leaves the built file, relative to the target directory.
    fn artifact(&self) -> PathBuf {
        // A cdylib is named after the crate, a bin after the package.
        let file = match self.transport {
            Transport::Function => format!("{}.wasm", self.crate_name()),
            Transport::Command | Transport::CommandComponent => format!("{}.wasm", self.package),
        };
        Path::new(self.transport.target())
            .join("release")
            .join(file)
    }

    /// Where the plugin is published: `plugins/target/<crate_name>.wasm`.
    pub fn output(&self, root: &Path) -> PathBuf {
        target_dir(root).join(format!("{}.wasm", self.crate_name()))
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

/// Builds the example plugins in release mode and publishes them as
/// `plugins/target/<crate_name>.wasm`; returns the published paths.
///
/// Installs the `wasm32-wasip1` and `wasm32-wasip2` targets with rustup when they are missing.
pub fn build_plugins(root: &Path) -> Result<Vec<PathBuf>, String> {
    let manifest = root.join("plugins").join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("no plugins workspace at {}", manifest.display()));
    }
    let mut outputs = Vec::new();
    for target in ["wasm32-wasip2", "wasm32-wasip1"] {
        let plugins: Vec<&Plugin> = PLUGINS
            .iter()
            .filter(|p| p.transport.target() == target)
            .collect();
        ensure_target(root, target)?;
        eprintln!("building example plugins for {target}…");
        let mut build = cargo();
        build
            .current_dir(root)
            .args(["build", "--release", "--target", target, "--manifest-path"])
            .arg(&manifest)
            // Explicit, so a `build.target-dir` in the user's cargo config cannot move it.
            .arg("--target-dir")
            .arg(target_dir(root));
        for plugin in &plugins {
            build.args(["-p", plugin.package]);
        }
        // Settings meant for the caller's build (a test run, a native target) would break or
        // rebuild this one.
        for var in [
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
        ] {
            build.env_remove(var);
        }
        run(&mut build)?;
        for plugin in plugins {
            let built = target_dir(root).join(plugin.artifact());
            let output = plugin.output(root);
            publish(&built, &output)?;
            outputs.push(output);
        }
    }
    Ok(outputs)
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
fn ensure_target(root: &Path, target: &str) -> Result<(), String> {
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

fn run(command: &mut Command) -> Result<(), String> {
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
            .find(|p| p.package == "split-commits")
            .unwrap();
        assert_eq!(
            split.artifact(),
            Path::new("wasm32-wasip1/release/split-commits.wasm")
        );
        let slack = PLUGINS
            .iter()
            .find(|p| p.package == "github-to-slack")
            .unwrap();
        assert_eq!(
            slack.artifact(),
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
