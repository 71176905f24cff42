//! Scenario 7, `hostile`: what each attack on the ingest port and each misbehaving plugin
//! costs while a healthy route keeps working.
//!
//! One `wasmhook serve` with its default limits carries a healthy route (a GitHub source, no
//! plugins, one subscriber) that a paced sender feeds at [`HEALTHY_RATE`] for the whole run,
//! and the sources and routes the faults need. The run is a sequence of phases of the same
//! length: a baseline without faults, then each fault, each followed by a quiet phase in which
//! the router recovers. Per phase: what the fault sent and what the router answered, the
//! router's CPU time and peak resident memory, and the healthy route's share of `202`s and
//! its latency, from the sender's request to the answer and from the `202` to the
//! subscriber's receipt.

mod plugins;
mod raw;
mod report;
mod senders;
mod tally;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use report::Phase;
use tally::Tally;

use crate::events::{github_source, signed_push};
use crate::load::Load;
use crate::process::{CpuMeter, memory_kib, reset_peak_rss};
use crate::scenarios::{Bench, sinks, wait_for_deliveries};
use crate::servers::LogTally;
use crate::sink::Sink;

/// Events per second of the healthy route, in every phase.
const HEALTHY_RATE: f64 = 100.0;
/// Connections of the healthy sender: enough that slow answers do not slow its pace.
const HEALTHY_CONNECTIONS: usize = 32;
/// Healthy traffic before the first phase, so that it starts warm.
const WARM_UP: Duration = Duration::from_secs(2);

/// The faults, in the order they are run; each but the first is followed by a quiet phase.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    SignatureFloods,
    SlowSenders,
    UnknownSources,
    HangUps,
    SleepingPlugin,
    FanOutBomb,
    CarriedBodies,
    BrokenPlugin,
    /// No fault, after one.
    Quiet,
}

impl Fault {
    const RUN: [Fault; 9] = [
        Fault::None,
        Fault::SignatureFloods,
        Fault::SlowSenders,
        Fault::UnknownSources,
        Fault::HangUps,
        Fault::SleepingPlugin,
        Fault::FanOutBomb,
        Fault::CarriedBodies,
        Fault::BrokenPlugin,
    ];

    fn label(self) -> &'static str {
        match self {
            Fault::None => "1. none (baseline)",
            Fault::SignatureFloods => "2. signature floods",
            Fault::SlowSenders => "3. slow senders",
            Fault::UnknownSources => "4. unknown sources",
            Fault::HangUps => "5. hang-ups",
            Fault::SleepingPlugin => "6. plugin sleeping 30 s",
            Fault::FanOutBomb => "7a. fan-out bomb",
            Fault::CarriedBodies => "7b. carried bodies",
            Fault::BrokenPlugin => "8. broken plugin file",
            Fault::Quiet => "   quiet after",
        }
    }

    async fn inflict(self, target: Arc<Target>, until: Instant) -> anyhow::Result<Observed> {
        let target = target.as_ref();
        match self {
            Fault::None | Fault::Quiet => Ok(Observed::default()),
            Fault::SignatureFloods => senders::signature_floods(target, until).await,
            Fault::SlowSenders => senders::slow_senders(target, until).await,
            Fault::UnknownSources => senders::unknown_sources(target, until).await,
            Fault::HangUps => senders::hang_ups(target, until).await,
            Fault::SleepingPlugin => plugins::sleeping_plugin(target, until).await,
            Fault::FanOutBomb => plugins::fan_out_bomb(target, until).await,
            Fault::CarriedBodies => plugins::carried_bodies(target, until).await,
            Fault::BrokenPlugin => plugins::broken_plugin(target, until).await,
        }
    }
}

/// What a fault sent, what the router answered, and what else was seen of it.
#[derive(Default)]
pub struct Observed {
    pub sent: usize,
    pub answers: Tally,
    pub notes: Vec<String>,
}

/// How many of each attack one phase sends: a few thousand, or a few dozen in a smoke run.
struct Sizes {
    flood_senders: usize,
    slow_senders: usize,
    unknown_sources: usize,
    hang_ups: usize,
}

impl Sizes {
    fn new(smoke: bool) -> Sizes {
        match smoke {
            false => Sizes {
                flood_senders: 8,
                slow_senders: 3000,
                unknown_sources: 2000,
                hang_ups: 600,
            },
            true => Sizes {
                flood_senders: 2,
                slow_senders: 50,
                unknown_sources: 50,
                hang_ups: 20,
            },
        }
    }
}

/// The subscribers of the faults' routes, which count what reaches them.
struct FaultSinks {
    hangup: Sink,
    sleepy: Sink,
    bomb: Sink,
    carry: Sink,
    fragile: Sink,
}

/// The plugin file the broken-plugin phase writes over, and what it held.
struct Fragile {
    path: PathBuf,
    good: Vec<u8>,
}

impl Fragile {
    /// Puts the good file back, whole, as a deploy does.
    fn restore(&self) -> std::io::Result<()> {
        let temp = self.path.with_extension("wasm.tmp");
        std::fs::write(&temp, &self.good)?;
        std::fs::rename(&temp, &self.path)
    }
}

/// What the faults aim at.
struct Target {
    ingest: String,
    admin: String,
    client: reqwest::Client,
    log: Arc<LogTally>,
    sizes: Sizes,
    sinks: FaultSinks,
    fragile: Fragile,
}

impl Target {
    /// Events to `source`, at `rate` or as fast as answered, until `until`.
    fn load(&self, source: &str, rate: Option<f64>, concurrency: usize, until: Instant) -> Load {
        Load {
            url: format!("{}/hooks/{source}", self.ingest),
            also: Vec::new(),
            headers: vec![("content-type", "application/json".to_owned())],
            events: u64::MAX / 2,
            concurrency,
            max_time: until.saturating_duration_since(Instant::now()),
            rate,
            stop: None,
        }
    }

    async fn metrics(&self) -> anyhow::Result<Metrics> {
        Metrics::read(&self.client, &self.admin).await
    }

    /// How many events of `source` the pipeline has not processed.
    async fn events_left_received(&self, source: &str) -> anyhow::Result<usize> {
        let answer = self
            .client
            .get(format!(
                "{}/api/events?source={source}&status=received&limit=1000",
                self.admin
            ))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let events: serde_json::Value = serde_json::from_slice(&answer)?;
        Ok(events["events"].as_array().map_or(0, Vec::len))
    }
}

pub async fn run(bench: &Bench<'_>) -> anyhow::Result<()> {
    let healthy_sink = Sink::start().await?;
    let [hangup, sleepy, bomb, carry, fragile_sink] =
        <[Sink; 5]>::try_from(sinks(5).await?).map_err(|_| anyhow::anyhow!("five sinks"))?;
    let sinks = FaultSinks {
        hangup,
        sleepy,
        bomb,
        carry,
        fragile: fragile_sink,
    };
    let dir = tempfile::tempdir()?;
    let chaos = bench.plugin("chaos.wasm")?;
    let fragile = Fragile {
        path: dir.path().join("fragile.wasm"),
        good: std::fs::read(chaos)?,
    };
    std::fs::write(&fragile.path, &fragile.good)?;
    let wiring = wiring(
        &chaos.display().to_string(),
        &fragile,
        &healthy_sink,
        &sinks,
    );
    let server = bench.start_under_fire(dir.path(), &wiring)?;
    let target = Arc::new(Target {
        ingest: server.base.clone(),
        admin: server.admin.clone().unwrap_or_default(),
        client: reqwest::Client::new(),
        log: Arc::clone(&server.log),
        sizes: Sizes::new(bench.settings.smoke),
        sinks,
        fragile,
    });

    let stop = Arc::new(AtomicBool::new(false));
    let mut healthy = target.load(
        "healthy",
        Some(HEALTHY_RATE),
        HEALTHY_CONNECTIONS,
        Instant::now() + Duration::from_secs(24 * 3600),
    );
    healthy.stop = Some(Arc::clone(&stop));
    let healthy = tokio::spawn(async move { healthy.run(|seq| signed_push(seq, 0)).await });
    tokio::time::sleep(WARM_UP).await;

    let length = bench.settings.phase;
    let mut phases = Vec::new();
    for fault in Fault::RUN {
        eprintln!("hostile: {}…", fault.label().trim());
        phases.push(phase(&target, fault, server.pid(), length).await?);
        if fault != Fault::None {
            phases.push(phase(&target, Fault::Quiet, server.pid(), length).await?);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let healthy = healthy.await?;
    wait_for_deliveries(std::slice::from_ref(&healthy_sink), healthy.accepted).await;
    report::print(&phases, &healthy, &healthy_sink.take(), length);
    Ok(())
}

/// Runs `fault` for `length` and measures the router meanwhile.
async fn phase(
    target: &Arc<Target>,
    fault: Fault,
    pid: u32,
    length: Duration,
) -> anyhow::Result<Phase> {
    let start = Instant::now();
    let until = start + length;
    let own_peak = reset_peak_rss(pid);
    let router = CpuMeter::start(pid);
    let load_generator = CpuMeter::start(std::process::id());
    let inflicted = tokio::spawn(fault.inflict(Arc::clone(target), until));
    tokio::time::sleep_until(until.into()).await;
    let router_cpu = router.used();
    let load_generator_cpu = load_generator.used();
    let peak_rss_kib = memory_kib(pid, "VmHWM");
    Ok(Phase {
        label: fault.label(),
        window: start..until,
        router_cpu,
        load_generator_cpu,
        peak_rss_kib,
        own_peak,
        observed: inflicted.await??,
    })
}

/// The healthy route, and a source, a route and a subscriber for each fault.
fn wiring(chaos: &str, fragile: &Fragile, healthy: &Sink, sinks: &FaultSinks) -> String {
    let plugin = |name: &str, wasm: &str, config: &str| {
        format!("[plugins.{name}]\nwasm = {wasm:?}\ntimeout = \"100ms\"\nconfig = {config}\n")
    };
    // Each route is named after its source and its subscriber.
    let route = |source: &str, transform: Option<&str>, sink: &Sink| {
        let transforms = transform.map_or(String::new(), |t| format!("transforms = [\"{t}\"]\n"));
        format!(
            "[subscribers.{source}]\nurl = \"{}\"\n[[routes]]\nsource = \"{source}\"\n\
             {transforms}subscribers = [\"{source}\"]\n",
            sink.url
        )
    };
    let unverified = |source: &str| format!("[sources.{source}]\n");
    let fragile_wasm = fragile.path.display().to_string();
    [
        github_source("healthy"),
        route("healthy", None, healthy),
        "[sources.stripe]\nverify = { scheme = \"stripe\", secret = \"whsec_bench\" }\n".into(),
        "[sources.webhooks]\nverify = { scheme = \"standard-webhooks\", \
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\" }\n"
            .into(),
        plugin("sleepy", chaos, "{ mode = \"sleep\", ms = 30000 }"),
        plugin("bomb", chaos, "{ mode = \"fan-out\", messages = 20000 }"),
        plugin(
            "carrier",
            chaos,
            "{ mode = \"fan-out\", messages = 1000, carry = true }",
        ),
        plugin("fragile", &fragile_wasm, "{ mode = \"pass\" }"),
        unverified("hangup"),
        route("hangup", None, &sinks.hangup),
        unverified("sleepy"),
        route("sleepy", Some("sleepy"), &sinks.sleepy),
        unverified("bomb"),
        route("bomb", Some("bomb"), &sinks.bomb),
        unverified("carry"),
        route("carry", Some("carrier"), &sinks.carry),
        unverified("fragile"),
        route("fragile", Some("fragile"), &sinks.fragile),
    ]
    .concat()
}
