//! Scenario 9: one route without plugins, served by 1, 2 and 3 nodes sharing one PostgreSQL,
//! beside one node on the embedded store, in one run.
//!
//! Everything runs on this one machine, so more nodes share the same cores: the figures show
//! what sharing a store costs per event (the nodes' CPU and PostgreSQL's), not how far it
//! scales. The senders take turns between the nodes, as a load balancer would.

#[path = "../../tests/support/postgres.rs"]
mod postgres_server;
// The server's watchdog, which tests/support/postgres.rs finds as `super::watchdog`.
use crate::watchdog;

use std::time::Duration;

use crate::process::cpu_time;
use crate::scenarios::{
    Bench, PLAIN_EVENT_SIZE, Pace, pushes, route_to, sinks, wait_for_deliveries,
};
use crate::servers::{Errors, Server};
use crate::sink::Sink;
use postgres_server::PgServer;

/// What one variant did.
struct Outcome {
    label: String,
    accepted_per_s: f64,
    delivered_per_s: f64,
    /// The nodes' CPU per accepted event, all of them together.
    nodes_cpu: Duration,
    /// PostgreSQL's CPU per accepted event (every `postgres` process).
    database_cpu: Duration,
    lost: usize,
    duplicates: usize,
}

pub async fn run(bench: &Bench<'_>) -> anyhow::Result<()> {
    let server = PgServer::start();
    let mut outcomes = Vec::new();
    for nodes in [0, 1, 2, 3] {
        outcomes.push(variant(bench, &server, nodes).await?);
    }
    println!(
        "\n== 9. scale-out: one route, no plugins, {PLAIN_EVENT_SIZE} B events, {} senders taking turns between the nodes (one machine: overhead, not scaling)",
        bench.settings.concurrency
    );
    println!(
        "{:<30} {:>11} {:>12} {:>12} {:>12} {:>12} {:>6} {:>6}",
        "", "accepted/s", "delivered/s", "nodes CPU", "database CPU", "CPU/event", "lost", "twice"
    );
    for o in &outcomes {
        println!(
            "{:<30} {:>11.0} {:>12.0} {:>10.0}µs {:>10.0}µs {:>10.0}µs {:>6} {:>6}",
            o.label,
            o.accepted_per_s,
            o.delivered_per_s,
            micros(o.nodes_cpu),
            micros(o.database_cpu),
            micros(o.nodes_cpu + o.database_cpu),
            o.lost,
            o.duplicates,
        );
    }
    println!(
        "reference: Svix OSS on PostgreSQL 15 accepts about 990 messages/s at 32 connections on this machine class"
    );
    Ok(())
}

/// `nodes` nodes on a new database of `server`; 0 is one node on the embedded store.
async fn variant(bench: &Bench<'_>, server: &PgServer, nodes: usize) -> anyhow::Result<Outcome> {
    let sinks = sinks(1).await?;
    let wiring = route_to(&sinks, "");
    let database = server.create_database();
    let mut dirs = Vec::new();
    let mut routers = Vec::new();
    for n in 0..nodes.max(1) {
        let dir = tempfile::tempdir()?;
        let name = format!("node-{}", n + 1);
        let shared = (nodes > 0).then_some((database.as_str(), name.as_str()));
        routers.push(Server::wasmhook_node(
            bench.wasmhook(),
            dir.path(),
            &wiring,
            Errors::Echo,
            shared,
        )?);
        dirs.push(dir);
    }
    let label = match nodes {
        0 => "1 node, embedded store".to_owned(),
        1 => "1 node, PostgreSQL".to_owned(),
        n => format!("{n} nodes, PostgreSQL"),
    };
    let urls: Vec<String> = routers
        .iter()
        .map(|r| format!("{}/hooks/bench", r.base))
        .collect();
    let load = |events: u64| {
        let mut load = bench.load(urls[0].clone(), Pace::Max);
        load.also = urls[1..].to_vec();
        load.events = events;
        load
    };
    let events = pushes(PLAIN_EVENT_SIZE);
    let warm_up = load((bench.settings.events / 10).max(50));
    let make = events.clone();
    let sent = warm_up.run(move |seq| make(seq)).await;
    wait_for_deliveries(&sinks, sent.accepted).await;
    sinks[0].take();

    let nodes_before: Duration = routers.iter().map(|r| cpu_time(r.pid())).sum();
    let database_before = database_cpu();
    let sent = load(bench.settings.events)
        .run(move |seq| events(seq))
        .await;
    let delivered = wait_for_deliveries(&sinks, sent.accepted).await;
    let nodes_cpu = routers.iter().map(|r| cpu_time(r.pid())).sum::<Duration>() - nodes_before;
    let database_cpu = database_cpu().saturating_sub(database_before);
    let (lost, duplicates, delivered_per_s) = tally(&sinks[0], &sent, delivered);
    let per_event = sent.accepted.max(1) as u32;
    Ok(Outcome {
        label,
        accepted_per_s: sent.accepted as f64 / sent.elapsed.as_secs_f64(),
        delivered_per_s,
        nodes_cpu: nodes_cpu / per_event,
        database_cpu: database_cpu / per_event,
        lost,
        duplicates,
    })
}

/// Lost and duplicated messages, and the delivery rate from the first send to the last arrival.
fn tally(sink: &Sink, sent: &crate::load::Sent, delivered: usize) -> (usize, usize, f64) {
    let last = sink.last_arrival();
    let arrivals = sink.take();
    let mut seen = std::collections::HashSet::new();
    let duplicates = arrivals
        .iter()
        .filter(|(seq, _)| !seen.insert(*seq))
        .count();
    let lost = sent.accepted.saturating_sub(seen.len());
    let until = last.unwrap_or(sent.started + sent.elapsed);
    let rate = delivered as f64 / until.duration_since(sent.started).as_secs_f64().max(1e-9);
    (lost, duplicates, rate)
}

/// The CPU every `postgres` process on this machine used so far: the benchmark's server is
/// the only one running while it measures.
fn database_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_time)
        .sum()
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
