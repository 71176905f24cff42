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
    /// Further routers sharing a store with the one at `url`: events take turns between them,
    /// as behind a load balancer.
    pub also: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
    pub events: u64,
    pub concurrency: usize,
    pub max_time: Duration,
    /// Events per second, or as fast as possible.
    pub rate: Option<f64>,
    /// Set to end the run early.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// The answer to one event.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    pub sent: Instant,
    pub answered: Instant,
    /// The HTTP status; none when the request got no answer.
    pub status: Option<u16>,
}

impl Answer {
    pub fn accepted(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What the sender saw.
pub struct Sent {
    /// The answer to each event, by sequence number.
    pub answers: Vec<Option<Answer>>,
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
        let answers: Arc<Mutex<Vec<Option<Answer>>>> = Arc::default();
        let started = Instant::now();
        let deadline = started + self.max_time;
        let workers: Vec<_> = (0..self.concurrency)
            .map(|_| {
                let (client, load, make) = (client.clone(), self.clone(), Arc::clone(&make));
                let (next, failed, answers) =
                    (Arc::clone(&next), Arc::clone(&failed), Arc::clone(&answers));
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
                            if due >= deadline {
                                break;
                            }
                            tokio::time::sleep_until(due.into()).await;
                        }
                        let (body, headers) = make(seq);
                        let turn = seq as usize % (load.also.len() + 1);
                        let url = turn.checked_sub(1).map_or(&load.url, |n| &load.also[n]);
                        let mut request = client.post(url).body(body);
                        for (name, value) in load.headers.iter().chain(&headers) {
                            request = request.header(*name, value);
                        }
                        let sent = Instant::now();
                        let result = request.send().await;
                        let answer = Answer {
                            sent,
                            answered: Instant::now(),
                            status: result.as_ref().ok().map(|a| a.status().as_u16()),
                        };
                        if let Ok(response) = result {
                            let _ = response.bytes().await;
                        }
                        if !answer.accepted() {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        let mut answers = answers.lock().unwrap();
                        if answers.len() <= seq as usize {
                            answers.resize(seq as usize + 1, None);
                        }
                        answers[seq as usize] = Some(answer);
                    }
                })
            })
            .collect();
        for worker in workers {
            let _ = worker.await;
        }
        let elapsed = started.elapsed();
        let answers = std::mem::take(&mut *answers.lock().unwrap());
        Sent {
            accepted: answers.iter().flatten().filter(|a| a.accepted()).count(),
            answers,
            failed: failed.load(Ordering::Relaxed),
            started,
            elapsed,
        }
    }
}

impl Sent {
    /// When event `seq` was accepted (its 2xx answer came), if it was.
    pub fn accepted_at(&self, seq: u64) -> Option<Instant> {
        let answer = self.answers.get(usize::try_from(seq).ok()?)?.as_ref()?;
        answer.accepted().then_some(answer.answered)
    }
}
