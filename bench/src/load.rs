//! The load generator: `concurrency` connections on loopback POST events until `events` are
//! sent or `max_time` passes, as fast as the receiver answers or at a fixed rate.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// One event's body and the headers that go with it only (a signature).
pub type Request = (Bytes, Vec<(&'static str, String)>);

#[derive(Clone)]
pub struct Load {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub events: u64,
    pub concurrency: usize,
    pub max_time: Duration,
    /// Events per second, or as fast as possible.
    pub rate: Option<f64>,
    /// Set to end the run early.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// What the sender saw.
pub struct Sent {
    /// When each event was accepted (a 2xx), by sequence number.
    pub accepted_at: Vec<Option<Instant>>,
    pub accepted: usize,
    pub failed: usize,
    pub started: Instant,
    pub elapsed: Duration,
}

impl Load {
    /// Sends events whose bodies and extra headers `request(seq)` makes.
    pub async fn run(&self, request: impl Fn(u64) -> Request + Send + Sync + 'static) -> Sent {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(self.concurrency)
            .build()
            .expect("an HTTP client");
        let make = Arc::new(request);
        let next = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        // Grown as needed: an open-ended run (`stop`) has no count to allocate for.
        let accepted_at: Arc<Mutex<Vec<Option<Instant>>>> = Arc::default();
        let started = Instant::now();
        let deadline = started + self.max_time;
        let workers: Vec<_> = (0..self.concurrency)
            .map(|_| {
                let (client, load, make) = (client.clone(), self.clone(), Arc::clone(&make));
                let (next, failed, accepted_at) = (
                    Arc::clone(&next),
                    Arc::clone(&failed),
                    Arc::clone(&accepted_at),
                );
                tokio::spawn(async move {
                    loop {
                        let seq = next.fetch_add(1, Ordering::Relaxed);
                        let stopped = load
                            .stop
                            .as_ref()
                            .is_some_and(|s| s.load(Ordering::Relaxed));
                        if stopped || seq >= load.events || Instant::now() >= deadline {
                            break;
                        }
                        if let Some(rate) = load.rate {
                            let due = started + Duration::from_secs_f64(seq as f64 / rate);
                            tokio::time::sleep_until(due.into()).await;
                        }
                        let (body, headers) = make(seq);
                        let mut request = client.post(&load.url).body(body);
                        for (name, value) in load.headers.iter().chain(&headers) {
                            request = request.header(*name, value);
                        }
                        match request.send().await {
                            Ok(answer) if answer.status().is_success() => {
                                let at = Instant::now();
                                let _ = answer.bytes().await;
                                let mut accepted_at = accepted_at.lock().unwrap();
                                if accepted_at.len() <= seq as usize {
                                    accepted_at.resize(seq as usize + 1, None);
                                }
                                accepted_at[seq as usize] = Some(at);
                            }
                            _ => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            let _ = worker.await;
        }
        let elapsed = started.elapsed();
        let accepted_at = std::mem::take(&mut *accepted_at.lock().unwrap());
        Sent {
            accepted: accepted_at.iter().flatten().count(),
            accepted_at,
            failed: failed.load(Ordering::Relaxed),
            started,
            elapsed,
        }
    }
}
