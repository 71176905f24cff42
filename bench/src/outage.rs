//! Scenario 8: a subscriber down for two minutes with a backlog waiting, then back.
//!
//! The subscriber's port refuses connections while 100,000 events are accepted for it; for two
//! minutes nothing answers; then a sink comes up on that port. The same run is made without
//! a circuit breaker (`circuit = false`, every message on its own retry schedule) and with
//! the default one: the attempts, CPU and memory the outage cost, the messages it killed,
//! and how long the drain took once the subscriber was back.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::events::{github_source, signed_push};
use crate::metrics::Metrics;
use crate::process::{CpuMeter, memory_kib, reset_peak_rss};
use crate::scenarios::{Bench, Pace};
use crate::sink::Sink;

/// The schedule of the issue that measured the cost of an outage: 4 attempts in 36 s.
const RETRY: &str = r#"retry = ["1s", "5s", "30s"]"#;

/// What one variant cost.
struct Outcome {
    label: &'static str,
    accepted: usize,
    attempts: f64,
    dead: f64,
    cpu: Duration,
    peak_rss_mib: u64,
    delivered: usize,
    drain: Duration,
}

pub async fn run(bench: &Bench<'_>) -> anyhow::Result<()> {
    let (events, outage) = if bench.settings.smoke {
        (300, Duration::from_secs(3))
    } else {
        (100_000, Duration::from_secs(120))
    };
    let mut outcomes = Vec::new();
    for (label, circuit) in [
        ("no circuit breaker", "circuit = false\n"),
        ("circuit breaker", ""),
    ] {
        let dir = tempfile::tempdir()?;
        outcomes.push(variant(bench, dir.path(), (label, circuit), events, outage).await?);
    }
    println!(
        "\n== 8. a subscriber down for {} s with {events} messages waiting ({RETRY}), then back",
        outage.as_secs()
    );
    println!(
        "{:<22} {:>9} {:>10} {:>9} {:>10} {:>9} {:>10} {:>10}",
        "", "accepted", "attempts", "dead", "CPU", "peak RSS", "delivered", "drain"
    );
    for o in &outcomes {
        println!(
            "{:<22} {:>9} {:>10.0} {:>9.0} {:>9.1}s {:>5} MiB {:>10} {:>9.1}s",
            o.label,
            o.accepted,
            o.attempts,
            o.dead,
            o.cpu.as_secs_f64(),
            o.peak_rss_mib,
            o.delivered,
            o.drain.as_secs_f64(),
        );
    }
    println!(
        "attempts, dead, CPU and peak RSS: during the outage, from the last accepted event; drain: from the subscriber's return to its last message"
    );
    Ok(())
}

async fn variant(
    bench: &Bench<'_>,
    dir: &Path,
    (label, circuit): (&'static str, &str),
    events: u64,
    outage: Duration,
) -> anyhow::Result<Outcome> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let wiring = format!(
        "{}\n[subscribers.down]\nurl = \"http://127.0.0.1:{port}/deliveries\"\n{RETRY}\n{circuit}\n\
         [[routes]]\nsource = \"bench\"\nsubscribers = [\"down\"]\n",
        github_source("bench")
    );
    let server = bench.start_under_fire(dir, &wiring)?;
    let admin = server.admin.clone().unwrap_or_default();
    let client = reqwest::Client::new();
    let mut load = bench.load(format!("{}/hooks/bench", server.base), Pace::Max);
    load.events = events;
    let sent = load.run(|seq| signed_push(seq, 0)).await;

    let before = Metrics::read(&client, &admin).await?;
    reset_peak_rss(server.pid());
    let cpu = CpuMeter::start(server.pid());
    tokio::time::sleep(outage).await;
    let after = Metrics::read(&client, &admin).await?;
    let cpu = cpu.used();
    let peak_rss_mib = memory_kib(server.pid(), "VmHWM") / 1024;
    let attempts = after.since(&before, "wasmhook_deliveries_total", &[]);
    let dead = after.total("wasmhook_messages_dead_total", &[]).max(0.0);

    let sink = Sink::start_on(port).await?;
    let back = Instant::now();
    let alive = sent.accepted.saturating_sub(dead as usize);
    let delivered = sink.wait_for(alive, Duration::from_secs(600)).await;
    let drain = sink
        .last_arrival()
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(back));
    Ok(Outcome {
        label,
        accepted: sent.accepted,
        attempts,
        dead,
        cpu,
        peak_rss_mib,
        delivered,
        drain,
    })
}
