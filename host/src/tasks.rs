//! The background tasks `serve` starts (the file watch, rebuilds, retention, the pipeline's
//! sweeper, delivery's dispatcher, ...), named, so that the shutdown stops every one of them
//! and says which did not stop in time, as Vector's topology does.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    stop: CancellationToken,
    /// The tasks running, by a number of their own.
    running: Arc<Mutex<BTreeMap<u64, &'static str>>>,
    next: Arc<AtomicU64>,
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// Runs `work` in a task of its own until it ends or [`Tasks::stop`] stops it (at its next
    /// `.await`).
    pub fn spawn(&self, name: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.running).insert(number, name);
        let (stop, running) = (self.stop.clone(), self.running.clone());
        self.tracker.spawn(async move {
            tokio::select! {
                () = work => {}
                () = stop.cancelled() => {}
            }
            lock(&running).remove(&number);
        });
    }

    /// Stops every task and waits for them until `deadline`; the names of those still
    /// running then (a task blocked outside the runtime, such as a compile, stops later).
    pub async fn stop(&self, deadline: Instant) -> Vec<&'static str> {
        self.stop.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout_at(deadline, self.tracker.wait()).await;
        lock(&self.running).values().copied().collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stop_ends_every_task_and_names_those_that_outlive_the_deadline() {
        let tasks = Tasks::new();
        tasks.spawn("endless", std::future::pending());
        tasks.spawn("finished", async {});
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = tokio::sync::oneshot::channel();
        tasks.spawn("blocked", async move {
            let _ = started.send(());
            // Holds its thread: cancellation cannot reach it until this returns.
            tokio::task::block_in_place(|| blocked.recv().ok());
        });
        has_started.await.unwrap();
        let left = tasks
            .stop(Instant::now() + Duration::from_millis(200))
            .await;
        assert_eq!(left, ["blocked"]);
        drop(release);
        tasks.tracker.wait().await;
        assert!(lock(&tasks.running).is_empty());
    }
}
