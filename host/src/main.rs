use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = wasmhook::cli::Cli::parse();
    wasmhook::cli::run(cli)
}
