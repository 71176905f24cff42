//! Requests to sources that are not configured are refused with `404` and leave nothing
//! behind: metrics are labelled with configured names only, so random names sent by anyone
//! cannot grow `/metrics` (or the memory behind it).

use tokio::task::JoinSet;

use crate::common::*;

/// Random source names sent by a hostile client.
const NAMES: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_unknown_sources_do_not_grow_the_metrics() {
    let router = Router::start("[sources.plain]\n").await;
    rejected(
        router.post_hook("first-unknown", "{}", JSON).await,
        StatusCode::NOT_FOUND,
    );
    let before = router.admin_text("/metrics").await;

    let names: Vec<String> = (0..NAMES)
        .map(|n| format!("nosuch{n}x{:08x}", rand::random::<u32>()))
        .collect();
    let mut senders = JoinSet::new();
    for chunk in names.chunks(NAMES / 4) {
        let (ingest, chunk) = (router.ingest(), chunk.to_vec());
        senders.spawn(async move {
            for name in chunk {
                rejected(
                    ingest.post_hook(&name, "{}", JSON).await,
                    StatusCode::NOT_FOUND,
                );
            }
        });
    }
    senders.join_all().await;

    let after = router.admin_text("/metrics").await;
    eprintln!(
        "/metrics: {} bytes before, {} bytes after {NAMES} unknown names",
        before.len(),
        after.len()
    );
    let named: Vec<&String> = names
        .iter()
        .filter(|n| after.contains(n.as_str()))
        .collect();
    assert!(
        named.is_empty(),
        "{} of the {NAMES} unknown names are in /metrics, e.g. {:?}",
        named.len(),
        named.first()
    );
    assert!(
        !after.contains("first-unknown"),
        "an unknown source name is in /metrics"
    );
    // Counters going from 1 to 2001 add a few digits, and a series of the router's own work
    // (a store commit) may appear meanwhile; one series per name would add hundreds of KB.
    assert!(
        after.len() < before.len() + 4096,
        "/metrics grew from {} to {} bytes with {NAMES} unknown names",
        before.len(),
        after.len()
    );
    assert_eq!(
        metric_total(&after, "wasmhook_requests_unknown_source_total"),
        (NAMES + 1) as f64,
        "the refused requests are counted, without their names"
    );
}
