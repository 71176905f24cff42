//! Held events: a route with a plugin that has no version keeps its events as `held` messages
//! (see `store/held.rs`); once the plugin loads, the route runs on each of them, and what it
//! makes replaces the held messages.

use std::sync::Arc;

use crate::store::{Backoff, NewEvent};
use crate::telemetry;
use crate::topology::Route;

use super::{Pipeline, routes};

/// Events of a route loaded from the store at a time.
const BATCH: usize = 64;

impl Pipeline {
    /// Releases what the routes that can run have held: at start, after every swap of the
    /// topology, and when an event was held by a topology already replaced. A release that
    /// cannot be committed is tried again after a pause.
    pub(super) async fn release_held(self) {
        let mut swaps = self.inner.wiring.swaps();
        let mut backoff = Backoff::default();
        loop {
            if !self.release_runnable().await {
                backoff.pause().await;
                continue;
            }
            backoff.reset();
            tokio::select! {
                changed = swaps.changed() => if changed.is_err() { return },
                _ = self.inner.held_late.notified() => {}
            }
        }
    }

    /// Whether every event held by a route that can now run was released.
    async fn release_runnable(&self) -> bool {
        let topology = self.inner.wiring.current();
        for route in topology.routes.iter().filter(|r| r.held_by.is_empty()) {
            loop {
                let events = match self
                    .inner
                    .store
                    .held_events(route.name.clone(), BATCH)
                    .await
                {
                    Ok(events) => events,
                    Err(error) => {
                        tracing::error!(route = %route.name, %error, "cannot load held events");
                        return false;
                    }
                };
                let last_batch = events.len() < BATCH;
                for event in &events {
                    if !self.release(route, event).await {
                        return false;
                    }
                }
                if last_batch {
                    break;
                }
            }
        }
        true
    }

    /// Runs `route` on a held event and commits its messages in place of the held ones.
    async fn release(&self, route: &Arc<Route>, event: &NewEvent) -> bool {
        let Ok(messages) = routes::route_messages(&self.inner.engine, route, event).await else {
            // Cut by the shutdown: the event stays held, and is released after the next start.
            return false;
        };
        super::count_filtered(&messages);
        let store = self.inner.store.clone();
        let (event_id, route_name) = (event.id.clone(), route.name.clone());
        let result = self
            .inner
            .delivery
            .commit_and_deliver(messages, async move |messages| {
                store.release_held(event_id, route_name, messages).await
            })
            .await;
        match result {
            Ok(released) => {
                if released {
                    telemetry::event_released(&route.name, &event.id);
                }
                true
            }
            Err(error) => {
                tracing::error!(route = %route.name, event = %event.id, %error, "cannot commit the messages of a held event");
                false
            }
        }
    }
}
