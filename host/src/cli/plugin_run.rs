//! `wasmhook plugin run`: one plugin, one envelope from stdin, the result on stdout. The same
//! sandbox and limits as `serve`, so what works here works in a route.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;

use crate::config::{Location, OnError, PluginConfig};
use crate::pipeline::envelope::{kind, split_output};
use crate::plugin::{CompiledPlugin, Plugin, PluginEngine};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The plugin.
    pub wasm: PathBuf,
    /// The plugin's `config`, as JSON (replaces any `config` in the envelope).
    #[arg(long)]
    pub config: Option<String>,
    /// Check the result as a filter's (`true` or `false`) instead of a transform's.
    #[arg(long)]
    pub filter: bool,
    /// Wall-clock limit, as in routes.toml.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Memory limit in MiB.
    #[arg(long, default_value_t = 64)]
    pub memory_mib: u64,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading the envelope from stdin")?;
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&input).context("the envelope on stdin is not JSON")?;
    let config: serde_json::Value = match &args.config {
        Some(text) => serde_json::from_str(text).context("--config is not JSON")?,
        None => envelope
            .get("config")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({})),
    };
    if let Some(object) = envelope.as_object_mut() {
        object.insert("config".into(), config.clone());
    }
    let engine = PluginEngine::new(1, None)?;
    let settings = settings(&args, config)?;
    let input = Bytes::from(serde_json::to_vec(&envelope)?);
    let filter = args.filter;
    let outcome = tokio::task::spawn_blocking(move || {
        let compiled = CompiledPlugin::load(&engine, &settings.wasm)?;
        let plugin = Plugin::new(Arc::new(compiled), settings, 1);
        let started = Instant::now();
        let result = plugin.call(&engine, &input);
        anyhow::Ok((result, started.elapsed()))
    })
    .await??;
    let (result, elapsed) = outcome;
    let millis = elapsed.as_secs_f64() * 1000.0;
    let call = match result {
        Ok(call) => call,
        Err(failure) => {
            eprintln!("error: {failure}");
            eprintln!("failed after {millis:.3} ms");
            return Ok(ExitCode::FAILURE);
        }
    };
    if !call.stderr.is_empty() {
        eprint!("{}", call.stderr);
    }
    eprintln!(
        "ran in {millis:.3} ms, peak memory {} (limit {} MiB)",
        human_bytes(call.peak_memory),
        args.memory_mib
    );
    let output: serde_json::Value = match serde_json::from_slice(&call.output) {
        Ok(output) => output,
        Err(error) => {
            eprintln!("error: the plugin's output is not JSON: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(problem) = shape_problem(&output, filter) {
        eprintln!("error: the plugin returned {problem}");
        return Ok(ExitCode::FAILURE);
    }
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(ExitCode::SUCCESS)
}

/// `1.1 MiB`, or `128 KiB` below one MiB (linear memory grows by 64 KiB pages).
fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// What is wrong with the result's shape, if anything.
fn shape_problem(output: &serde_json::Value, filter: bool) -> Option<String> {
    if filter {
        return (!output.is_boolean())
            .then(|| format!("{} where a filter returns true or false", kind(output)));
    }
    split_output(output.clone()).err()
}

fn settings(args: &RunArgs, config: serde_json::Value) -> anyhow::Result<PluginConfig> {
    let wasm = std::path::absolute(&args.wasm)?;
    let name = wasm
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(PluginConfig {
        name,
        wasm_location: Location {
            file: wasm.clone(),
            line: 1,
            column: 1,
        },
        wasm,
        config,
        timeout: args.timeout,
        memory: args.memory_mib * 1024 * 1024,
        max_output: 1024 * 1024,
        reuse: false,
        on_error: OnError::DeadLetter,
        build: None,
        watch: Vec::new(),
    })
}
