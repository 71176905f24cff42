//! Every metric wasmhook exports, and one function per notable event that both logs and
//! counts it, so logs and `/metrics` never disagree. Names follow
//! `wasmhook_<noun>_<unit>[_total]`.

use std::path::Path;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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
    tracing::debug!(
        source,
        event = event_id,
        r#type = event_type,
        "event accepted"
    );
}

pub fn event_duplicate(source: &str, first_event_id: &str) {
    counter!("wasmhook_events_duplicate_total", "source" => source.to_owned()).increment(1);
    tracing::debug!(
        source,
        event = first_event_id,
        "redelivery of an event already stored"
    );
}

pub fn handshake_answered(source: &str, method: &http::Method, status: u16) {
    counter!("wasmhook_handshakes_total", "source" => source.to_owned(), "status" => status.to_string()).increment(1);
    tracing::info!(source, %method, status, "provider handshake answered");
}

pub fn event_rejected(source: &str, status: u16, reason: &str) {
    counter!("wasmhook_events_rejected_total", "source" => source.to_owned(), "status" => status.to_string())
        .increment(1);
    tracing::info!(source, status, reason, "event rejected");
}

pub fn plugin_called(plugin: &Plugin, elapsed: Duration, failure: Option<&PluginFailure>) {
    histogram!("wasmhook_plugin_call_seconds", "plugin" => plugin.name.clone())
        .record(elapsed.as_secs_f64());
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
        .map(|name| name.chars().take(64).collect())
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
    tracing::info!(
        plugin = %plugin.name,
        version = plugin.version,
        kind = ?plugin.compiled.kind,
        sha256 = %plugin.compiled.sha256,
        path = %plugin.compiled.path.display(),
        "plugin loaded"
    );
}

pub fn plugin_reload_failed(plugin: &str, message: &str, kept_previous: bool) {
    counter!("wasmhook_plugin_reload_failures_total", "plugin" => plugin.to_owned()).increment(1);
    tracing::error!(
        plugin,
        kept_previous,
        error = message,
        "plugin reload failed; the last good version keeps serving"
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

/// One group commit of the store's writer: writes per commit (the ratio of the two counters)
/// tells how many events share one fsync.
pub fn store_committed(writes: usize, elapsed: Duration) {
    counter!("wasmhook_store_commits_total").increment(1);
    counter!("wasmhook_store_writes_total").increment(writes as u64);
    histogram!("wasmhook_store_commit_seconds").record(elapsed.as_secs_f64());
}

pub fn delivery_attempted(
    subscriber: &str,
    message_id: &str,
    status: Option<u16>,
    elapsed: Duration,
    outcome: &str,
) {
    histogram!("wasmhook_delivery_seconds", "subscriber" => subscriber.to_owned())
        .record(elapsed.as_secs_f64());
    counter!("wasmhook_deliveries_total", "subscriber" => subscriber.to_owned(), "outcome" => outcome.to_owned())
        .increment(1);
    tracing::debug!(
        subscriber,
        message = message_id,
        status,
        elapsed_ms = elapsed.as_millis() as u64,
        outcome,
        "delivery attempt"
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
