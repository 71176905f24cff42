//! The crash test's load: concurrent senders posting numbered events to whichever router
//! process is up, counting an event as accepted only when it was answered `202`; and a small
//! seeded random number generator, so that a run can be repeated.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::{Ingest, JSON, StatusCode, Subscriber};

/// What the senders did, over all of them.
#[derive(Debug, Default)]
pub struct Tally {
    /// Sequence numbers answered `202`, with the event id.
    pub accepted: BTreeMap<u64, String>,
    /// Answered, but not `202` (e.g. `503` while the router shut down).
    pub refused: usize,
    /// No answer at all: the router was down or died mid-request.
    pub failed: usize,
}

pub struct Senders {
    /// Each event goes to the next of them, as a load balancer would send it.
    targets: Arc<Mutex<Vec<Ingest>>>,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tasks: JoinSet<Tally>,
}

impl Senders {
    /// `senders` tasks posting `{"seq": n}` (n unique over all of them) to `source`, one after
    /// the other, until `total` were accepted or `within` has passed.
    pub fn start(
        ingest: Ingest,
        source: &'static str,
        senders: usize,
        total: usize,
        within: Duration,
    ) -> Senders {
        Senders::spread(vec![ingest], source, senders, total, within)
    }

    /// [`Senders::start`] over several routers sharing a store, taking turns.
    pub fn spread(
        ingests: Vec<Ingest>,
        source: &'static str,
        senders: usize,
        total: usize,
        within: Duration,
    ) -> Senders {
        let targets = Arc::new(Mutex::new(ingests));
        let (accepted, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let next = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + within;
        let mut tasks = JoinSet::new();
        for _ in 0..senders {
            let (targets, accepted, stop, next) = (
                targets.clone(),
                accepted.clone(),
                stop.clone(),
                next.clone(),
            );
            tasks.spawn(async move {
                let mut tally = Tally::default();
                while !stop.load(Ordering::Relaxed)
                    && accepted.load(Ordering::Relaxed) < total
                    && Instant::now() < deadline
                {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    let ingest = {
                        let targets = targets.lock().unwrap();
                        targets[seq as usize % targets.len()].clone()
                    };
                    let body = json!({ "seq": seq }).to_string();
                    match ingest.try_post_hook(source, body, JSON).await {
                        Ok((StatusCode::ACCEPTED, _, answer)) => {
                            let id = answer["id"].as_str().expect("202 with an id").to_owned();
                            tally.accepted.insert(seq, id);
                            accepted.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Ok(_) => tally.refused += 1,
                        Err(_) => tally.failed += 1,
                    }
                    // The router is restarting: try again shortly, with a new event.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tally
            });
        }
        Senders {
            targets,
            accepted,
            stop,
            tasks,
        }
    }

    /// How many events were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Sends to this router process from now on.
    pub fn retarget(&self, ingest: Ingest) {
        *self.targets.lock().unwrap() = vec![ingest];
    }

    /// Sends the share of router `index` to this process of it from now on.
    pub fn retarget_one(&self, index: usize, ingest: Ingest) {
        self.targets.lock().unwrap()[index] = ingest;
    }

    /// Waits for the senders to reach their count or time limit and returns their tally.
    pub async fn finish(mut self) -> Tally {
        let mut all = Tally::default();
        while let Some(done) = self.tasks.join_next().await {
            let tally = done.expect("sender task panicked");
            all.accepted.extend(tally.accepted);
            all.refused += tally.refused;
            all.failed += tally.failed;
        }
        self.stop.store(true, Ordering::Relaxed);
        all
    }
}

/// How many times the subscriber received each sequence number.
pub fn deliveries_by_seq(subscriber: &Subscriber) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for request in subscriber.received() {
        let seq = request.json()["seq"].as_u64().expect("a body with a seq");
        *seen.entry(seq).or_default() += 1;
    }
    seen
}

/// splitmix64: small, good enough to pick moments, and repeatable from its seed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `CRASH_SEED` when set, else from the clock; returns the seed to print.
    pub fn seeded() -> (Rng, u64) {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        (Rng(seed), seed)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n.max(1)
    }
}
