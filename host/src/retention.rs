//! Pruning: the store keeps settled events for `retention` and events with dead messages for
//! `dead_retention` (routes.toml `[server]`), then removes them, so it does not grow forever.
//! Provider delivery ids and replay keys are kept for the longest window of any source (its
//! `dedup` window, or as long as its scheme accepts a signed timestamp), whatever the
//! retention, so a redelivery or a replay is recognised for as long as promised.

use std::time::Duration;

use crate::config::Config;
use crate::store::{Expiry, PRUNE_BATCH, Store};
use crate::tasks::Tasks;
use crate::topology::Wiring;

/// How often the store is pruned. Each round removes everything expired, batch by batch.
const EVERY: Duration = Duration::from_secs(60);

pub fn spawn(store: Store, wiring: Wiring, tasks: &Tasks) {
    tasks.spawn("retention", async move {
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            ticks.tick().await;
            let expiry = expiry(&wiring.current().config, crate::clock::now_ms());
            let mut removed = 0;
            loop {
                match store.prune(expiry).await {
                    Ok(count) => {
                        removed += count;
                        if count < PRUNE_BATCH {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot prune the store");
                        break;
                    }
                }
            }
            if removed > 0 {
                tracing::info!(events = removed, "pruned events past their retention");
            }
        }
    });
}

fn expiry(config: &Config, now: i64) -> Expiry {
    let before =
        |age: Duration| now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
    let longest_window = config
        .sources
        .values()
        .map(crate::config::SourceConfig::remembered_for)
        .max();
    Expiry {
        settled_before: before(config.server.retention),
        dead_before: before(config.server.dead_retention),
        dedup_before: before(longest_window.unwrap_or_default()),
    }
}
