//! Shell conventions: completion scripts and man pages, generated from the same command
//! definitions as `--help`, so they cannot drift from it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write one page per command (`wasmhook.1`, `wasmhook-serve.1`, ...) into this folder
    /// instead of printing `wasmhook.1`.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Prints the completion script, e.g. `wasmhook completions bash >
/// ~/.local/share/bash-completion/completions/wasmhook`.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "wasmhook", &mut script);
    print(&script)
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let command = Cli::command();
    match args.out_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            print(&page)
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            write_pages(command, &dir)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `text` to stdout; a reader that stops early (`| head`) is not an error.
fn print(text: &[u8]) -> anyhow::Result<ExitCode> {
    match std::io::stdout().lock().write_all(text) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The page of `command` and, recursively, of each of its subcommands, named as git names
/// its own (`wasmhook-plugin-run.1`).
fn write_pages(command: clap::Command, dir: &Path) -> anyhow::Result<()> {
    let command = command.disable_help_subcommand(true);
    for sub in command.get_subcommands() {
        let name = format!("{}-{}", command.get_name(), sub.get_name());
        let bin_name = format!(
            "{} {}",
            command.get_bin_name().unwrap_or(command.get_name()),
            sub.get_name()
        );
        write_pages(sub.clone().name(name).bin_name(bin_name), dir)?;
    }
    let path = dir.join(format!("{}.1", command.get_name()));
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
    clap_mangen::Man::new(command).render(&mut file)?;
    Ok(())
}
