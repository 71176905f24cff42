//! `wasmhook plugin run`: one plugin, one envelope from stdin, the result on stdout. The same
//! sandbox and limits as `serve`, so what works here works in a route.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;

use crate::config::{
    DEFAULT_MAX_MESSAGES, DEFAULT_MAX_MESSAGES_SIZE, Location, OnError, PluginConfig, parse_size,
};
use crate::pipeline::FanOut;
use crate::pipeline::envelope::{self, Envelope, kind};
use crate::plugin::{CompiledPlugin, Plugin, PluginEngine, PluginError, user_cache_dir};

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
    /// Most messages a transform may return, as `max_messages` in routes.toml.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_MESSAGES as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_messages: u32,
    /// Most bytes a transform's messages may add up to, with what they carry, as
    /// `max_messages_size` in routes.toml.
    #[arg(long, value_name = "SIZE", default_value_t = DEFAULT_MAX_MESSAGES_SIZE, value_parser = parse_size)]
    pub max_messages_size: u64,
    /// Call the plugin N times on the envelope and print the per-call times (mean and
    /// percentiles) after the first call's: what the plugin costs per event in a route.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Keep a warm instance from call to call, as `reuse = true` does in routes.toml (function
    /// plugins only); with `--repeat`, shows what reuse saves.
    #[arg(long)]
    pub reuse: bool,
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
    let engine = PluginEngine::new(1, user_cache_dir())?;
    let settings = settings(&args, config)?;
    let input = Bytes::from(serde_json::to_vec(&envelope)?);
    let filter = args.filter;
    let repeat = args.repeat;
    let outcome = tokio::task::spawn_blocking(move || {
        let compiled = CompiledPlugin::load(&engine, &settings.wasm)?;
        let plugin = Plugin::new(Arc::new(compiled), settings, 1);
        let started = Instant::now();
        let result = plugin.call(&engine, &input);
        let elapsed = started.elapsed();
        let repeated = match (&result, repeat) {
            (Ok(_), 2..) => Some(time_calls(&plugin, &engine, &input, repeat - 1)?),
            _ => None,
        };
        anyhow::Ok((plugin, result, elapsed, repeated))
    })
    .await??;
    let (plugin, result, elapsed, repeated) = outcome;
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
    if let Some(times) = repeated {
        eprintln!("{times}");
    }
    let output: serde_json::Value = match serde_json::from_slice(&call.output) {
        Ok(output) => output,
        Err(error) => {
            eprintln!("error: the plugin's output is not JSON: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(problem) = shape_problem(&plugin, &envelope, &output, filter) {
        eprintln!("error: plugin {} {problem}", plugin.name);
        return Ok(ExitCode::FAILURE);
    }
    let mut stdout = std::io::stdout().lock();
    let printed = writeln!(stdout, "{}", serde_json::to_string_pretty(&output)?);
    // A reader that stops early (`| head`) is not an error of the plugin's.
    match printed {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(error).context("writing the result to stdout");
        }
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Calls the plugin `count` more times and summarises how long each call took.
fn time_calls(
    plugin: &Plugin,
    engine: &PluginEngine,
    input: &Bytes,
    count: u32,
) -> anyhow::Result<CallTimes> {
    let mut times = Vec::with_capacity(count as usize);
    for n in 0..count {
        let started = Instant::now();
        let result = plugin.call(engine, input);
        times.push(started.elapsed());
        result.map_err(|failure| anyhow::anyhow!("call {} of {count} failed: {failure}", n + 2))?;
    }
    times.sort_unstable();
    Ok(CallTimes {
        reused: plugin.reuses_instances(),
        times,
    })
}

/// The sorted times of repeated calls.
struct CallTimes {
    reused: bool,
    times: Vec<Duration>,
}

impl CallTimes {
    fn percentile(&self, p: f64) -> Duration {
        let rank = ((self.times.len() as f64 * p).ceil() as usize).clamp(1, self.times.len());
        self.times[rank - 1]
    }
}

impl std::fmt::Display for CallTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        let mean = self.times.iter().sum::<Duration>() / self.times.len() as u32;
        write!(
            f,
            "then {} calls ({}): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            self.times.len(),
            if self.reused {
                "warm instance reused"
            } else {
                "fresh instance each"
            },
            micros(mean),
            micros(self.percentile(0.50)),
            micros(self.percentile(0.99)),
            micros(self.percentile(1.0)),
        )
    }
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

/// What is wrong with the result, read as a route reads it, if anything: the limits are
/// those of routes.toml (`--max-messages` and `--max-messages-size` here).
fn shape_problem(
    plugin: &Plugin,
    envelope: &serde_json::Value,
    output: &serde_json::Value,
    filter: bool,
) -> Option<String> {
    if filter {
        return (!output.is_boolean()).then(|| {
            format!(
                "returned {} where a filter returns true or false",
                kind(&envelope::json(output))
            )
        });
    }
    let parent: Envelope = serde_json::from_value(envelope.clone()).unwrap_or_default();
    let read = FanOut::new(plugin).take(&parent, &envelope::json(output));
    read.err().map(|error| match error {
        PluginError::TooManyMessages { .. } | PluginError::MessagesTooLarge { .. } => {
            format!("{error} (here: --max-messages, --max-messages-size)")
        }
        other => other.to_string(),
    })
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
        max_messages: args.max_messages as usize,
        max_messages_size: args.max_messages_size,
        reuse: args.reuse,
        on_error: OnError::DeadLetter,
        build: None,
        watch: Vec::new(),
    })
}
