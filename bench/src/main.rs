//! `wasmhook-bench`: wasmhook under load on loopback, side by side with the limit.
//!
//! Every scenario starts the real `wasmhook serve` (a release build) and real subscriber
//! sinks, sends events with its own load generator, and runs, in the same invocation, its
//! baseline: a bare axum receiver that parses the JSON and answers 202 (the ingest limit), or
//! a bare axum → reqwest forwarder (the delivery limit). See docs/benchmarks.md.

#[path = "../../tests/support/browser.rs"]
mod browser;
mod dashboard;
mod envelopes;
mod events;
mod floor;
mod hostile;
mod load;
mod metrics;
mod native;
mod outage;
mod process;
mod scale_out;
mod scenarios;
mod servers;
mod sink;
mod stats;
#[path = "../../tests/support/watchdog.rs"]
mod watchdog;

use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The scenarios to run, in order (default: all).
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
    /// Events per measured run (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 20_000)]
    events: u64,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Upper bound of one measured run.
    #[arg(long, default_value = "60s", value_parser = humantime_secs)]
    max_time: Duration,
    /// Calls per plugin and mode in the `plugins` scenario.
    #[arg(long, default_value_t = 2_000)]
    calls: u32,
    /// Rounds of the `plugins` scenario; each figure is the best of them.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Plugin swaps in the `reload` scenario.
    #[arg(long, default_value_t = 100)]
    swaps: u32,
    /// The length of each phase of the `hostile` scenario.
    #[arg(long, default_value = "5s", value_parser = humantime_secs)]
    phase: Duration,
    /// A quick check that every scenario runs (a few hundred events): no figures to keep.
    #[arg(long)]
    smoke: bool,
    /// Measure this `wasmhook` binary instead of building the checkout's: a build kept from
    /// before a change, to compare the two in one sitting.
    #[arg(long, value_name = "PATH")]
    wasmhook: Option<std::path::PathBuf>,
    #[command(subcommand)]
    baseline: Option<Internal>,
}

#[derive(clap::Subcommand, Debug)]
enum Internal {
    /// A baseline server (started by the benchmark itself): `receive`, or `forward URL...`.
    #[command(hide = true)]
    Baseline { args: Vec<String> },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// 1: ingest only: verify, store, 202; no routes.
    Ingest,
    /// 2a: one route without plugins to one subscriber: the cost of storing, scheduling and
    /// delivering an event, at a moderate rate and overloaded by 128 senders.
    Plain,
    /// 2: one route with a Rust filter and a Rust transform, one subscriber; then the latency
    /// at half the maximum rate.
    Route,
    /// 3: one route to 5 subscribers.
    FanOut,
    /// 4: 2 KiB and 64 KiB bodies through one route to one subscriber.
    Bodies,
    /// 5: each example plugin's cost per event, fresh instance and `reuse = true`.
    Plugins,
    /// 6: a plugin swapped on disk many times while events flow.
    Reload,
    /// The resident memory of the example routes.toml, loaded and idle.
    Idle,
    /// The floor of durable storage: an event's records appended to a file, an fdatasync
    /// per commit, as the router's writes are counted.
    Floor,
    /// 7: attacks on the ingest port and misbehaving plugins, one phase each, while a healthy
    /// route takes a steady 100 events/s: what each costs the router and the healthy route.
    Hostile,
    /// 8: a subscriber down for two minutes with 100,000 messages waiting, then back; without
    /// and with its circuit breaker.
    Outage,
    /// 9: one route without plugins on 1, 2 and 3 nodes sharing one PostgreSQL (one machine:
    /// the overhead of sharing, not scaling), beside one node on the embedded store.
    ScaleOut,
    /// 10: the dashboard with 100,000 events stored, beside an empty store: first paint and
    /// readiness of its views in headless Chromium, and the latency of the API calls behind
    /// them.
    Dashboard,
}

/// `30s`, `2m`, `500ms`.
fn humantime_secs(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{text:?}: use ms, s or m")),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(Internal::Baseline { args }) = &cli.baseline {
        return runtime.block_on(servers::run_baseline(args));
    }
    let settings = scenarios::Settings::from_cli(&cli);
    let selected = if cli.scenarios.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        cli.scenarios.clone()
    };
    runtime.block_on(scenarios::run_all(&settings, &selected))
}
