//! The pipeline: every accepted event runs through the routes of its source, and the messages
//! that come out are committed, with the event's `processed` mark, in one transaction.
//!
//! Events arrive from ingest right after their commit. If the pipeline is saturated the event
//! simply stays `received` on disk and a sweep picks it up, as it does at every start for
//! events a crash left behind; `in_flight` keeps a sweep from running an event twice.

mod chain;
pub mod envelope;
mod fan_out;
mod headers;
mod held;
mod messages;
mod routes;

pub use chain::Stage;
pub use fan_out::FanOut;
pub use routes::{messages_for, trace_route};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore, mpsc};

use crate::delivery::Delivery;
use crate::plugin::PluginEngine;
use crate::store::{
    Backoff, Dedup, EventStatus, Inserted, MessageStatus, NewEvent, Store, StoreError,
};
use crate::tasks::Tasks;
use crate::topology::Wiring;

/// Events waiting between ingest and the pipeline; past this, ingest leaves them to the sweep.
const QUEUE: usize = 4096;
/// Events being worked on at once: bounds the memory of envelopes in flight.
const MAX_EVENTS_IN_FLIGHT: usize = 512;
/// Events a sweep loads from the store at a time.
const SWEEP_BATCH: usize = 256;

#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engine: Arc<PluginEngine>,
    wiring: Wiring,
    /// Takes the messages over as they are committed.
    delivery: Arc<Delivery>,
    queue: mpsc::Sender<Arc<NewEvent>>,
    in_flight: Mutex<HashSet<String>>,
    /// Woken whenever an event leaves `in_flight`, for a drain to re-check.
    settled: Notify,
    sweep: Notify,
    /// Woken when an event was held by a topology that has been replaced meanwhile: the
    /// plugin it waited for may have loaded, and the release of held events must look again.
    held_late: Notify,
}

impl Pipeline {
    /// Starts the pipeline and sweeps events left unprocessed by an earlier run.
    pub fn start(
        store: Store,
        engine: Arc<PluginEngine>,
        wiring: Wiring,
        delivery: Arc<Delivery>,
        tasks: &Tasks,
    ) -> Pipeline {
        let (queue, events) = mpsc::channel(QUEUE);
        let pipeline = Pipeline {
            inner: Arc::new(Inner {
                store,
                engine,
                wiring,
                delivery,
                queue,
                in_flight: Mutex::new(HashSet::new()),
                settled: Notify::new(),
                sweep: Notify::new(),
                held_late: Notify::new(),
            }),
        };
        tasks.spawn("pipeline queue", pipeline.clone().run(events));
        pipeline.inner.sweep.notify_one();
        tasks.spawn("pipeline sweeper", pipeline.clone().sweeper());
        tasks.spawn("held events release", pipeline.clone().release_held());
        pipeline
    }

    /// Commits an accepted event and starts it on its way; returns once it is durable, or
    /// found to be a redelivery.
    /// - Its source has no routes: it is committed `processed`, with nothing more to do.
    /// - No route of its source runs or waits for a plugin: it is committed `processed` with
    ///   its messages, in one transaction, and they go to delivery as soon as that is durable,
    ///   without a second write or a hop through the pipeline's queue.
    /// - Otherwise it is committed `received` and queued for the plugins.
    pub async fn admit(
        &self,
        event: Arc<NewEvent>,
        dedup: Vec<Dedup>,
    ) -> Result<Inserted, StoreError> {
        let topology = self.inner.wiring.current();
        let store = self.inner.store.clone();
        let routes = topology.routes_for(&event.source);
        if routes::run_no_plugin(routes) {
            // Without plugin calls there is nothing for a shutdown to cut.
            if let Ok(messages) = messages_for(&self.inner.engine, &topology, &event).await {
                count_filtered(&messages);
                let commit = async move |messages| {
                    let status = EventStatus::Processed;
                    store.insert_event(event, dedup, status, messages).await
                };
                return self
                    .inner
                    .delivery
                    .commit_and_deliver(messages, commit)
                    .await;
            }
        }
        let inserted = store
            .insert_event(Arc::clone(&event), dedup, EventStatus::Received, Vec::new())
            .await?;
        if inserted == Inserted::New {
            self.submit(event);
        }
        Ok(inserted)
    }

    /// The engine its plugins run on: a dry run shares its limits and permits.
    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.inner.engine
    }

    /// Hands a committed event to the pipeline; never waits.
    pub fn submit(&self, event: Arc<NewEvent>) {
        self.inner
            .in_flight
            .lock()
            .expect("in-flight events")
            .insert(event.id.clone());
        if let Err(error) = self.inner.queue.try_send(event) {
            let event = match error {
                mpsc::error::TrySendError::Full(event)
                | mpsc::error::TrySendError::Closed(event) => event,
            };
            self.inner
                .in_flight
                .lock()
                .expect("in-flight events")
                .remove(&event.id);
            self.inner.sweep.notify_one();
        }
    }

    /// Waits until no event is in the pipeline, or `deadline`; returns how many still are.
    /// Then the plugin calls still running are cut, and no more start: events left over stay
    /// `received` in the store and run at the next start.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> usize {
        let left = loop {
            let settled = self.inner.settled.notified();
            let left = self.inner.in_flight.lock().expect("in-flight events").len();
            if left == 0 || tokio::time::timeout_at(deadline, settled).await.is_err() {
                break self.inner.in_flight.lock().expect("in-flight events").len();
            }
        };
        self.inner.engine.stop_calls().await;
        left
    }

    async fn run(self, mut events: mpsc::Receiver<Arc<NewEvent>>) {
        let slots = Arc::new(Semaphore::new(MAX_EVENTS_IN_FLIGHT));
        while let Some(event) = events.recv().await {
            let slot = slots.clone().acquire_owned().await.expect("never closed");
            let pipeline = self.clone();
            tokio::spawn(async move {
                pipeline.process(event).await;
                drop(slot);
            });
        }
    }

    /// Loads `received` events from the store and processes them; runs at start, whenever
    /// ingest could not queue an event, and whenever an event's messages could not be
    /// committed. While commits fail, it pauses longer and longer between rounds, rather than
    /// running the same plugins on the same events again and again.
    async fn sweeper(self) {
        let mut backoff = Backoff::default();
        let mut catch_ups = self.inner.store.catch_ups();
        loop {
            tokio::select! {
                () = self.inner.sweep.notified() => {}
                _ = catch_ups.changed() => {}
            }
            loop {
                let events = match self.inner.store.unprocessed_events(SWEEP_BATCH).await {
                    Ok(events) => events,
                    Err(error) => {
                        tracing::error!(%error, "cannot load unprocessed events");
                        backoff.pause().await;
                        continue;
                    }
                };
                let fresh: Vec<Arc<NewEvent>> = {
                    let mut in_flight = self.inner.in_flight.lock().expect("in-flight events");
                    events
                        .into_iter()
                        .filter(|event| in_flight.insert(event.id.clone()))
                        .map(Arc::new)
                        .collect()
                };
                if fresh.is_empty() {
                    break;
                }
                tracing::info!(events = fresh.len(), "processing events accepted earlier");
                let batch = fresh.into_iter().map(|event| {
                    let pipeline = self.clone();
                    async move { pipeline.process(event).await }
                });
                if run_each_in_a_task(batch).await {
                    backoff.reset();
                } else {
                    backoff.pause().await;
                }
            }
        }
    }

    /// Runs every route of the event's source, then commits all messages at once; false if
    /// nothing was committed (the commit failed, or the shutdown cut a plugin call), which
    /// leaves the event `received` for the sweeper or the next start to run again.
    async fn process(&self, event: Arc<NewEvent>) -> bool {
        let topology = self.inner.wiring.current();
        let id = event.id.clone();
        let Ok(messages) = routes::messages_for(&self.inner.engine, &topology, &event).await else {
            // Cut by the shutdown: the event stays `received` and runs at the next start.
            self.settled(&id);
            return false;
        };
        count_filtered(&messages);
        let held = messages.iter().any(|m| m.status == MessageStatus::Held);
        let (store, event_id) = (self.inner.store.clone(), id.clone());
        let result = self
            .inner
            .delivery
            .commit_and_deliver(messages, async move |messages| {
                store.finish_event(event_id, messages).await.map(|()| true)
            })
            .await;
        if held && result.is_ok() && !Arc::ptr_eq(&topology, &self.inner.wiring.current()) {
            self.inner.held_late.notify_one();
        }
        self.settled(&id);
        // The event stays `received` and is processed again by the sweeper.
        if let Err(error) = result {
            tracing::error!(event = %id, %error, "cannot commit the event's messages");
            self.inner.sweep.notify_one();
            return false;
        }
        true
    }

    /// The event left the pipeline, processed or not.
    fn settled(&self, id: &str) {
        self.inner
            .in_flight
            .lock()
            .expect("in-flight events")
            .remove(id);
        self.inner.settled.notify_waiters();
    }
}

/// Runs each future in a task of its own, to its end; whether all of them succeeded.
async fn run_each_in_a_task<F: std::future::Future<Output = bool> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> bool {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut all = true;
    for handle in handles {
        all &= handle.await.unwrap_or(false);
    }
    all
}

/// Counts each route that dropped the event: its messages, one per subscriber, come together.
fn count_filtered(messages: &[crate::store::NewMessage]) {
    let mut routes: Vec<&str> = messages
        .iter()
        .filter(|message| message.status == MessageStatus::Filtered)
        .map(|message| message.route.as_str())
        .collect();
    routes.dedup();
    for route in routes {
        crate::telemetry::event_filtered(route);
    }
}
