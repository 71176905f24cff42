//! `cargo xtask dist [--image]`: the release binary users install, and its container image.
//!
//! The binary is built for `x86_64-unknown-linux-musl` and linked statically: SQLite is
//! bundled and TLS is rustls with its own root certificates, so it runs on any x86_64 Linux
//! and in a `FROM scratch` image. Beside it: its sha256 (as `sha256sum` writes it, so
//! `sha256sum -c` checks it), the man pages and the shell completions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{cargo, ensure_target, run};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// The C compiler for the C parts (SQLite, ring) of a musl build: Debian's `musl-tools`.
const MUSL_CC: &str = "musl-gcc";

/// What `dist` made.
pub struct Dist {
    /// `target/distrib/wasmhook-<version>-x86_64-unknown-linux-musl`.
    pub binary: PathBuf,
    pub sha256: String,
}

/// Builds the static binary into [`output_dir`], with its sha256, man pages and completions.
pub fn build(root: &Path) -> Result<Dist, String> {
    ensure_target(root, TARGET)?;
    let cc_variable = format!("CC_{}", TARGET.replace('-', "_"));
    let cc = std::env::var(&cc_variable).unwrap_or_else(|_| MUSL_CC.to_owned());
    if Command::new(&cc).arg("--version").output().is_err() {
        return Err(format!(
            "no C compiler for {TARGET} (`{cc}`): install Debian's musl-tools \
             (`sudo apt-get install musl-tools`) or set {cc_variable}"
        ));
    }
    eprintln!("building the static release binary ({TARGET}); this takes a while…");
    let started = Instant::now();
    run(cargo()
        .current_dir(root)
        .env(&cc_variable, &cc)
        .args(["build", "--locked", "--profile", "dist", "--target", TARGET])
        .args(["-p", "wasmhook"]))?;
    eprintln!("built in {:.0?}", started.elapsed());

    let built = root
        .join("target")
        .join(TARGET)
        .join("dist")
        .join("wasmhook");
    if has_interpreter(&built)? {
        return Err(format!(
            "{} is dynamically linked; a static binary was expected",
            built.display()
        ));
    }
    let dist = output_dir(root);
    std::fs::create_dir_all(&dist).map_err(|e| format!("creating {}: {e}", dist.display()))?;
    let name = format!("wasmhook-{}-{TARGET}", env!("CARGO_PKG_VERSION"));
    let binary = dist.join(&name);
    std::fs::copy(&built, &binary).map_err(|e| format!("copying to {}: {e}", binary.display()))?;
    let sha256 = sha256_file(&dist, &name)?;
    shell_files(&binary, &dist)?;
    Ok(Dist { binary, sha256 })
}

/// `target/distrib/`; not `target/dist/`, where Cargo puts the build scripts of the `dist`
/// profile.
pub fn output_dir(root: &Path) -> PathBuf {
    root.join("target").join("distrib")
}

/// Whether the ELF file at `path` names a dynamic loader (`PT_INTERP`): a static executable
/// does not.
fn has_interpreter(path: &Path) -> Result<bool, String> {
    const PT_INTERP: u32 = 3;
    let elf = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let word = |at: usize, len: usize| -> Result<u64, String> {
        let bytes = elf
            .get(at..at + len)
            .ok_or_else(|| format!("{} is not a 64-bit ELF file", path.display()))?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0, |value, byte| value << 8 | u64::from(*byte)))
    };
    if elf.get(..5) != Some(b"\x7fELF\x02") || elf.get(5) != Some(&1) {
        return Err(format!(
            "{} is not a 64-bit little-endian ELF file",
            path.display()
        ));
    }
    let (table, entry_size, entries) = (word(0x20, 8)?, word(0x36, 2)?, word(0x38, 2)?);
    for index in 0..entries {
        let entry = usize::try_from(table + index * entry_size).map_err(|e| e.to_string())?;
        if word(entry, 4)? == u64::from(PT_INTERP) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes `<name>.sha256` beside `dir/<name>` and returns the hash.
fn sha256_file(dir: &Path, name: &str) -> Result<String, String> {
    let output = Command::new("sha256sum")
        .current_dir(dir)
        .arg(name)
        .output()
        .map_err(|e| format!("cannot run sha256sum: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "sha256sum failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let line = String::from_utf8_lossy(&output.stdout).into_owned();
    let path = dir.join(format!("{name}.sha256"));
    std::fs::write(&path, &line).map_err(|e| format!("writing {}: {e}", path.display()))?;
    line.split_whitespace()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| format!("sha256sum printed {line:?}"))
}

/// `dist/man/*.1` and `dist/completions/` (bash, zsh, fish), from the binary itself.
fn shell_files(binary: &Path, dist: &Path) -> Result<(), String> {
    run(Command::new(binary)
        .arg("man")
        .arg("--out-dir")
        .arg(dist.join("man")))?;
    let completions = dist.join("completions");
    std::fs::create_dir_all(&completions)
        .map_err(|e| format!("creating {}: {e}", completions.display()))?;
    for (shell, file) in [
        ("bash", "wasmhook.bash"),
        ("zsh", "_wasmhook"),
        ("fish", "wasmhook.fish"),
    ] {
        let output = Command::new(binary)
            .args(["completions", shell])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        if !output.status.success() {
            return Err(format!("`wasmhook completions {shell}` failed"));
        }
        let path = completions.join(file);
        std::fs::write(&path, output.stdout)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The image's name: `wasmhook:<version>`.
pub fn image_name() -> String {
    format!("wasmhook:{}", env!("CARGO_PKG_VERSION"))
}

/// Builds the container image of `Containerfile` around `binary` with podman, tagged
/// [`image_name`] and `wasmhook:latest`; returns its size in bytes.
pub fn build_image(root: &Path, binary: &Path) -> Result<u64, String> {
    let context = output_dir(root).join("image");
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(context.join("data"))
        .map_err(|e| format!("creating {}: {e}", context.display()))?;
    std::fs::copy(binary, context.join("wasmhook"))
        .map_err(|e| format!("copying the binary into {}: {e}", context.display()))?;
    // Docker's format: OCI images have no HEALTHCHECK.
    run(Command::new("podman")
        .args(["build", "--format", "docker"])
        .args(["--tag", &image_name(), "--tag", "wasmhook:latest"])
        .arg("--file")
        .arg(root.join("Containerfile"))
        .arg(&context))
    .map_err(|e| format!("{e} (podman is Debian's `podman` package)"))?;
    let output = Command::new("podman")
        .args(["image", "inspect", "--format", "{{.Size}}", &image_name()])
        .output()
        .map_err(|e| format!("cannot run podman: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("podman image inspect printed {:?}", output.stdout))
}
