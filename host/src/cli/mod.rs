//! The command line (SPEC section 2): one file per command.

mod admin_client;
mod check;
mod events;
mod health;
mod messages;
mod plugin_new;
mod plugin_run;
mod serve;
mod service;
mod shell;
mod subscribers;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// `0.1.0 (commit 1a2b3c4d5e6f)`: the version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("WASMHOOK_COMMIT"),
    ")"
);

/// wasmhook receives webhooks, checks they are genuine, runs them through your WebAssembly
/// filters and transforms, and delivers the results to your subscribers, durably.
#[derive(Parser, Debug)]
#[command(name = "wasmhook", version = VERSION, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr. Filter with RUST_LOG (e.g. `RUST_LOG=wasmhook=debug`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the router: ingest listener, pipeline, delivery, admin API; reloads on file changes
    /// and on SIGHUP, and tells systemd when it is ready (Type=notify).
    Serve {
        /// The routes file.
        #[arg(short, long, default_value = "routes.toml")]
        config: PathBuf,
        /// Run a plugin's `build` command when a file matching its `watch` patterns changes;
        /// hot reload then picks up the rebuilt `.wasm`.
        #[arg(long)]
        watch: bool,
        /// This node's name among those sharing a store (`store` in [server]): shown by
        /// `GET /api/nodes` and on each delivery attempt. Defaults to the host name.
        #[arg(long, env = "WASMHOOK_NODE")]
        node: Option<String>,
    },
    /// Validate routes.toml and compile every plugin; print each problem as file:line:col.
    Check {
        /// The routes file.
        #[arg(short, long, default_value = "routes.toml")]
        config: PathBuf,
    },
    /// Run the [[tests]] of routes.toml through the plugins and routes, without network; exit 1
    /// and show a diff when a subscriber would not get what a test expects.
    Test {
        /// The routes file.
        #[arg(short, long, default_value = "routes.toml")]
        config: PathBuf,
    },
    /// Work with a single plugin.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Inspect and replay events through the admin API of a running wasmhook.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Inspect and retry messages (dead letters) through the admin API.
    #[command(subcommand)]
    Messages(messages::MessagesCommand),
    /// Subscribers and their circuits; retry a subscriber's dead letters, disable or enable one.
    #[command(subcommand)]
    Subscribers(subscribers::SubscribersCommand),
    /// Ask a running router whether it is ready (GET /readyz): exit 0 if so, 1 if not. For
    /// container health checks.
    Health(health::HealthArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff), or write a page per command into a folder.
    Man(shell::ManArgs),
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Run one plugin on the envelope read from stdin; print its result and its stderr.
    Run(plugin_run::RunArgs),
    /// Create a plugin folder that builds and passes its own tests (Rust, C, Zig, Go, Python,
    /// JavaScript, AssemblyScript).
    New(plugin_new::NewArgs),
}

/// Runs a parsed command line; 0 on success, 1 on a user error (bad config, bad plugin).
pub fn run(cli: Cli) -> ExitCode {
    init_logging(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                config,
                watch,
                node,
            } => serve::serve(config, watch, node).await,
            Command::Check { config } => check::check(&config).await,
            Command::Test { config } => test::test(&config).await,
            Command::Plugin(PluginCommand::Run(args)) => plugin_run::run(args).await,
            Command::Plugin(PluginCommand::New(args)) => plugin_new::run(args),
            Command::Events(command) => events::run(command).await,
            Command::Messages(command) => messages::run(command).await,
            Command::Subscribers(command) => subscribers::run(command).await,
            Command::Health(args) => health::run(args).await,
            Command::Completions(args) => shell::completions(args),
            Command::Man(args) => shell::man(args),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
