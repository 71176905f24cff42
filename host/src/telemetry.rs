//! Every metric wasmhook exports, and one function per notable event that both logs and
//! counts it, so logs and `/metrics` never disagree. Names follow
//! `wasmhook_<noun>_<unit>[_total]`.
//!
//! Label values are names from the configuration (sources, plugins, subscribers) or fixed
//! words, never text taken from a request: anyone can send any text, and each distinct label
//! value is a series kept in memory, and in every `/metrics` answer, for the life of the
//! process.

use std::path::Path;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::activity::{Flow, activity};
use crate::plugin::{Plugin, PluginFailure};

/// Installs the process-wide recorder; `/metrics` renders from the handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets(&[
            0.000_05, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            0.5, 1.0, 2.5, 5.0, 10.0,
        ])?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    Ok(handle)
}

pub fn event_accepted(source: &str, event_id: &str, event_type: Option<&str>) {
    counter!("wasmhook_events_received_total", "source" => source.to_owned()).increment(1);
    activity().count(Flow::Accepted, source);
    tracing::debug!(
        source,
        event = event_id,
        r#type = event_type,
        "event accepted"
    );
}

/// The route's filters dropped an event (or a plugin failing with `on_error = "drop"`).
pub fn event_filtered(route: &str) {
    counter!("wasmhook_events_filtered_total", "route" => route.to_owned()).increment(1);
    activity().count(Flow::Filtered, route);
}

pub fn event_duplicate(source: &str, first_event_id: &str) {
    counter!("wasmhook_events_duplicate_total", "source" => source.to_owned()).increment(1);
    tracing::debug!(
        source,
        event = first_event_id,
        "redelivery of an event already stored"
    );
}

/// A request for a source that is not configured: counted without its name (see above), and
/// logged with a bounded part of it, enough to recognise a mistyped URL.
pub fn unknown_source(requested: &str) {
    counter!("wasmhook_requests_unknown_source_total").increment(1);
    let requested = excerpt(requested, NAME_SHOWN);
    tracing::info!(requested, "request for a source that is not configured");
}

/// A connection taken in by a listener; counted as open until the returned guard is dropped.
#[must_use = "the connection counts as open while the guard lives"]
pub fn connection_opened(listener: &'static str) -> OpenConnection {
    counter!("wasmhook_connections_total", "listener" => listener).increment(1);
    gauge!("wasmhook_connections_open", "listener" => listener).increment(1);
    OpenConnection { listener }
}

pub struct OpenConnection {
    listener: &'static str,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        gauge!("wasmhook_connections_open", "listener" => self.listener).decrement(1);
    }
}

/// A connection that ended in an error: most often a client that stalled before its request
/// head was complete (`header_read_timeout`), or that sent something that is not HTTP/1.1.
pub fn connection_failed(
    listener: &'static str,
    peer: &std::net::SocketAddr,
    error: &hyper::Error,
) {
    let reason = if error.is_timeout() {
        "header_timeout"
    } else if error.is_parse() {
        "bad_request"
    } else {
        "io"
    };
    counter!("wasmhook_connections_failed_total", "listener" => listener, "reason" => reason)
        .increment(1);
    tracing::debug!(listener, %peer, reason, %error, "connection closed on an error");
}

/// A connection closed to make room for a new one, `max_connections` being open.
pub fn connection_evicted(listener: &'static str) {
    counter!("wasmhook_connections_evicted_total", "listener" => listener).increment(1);
    tracing::debug!(
        listener,
        "the connection open the longest was closed to make room for a new one"
    );
}

/// The listener could not take a connection in (e.g. out of file descriptors); it tries again.
pub fn accept_failed(listener: &'static str, error: &std::io::Error) {
    counter!("wasmhook_accept_failures_total", "listener" => listener).increment(1);
    tracing::warn!(listener, %error, "cannot accept a connection; retrying shortly");
}

/// An admin request refused by `admin::access`; `reason` is one of its fixed labels.
pub fn admin_refused(reason: &'static str, peer: Option<std::net::SocketAddr>) {
    counter!("wasmhook_admin_refused_total", "reason" => reason).increment(1);
    tracing::info!(reason, peer = ?peer, "admin request refused");
}

/// At start: the admin API listens where other hosts can reach it, without `admin_token`.
pub fn admin_unprotected(addr: std::net::SocketAddr) {
    tracing::warn!(
        %addr,
        "the admin API listens on {addr}, which other hosts may reach, without `admin_token`: \
         it serves only clients on this machine; set `admin_token` in [server] to serve others"
    );
}

/// Bytes of a request body read into memory, against `max_body_memory`; the gauge tells how
/// much of it is in use.
pub fn body_bytes_taken(bytes: usize) {
    gauge!("wasmhook_ingest_body_bytes").increment(bytes as f64);
}

/// The bytes of a request's body given back once the request is answered.
pub fn body_bytes_released(bytes: usize) {
    gauge!("wasmhook_ingest_body_bytes").decrement(bytes as f64);
}

pub fn handshake_answered(source: &str, method: &http::Method, status: u16) {
    counter!("wasmhook_handshakes_total", "source" => source.to_owned(), "status" => status.to_string()).increment(1);
    tracing::info!(source, %method, status, "provider handshake answered");
}

pub fn event_rejected(source: &str, status: u16, reason: &str) {
    counter!("wasmhook_events_rejected_total", "source" => source.to_owned(), "status" => status.to_string())
        .increment(1);
    // A reason may quote what the sender sent.
    let reason = excerpt(reason, REASON_SHOWN);
    tracing::info!(source, status, reason, "event rejected");
}

/// How much of a name a sender or a plugin chose is shown: enough to recognise it.
pub const NAME_SHOWN: usize = 64;

/// How much of a reason that may quote a sender is logged.
const REASON_SHOWN: usize = 512;

/// The first `max_chars` characters of `text`, which came from outside: a log line or an
/// answer stays bounded whatever was sent.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

pub fn plugin_called(plugin: &Plugin, elapsed: Duration, failure: Option<&PluginFailure>) {
    histogram!("wasmhook_plugin_call_seconds", "plugin" => plugin.name.clone())
        .record(elapsed.as_secs_f64());
    let error = failure.map(|failure| failure.error.kind());
    activity().plugin_called(&plugin.name, &plugin.compiled.sha256, elapsed, error);
    let Some(failure) = failure else {
        counter!("wasmhook_plugin_calls_total", "plugin" => plugin.name.clone(), "outcome" => "ok")
            .increment(1);
        return;
    };
    counter!("wasmhook_plugin_calls_total", "plugin" => plugin.name.clone(), "outcome" => "error")
        .increment(1);
    counter!("wasmhook_plugin_errors_total", "plugin" => plugin.name.clone(), "kind" => failure.error.kind())
        .increment(1);
    tracing::warn!(
        plugin = %plugin.name,
        version = plugin.version,
        sha256 = %plugin.compiled.sha256,
        error = %failure.error,
        stderr = %failure.stderr,
        on_error = ?plugin.settings.on_error,
        "plugin call failed"
    );
}

/// A plugin call cut by the router's shutdown: no failure of the plugin's, so neither an
/// error counted against it nor a case for its `on_error`.
pub fn plugin_call_cut_by_shutdown(plugin: &Plugin, elapsed: Duration) {
    counter!("wasmhook_plugin_calls_total", "plugin" => plugin.name.clone(), "outcome" => "shutdown")
        .increment(1);
    tracing::info!(
        plugin = %plugin.name,
        ran_for = ?elapsed,
        "plugin call cut by the shutdown; its event runs again at the next start"
    );
}

/// A transform's message set headers the router does not send: its own (framing, hop-by-hop,
/// `webhook-*`) or ones that are not valid HTTP. Counted every time; logged, by name only
/// (values may hold credentials), once per plugin version.
pub fn plugin_headers_dropped(plugin: &Plugin, names: &[String]) {
    counter!("wasmhook_plugin_headers_dropped_total", "plugin" => plugin.name.clone())
        .increment(names.len() as u64);
    if !plugin.first_dropped_headers() {
        return;
    }
    // Names come from the plugin: a bounded, escaped excerpt.
    let shown: Vec<String> = names
        .iter()
        .take(16)
        .map(|name| excerpt(name, NAME_SHOWN))
        .collect();
    tracing::warn!(
        plugin = %plugin.name,
        version = plugin.version,
        sha256 = %plugin.compiled.sha256,
        headers = ?shown,
        more = names.len() - shown.len(),
        "dropped headers a plugin set that wasmhook does not send (its own, hop-by-hop, or not \
         valid HTTP); logged once per plugin version"
    );
}

pub fn plugin_loaded(plugin: &Plugin) {
    counter!("wasmhook_plugin_loads_total", "plugin" => plugin.name.clone()).increment(1);
    gauge!("wasmhook_plugin_version", "plugin" => plugin.name.clone()).set(plugin.version as f64);
    activity().plugin_built(&plugin.compiled.sha256, &plugin.name, plugin.version);
    tracing::info!(
        plugin = %plugin.name,
        version = plugin.version,
        kind = ?plugin.compiled.kind,
        sha256 = %plugin.compiled.sha256,
        path = %plugin.compiled.path.display(),
        "plugin loaded"
    );
}

/// A plugin file that did not load, reported once per content of the file; `outcome` says
/// what serves instead, `kept_previous` whether a version of the plugin still does.
pub fn plugin_load_failed(plugin: &str, message: &str, outcome: &str, kept_previous: bool) {
    counter!("wasmhook_plugin_reload_failures_total", "plugin" => plugin.to_owned()).increment(1);
    tracing::error!(plugin, kept_previous, error = message, "{outcome}");
}

/// Whether a plugin's file does not load (`broken`), and whether it has no version at all, so
/// that the routes using it hold their events (`held`): what `/readyz` calls degraded.
pub fn plugin_state(plugin: &str, broken: bool, held: bool) {
    gauge!("wasmhook_plugin_broken", "plugin" => plugin.to_owned())
        .set(f64::from(u8::from(broken)));
    gauge!("wasmhook_plugin_held", "plugin" => plugin.to_owned()).set(f64::from(u8::from(held)));
}

/// A route ran on an event it had held while one of its plugins had no version.
pub fn event_released(route: &str, event_id: &str) {
    counter!("wasmhook_events_released_total", "route" => route.to_owned()).increment(1);
    tracing::info!(
        route,
        event = event_id,
        "held event released: its route ran now that its plugins load"
    );
}

pub fn config_reloaded(path: &Path) {
    counter!("wasmhook_config_reloads_total").increment(1);
    tracing::info!(path = %path.display(), "routes reloaded");
}

pub fn config_reload_failed(path: &Path, message: &str) {
    counter!("wasmhook_config_reload_failures_total").increment(1);
    tracing::error!(path = %path.display(), error = message, "routes.toml reload failed; the running routes keep serving");
}

/// One group commit of the store's writer, a batch of writes appended to its log: writes per
/// commit (the ratio of the two counters) tells how many events share one fsync.
pub fn store_committed(writes: usize, elapsed: Duration) {
    counter!("wasmhook_store_commits_total").increment(1);
    counter!("wasmhook_store_writes_total").increment(writes as u64);
    histogram!("wasmhook_store_commit_seconds").record(elapsed.as_secs_f64());
}

/// SQLite committed what the store's writer applied since its last commit (once per
/// interval, or sooner for a waiting reader): the pages those writes changed reach the disk.
pub fn store_sqlite_committed(elapsed: Duration) {
    counter!("wasmhook_store_sqlite_commits_total").increment(1);
    histogram!("wasmhook_store_sqlite_commit_seconds").record(elapsed.as_secs_f64());
}

pub fn delivery_attempted(
    subscriber: &str,
    message_id: &str,
    (status, error): (Option<u16>, Option<&str>),
    elapsed: Duration,
    outcome: &str,
) {
    histogram!("wasmhook_delivery_seconds", "subscriber" => subscriber.to_owned())
        .record(elapsed.as_secs_f64());
    counter!("wasmhook_deliveries_total", "subscriber" => subscriber.to_owned(), "outcome" => outcome.to_owned())
        .increment(1);
    if outcome == "delivered" {
        activity().count(Flow::Delivered, subscriber);
    } else {
        activity().count(Flow::Failed, subscriber);
        activity().delivery_failed(subscriber, status, error);
    }
    tracing::debug!(
        subscriber,
        message = message_id,
        status,
        elapsed_ms = elapsed.as_millis() as u64,
        outcome,
        "delivery attempt"
    );
}

/// A delivery attempt whose outcome the store would not record; it is kept and recorded later.
pub fn attempt_not_recorded(
    subscriber: &str,
    message_id: &str,
    error: &dyn std::fmt::Display,
    retry_in: Duration,
) {
    counter!("wasmhook_store_write_failures_total", "write" => "attempt").increment(1);
    tracing::error!(
        subscriber,
        message = message_id,
        %error,
        retry_in_ms = retry_in.as_millis() as u64,
        "cannot record a delivery attempt; its outcome is kept and recorded once the store takes it"
    );
}

pub fn message_dead(subscriber: &str, message_id: &str, error: Option<&str>) {
    counter!("wasmhook_messages_dead_total", "subscriber" => subscriber.to_owned()).increment(1);
    tracing::warn!(
        subscriber,
        message = message_id,
        error,
        "message is dead: its retries are used up"
    );
}

pub fn subscriber_disabled(subscriber: &str, reason: &str) {
    counter!("wasmhook_subscribers_disabled_total", "subscriber" => subscriber.to_owned())
        .increment(1);
    tracing::warn!(
        subscriber,
        reason,
        "subscriber disabled; POST /api/subscribers/{subscriber}/enable to resume"
    );
}

/// A subscriber's circuit opened: its messages wait, and probes find out when it is back.
pub fn circuit_opened(subscriber: &str, opened_at: i64, reason: &str, first_probe_in_ms: i64) {
    circuit_gauges(subscriber, Some(opened_at));
    counter!("wasmhook_circuit_changes_total", "subscriber" => subscriber.to_owned(), "to" => "open")
        .increment(1);
    tracing::warn!(
        subscriber,
        reason,
        first_probe_in_ms,
        "circuit opened: the subscriber's messages wait, their retries unspent, until a probe gets an answer"
    );
}

/// A message is attempted as the probe of an open circuit.
pub fn circuit_probe(subscriber: &str, message_id: &str) {
    tracing::debug!(subscriber, message = message_id, "probing an open circuit");
}

pub fn circuit_probe_failed(subscriber: &str, probes: u32, next_probe_in_ms: i64) {
    counter!("wasmhook_circuit_probes_total", "subscriber" => subscriber.to_owned(), "result" => "failed")
        .increment(1);
    tracing::debug!(
        subscriber,
        probes,
        next_probe_in_ms,
        "the probe of an open circuit failed"
    );
}

/// A subscriber's circuit closed: its waiting messages are delivered again.
pub fn circuit_closed(subscriber: &str, opened_at: i64, probes: u32) {
    circuit_gauges(subscriber, None);
    counter!("wasmhook_circuit_changes_total", "subscriber" => subscriber.to_owned(), "to" => "closed")
        .increment(1);
    let open_for =
        Duration::from_millis(u64::try_from(crate::clock::now_ms() - opened_at).unwrap_or(0));
    tracing::info!(
        subscriber,
        open_for = %humantime::format_duration(Duration::from_secs(open_for.as_secs())),
        probes,
        "circuit closed: the subscriber answers again, its waiting messages are being delivered"
    );
}

/// `wasmhook_circuit_open` (1 while open) and `wasmhook_circuit_opened_at_seconds` (Unix
/// seconds, 0 while closed) of a subscriber.
pub fn circuit_gauges(subscriber: &str, opened_at: Option<i64>) {
    gauge!("wasmhook_circuit_open", "subscriber" => subscriber.to_owned())
        .set(f64::from(u8::from(opened_at.is_some())));
    let opened_at = opened_at.map_or(0.0, |at| at as f64 / 1000.0);
    gauge!("wasmhook_circuit_opened_at_seconds", "subscriber" => subscriber.to_owned())
        .set(opened_at);
}

/// A signing certificate fetched from a provider (PayPal, SNS), or not: `outcome` is
/// `fetched`, `failed` or `refused` (the minute's fetches are used up). Not labelled by URL,
/// which the sender chooses.
pub fn certificate_fetch(url: &str, outcome: &'static str, error: Option<&str>) {
    counter!("wasmhook_certificate_fetches_total", "outcome" => outcome).increment(1);
    match outcome {
        "fetched" => tracing::info!(url, "signing certificate fetched"),
        "failed" => tracing::warn!(url, error, "cannot fetch a signing certificate"),
        _ => tracing::debug!(url, "certificate fetch refused: too many this minute"),
    }
}
