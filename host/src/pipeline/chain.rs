//! One route's plugins applied to one event: filters in order, then transforms in order, each
//! plugin failure handled by that plugin's `on_error`.

use bytes::Bytes;
use serde_json::value::RawValue;

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

/// Every plugin call of a route run, when asked for: what the route debugger shows.
#[derive(Debug, Default)]
pub struct Trace {
    /// `None`: not traced, the pipeline's case, which keeps nothing.
    stages: Option<Vec<Stage>>,
}

/// One plugin call as the route debugger shows it.
#[derive(Debug, Clone)]
pub struct Stage {
    pub plugin: String,
    pub kind: &'static str,
    pub sha256: String,
    pub version: u64,
    pub elapsed: std::time::Duration,
    pub stderr: String,
    /// What the plugin wrote, when it finished.
    pub output: Option<Bytes>,
    pub error: Option<String>,
}

impl Trace {
    pub fn on() -> Trace {
        Trace {
            stages: Some(Vec::new()),
        }
    }

    pub fn stages(self) -> Vec<Stage> {
        self.stages.unwrap_or_default()
    }

    fn record(
        &mut self,
        (plugin, kind): (&Plugin, &'static str),
        elapsed: std::time::Duration,
        (output, stderr): (Option<&[u8]>, &str),
        error: Option<&PluginError>,
    ) {
        let Some(stages) = &mut self.stages else {
            return;
        };
        stages.push(Stage {
            plugin: plugin.name.clone(),
            kind,
            sha256: plugin.compiled.sha256.clone(),
            version: plugin.version,
            elapsed,
            stderr: stderr.to_owned(),
            output: output.map(Bytes::copy_from_slice),
            error: error.map(ToString::to_string),
        });
    }
}

/// Runs the route's plugins, each call kept in `trace` when it is on. Blocking: call on the
/// blocking pool with an engine permit.
pub fn run(
    engine: &PluginEngine,
    route: &Route,
    event: Envelope,
    trace: &mut Trace,
) -> Result<RouteRun, ShuttingDown> {
    let mut plugins = Vec::new();
    let serialized = Serialized::of(&event);
    for filter in &route.filters {
        plugins.push(filter.compiled.sha256.clone());
        let verdict = call(
            engine,
            (filter, "filter"),
            &serialized,
            trace,
            |output| match output.get() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(PluginError::BadOutput(format!(
                    "{} where a filter returns true or false",
                    kind(output)
                ))),
            },
        )?;
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
    // Each envelope with its serialised form once a plugin has read it: the filters and the
    // first transform read the event's.
    let mut current = vec![(event, Some(serialized))];
    for transform in &route.transforms {
        plugins.push(transform.compiled.sha256.clone());
        let mut fan_out = FanOut::new(transform);
        let mut next = Vec::with_capacity(current.len());
        for (message, serialized) in current {
            let serialized = serialized.unwrap_or_else(|| Serialized::of(&message));
            let output = call(
                engine,
                (transform, "transform"),
                &serialized,
                trace,
                |output| fan_out.take(&message, output),
            )?;
            match output {
                Ok(parts) => next.extend(
                    parts
                        .into_iter()
                        .map(|part| (envelope::merge(&message, part), None)),
                ),
                Err(failure) => match transform.settings.on_error {
                    OnError::Pass => next.push((message, Some(serialized))),
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
        outcome: Outcome::Messages(current.into_iter().map(|(message, _)| message).collect()),
        plugins,
    })
}

/// Calls a plugin with an envelope (its `config` set to the plugin's), checks that the result
/// is JSON and reads it with `read`. Every failure, the plugin's or its result's, is counted; a call
/// cut by the shutdown is no failure of the plugin's, and ends the route.
fn call<T>(
    engine: &PluginEngine,
    (plugin, kind): (&Plugin, &'static str),
    envelope: &Serialized,
    trace: &mut Trace,
    read: impl FnOnce(&RawValue) -> Result<T, PluginError>,
) -> Result<Result<T, PluginFailure>, ShuttingDown> {
    let input = envelope.with_config(&plugin.config_json);
    let started = std::time::Instant::now();
    let result = match plugin.call(engine, &input) {
        Ok(call) => {
            let read = envelope::parse_output(&call.output)
                .map_err(PluginError::BadOutput)
                .and_then(|output| read(&output));
            let shown = (Some(call.output.as_slice()), call.stderr.as_str());
            trace.record(
                (plugin, kind),
                started.elapsed(),
                shown,
                read.as_ref().err(),
            );
            read.map_err(|error| PluginFailure {
                plugin: plugin.name.clone(),
                error,
                stderr: call.stderr,
            })
        }
        Err(failure) => {
            let shown = (None, failure.stderr.as_str());
            trace.record(
                (plugin, kind),
                started.elapsed(),
                shown,
                Some(&failure.error),
            );
            Err(failure)
        }
    };
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

/// An envelope as one JSON object for every plugin that reads it, without its `config`: each
/// call puts its plugin's in ([`Serialized::with_config`]).
struct Serialized(Vec<u8>);

impl Serialized {
    fn of(envelope: &Envelope) -> Serialized {
        use serde::Serializer as _;
        let size = envelope
            .iter()
            .map(|(key, value)| key.len() + value.get().len() + 4)
            .sum::<usize>();
        let mut json = Vec::with_capacity(size + 2);
        serde_json::Serializer::new(&mut json)
            .collect_map(envelope.iter().filter(|(key, _)| key.as_str() != "config"))
            .expect("an envelope serialises");
        Serialized(json)
    }

    /// The envelope with a plugin's config as its last field.
    fn with_config(&self, config: &RawValue) -> Bytes {
        let config = config.get().as_bytes();
        let (fields, _closing_brace) = self.0.split_at(self.0.len() - 1);
        let mut input = Vec::with_capacity(self.0.len() + config.len() + 11);
        input.extend_from_slice(fields);
        if fields.len() > 1 {
            input.push(b',');
        }
        input.extend_from_slice(b"\"config\":");
        input.extend_from_slice(config);
        input.push(b'}');
        Bytes::from(input)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::Value;

    fn config(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn a_plugin_reads_the_envelope_with_its_own_config_in_place_of_any_other() {
        let envelope: Envelope = serde_json::from_str(
            r#"{"id": "evt_1", "body": {"text": "a \"quoted\" }"}, "config": {"old": true}}"#,
        )
        .unwrap();
        let serialized = Serialized::of(&envelope);
        let read = |config_json: &str| -> Value {
            serde_json::from_slice(&serialized.with_config(&config(config_json))).unwrap()
        };
        assert_eq!(
            read(r##"{"channel": "#ci"}"##),
            serde_json::json!({
                "id": "evt_1",
                "body": {"text": "a \"quoted\" }"},
                "config": {"channel": "#ci"}
            })
        );
        assert_eq!(read("{}")["config"], serde_json::json!({}));
        let empty = Serialized::of(&Envelope::new());
        let input = empty.with_config(&config(r#"{"n": 1}"#));
        assert_eq!(&input[..], br#"{"config":{"n": 1}}"#);
    }
}
