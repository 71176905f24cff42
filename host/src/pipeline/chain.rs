//! One route's plugins applied to one event: filters in order, then transforms in order, each
//! plugin failure handled by that plugin's `on_error`.

use bytes::Bytes;
use serde_json::Value;

use crate::config::OnError;
use crate::plugin::{Plugin, PluginEngine, PluginError, PluginFailure};
use crate::telemetry;
use crate::topology::Route;

use super::envelope::{self, Envelope, kind};
use super::fan_out::FanOut;

/// What a route made of an event.
pub enum Outcome {
    /// The envelopes that leave the route, one per message (none: transforms dropped it all).
    Messages(Vec<Envelope>),
    /// A filter, or a failing plugin with `on_error = "drop"`, dropped the event.
    Dropped(String),
    /// A plugin failed with `on_error = "dead-letter"`.
    Failed(String),
}

/// The router began to stop while the route ran: what it makes of the event is not known,
/// and the event is left `received` for the next start to run again.
#[derive(Debug, thiserror::Error)]
#[error("the router is shutting down")]
pub struct ShuttingDown;

pub struct RouteRun {
    pub outcome: Outcome,
    /// sha256 of every plugin that ran, in order: any message traces back to its code.
    pub plugins: Vec<String>,
}

/// Runs the route's plugins. Blocking: call on the blocking pool with an engine permit.
pub fn run(
    engine: &PluginEngine,
    route: &Route,
    event: Envelope,
) -> Result<RouteRun, ShuttingDown> {
    let mut plugins = Vec::new();
    for filter in &route.filters {
        plugins.push(filter.compiled.sha256.clone());
        let verdict = call(engine, filter, &event, |output| match output {
            Value::Bool(pass) => Ok(pass),
            other => Err(PluginError::BadOutput(format!(
                "{} where a filter returns true or false",
                kind(&other)
            ))),
        })?;
        match verdict {
            Ok(true) => {}
            Ok(false) => {
                return Ok(dropped(
                    plugins,
                    format!("dropped by filter {}", filter.name),
                ));
            }
            Err(failure) => match filter.settings.on_error {
                OnError::Pass => {}
                OnError::Drop => return Ok(dropped(plugins, dropped_on_error(&failure))),
                OnError::DeadLetter => return Ok(failed(plugins, failure)),
            },
        }
    }
    let mut current = vec![event];
    for transform in &route.transforms {
        plugins.push(transform.compiled.sha256.clone());
        let mut fan_out = FanOut::new(transform);
        let mut next = Vec::with_capacity(current.len());
        for message in current {
            let output = call(engine, transform, &message, |output| {
                fan_out.take(&message, output)
            })?;
            match output {
                Ok(parts) => next.extend(
                    parts
                        .into_iter()
                        .map(|part| envelope::merge(&message, part)),
                ),
                Err(failure) => match transform.settings.on_error {
                    OnError::Pass => next.push(message),
                    OnError::Drop => return Ok(dropped(plugins, dropped_on_error(&failure))),
                    OnError::DeadLetter => return Ok(failed(plugins, failure)),
                },
            }
        }
        current = next;
    }
    if current.is_empty() && !route.transforms.is_empty() {
        let last = &route.transforms[route.transforms.len() - 1].name;
        return Ok(dropped(plugins, format!("dropped by transform {last}")));
    }
    Ok(RouteRun {
        outcome: Outcome::Messages(current),
        plugins,
    })
}

/// Calls a plugin with `envelope` (its `config` set to the plugin's), parses the JSON result
/// and reads it with `read`. Every failure, the plugin's or its result's, is counted; a call
/// cut by the shutdown is no failure of the plugin's, and ends the route.
fn call<T>(
    engine: &PluginEngine,
    plugin: &Plugin,
    envelope: &Envelope,
    read: impl FnOnce(Value) -> Result<T, PluginError>,
) -> Result<Result<T, PluginFailure>, ShuttingDown> {
    let input = Bytes::from(with_config(envelope, plugin));
    let started = std::time::Instant::now();
    let result = plugin.call(engine, &input).and_then(|call| {
        parse(&call.output)
            .and_then(read)
            .map_err(|error| PluginFailure {
                plugin: plugin.name.clone(),
                error,
                stderr: call.stderr,
            })
    });
    if let Err(PluginFailure {
        error: PluginError::ShuttingDown,
        ..
    }) = result
    {
        telemetry::plugin_call_cut_by_shutdown(plugin, started.elapsed());
        return Err(ShuttingDown);
    }
    telemetry::plugin_called(plugin, started.elapsed(), result.as_ref().err());
    Ok(result)
}

fn parse(output: &[u8]) -> Result<Value, PluginError> {
    serde_json::from_slice(output).map_err(|error| {
        let shown = String::from_utf8_lossy(&output[..output.len().min(200)]).into_owned();
        PluginError::BadOutput(format!("output that is not JSON ({error}): {shown:?}"))
    })
}

/// Serialises the envelope with the plugin's config spliced in, without cloning the envelope.
fn with_config(envelope: &Envelope, plugin: &Plugin) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct WithConfig<'a> {
        #[serde(flatten)]
        envelope: EnvelopeWithout<'a>,
        config: &'a serde_json::value::RawValue,
    }
    struct EnvelopeWithout<'a>(&'a Envelope);
    impl serde::Serialize for EnvelopeWithout<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map(self.0.iter().filter(|(key, _)| key.as_str() != "config"))
        }
    }
    serde_json::to_vec(&WithConfig {
        envelope: EnvelopeWithout(envelope),
        config: &plugin.config_json,
    })
    .expect("an envelope serialises")
}

fn dropped_on_error(failure: &PluginFailure) -> String {
    format!("dropped after a plugin error (on_error = \"drop\"): {failure}")
}

fn dropped(plugins: Vec<String>, reason: String) -> RouteRun {
    RouteRun {
        outcome: Outcome::Dropped(reason),
        plugins,
    }
}

fn failed(plugins: Vec<String>, failure: PluginFailure) -> RouteRun {
    RouteRun {
        outcome: Outcome::Failed(failure.to_string()),
        plugins,
    }
}
