//! `wasmhook test`: runs the `[[tests]]` of routes.toml through the real plugins and route
//! logic, without network, store or signatures, and shows what each subscriber got that it
//! should not have, as a diff. Meant for the users' CI: exit 1 when any test fails.

mod compare;
mod diff;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::config::{Config, RouteTest, TestBody};
use crate::plugin::PluginEngine;
use crate::store::MessageStatus;
use crate::topology::{Basis, Topology};
use compare::Actual;

pub async fn test(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(config_path) {
        Ok(config) => Arc::new(config),
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if config.tests.is_empty() {
        println!("{}: no [[tests]] to run", config_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let engine = PluginEngine::new(1, crate::plugin::user_cache_dir())?;
    let Some(topology) = build(&engine, &config).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let (mut passed, mut failed) = (0, 0);
    for test in &config.tests {
        match run(&engine, &topology, test).await {
            Ok(()) => {
                passed += 1;
                println!("test {} ... ok", test.name);
            }
            Err(report) => {
                failed += 1;
                println!("test {} ... FAILED", test.name);
                let at = &test.location;
                println!("  at {at}");
                for line in report.lines() {
                    println!("  {line}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Compiles every plugin, as `serve` does at start; `None` after printing why it cannot.
async fn build(
    engine: &Arc<PluginEngine>,
    config: &Arc<Config>,
) -> anyhow::Result<Option<Topology>> {
    let (engine, config) = (engine.clone(), config.clone());
    let built = tokio::task::spawn_blocking(move || {
        let built = Topology::build(
            &engine,
            config.clone(),
            String::new(),
            Basis::Strict,
            &BTreeMap::new(),
            &mut BTreeMap::new(),
        );
        (built, config)
    })
    .await
    .context("compiling the plugins")?;
    let (built, config) = built;
    for error in &built.errors {
        match config.plugins.get(&error.plugin) {
            Some(plugin) => eprintln!("{}: {error}", plugin.wasm_location),
            None => eprintln!("{error}"),
        }
    }
    Ok(built.topology)
}

/// Runs one test; the report of what differs when it fails.
async fn run(
    engine: &Arc<PluginEngine>,
    topology: &Topology,
    test: &RouteTest,
) -> Result<(), String> {
    let (headers, body) = request(test)?;
    let verifier = topology.sources.get(&test.source).ok_or_else(|| {
        format!(
            "source {:?} could not be set up (see the log above)",
            test.source
        )
    })?;
    let clock = topology.config.server.clock;
    let event = crate::ingest::event_as_verified(verifier, &test.source, headers, body, clock)
        .map_err(|error| error.to_string())?;
    let messages = crate::pipeline::messages_for(engine, topology, &event)
        .await
        .map_err(|error| error.to_string())?;

    let mut actual: BTreeMap<&str, Vec<Actual>> = BTreeMap::new();
    let mut dropped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for message in &messages {
        let subscriber = message.subscriber.as_str();
        match message.status {
            MessageStatus::Filtered => dropped
                .entry(subscriber)
                .or_default()
                .extend(message.error.clone()),
            // A test builds strictly: a plugin that does not load fails it before any event.
            MessageStatus::Dead | MessageStatus::Held => actual
                .entry(subscriber)
                .or_default()
                .push(Actual::Dead(message.error.clone().unwrap_or_default())),
            MessageStatus::Pending | MessageStatus::Delivered => {
                let config = &topology.config.subscribers[subscriber];
                actual.entry(subscriber).or_default().push(Actual::Message {
                    body: message.body.clone().unwrap_or_default(),
                    headers: crate::delivery::content_headers(config, &message.headers),
                });
            }
        }
    }

    let mut report = Vec::new();
    for (subscriber, expectation) in &test.expect {
        let got = actual
            .get(subscriber.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (expected, got) = compare::render(expectation, got);
        if expected == got {
            continue;
        }
        report.push(format!("subscriber {subscriber:?} (- expected, + actual):"));
        report.extend(diff::lines(&pretty(&expected), &pretty(&got)));
        for reason in dropped.get(subscriber.as_str()).into_iter().flatten() {
            report.push(format!("note: {reason}"));
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report.join("\n"))
    }
}

/// The request's headers and body; a `json` body, or a `.json` file, is sent as
/// `application/json` unless the test gives a content type.
fn request(test: &RouteTest) -> Result<(HeaderMap, Bytes), String> {
    let (body, json) = match &test.body {
        TestBody::Text(text) => (Bytes::from(text.clone()), false),
        TestBody::Json(value) => (
            Bytes::from(serde_json::to_vec(value).expect("JSON serialises")),
            true,
        ),
        TestBody::File(path) => {
            let bytes = std::fs::read(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            (
                Bytes::from(bytes),
                path.extension().is_some_and(|e| e == "json"),
            )
        }
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &test.headers {
        // Validated by the config reader.
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    if json && !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok((headers, body))
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON serialises")
}
