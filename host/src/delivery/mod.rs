//! Delivery: every pending message is POSTed to its subscriber until it is delivered or its
//! retries are used up (SPEC section 6).
//!
//! The store is the queue. The dispatcher asks it, per subscriber, for messages whose next
//! attempt is due, up to the permits that subscriber has free; each attempt's result is
//! committed with the message's new state before the message may be picked again. A message
//! is thus never attempted twice at once, and after a crash every message still `pending` is
//! simply due again: delivery is at-least-once.
//!
//! Each subscriber has its own lane (permits and in-flight set), so a slow or dead subscriber
//! holds only its own permits and never delays the others. A subscriber that answers
//! `410 Gone` is disabled (kept in the store, so it stays disabled across restarts) until an
//! operator enables it again; its messages wait as `pending`. With `ordering = "per-key"`
//! the store only offers the oldest pending message of each key (see `Store::due_messages`).

mod attempt;
mod retry;
mod subscriber;

pub use attempt::content_headers;
pub use subscriber::Subscriber;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::config::Ordering as DeliveryOrder;
use crate::store::{AttemptOutcome, DueMessage, Store, StoreError};
use crate::telemetry;
use crate::topology::reload::Reloader;

/// The dispatcher looks at the store at least this often, whatever it was told.
const MAX_IDLE: Duration = Duration::from_secs(5);

pub struct Delivery {
    store: Store,
    reloader: Arc<Reloader>,
    client: reqwest::Client,
    /// Woken when messages are committed or an attempt finishes.
    wake: Arc<Notify>,
    /// All deliveries in flight at once, over every subscriber: bounds sockets and memory.
    global: Arc<Semaphore>,
    global_permits: usize,
    /// Per subscriber: its permits (its `concurrency`) and the messages it has in flight.
    lanes: Mutex<HashMap<String, Lane>>,
    /// Subscribers disabled by a `410 Gone`: when (Unix ms) and why.
    disabled: Mutex<BTreeMap<String, (i64, String)>>,
    /// Set when shutting down: no new attempts start.
    stopping: AtomicBool,
    /// The earliest time (Unix ms) a pending message is known to fall due later than now, or
    /// `i64::MAX`: the retries this process scheduled, and what the store said when last
    /// asked. Lets the dispatcher sleep until then without asking the store on every wake.
    next_scheduled: AtomicI64,
}

struct Lane {
    concurrency: usize,
    permits: Arc<Semaphore>,
    in_flight: HashSet<String>,
}

impl Delivery {
    pub async fn start(
        store: Store,
        reloader: Arc<Reloader>,
        wake: Arc<Notify>,
        concurrency: usize,
    ) -> Result<Arc<Delivery>, StoreError> {
        let disabled = store.disabled_subscribers().await?;
        let delivery = Arc::new(Delivery {
            store,
            reloader,
            client: attempt::client(),
            wake,
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            global_permits: concurrency.max(1),
            lanes: Mutex::new(HashMap::new()),
            disabled: Mutex::new(disabled),
            stopping: AtomicBool::new(false),
            next_scheduled: AtomicI64::new(i64::MIN),
        });
        tokio::spawn(delivery.clone().dispatch());
        Ok(delivery)
    }

    /// Looks at the store now, e.g. after a message was made due by hand.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Subscribers disabled by a `410 Gone`: name → (Unix ms, reason).
    pub fn disabled(&self) -> BTreeMap<String, (i64, String)> {
        self.disabled.lock().expect("disabled subscribers").clone()
    }

    /// Lets a disabled subscriber receive messages again. False if it was not disabled.
    pub async fn enable(&self, name: &str) -> Result<bool, StoreError> {
        let was = self.store.enable_subscriber(name.to_owned()).await?;
        self.disabled
            .lock()
            .expect("disabled subscribers")
            .remove(name);
        self.wake.notify_one();
        Ok(was)
    }

    /// Stops starting attempts and waits up to `deadline` for those in flight to be recorded;
    /// returns how many were still running when it gave up.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        let all = u32::try_from(self.global_permits).unwrap_or(u32::MAX);
        match tokio::time::timeout_at(deadline, self.global.acquire_many(all)).await {
            Ok(_) => 0,
            Err(_) => self.global_permits - self.global.available_permits(),
        }
    }

    async fn dispatch(self: Arc<Self>) {
        let mut idle_since = tokio::time::Instant::now();
        while !self.stopping.load(Ordering::SeqCst) {
            let now = crate::clock::now_ms();
            let topology = self.reloader.current();
            let disabled = self.disabled();
            for (name, subscriber) in &topology.subscribers {
                if disabled.contains_key(name) || self.stopping.load(Ordering::SeqCst) {
                    continue;
                }
                if let Err(error) = self.dispatch_due(name, subscriber, now).await {
                    tracing::error!(subscriber = %name, %error, "cannot read due messages");
                }
            }
            if self.next_scheduled.load(Ordering::SeqCst) <= now || idle_since.elapsed() >= MAX_IDLE
            {
                self.look_up_next_scheduled(now).await;
                idle_since = tokio::time::Instant::now();
            }
            let next = self.next_scheduled.load(Ordering::SeqCst);
            let sleep =
                Duration::from_millis(next.saturating_sub(crate::clock::now_ms()).max(0) as u64);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep.min(MAX_IDLE)) => {}
            }
        }
    }

    /// Asks the store when the next message falls due after `now`. Cleared first, so that a
    /// retry scheduled while the store is read, and perhaps committed too late to be seen,
    /// still lowers it.
    async fn look_up_next_scheduled(&self, now: i64) {
        self.next_scheduled.store(i64::MAX, Ordering::SeqCst);
        let next = match self.store.next_due_after(now).await {
            Ok(next) => next.unwrap_or(i64::MAX),
            Err(error) => {
                tracing::error!(%error, "cannot read when the next message falls due");
                now + MAX_IDLE.as_millis() as i64
            }
        };
        self.next_scheduled.fetch_min(next, Ordering::SeqCst);
    }

    /// Starts attempts for the subscriber's due messages, as many as it has permits for.
    async fn dispatch_due(
        self: &Arc<Self>,
        name: &str,
        subscriber: &Arc<Subscriber>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (permits, in_flight) = self.lane(name, subscriber.config.concurrency);
        let free = permits
            .available_permits()
            .min(self.global.available_permits());
        if free == 0 {
            return Ok(());
        }
        let per_key = subscriber.config.ordering == DeliveryOrder::PerKey;
        let due = self
            .store
            .due_messages(name.to_owned(), now, free, in_flight, per_key)
            .await?;
        for message in due {
            let (Ok(lane_permit), Ok(global_permit)) = (
                permits.clone().try_acquire_owned(),
                self.global.clone().try_acquire_owned(),
            ) else {
                break;
            };
            self.mark_in_flight(name, &message.id, true);
            let delivery = self.clone();
            let subscriber = subscriber.clone();
            tokio::spawn(async move {
                delivery
                    .deliver(&subscriber, message, [lane_permit, global_permit])
                    .await;
            });
        }
        Ok(())
    }

    async fn deliver(
        &self,
        subscriber: &Subscriber,
        message: DueMessage,
        permits: [OwnedSemaphorePermit; 2],
    ) {
        let answer = attempt::attempt(&self.client, subscriber, &message).await;
        let attempts = message.attempts + 1;
        let outcome = if answer.success {
            AttemptOutcome::Delivered
        } else {
            match retry::next_delay(&subscriber.config.retry, attempts, answer.hint) {
                Some(delay) => {
                    AttemptOutcome::RetryAt(answer.attempt.at + delay.as_millis() as i64)
                }
                None => AttemptOutcome::Dead,
            }
        };
        let name = &subscriber.config.name;
        if answer.gone {
            self.disable(name, format!("answered 410 Gone to message {}", message.id))
                .await;
        }
        telemetry::delivery_attempted(
            name,
            &message.id,
            answer.attempt.status,
            answer.elapsed,
            outcome_label(outcome),
        );
        if outcome == AttemptOutcome::Dead {
            telemetry::message_dead(name, &message.id, answer.attempt.error.as_deref());
        }
        if let Err(error) = self
            .store
            .record_attempt(message.id.clone(), answer.attempt, outcome)
            .await
        {
            // The message stays pending as it was, and is attempted again: at least once.
            tracing::error!(message = %message.id, %error, "cannot record a delivery attempt");
        } else if let AttemptOutcome::RetryAt(at) = outcome {
            self.next_scheduled.fetch_min(at, Ordering::SeqCst);
        }
        self.mark_in_flight(name, &message.id, false);
        // Released only now, so that a drain waiting for every permit waits for the record too.
        drop(permits);
        self.wake.notify_one();
    }

    async fn disable(&self, name: &str, reason: String) {
        telemetry::subscriber_disabled(name, &reason);
        self.disabled
            .lock()
            .expect("disabled subscribers")
            .insert(name.to_owned(), (crate::clock::now_ms(), reason.clone()));
        if let Err(error) = self.store.disable_subscriber(name.to_owned(), reason).await {
            tracing::error!(subscriber = name, %error, "cannot record that the subscriber is disabled");
        }
    }

    /// The subscriber's permits and in-flight set, renewing the permits if its
    /// `concurrency` changed in a reload.
    fn lane(&self, name: &str, concurrency: usize) -> (Arc<Semaphore>, HashSet<String>) {
        let mut lanes = self.lanes.lock().expect("delivery lanes");
        let lane = lanes.entry(name.to_owned()).or_insert_with(|| Lane {
            concurrency,
            permits: Arc::new(Semaphore::new(concurrency)),
            in_flight: HashSet::new(),
        });
        if lane.concurrency != concurrency {
            lane.concurrency = concurrency;
            lane.permits = Arc::new(Semaphore::new(concurrency));
        }
        (lane.permits.clone(), lane.in_flight.clone())
    }

    fn mark_in_flight(&self, name: &str, message_id: &str, in_flight: bool) {
        let mut lanes = self.lanes.lock().expect("delivery lanes");
        if let Some(lane) = lanes.get_mut(name) {
            if in_flight {
                lane.in_flight.insert(message_id.to_owned());
            } else {
                lane.in_flight.remove(message_id);
            }
        }
    }
}

fn outcome_label(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::RetryAt(_) => "retry",
        AttemptOutcome::Dead => "dead",
    }
}
