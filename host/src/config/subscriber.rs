//! `[subscribers.NAME]`: an HTTP endpoint messages are delivered to, and how.

use std::time::Duration;

use serde::Deserialize;

use super::circuit::{CircuitConfig, read_circuit};
use super::diagnostic::Sink;
use super::parse_str::ParseStr;
use super::rate::Rate;
use super::secrets::{OneOrMany, SigningSecret};
use super::table::{Table, Value, describe, deserialize};
use super::units::{Count, HumanDuration, Timeout};
use super::web::{HeaderName, HeaderValue, HttpUrl};

/// `[subscribers.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberConfig {
    pub name: String,
    /// `http` or `https`.
    pub url: url::Url,
    /// Standard Webhooks keys (`whsec_...`, `whsk_...`) each message is signed with; none: unsigned.
    pub secrets: Vec<String>,
    /// Sent with every message; names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Limit for one attempt, from connecting to the end of the answer.
    pub timeout: Duration,
    /// Delay before each retry; as many retries as delays, then the message is dead.
    pub retry: Vec<Duration>,
    pub ordering: Ordering,
    /// Deliveries in flight to this subscriber at once: protects the endpoint from a burst.
    pub concurrency: usize,
    /// When the subscriber counts as down and its messages wait; `None`: never.
    pub circuit: Option<CircuitConfig>,
    /// The most attempts it gets in a given time, retries and backlog included.
    pub rate: Option<Rate>,
    /// How long, after its circuit closes, its rate and concurrency take to climb from a tenth
    /// back to their limits: a service that has just recovered is not flooded.
    pub ramp: Duration,
}

/// Whether messages to a subscriber keep their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ordering {
    /// Delivered as they come, in parallel.
    #[default]
    Concurrent,
    /// One at a time per ordering key, in acceptance order.
    PerKey,
}

const KEYS: &[&str] = &[
    "url",
    "secret",
    "headers",
    "timeout",
    "retry",
    "ordering",
    "concurrency",
    "circuit",
    "rate",
    "ramp",
];

/// A minute from a tenth of the limits back to all of them.
const DEFAULT_RAMP: Duration = Duration::from_secs(60);

/// A schedule of about a day: a few quick retries for blips, then ever longer for outages.
const DEFAULT_RETRY: &[u64] = &[5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

impl SubscriberConfig {
    pub(super) fn read(
        name: &str,
        value: &Value<'_>,
        sink: &mut Sink<'_>,
    ) -> Option<SubscriberConfig> {
        let table = Table::new(format!("[subscribers.{name}]"), value, KEYS, sink)?;
        let url = table.required::<HttpUrl>("url", sink);
        let secrets = table
            .get::<OneOrMany<SigningSecret>>("secret", sink)
            .map_or_else(Vec::new, |s| s.0);
        let headers = read_headers(&table, sink);
        refuse_router_headers(&table, sink);
        let timeout = table
            .get::<Timeout>("timeout", sink)
            .map_or(Duration::from_secs(15), |t| t.0);
        let retry = table.get::<Vec<HumanDuration>>("retry", sink).map_or_else(
            || {
                DEFAULT_RETRY
                    .iter()
                    .copied()
                    .map(Duration::from_secs)
                    .collect()
            },
            |delays| delays.into_iter().map(|d| d.0).collect(),
        );
        let ordering = table.get_or("ordering", Ordering::Concurrent, sink);
        let concurrency = table.get::<Count>("concurrency", sink).map_or(16, |c| c.0);
        let circuit = table.raw("circuit").map_or_else(
            || Some(Some(CircuitConfig::default())),
            |value| read_circuit(name, value, sink),
        );
        let rate = table.get::<Rate>("rate", sink);
        let ramp = table
            .get::<HumanDuration>("ramp", sink)
            .map_or(DEFAULT_RAMP, |d| d.0);
        Some(SubscriberConfig {
            name: name.to_owned(),
            url: url?.0,
            secrets: secrets.into_iter().map(|s| s.0).collect(),
            headers: headers?,
            timeout,
            retry,
            ordering,
            concurrency,
            circuit: circuit?,
            rate,
            ramp,
        })
    }
}

/// The headers wasmhook sets on every delivery cannot be given in a subscriber's `headers`.
fn refuse_router_headers(table: &Table<'_, '_>, sink: &mut Sink<'_>) {
    let Some(entries) = table
        .raw("headers")
        .and_then(|value| value.get_ref().as_table())
    else {
        return;
    };
    for (key, _) in entries {
        let name = key.get_ref().to_ascii_lowercase();
        if let Some(reason) = crate::router_headers::reserved(&name) {
            sink.error(
                key.span(),
                format!(
                    "`headers` in {}: wasmhook sets {name:?} itself on every delivery ({reason}); remove it",
                    table.name
                ),
            );
        }
    }
}

/// `headers = { "x-team" = "platform" }`: each name and value checked at its own position.
pub(super) fn read_headers(
    table: &Table<'_, '_>,
    sink: &mut Sink<'_>,
) -> Option<Vec<(String, String)>> {
    let Some(value) = table.raw("headers") else {
        return Some(Vec::new());
    };
    let what = format!("`headers` in {}", table.name);
    let Some(entries) = value.get_ref().as_table() else {
        sink.error(
            value.span(),
            format!(
                "{what} must be a table such as {{ \"x-team\" = \"platform\" }}, not {}",
                describe(value)
            ),
        );
        return None;
    };
    let before = sink.count();
    let mut all: Vec<(String, String)> = Vec::new();
    for (key, value) in entries {
        let name = HeaderName::parse_str(key.get_ref())
            .map_err(|message| sink.error(key.span(), format!("{what}: {message}")));
        let value = deserialize::<HeaderValue>(value).map_err(|(span, message)| {
            sink.error(span, format!("{what}, `{}`: {message}", key.get_ref()))
        });
        if let Ok(name) = &name
            && all.iter().any(|(seen, _)| *seen == name.0)
        {
            sink.error(
                key.span(),
                format!("{what}: header {:?} is given twice", name.0),
            );
        }
        if let (Ok(name), Ok(value)) = (name, value) {
            all.push((name.0, value.0));
        }
    }
    (sink.count() == before).then_some(all)
}
