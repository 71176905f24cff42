//! Fuzzing the parts of wasmhook that read what others send: the targets in `fuzz/`.
//!
//! The targets follow cargo-fuzz's layout, so long runs use it (`cargo +nightly fuzz run
//! TARGET`, with AddressSanitizer and an optimised build of every crate). That build compiles
//! wasmtime and Cranelift again with instrumentation, which takes half an hour of CPU: too much
//! for every test run. [`run`] is the short run `cargo xtask test` makes instead, on the stable
//! toolchain: cargo runs this program in front of rustc for the workspace's own crates only
//! (`RUSTC_WORKSPACE_WRAPPER`), which adds libFuzzer's coverage instrumentation to them, and the
//! dependencies are the ones the tests already built. Coverage then guides the fuzzer through
//! wasmhook's code, which is what is being fuzzed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::{cargo, run as run_command};

/// Set in the environment of the build so that this program, started by cargo as the
/// workspace's rustc wrapper, knows to act as one.
const WRAPPER_ENV: &str = "WASMHOOK_FUZZ_RUSTC_WRAPPER";

/// What cargo-fuzz gives rustc for libFuzzer's coverage (without a sanitizer): edge counters,
/// the table libFuzzer maps them with, and comparisons, so it can learn the values a branch
/// compares against.
const COVERAGE_FLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg=fuzzing",
];

/// Seconds each target runs in `cargo xtask test`.
pub const TEST_SECONDS: u32 = 10;

/// When cargo started this program as the rustc wrapper: runs rustc with the coverage flags
/// and returns its exit code; otherwise `None`.
pub fn act_as_rustc_wrapper() -> Option<ExitCode> {
    std::env::var_os(WRAPPER_ENV)?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let args: Vec<_> = args.collect();
    let mut rustc = Command::new(rustc);
    rustc.args(&args);
    if !runs_at_build_time(&args) {
        rustc.args(COVERAGE_FLAGS);
    }
    let status = rustc.status();
    Some(match status {
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(error) => {
            eprintln!("error: cannot run rustc: {error}");
            ExitCode::FAILURE
        }
    })
}

/// Whether rustc is compiling a build script or a procedural macro: code that runs during
/// the build, where nothing provides the coverage counters the instrumentation calls.
fn runs_at_build_time(args: &[std::ffi::OsString]) -> bool {
    args.windows(2).any(|pair| {
        (pair[0] == "--crate-name" && pair[1] == "build_script_build")
            || (pair[0] == "--crate-type" && pair[1] == "proc-macro")
    })
}

/// The fuzz targets: the files of `fuzz/fuzz_targets`, by name.
pub fn targets(root: &Path) -> Result<Vec<String>, String> {
    let folder = root.join("fuzz").join("fuzz_targets");
    let entries =
        std::fs::read_dir(&folder).map_err(|e| format!("cannot list {}: {e}", folder.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// Builds the targets with coverage and runs each for `seconds`, from its seeds and the
/// corpus earlier runs left in `target/fuzz`. Fails on the first target that finds a crash,
/// naming the file that reproduces it.
pub fn run(root: &Path, seconds: u32, only: &[String]) -> Result<(), String> {
    let all = targets(root)?;
    let chosen: Vec<&String> = if only.is_empty() {
        all.iter().collect()
    } else {
        let unknown: Vec<&String> = only.iter().filter(|name| !all.contains(name)).collect();
        if !unknown.is_empty() {
            return Err(format!(
                "no fuzz target named {unknown:?}; the targets are {all:?}"
            ));
        }
        only.iter().collect()
    };
    build(root)?;
    for target in chosen {
        fuzz_one(root, target, seconds)?;
    }
    Ok(())
}

fn build(root: &Path) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    eprintln!("building the fuzz targets with coverage instrumentation…");
    run_command(
        cargo()
            .current_dir(root)
            .env("RUSTC_WORKSPACE_WRAPPER", me)
            .env(WRAPPER_ENV, "1")
            .args(["build", "-p", "wasmhook-fuzz", "--bins"]),
    )
}

/// Where cargo leaves what it builds.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn fuzz_one(root: &Path, target: &str, seconds: u32) -> Result<(), String> {
    let work = target_dir(root).join("fuzz");
    let corpus = work.join("corpus").join(target);
    let artifacts = work.join("artifacts").join(target);
    for folder in [&corpus, &artifacts] {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    }
    eprintln!("fuzzing {target} for {seconds} s…");
    let mut fuzz = Command::new(target_dir(root).join("debug").join(target));
    // New inputs go to the first folder; the seeds are only read.
    fuzz.arg(&corpus).args(seeds(root, target));
    fuzz.arg(format!("-max_total_time={seconds}"))
        .arg(artifact_prefix(&artifacts))
        // One input that takes seconds, or gigabytes, is a finding too.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1");
    run_command(&mut fuzz).map_err(|error| {
        format!(
            "{error}: fuzz target {target} found an input that fails; it is saved in {}",
            artifacts.display()
        )
    })
}

/// The seed folders of a target that has any: `fuzz/seeds/TARGET`, and for routes.toml the
/// configuration tests' files too.
fn seeds(root: &Path, target: &str) -> Vec<PathBuf> {
    let mut folders = vec![root.join("fuzz").join("seeds").join(target)];
    if target == "routes_toml" {
        folders.push(root.join("host").join("tests").join("ui"));
    }
    folders
        .into_iter()
        .filter(|folder| folder.is_dir())
        .collect()
}

/// libFuzzer takes the prefix as text and writes `crash-<sha1>` after it.
fn artifact_prefix(folder: &Path) -> OsString {
    let mut arg = OsString::from("-artifact_prefix=");
    arg.push(folder);
    arg.push("/");
    arg
}
