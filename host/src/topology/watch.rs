//! Hot reload: watch the folders holding routes.toml and every plugin, and reload on change.
//!
//! Folders, not files, are watched: editors, deploy tools and Kubernetes ConfigMaps replace a
//! file by writing a new one and renaming it over the old (or by swapping a symlink), which a
//! watch on the old file would miss. Any change in a watched folder triggers a reload; the
//! reload re-reads every file by path and compares content hashes, so unrelated changes cost a
//! few hashes and nothing else.
//!
//! Only events that can mean new content count as changes ([`is_change`]): a reload opens and
//! reads every file it watches, and were those reads taken for changes, each reload would
//! trigger the next, forever.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify::event::{AccessKind, AccessMode, EventKind};
use notify_debouncer_full::{DebouncedEvent, new_debouncer};
use tokio::sync::Notify;

use super::Topology;
use super::reload::{Reloader, Trigger};
use crate::tasks::Tasks;

/// Quiet time after the last change before reloading: long enough to merge an editor's
/// write-rename-chmod burst (a few milliseconds) into one reload, short enough that a new
/// plugin serves within a quarter of a second of its write, compile included. A reload that
/// catches a file half-written reports it and keeps the last good version; the write's end
/// triggers the next one.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// How often the debouncer looks for changes that have been quiet for [`DEBOUNCE`].
const DEBOUNCE_TICK: Duration = Duration::from_millis(10);

/// Watches until the process ends; reloads run on the blocking pool, one at a time.
pub fn spawn(reloader: Arc<Reloader>, tasks: &Tasks) -> anyhow::Result<()> {
    let changed = Arc::new(Notify::new());
    let notify = changed.clone();
    let mut debouncer = new_debouncer(
        DEBOUNCE,
        Some(DEBOUNCE_TICK),
        move |result: notify_debouncer_full::DebounceEventResult| match result {
            Ok(events) if events.iter().any(is_change) => notify.notify_one(),
            Ok(_) => {}
            Err(errors) => tracing::warn!(?errors, "file watch error"),
        },
    )?;
    let mut watched = BTreeSet::new();
    update_watches(&mut debouncer, &mut watched, &reloader.wiring().current());
    let mut swaps = reloader.wiring().swaps();
    tasks.spawn("file watch", async move {
        loop {
            tokio::select! {
                () = changed.notified() => {
                    let reloader_ = reloader.clone();
                    let report = tokio::task::spawn_blocking(move || reloader_.reload(Trigger::Watch)).await;
                    if let Ok(report) = report
                        && report.reloaded
                    {
                        tracing::info!(changes = ?report.changes, "reloaded");
                    }
                }
                // A reload asked for otherwise (SIGHUP, the admin API) may name new folders.
                Ok(()) = swaps.changed() => {}
            }
            update_watches(&mut debouncer, &mut watched, &reloader.wiring().current());
        }
    });
    Ok(())
}

/// Whether a watch event may mean that a file's content changed: anything but opening,
/// reading or closing it unwritten. Closing after writing (`CLOSE_WRITE`) counts: it is how the
/// end of an in-place write shows.
pub(super) fn is_change(event: &DebouncedEvent) -> bool {
    match event.event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// The folders that must be watched for this topology: routes.toml's and each plugin's.
fn folders(topology: &Topology) -> BTreeSet<PathBuf> {
    std::iter::once(topology.config.path.as_path())
        .chain(
            topology
                .config
                .plugins
                .values()
                .map(|plugin| plugin.wasm.as_path()),
        )
        .filter_map(Path::parent)
        .map(Path::to_path_buf)
        .collect()
}

fn update_watches<W: notify::Watcher, C: notify_debouncer_full::FileIdCache>(
    debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
    watched: &mut BTreeSet<PathBuf>,
    topology: &Topology,
) {
    let wanted = folders(topology);
    for gone in watched.difference(&wanted) {
        let _ = debouncer.unwatch(gone);
    }
    for folder in wanted.difference(watched) {
        if let Err(error) = debouncer.watch(folder, RecursiveMode::NonRecursive) {
            tracing::warn!(folder = %folder.display(), %error, "cannot watch folder; changes in it will need POST /api/reload");
        }
    }
    *watched = wanted;
}
