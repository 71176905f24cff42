//! Living under a service manager: the signals `serve` answers, and the state it reports to
//! systemd (`Type=notify`).
//!
//! SIGTERM and SIGINT stop the router; SIGHUP reloads routes.toml and the plugins, as nginx,
//! Prometheus and Vector do. The file watch reloads on its own, but not everywhere: network file
//! systems and some volume mounts change files without an inotify event, and a deploy tool may
//! want to say when its files are complete. With `NOTIFY_SOCKET` set, `READY=1` goes out once
//! both listeners accept, `RELOADING=1` and `READY=1` around each SIGHUP reload (what
//! `Type=notify-reload` expects) and `STOPPING=1` at shutdown; without it, nothing is sent.

use std::sync::Arc;

use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};

use crate::tasks::Tasks;
use crate::topology::reload::{ReloadReport, Reloader};

/// Starts answering SIGHUP with a reload. Call it before telling the service manager that the
/// router is ready: until a handler is installed, SIGHUP ends the process.
pub fn reload_on_hangup(reloader: Arc<Reloader>, tasks: &Tasks) -> anyhow::Result<()> {
    let mut hangups = signal(SignalKind::hangup())?;
    tasks.spawn("SIGHUP reloads", async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading routes.toml and the plugins");
            // systemd 253 and later take RELOADING=1 only with the time it began.
            let mut reloading = vec![NotifyState::Reloading];
            reloading.extend(NotifyState::monotonic_usec_now().ok());
            notify(&reloading);
            let reloader = reloader.clone();
            match tokio::task::spawn_blocking(move || {
                reloader.reload(crate::topology::reload::Trigger::Signal)
            })
            .await
            {
                Ok(report) => log_outcome(&report),
                Err(error) => tracing::error!(%error, "SIGHUP: the reload did not finish"),
            }
            notify(&[NotifyState::Ready]);
        }
    });
    Ok(())
}

/// One line saying what the reload did; the failures themselves are logged as they are met.
fn log_outcome(report: &ReloadReport) {
    if !report.errors.is_empty() {
        tracing::warn!(
            changes = ?report.changes,
            errors = ?report.errors,
            "SIGHUP: reload met errors; what did not load keeps its last good version"
        );
    } else if report.reloaded {
        tracing::info!(changes = ?report.changes, "SIGHUP: reloaded");
    } else {
        tracing::info!("SIGHUP: nothing changed");
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Both listeners accept: systemd may start the units that wait for this one.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The drain has begun.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Sends `states` to `NOTIFY_SOCKET` if it is set. A service manager that stopped listening
/// must not stop the router, so failures are only logged.
fn notify(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}
