//! The crash test: several senders post numbered events while the router is killed with
//! `kill -9` at random moments and restarted on the same data. Every event that was answered
//! `202` must reach every subscriber of its route at least once; duplicates are counted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::crash::{Rng, Senders, deliveries_by_seq};
use crate::common::*;

const EVENTS: usize = 2000;
const SENDERS: usize = 4;
const KILLS: usize = 3;
/// The senders stop at `EVENTS` accepted or after this long, whichever comes first.
const SENDING: Duration = Duration::from_secs(40);
const DRAIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_event_is_lost_across_kill_9s() {
    let (mut rng, seed) = Rng::seeded();
    println!("crash test: seed {seed} (CRASH_SEED={seed} repeats its kill moments)");
    let (left, right) = (Subscriber::ok().await, Subscriber::ok().await);
    let retry = r#"retry = ["100ms", "500ms", "1s", "2s"]"#;
    let wiring = plain_route(&[("left", &left, retry), ("right", &right, retry)]);
    let mut router = Router::start(&wiring).await;

    let started = Instant::now();
    let senders = Senders::start(router.ingest(), "plain", SENDERS, EVENTS, SENDING);
    let mut moments: Vec<usize> = (0..KILLS)
        .map(|_| 100 + rng.below((EVENTS - 200) as u64) as usize)
        .collect();
    moments.sort();
    for moment in moments {
        wait_until(&format!("{moment} events accepted"), SENDING, async || {
            senders.accepted() >= moment
        })
        .await;
        // A little further, so that the kill does not always land right after a 202.
        tokio::time::sleep(Duration::from_millis(rng.below(50))).await;
        let accepted = senders.accepted();
        router.kill();
        let down = Instant::now();
        router.restart().await;
        senders.retarget(router.ingest());
        println!(
            "kill -9 after {accepted} accepted; up again after {:?}",
            down.elapsed()
        );
    }
    let tally = senders.finish().await;
    let sending = started.elapsed();
    let accepted = tally.accepted.len();
    println!(
        "sent for {sending:?}: {accepted} accepted, {} refused, {} without an answer",
        tally.refused, tally.failed
    );
    assert!(
        accepted >= EVENTS / 2,
        "too few events accepted to mean anything"
    );

    let draining = Instant::now();
    let mut figures = Vec::new();
    for (name, subscriber) in [("left", &left), ("right", &right)] {
        let seen = wait_for(
            &format!("every accepted event at {name}"),
            DRAIN,
            async || {
                if subscriber.count() < accepted {
                    return None;
                }
                let seen = deliveries_by_seq(subscriber);
                tally
                    .accepted
                    .keys()
                    .all(|seq| seen.contains_key(seq))
                    .then_some(seen)
            },
        )
        .await;
        figures.push((name, seen));
    }
    let drain = draining.elapsed();
    assert_none_lost(&tally.accepted, &figures);

    println!("crash test figures (seed {seed}, {SENDERS} senders, {KILLS} kill -9s):");
    println!("  accepted (202): {accepted} in {sending:?}");
    for (name, seen) in &figures {
        let requests: usize = seen.values().sum();
        let duplicates = requests - seen.len();
        let unacknowledged = seen
            .keys()
            .filter(|s| !tally.accepted.contains_key(s))
            .count();
        println!(
            "  {name}: {requests} deliveries of {} events, {duplicates} duplicates ({:.2}%), {unacknowledged} events stored but not acknowledged",
            seen.len(),
            100.0 * duplicates as f64 / seen.len() as f64
        );
    }
    println!("  time to drain after the senders stopped: {drain:?}");
    let pending = router
        .admin_get("/api/messages?status=pending&limit=1")
        .await;
    println!("  pending messages left: {}", pending["messages"]);
    let dead = router.admin_get("/api/messages?status=dead").await;
    assert_eq!(dead["messages"], json!([]), "no message died");
}

/// Every accepted sequence number was delivered to every subscriber.
fn assert_none_lost(accepted: &BTreeMap<u64, String>, figures: &[(&str, BTreeMap<u64, usize>)]) {
    for (name, seen) in figures {
        let lost: Vec<(&u64, &String)> = accepted
            .iter()
            .filter(|(s, _)| !seen.contains_key(s))
            .collect();
        assert!(
            lost.is_empty(),
            "{name} never received {} accepted events: {lost:?}",
            lost.len()
        );
    }
}
