//! The scenarios, and the table each prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::envelopes::{EXAMPLES, Example, Timing, envelope_bytes, time_calls, time_native};
use crate::events::{github_source, signed_push};
use crate::load::{Load, Request, Sent};
use crate::metrics::Metrics;
use crate::native;
use crate::process::{Cost, Meter, memory_kib};
use crate::servers::{Errors, Server};
use crate::sink::Sink;
use crate::stats::{Percentiles, human, rate};
use crate::{Cli, Scenario};

pub struct Settings {
    pub events: u64,
    pub concurrency: usize,
    max_time: Duration,
    calls: u32,
    rounds: u32,
    swaps: u32,
    /// The length of each phase of the `hostile` scenario.
    pub phase: Duration,
    pub smoke: bool,
    root: PathBuf,
    /// The binary to measure; none to build the checkout's.
    wasmhook: Option<PathBuf>,
}

impl Settings {
    pub fn from_cli(cli: &Cli) -> Settings {
        let smoke = cli.smoke;
        Settings {
            events: if smoke { 300 } else { cli.events },
            concurrency: if smoke { 4 } else { cli.concurrency },
            max_time: cli.max_time,
            calls: if smoke { 20 } else { cli.calls },
            rounds: if smoke { 1 } else { cli.rounds.max(1) },
            swaps: if smoke { 5 } else { cli.swaps },
            phase: if smoke {
                Duration::from_secs(1)
            } else {
                cli.phase
            },
            smoke,
            root: xtask::repo_root(),
            // Absolute: the servers run in directories of their own.
            wasmhook: cli
                .wasmhook
                .clone()
                .map(|path| std::path::absolute(&path).unwrap_or(path)),
        }
    }
}

/// What the benchmark runs: the release binary and the example plugins.
pub struct Bench<'a> {
    pub settings: &'a Settings,
    wasmhook: PathBuf,
    plugins: Vec<PathBuf>,
}

impl Bench<'_> {
    pub fn plugin(&self, file: &str) -> anyhow::Result<&Path> {
        self.plugins
            .iter()
            .find(|p| p.file_name().is_some_and(|f| f == file))
            .map(PathBuf::as_path)
            .with_context(|| format!("the example plugin {file} was not built"))
    }

    pub fn wasmhook(&self) -> &Path {
        &self.wasmhook
    }

    pub fn start(&self, dir: &Path, wiring: &str) -> anyhow::Result<Server> {
        Server::wasmhook(&self.wasmhook, dir, wiring, Errors::Echo)
    }

    /// Starts wasmhook where faults are injected on purpose: its errors are counted, not shown.
    pub fn start_under_fire(&self, dir: &Path, wiring: &str) -> anyhow::Result<Server> {
        Server::wasmhook(&self.wasmhook, dir, wiring, Errors::Expected)
    }

    pub fn load(&self, url: String, pace: Pace) -> Load {
        let (concurrency, rate) = match pace {
            Pace::Max => (self.settings.concurrency, None),
            Pace::Senders(senders) => (senders, None),
            Pace::Rate(rate) => (self.settings.concurrency, Some(rate)),
        };
        Load {
            url,
            also: Vec::new(),
            headers: vec![("content-type", "application/json".to_owned())],
            events: self.settings.events,
            concurrency,
            max_time: self.settings.max_time,
            rate,
            stop: None,
        }
    }
}

pub async fn run_all(settings: &Settings, selected: &[Scenario]) -> anyhow::Result<()> {
    let wasmhook = match &settings.wasmhook {
        Some(binary) => binary.clone(),
        None => crate::servers::build_wasmhook(&settings.root)?,
    };
    eprintln!("measuring {}", wasmhook.display());
    eprintln!("building the example plugins…");
    let plugins = xtask::build_plugins(&settings.root).map_err(anyhow::Error::msg)?;
    let bench = Bench {
        settings,
        wasmhook,
        plugins,
    };
    println!("{}", machine());
    for scenario in selected {
        match scenario {
            Scenario::Ingest => ingest(&bench).await?,
            Scenario::Plain => plain(&bench).await?,
            Scenario::Route => route(&bench).await?,
            Scenario::FanOut => fan_out(&bench).await?,
            Scenario::Bodies => bodies(&bench).await?,
            Scenario::Plugins => plugin_costs(&bench)?,
            Scenario::Reload => reload(&bench).await?,
            Scenario::Idle => idle(&bench).await?,
            Scenario::Floor => crate::floor::run(bench.settings.events)?,
            Scenario::Hostile => crate::hostile::run(&bench).await?,
            Scenario::Outage => crate::outage::run(&bench).await?,
            Scenario::ScaleOut => crate::scale_out::run(&bench).await?,
            Scenario::Dashboard => crate::dashboard::run(&bench).await?,
        }
    }
    Ok(())
}

/// The CPU model and core count, from `/proc/cpuinfo`.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("machine: {model}, {cores} cores")
}

/// One measured run against one server.
struct Row {
    label: String,
    accepted_per_s: f64,
    delivered_per_s: Option<f64>,
    latency: Option<Percentiles>,
    /// The server's CPU per accepted event, its delivery to every subscriber included.
    cpu_per_event: Duration,
    /// Bytes the server wrote to storage per accepted event (`/proc/<pid>/io`).
    written_per_event: f64,
    /// Bytes that reached the device of its data per accepted event, written by anyone.
    device_per_event: Option<f64>,
    peak_rss_kib: u64,
    failed: usize,
    lost: usize,
    /// Messages a subscriber received more than once.
    duplicates: usize,
    /// Store transactions per accepted event (wasmhook's `/metrics`).
    commits_per_event: Option<f64>,
}

/// How the load generator sends.
#[derive(Clone, Copy)]
pub enum Pace {
    /// As fast as the server answers, on `--concurrency` connections.
    Max,
    /// As fast as the server answers, on this many connections.
    Senders(usize),
    /// This many events per second.
    Rate(f64),
}

/// Warms `server` up, then sends the measured events to `path` and waits for every sink to
/// have each accepted event's message.
async fn measure(
    bench: &Bench<'_>,
    label: &str,
    server: &Server,
    sinks: &[Sink],
    request: Arc<dyn Fn(u64) -> Request + Send + Sync>,
    pace: Pace,
) -> anyhow::Result<Row> {
    let url = format!("{}/hooks/bench", server.base);
    let mut warm_up = bench.load(url.clone(), Pace::Max);
    warm_up.events = (bench.settings.events / 10).max(50);
    let make = Arc::clone(&request);
    let sent = warm_up.run(move |seq| make(seq)).await;
    wait_for_deliveries(sinks, sent.accepted).await;
    for sink in sinks {
        sink.take();
    }

    let commits_before = store_commits(server).await;
    let meter = Meter::start(server.pid(), &server.data_dir);
    let sent = bench.load(url, pace).run(move |seq| request(seq)).await;
    let delivered = wait_for_deliveries(sinks, sent.accepted).await;
    let cost = meter.read();
    let mut row = row(label, server, sinks, &sent, delivered, cost);
    row.commits_per_event = store_commits(server)
        .await
        .zip(commits_before)
        .map(|(after, before)| (after - before) / sent.accepted.max(1) as f64);
    Ok(row)
}

/// How many transactions wasmhook's store committed so far; none for a baseline.
async fn store_commits(server: &Server) -> Option<f64> {
    let admin = server.admin.as_deref()?;
    let metrics = Metrics::read(&reqwest::Client::new(), admin).await.ok()?;
    Some(metrics.total("wasmhook_store_commits_total", &[]))
}

/// Says which message arrived last when it came more than a second after the last `202`: a
/// delivery rate far below the acceptance rate is then one message's story, not the
/// router's pace.
fn report_a_late_last_arrival(label: &str, sent: &Sent, arrivals: &[(u64, Instant)]) {
    let Some(&(seq, arrived)) = arrivals.iter().max_by_key(|(_, at)| *at) else {
        return;
    };
    let sending_ended = sent.started + sent.elapsed;
    let after = arrived.saturating_duration_since(sending_ended);
    if after < Duration::from_secs(1) {
        return;
    }
    let accepted = sent
        .accepted_at(seq)
        .map_or("never accepted in this run".to_owned(), |at| {
            format!("accepted {} before it arrived", human(arrived - at))
        });
    let copies = arrivals.iter().filter(|(other, _)| *other == seq).count();
    println!(
        "  {label}: the last message (event {seq}, {accepted}, {copies} arrival(s)) came {} after the last 202",
        human(after)
    );
}

/// Waits until each sink has `expected` messages, or no new one arrived for 10 s.
pub async fn wait_for_deliveries(sinks: &[Sink], expected: usize) -> usize {
    let mut total = 0;
    for sink in sinks {
        let mut last = sink.count();
        loop {
            let count = sink.wait_for(expected, Duration::from_secs(10)).await;
            if count >= expected || count == last {
                total += count;
                break;
            }
            last = count;
        }
    }
    total
}

fn row(
    label: &str,
    server: &Server,
    sinks: &[Sink],
    sent: &Sent,
    delivered: usize,
    cost: Cost,
) -> Row {
    let mut samples = Vec::new();
    let mut last = None;
    let mut duplicates = 0;
    for sink in sinks {
        last = last.max(sink.last_arrival());
        let arrivals = sink.take();
        report_a_late_last_arrival(label, sent, &arrivals);
        let mut seen = std::collections::HashSet::new();
        for (seq, at) in arrivals {
            if !seen.insert(seq) {
                duplicates += 1;
            } else if let Some(accepted) = sent.accepted_at(seq) {
                samples.push(at.saturating_duration_since(accepted));
            }
        }
    }
    let events = sent.accepted.max(1) as f64;
    let delivered_per_s = (!sinks.is_empty()).then(|| {
        let until = last.unwrap_or(sent.started + sent.elapsed);
        rate(delivered, until.duration_since(sent.started))
    });
    Row {
        label: label.to_owned(),
        accepted_per_s: rate(sent.accepted, sent.elapsed),
        delivered_per_s,
        latency: (!sinks.is_empty()).then(|| Percentiles::new(samples)),
        cpu_per_event: cost.cpu.div_f64(events),
        written_per_event: cost.written as f64 / events,
        device_per_event: cost.device.map(|bytes| bytes as f64 / events),
        peak_rss_kib: memory_kib(server.pid(), "VmHWM"),
        failed: sent.failed,
        lost: (sent.accepted * sinks.len()).saturating_sub(delivered.saturating_sub(duplicates)),
        duplicates,
        commits_per_event: None,
    }
}

/// The table of `rows`, then the ratio of the first (wasmhook) to the second (its baseline).
fn print_rows(title: &str, rows: &[Row]) {
    println!("\n== {title}");
    println!(
        "{:<26} {:>11} {:>12} {:>9} {:>9} {:>9} {:>10} {:>11} {:>11} {:>10} {:>10} {:>7} {:>6}",
        "",
        "accepted/s",
        "delivered/s",
        "p50",
        "p99",
        "p99.9",
        "CPU/event",
        "wrote/event",
        "device/ev",
        "commits/ev",
        "peak RSS",
        "failed",
        "twice"
    );
    for row in rows {
        let (p50, p99, p999) = row
            .latency
            .as_ref()
            .map_or(("-".into(), "-".into(), "-".into()), |l| {
                (human(l.at(0.5)), human(l.at(0.99)), human(l.at(0.999)))
            });
        println!(
            "{:<26} {:>11.0} {:>12} {:>9} {:>9} {:>9} {:>10} {:>11} {:>11} {:>10} {:>6} MiB {:>7} {:>6}",
            row.label,
            row.accepted_per_s,
            row.delivered_per_s
                .map_or("-".into(), |r| format!("{r:.0}")),
            p50,
            p99,
            p999,
            human(row.cpu_per_event),
            kilobytes(row.written_per_event),
            row.device_per_event.map_or("-".into(), kilobytes),
            row.commits_per_event
                .map_or("-".into(), |c| format!("{c:.2}")),
            row.peak_rss_kib / 1024,
            row.failed + row.lost,
            row.duplicates,
        );
    }
    if let [ours, baseline, ..] = rows {
        print_ratio(ours, baseline);
    }
}

/// `5.9 KB`.
fn kilobytes(bytes: f64) -> String {
    format!("{:.1} KB", bytes / 1000.0)
}

/// What a route should cost per event at most, to be printed beside what it cost.
struct Target {
    cpu: Duration,
    written: f64,
}

/// The targets of a route's cost: CPU per event, and 6 KB written per event.
const fn target(cpu_micros: u64) -> Target {
    Target {
        cpu: Duration::from_micros(cpu_micros),
        written: 6000.0,
    }
}

fn print_target(row: &Row, target: &Target) {
    let mark = |met: bool| if met { "met" } else { "not met" };
    println!(
        "{} against the targets: CPU {} per event (target ≤ {}: {}), written {} per event (target ≤ {}: {})",
        row.label,
        human(row.cpu_per_event),
        human(target.cpu),
        mark(row.cpu_per_event <= target.cpu),
        kilobytes(row.written_per_event),
        kilobytes(target.written),
        mark(row.written_per_event <= target.written),
    );
}

fn print_ratio(ours: &Row, baseline: &Row) {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut line = format!(
        "wasmhook/baseline: accepted {:.2}×",
        ratio(ours.accepted_per_s, baseline.accepted_per_s)
    );
    if let (Some(a), Some(b)) = (ours.delivered_per_s, baseline.delivered_per_s) {
        line.push_str(&format!(", delivered {:.2}×", ratio(a, b)));
    }
    println!("{line}");
}

pub fn pushes(size: usize) -> Arc<dyn Fn(u64) -> Request + Send + Sync> {
    Arc::new(move |seq| signed_push(seq, size))
}

fn subscribers(sinks: &[Sink]) -> String {
    sinks
        .iter()
        .enumerate()
        .map(|(n, sink)| format!("[subscribers.s{n}]\nurl = \"{}\"\n", sink.url))
        .collect()
}

pub fn route_to(sinks: &[Sink], plugins: &str) -> String {
    let names: Vec<String> = (0..sinks.len()).map(|n| format!("\"s{n}\"")).collect();
    format!(
        "{}{}\n[[routes]]\nsource = \"bench\"\n{plugins}subscribers = [{}]\n",
        github_source("bench"),
        subscribers(sinks),
        names.join(", ")
    )
}

pub async fn sinks(count: usize) -> anyhow::Result<Vec<Sink>> {
    let mut sinks = Vec::new();
    for _ in 0..count {
        sinks.push(Sink::start().await?);
    }
    Ok(sinks)
}

async fn ingest(bench: &Bench<'_>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ours = bench.start(dir.path(), &github_source("bench"))?;
    let senders = Pace::Senders(OVERLOAD_SENDERS);
    let ours = measure(bench, "wasmhook", &ours, &[], pushes(0), senders).await?;
    let bare = Server::baseline(&["receive"])?;
    let bare = measure(bench, "bare axum receiver", &bare, &[], pushes(0), senders).await?;
    print_rows(
        &format!("1. ingest only: verify, store, 202 (no routes), {OVERLOAD_SENDERS} senders"),
        &[ours, bare],
    );
    println!("target: accepted ≥ 0.70× the bare receiver");
    Ok(())
}

/// The forwarder baseline of `sinks`.
fn forwarder(sinks: &[Sink]) -> anyhow::Result<Server> {
    let mut args = vec!["forward"];
    args.extend(sinks.iter().map(|s| s.url.as_str()));
    Server::baseline(&args)
}

async fn route(bench: &Bench<'_>) -> anyhow::Result<()> {
    let sinks = sinks(1).await?;
    let plugins = format!(
        "[plugins.push-only]\nwasm = {:?}\n[plugins.github-to-slack]\nwasm = {:?}\n",
        bench.plugin("push_only.wasm")?,
        bench.plugin("github_to_slack.wasm")?
    );
    let wiring = format!(
        "{plugins}{}",
        route_to(
            &sinks,
            "filters = [\"push-only\"]\ntransforms = [\"github-to-slack\"]\n"
        )
    );
    let dir = tempfile::tempdir()?;
    let ours = bench.start(dir.path(), &wiring)?;
    let bare = forwarder(&sinks)?;
    let max_ours = measure(bench, "wasmhook", &ours, &sinks, pushes(0), Pace::Max).await?;
    let max_bare = measure(
        bench,
        "bare axum → reqwest",
        &bare,
        &sinks,
        pushes(0),
        Pace::Max,
    )
    .await?;
    let half = max_ours.delivered_per_s.unwrap_or(max_ours.accepted_per_s) / 2.0;
    let half_ours = measure(
        bench,
        &format!("wasmhook at {half:.0}/s"),
        &ours,
        &sinks,
        pushes(0),
        Pace::Rate(half),
    )
    .await?;
    let half_bare = measure(
        bench,
        &format!("bare at {half:.0}/s"),
        &bare,
        &sinks,
        pushes(0),
        Pace::Rate(half),
    )
    .await?;
    drop(ours);
    let dir = tempfile::tempdir()?;
    let idle = bench.start(
        dir.path(),
        &route_through_idle_plugins(bench, &sinks, dir.path())?,
    )?;
    let max_idle = measure(
        bench,
        "plugins doing nothing",
        &idle,
        &sinks,
        pushes(0),
        Pace::Max,
    )
    .await?;
    drop(idle);
    let dir = tempfile::tempdir()?;
    let plain = bench.start(dir.path(), &route_to(&sinks, ""))?;
    let max_plain = measure(bench, "no plugins", &plain, &sinks, pushes(0), Pace::Max).await?;
    let split = Split {
        no_plugins: max_plain.cpu_per_event,
        idle_plugins: max_idle.cpu_per_event,
        route: max_ours.cpu_per_event,
    };
    let rows = [
        max_ours, max_bare, half_ours, half_bare, max_idle, max_plain,
    ];
    print_rows(
        "2. one route: Rust filter (push-only) + Rust transform (github-to-slack), one subscriber",
        &rows,
    );
    print_target(&rows[0], &target(200));
    split.print();
    Ok(())
}

/// Where a route's CPU per event goes, from three routes measured in one run: without
/// plugins; through a filter and a transform that do nothing (the host's part of running
/// plugins: instances, envelopes, outputs, the second write); through the example plugins.
struct Split {
    no_plugins: Duration,
    idle_plugins: Duration,
    route: Duration,
}

impl Split {
    fn print(&self) {
        println!(
            "where the route's CPU goes: storing, scheduling and delivering {}, running two plugins that do nothing +{}, the example plugins' own work +{}",
            human(self.no_plugins),
            human(self.idle_plugins.saturating_sub(self.no_plugins)),
            human(self.route.saturating_sub(self.idle_plugins)),
        );
    }
}

/// A filter passing every event, written out in the canonical ABI: `handle` answers `ok`
/// with the bytes `true`.
const PASS_FILTER: &str = r#"(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 16) "true")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get 3)))
    (if (i32.gt_u (global.get $next) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16))
                                        (i32.const 1))))))
    (local.get $ptr))
  (func (export "handle") (param i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store offset=4 (i32.const 0) (i32.const 16))
    (i32.store offset=8 (i32.const 0) (i32.const 4))
    (i32.const 0))
  (func (export "cabi_post_handle") (param i32)
    (global.set $next (i32.const 1024))))
"#;

/// The route of scenario 2 with its plugins replaced by ones that do nothing: [`PASS_FILTER`]
/// and the identity transform of `plugins/wat-identity`, assembled into `dir`.
fn route_through_idle_plugins(
    bench: &Bench<'_>,
    sinks: &[Sink],
    dir: &Path,
) -> anyhow::Result<String> {
    let identity = bench
        .settings
        .root
        .join("plugins/wat-identity/identity.wat");
    let plugins = [
        ("pass", wat::parse_str(PASS_FILTER)?),
        ("identity", wat::parse_file(&identity)?),
    ];
    let mut wiring = String::new();
    for (name, wasm) in plugins {
        let path = dir.join(format!("{name}.wasm"));
        std::fs::write(&path, wasm)?;
        wiring += &format!("[plugins.{name}]\nwasm = {path:?}\n");
    }
    Ok(wiring + &route_to(sinks, "filters = [\"pass\"]\ntransforms = [\"identity\"]\n"))
}

/// Senders of the overload runs: more than the router can serve at once.
const OVERLOAD_SENDERS: usize = 128;

/// The size of the events of the plain route: a typical GitHub push.
pub const PLAIN_EVENT_SIZE: usize = 1700;

/// A route without plugins: what storing, scheduling and delivering one event costs; at a
/// moderate rate (half the maximum), then overloaded by 128 senders, where the CPU per
/// event should stay within 15% of the moderate run's, every accepted event be delivered and
/// none twice.
async fn plain(bench: &Bench<'_>) -> anyhow::Result<()> {
    let sinks = sinks(1).await?;
    let dir = tempfile::tempdir()?;
    let ours = bench.start(dir.path(), &route_to(&sinks, ""))?;
    let bare = forwarder(&sinks)?;
    let events = || pushes(PLAIN_EVENT_SIZE);
    let overload = Pace::Senders(OVERLOAD_SENDERS);
    let label = format!("wasmhook, {OVERLOAD_SENDERS} senders");
    let max_ours = measure(bench, &label, &ours, &sinks, events(), overload).await?;
    let label = format!("bare, {OVERLOAD_SENDERS} senders");
    let max_bare = measure(bench, &label, &bare, &sinks, events(), overload).await?;
    let half = max_ours.delivered_per_s.unwrap_or(max_ours.accepted_per_s) / 2.0;
    let label = format!("wasmhook at {half:.0}/s");
    let half_ours = measure(bench, &label, &ours, &sinks, events(), Pace::Rate(half)).await?;
    let rows = [max_ours, max_bare, half_ours];
    print_rows(
        &format!("2a. one route, no plugins, one subscriber, {PLAIN_EVENT_SIZE} B events"),
        &rows,
    );
    let [overloaded, _, moderate] = &rows;
    print_target(moderate, &target(120));
    print_target(overloaded, &target(120));
    let growth = overloaded.cpu_per_event.as_secs_f64() / moderate.cpu_per_event.as_secs_f64();
    println!(
        "overloaded against moderate: CPU per event {:+.0}% (target ≤ +15%), {} lost, {} twice",
        (growth - 1.0) * 100.0,
        overloaded.lost,
        overloaded.duplicates
    );
    Ok(())
}

async fn fan_out(bench: &Bench<'_>) -> anyhow::Result<()> {
    let sinks = sinks(5).await?;
    let dir = tempfile::tempdir()?;
    let ours = bench.start(dir.path(), &route_to(&sinks, ""))?;
    let ours = measure(bench, "wasmhook", &ours, &sinks, pushes(0), Pace::Max).await?;
    let bare = forwarder(&sinks)?;
    let bare = measure(
        bench,
        "bare axum → reqwest ×5",
        &bare,
        &sinks,
        pushes(0),
        Pace::Max,
    )
    .await?;
    print_rows(
        "3. fan-out: one route, 5 subscribers, no plugins",
        &[ours, bare],
    );
    Ok(())
}

async fn bodies(bench: &Bench<'_>) -> anyhow::Result<()> {
    for (size, label) in [(2048, "2 KiB"), (65536, "64 KiB")] {
        let sinks = sinks(1).await?;
        let dir = tempfile::tempdir()?;
        let ours = bench.start(dir.path(), &route_to(&sinks, ""))?;
        let ours = measure(bench, "wasmhook", &ours, &sinks, pushes(size), Pace::Max).await?;
        let bare = forwarder(&sinks)?;
        let bare = measure(
            bench,
            "bare axum → reqwest",
            &bare,
            &sinks,
            pushes(size),
            Pace::Max,
        )
        .await?;
        print_rows(
            &format!("4. {label} bodies: one route, one subscriber, no plugins"),
            &[ours, bare],
        );
    }
    Ok(())
}

fn plugin_costs(bench: &Bench<'_>) -> anyhow::Result<()> {
    let (calls, rounds) = (bench.settings.calls, bench.settings.rounds);
    println!(
        "\n== 5. plugin cost per event (2 KiB envelope), `wasmhook plugin run --repeat {calls}`, \
         best of {rounds} rounds"
    );
    let mut best: Vec<Option<PluginCost>> = EXAMPLES.iter().map(|_| None).collect();
    for round in 1..=rounds {
        eprintln!("plugin costs: round {round} of {rounds}…");
        for (plugin, best) in EXAMPLES.iter().zip(&mut best) {
            let cost = PluginCost::measure(bench, plugin)?;
            *best = Some(match best.take() {
                Some(earlier) => earlier.best(cost),
                None => cost,
            });
        }
    }
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>13}",
        "plugin",
        "first call",
        "fresh p50",
        "fresh mean",
        "reuse p50",
        "reuse mean",
        "native p50",
        "fresh÷native"
    );
    let micros = |figure: Option<f64>| figure.map_or("-".into(), |us| format!("{us:.1} µs"));
    for (plugin, cost) in EXAMPLES.iter().zip(best.into_iter().flatten()) {
        let PluginCost {
            fresh,
            reused,
            native,
        } = cost;
        println!(
            "{:<38} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>13}",
            format!(
                "{} ({})",
                plugin.file.trim_end_matches(".wasm"),
                plugin.language
            ),
            fresh.first,
            micros(Some(fresh.p50_us)),
            micros(Some(fresh.mean_us)),
            micros(reused.as_ref().map(|r| r.p50_us)),
            micros(reused.as_ref().map(|r| r.mean_us)),
            micros(native.as_ref().map(|n| n.p50_us)),
            native.map_or("-".into(), |n| format!("{:.0}×", fresh.p50_us / n.p50_us)),
        );
    }
    Ok(())
}

/// One example plugin's cost per call: a fresh instance each call, a reused instance (function
/// plugins), and the same source compiled natively (the Rust examples).
struct PluginCost {
    fresh: Timing,
    reused: Option<Timing>,
    native: Option<Timing>,
}

impl PluginCost {
    fn measure(bench: &Bench<'_>, plugin: &Example) -> anyhow::Result<Self> {
        let wasm = bench.plugin(plugin.file)?;
        let calls = bench.settings.calls;
        let reused = if plugin.function {
            Some(time_calls(&bench.wasmhook, wasm, plugin, calls, true)?)
        } else {
            None
        };
        let native = match native::handle(plugin.file) {
            Some(handle) => Some(time_native(handle, &envelope_bytes(plugin)?, calls)?),
            None => None,
        };
        Ok(Self {
            fresh: time_calls(&bench.wasmhook, wasm, plugin, calls, false)?,
            reused,
            native,
        })
    }

    /// Each figure the better (lower p50) of two measurements: on a shared machine, the run least
    /// disturbed by other work is the closest to what the code costs.
    fn best(self, other: Self) -> Self {
        fn lower(a: Option<Timing>, b: Option<Timing>) -> Option<Timing> {
            match (a, b) {
                (Some(a), Some(b)) => Some(Timing::lower(a, b)),
                (a, b) => a.or(b),
            }
        }
        Self {
            fresh: Timing::lower(self.fresh, other.fresh),
            reused: lower(self.reused, other.reused),
            native: lower(self.native, other.native),
        }
    }
}

/// `bytes` with a custom section appended: the same plugin, different bytes (a new version).
fn with_custom_section(bytes: &[u8], payload: &[u8]) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"wasmhook-bench";
    let mut content = Vec::new();
    leb128(name.len(), &mut content);
    content.extend_from_slice(name);
    content.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0);
    leb128(content.len(), &mut out);
    out.extend(content);
    out
}

async fn reload(bench: &Bench<'_>) -> anyhow::Result<()> {
    let sinks = sinks(1).await?;
    let dir = tempfile::tempdir()?;
    let original = std::fs::read(bench.plugin("push_only.wasm")?)?;
    let wasm = dir.path().join("swapped.wasm");
    std::fs::write(&wasm, &original)?;
    let wiring = format!(
        "[plugins.swapped]\nwasm = {wasm:?}\n{}",
        route_to(&sinks, "filters = [\"swapped\"]\n")
    );
    let server = bench.start(dir.path(), &wiring)?;
    let admin = server.admin.clone().unwrap_or_default();
    let client = reqwest::Client::new();

    let stop = Arc::new(AtomicBool::new(false));
    let mut load = bench.load(format!("{}/hooks/bench", server.base), Pace::Rate(500.0));
    load.events = u64::MAX / 2;
    load.max_time = Duration::from_secs(600);
    load.stop = Some(Arc::clone(&stop));
    let sending = tokio::spawn(async move { load.run(move |seq| signed_push(seq, 0)).await });

    let mut swap_times = Vec::new();
    for n in 0..bench.settings.swaps {
        let bytes = with_custom_section(&original, format!("version {n}").as_bytes());
        let sha = sha256_hex(&bytes);
        let temp = dir.path().join(".swapped.wasm.tmp");
        std::fs::write(&temp, &bytes)?;
        let written = Instant::now();
        std::fs::rename(&temp, &wasm)?;
        loop {
            let answer = client
                .get(format!("{admin}/api/plugins"))
                .send()
                .await?
                .bytes()
                .await?;
            let plugins: serde_json::Value = serde_json::from_slice(&answer)?;
            let serving = plugins
                .as_array()
                .into_iter()
                .flatten()
                .chain(plugins["plugins"].as_array().into_iter().flatten())
                .any(|p| p["name"] == "swapped" && p["sha256"] == sha.as_str());
            if serving {
                swap_times.push(written.elapsed());
                break;
            }
            anyhow::ensure!(
                written.elapsed() < Duration::from_secs(10),
                "swap {n} was not served within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = sending.await?;
    let delivered = wait_for_deliveries(&sinks, sent.accepted).await;
    let times = Percentiles::new(swap_times);
    println!(
        "\n== 6. hot reload under load: {} swaps of a filter while sending 500 events/s",
        times.len()
    );
    println!(
        "sent {} events: {} accepted, {} failed, {} delivered; write → new version serving: p50 {}, p99 {}, max {}",
        sent.accepted + sent.failed,
        sent.accepted,
        sent.failed,
        delivered,
        human(times.at(0.5)),
        human(times.at(0.99)),
        human(times.at(1.0)),
    );
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn idle(bench: &Bench<'_>) -> anyhow::Result<()> {
    let root = &bench.settings.root;
    let example = std::fs::read_to_string(root.join("routes.toml"))?;
    // The example's own [server] table gives way to the benchmark's; relative paths are
    // made absolute, since the file is written elsewhere.
    let wiring = without_table(&example, "[server]")
        .replace("\"plugins/", &format!("\"{}/plugins/", root.display()))
        .replace("\"examples/", &format!("\"{}/examples/", root.display()))
        .replace("${GITHUB_WEBHOOK_SECRET}", crate::events::SECRET);
    let dir = tempfile::tempdir()?;
    let server = bench.start(dir.path(), &wiring)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "\n== idle: the example routes.toml loaded, no traffic: RSS {} MiB (peak {} MiB)",
        memory_kib(server.pid(), "VmRSS") / 1024,
        memory_kib(server.pid(), "VmHWM") / 1024
    );
    Ok(())
}

/// `toml` without the table headed `header` (up to the next table).
fn without_table(toml: &str, header: &str) -> String {
    let mut skipping = false;
    let mut out = String::new();
    for line in toml.lines() {
        if line.trim_start().starts_with('[') {
            skipping = line.trim() == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
