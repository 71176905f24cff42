//! Concurrent senders that keep posting GitHub pushes until stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinSet;

use super::{GITHUB_SECRET, Ingest, WAIT, push_to, wait_until};

pub struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    senders: JoinSet<Vec<(StatusCode, Value)>>,
}

impl Load {
    /// `senders` tasks, each posting signed pushes of two commits to `main` one after the other.
    pub fn start(ingest: Ingest, senders: usize) -> Load {
        let (stop, sent) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let mut tasks = JoinSet::new();
        for _ in 0..senders {
            let (ingest, stop, sent) = (ingest.clone(), Arc::clone(&stop), Arc::clone(&sent));
            tasks.spawn(async move {
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    answers.push(
                        ingest
                            .github_event("github", "push", GITHUB_SECRET, &push_to("main", 2))
                            .await,
                    );
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                answers
            });
        }
        Load {
            stop,
            sent,
            senders: tasks,
        }
    }

    /// Waits until `more` further requests have been answered.
    pub async fn wait_for_more(&self, more: usize) {
        let target = self.sent.load(Ordering::Relaxed) + more;
        wait_until(
            &format!("{more} more requests under load"),
            WAIT,
            async || self.sent.load(Ordering::Relaxed) >= target,
        )
        .await
    }

    /// Stops the senders and returns every answer they got.
    pub async fn stop(mut self) -> Vec<(StatusCode, Value)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut answers = Vec::new();
        while let Some(done) = self.senders.join_next().await {
            answers.extend(done.expect("sender task panicked"));
        }
        answers
    }
}
