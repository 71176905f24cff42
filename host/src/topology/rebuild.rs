//! `wasmhook serve --watch`: the plugin author's dev loop. When a file matching a plugin's
//! `watch` patterns changes, run its `build` command; the command writes the plugin's `.wasm`,
//! which hot reload ([`super::watch`]) then compiles and swaps in like any other change.
//!
//! Builds run one at a time per plugin: changes that arrive while a plugin builds cause exactly
//! one more build once it ends, so the last change is always built. The plugins, their
//! commands and patterns are read from the current topology, so an edit of routes.toml
//! applies from the next reload on.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify_debouncer_full::new_debouncer;
use tokio::sync::mpsc;

use super::Topology;
use super::reload::Reloader;
use crate::tasks::Tasks;

/// Quiet time after the last change before building: an editor's save or a `git checkout`
/// touching many files runs one build.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// How often the watched folders are brought in line with the current topology.
const REFRESH: Duration = Duration::from_secs(1);

/// How many of the last lines of a failed build's stderr are logged.
const STDERR_LINES: usize = 20;

/// Watches until the process ends.
pub fn spawn(reloader: Arc<Reloader>, tasks: &Tasks) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut debouncer = new_debouncer(
        DEBOUNCE,
        None,
        move |result: notify_debouncer_full::DebounceEventResult| match result {
            Ok(events) => {
                // A build reads the files it watches: reading is no change, or every build
                // would start the next.
                let paths: Vec<PathBuf> = events
                    .into_iter()
                    .filter(super::watch::is_change)
                    .flat_map(|event| event.event.paths)
                    .collect();
                if !paths.is_empty() {
                    let _ = tx.send(paths);
                }
            }
            Err(errors) => tracing::warn!(?errors, "file watch error (serve --watch)"),
        },
    )?;
    let builds = Builds::default();
    let mut topology = reloader.wiring().current();
    let mut watched = BTreeMap::new();
    update_watches(&mut debouncer, &mut watched, &topology);
    tasks.spawn("plugin rebuilds (serve --watch)", async move {
        let mut refresh = tokio::time::interval(REFRESH);
        loop {
            tokio::select! {
                paths = rx.recv() => {
                    let Some(paths) = paths else { break };
                    topology = reloader.wiring().current();
                    for plugin in plugins_to_build(&topology, &paths) {
                        builds.request(plugin, reloader.clone());
                    }
                }
                _ = refresh.tick() => {
                    let current = reloader.wiring().current();
                    if !Arc::ptr_eq(&current, &topology) {
                        topology = current;
                        update_watches(&mut debouncer, &mut watched, &topology);
                    }
                }
            }
        }
    });
    Ok(())
}

/// The folder of routes.toml, against which commands run and patterns are matched.
fn base(topology: &Topology) -> &Path {
    topology.config.path.parent().unwrap_or(Path::new("/"))
}

/// The plugins with a `build` that one of `paths` concerns. A plugin's own `.wasm` never
/// triggers its build, or a pattern such as `**` would rebuild forever.
fn plugins_to_build(topology: &Topology, paths: &[PathBuf]) -> Vec<String> {
    let base = base(topology);
    topology
        .config
        .plugins
        .values()
        .filter(|plugin| plugin.build.is_some())
        .filter(|plugin| {
            paths.iter().any(|path| {
                path != &plugin.wasm
                    && path.strip_prefix(base).is_ok_and(|relative| {
                        plugin.watch.iter().any(|glob| glob.matches(relative))
                    })
            })
        })
        .map(|plugin| plugin.name.clone())
        .collect()
}

/// The folders to watch, and how, so that every file a `watch` pattern can match is seen.
fn folders(topology: &Topology) -> BTreeMap<PathBuf, RecursiveMode> {
    let base = base(topology);
    let mut folders = BTreeMap::new();
    for glob in topology
        .config
        .plugins
        .values()
        .filter(|plugin| plugin.build.is_some())
        .flat_map(|plugin| &plugin.watch)
    {
        // The deepest folder that exists and holds every match.
        let mut folder = base.join(glob.root());
        while !folder.is_dir() && folder != base {
            match folder.parent() {
                Some(parent) => folder = parent.to_path_buf(),
                None => break,
            }
        }
        let depth = folder
            .strip_prefix(base)
            .map_or(0, |f| f.components().count());
        let recursive = glob.depth().is_none_or(|d| d > depth + 1);
        let mode = folders.entry(folder).or_insert(RecursiveMode::NonRecursive);
        if recursive {
            *mode = RecursiveMode::Recursive;
        }
    }
    folders
}

fn update_watches<W: notify::Watcher, C: notify_debouncer_full::FileIdCache>(
    debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
    watched: &mut BTreeMap<PathBuf, RecursiveMode>,
    topology: &Topology,
) {
    let wanted = folders(topology);
    for (folder, mode) in watched.iter() {
        if wanted.get(folder) != Some(mode) {
            let _ = debouncer.unwatch(folder);
        }
    }
    for (folder, mode) in &wanted {
        if watched.get(folder) != Some(mode)
            && let Err(error) = debouncer.watch(folder, *mode)
        {
            tracing::warn!(folder = %folder.display(), %error, "cannot watch folder for plugin builds");
        }
    }
    *watched = wanted;
}

/// Per plugin: whether a build runs, and whether another must follow it.
#[derive(Clone, Default)]
struct Builds(Arc<Mutex<HashMap<String, Slot>>>);

#[derive(Default)]
struct Slot {
    running: bool,
    again: bool,
}

impl Builds {
    fn request(&self, plugin: String, reloader: Arc<Reloader>) {
        {
            let mut slots = self.0.lock().expect("build slots");
            let slot = slots.entry(plugin.clone()).or_default();
            if slot.running {
                slot.again = true;
                return;
            }
            slot.running = true;
        }
        let builds = self.clone();
        tokio::spawn(async move {
            loop {
                let topology = reloader.wiring().current();
                if let Some(command) = topology
                    .config
                    .plugins
                    .get(&plugin)
                    .and_then(|p| p.build.clone())
                {
                    run(&plugin, &command, base(&topology)).await;
                }
                let mut slots = builds.0.lock().expect("build slots");
                let slot = slots.entry(plugin.clone()).or_default();
                if std::mem::take(&mut slot.again) {
                    continue;
                }
                slot.running = false;
                break;
            }
        });
    }
}

/// Runs one build and logs how it went.
async fn run(plugin: &str, command: &str, dir: &Path) {
    tracing::info!(plugin, command, "plugin build started");
    let started = Instant::now();
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await;
    let duration_ms = started.elapsed().as_millis() as u64;
    match output {
        Ok(output) if output.status.success() => {
            tracing::info!(plugin, duration_ms, "plugin build succeeded");
        }
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            let stderr = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
            tracing::error!(
                plugin,
                command,
                duration_ms,
                status = %output.status,
                %stderr,
                "plugin build failed; the last good version keeps serving"
            );
        }
        Err(error) => {
            tracing::error!(plugin, command, %error, "plugin build could not start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_of_stderr() {
        let text = (1..=30)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
        assert!(tail.starts_with("11\n") && tail.ends_with("30"));
    }
}
