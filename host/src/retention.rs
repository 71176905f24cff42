//! Pruning: the store keeps settled events for `retention` and events with dead messages for
//! `dead_retention` (routes.toml `[server]`), then removes them, so it does not grow forever.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Store;
use crate::topology::reload::Reloader;

/// How often the store is pruned. Retention is counted in days; an hour's slack is nothing.
const EVERY: Duration = Duration::from_secs(600);

pub fn spawn(store: Store, reloader: Arc<Reloader>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            ticks.tick().await;
            let server = &reloader.current().config.server;
            let now = crate::clock::now_ms();
            let before = |age: Duration| {
                now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
            };
            match store
                .prune(before(server.retention), before(server.dead_retention))
                .await
            {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(events = removed, "pruned events past their retention")
                }
                Err(error) => tracing::warn!(%error, "cannot prune the store"),
            }
        }
    });
}
