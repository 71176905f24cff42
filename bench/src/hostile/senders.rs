//! The attacks on the ingest port: each sends what a hostile sender would until the end of
//! its phase, and says what the router answered.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::task::JoinSet;

use super::raw::{post_head, send_and_hang_up, send_and_hold};
use super::tally::{NO_ANSWER, Tally};
use super::{Observed, Target};
use crate::events::push;

/// A body just under the default `max_body` (1 MiB).
const FLOOD_BODY: usize = 900 * 1024;
/// Signatures in each flooding header.
const FLOOD_ENTRIES: usize = 4000;
/// The body a slow sender announces, of which it sends one byte.
const SLOW_BODY: usize = 1_000_000;
/// Concurrent senders of requests to unknown sources.
const PROBERS: usize = 16;
/// The start of each unknown source name.
const PROBE: &str = "probe-";

/// Senders posting 900 KB bodies under a `Stripe-Signature` and a Standard Webhooks
/// `webhook-signature` of 4,000 wrong entries each, as fast as the router answers.
pub async fn signature_floods(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let body = push(0, FLOOD_BODY);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let senders = target.sizes.flood_senders.div_ceil(2);

    let wrong = format!("v1={}", "ab".repeat(32));
    let stripe_signature = format!("t={now},{}", vec![wrong; FLOOD_ENTRIES].join(","));
    let wrong = format!("v1,{}=", "q".repeat(43));
    let standard_signature = vec![wrong; FLOOD_ENTRIES].join(" ");
    let note = format!(
        "Stripe-Signature of {FLOOD_ENTRIES} entries ({} KB), webhook-signature of \
         {FLOOD_ENTRIES} ({} KB), 900 KB bodies; senders per header: {senders}",
        stripe_signature.len() / 1000,
        standard_signature.len() / 1000
    );

    let mut stripe = target.load("stripe", None, senders, until);
    stripe.headers.push(("stripe-signature", stripe_signature));
    let mut standard = target.load("webhooks", None, senders, until);
    standard.headers.extend([
        ("webhook-timestamp", now.to_string()),
        ("webhook-signature", standard_signature),
    ]);

    let stripe_body = body.clone();
    let (stripe, standard) = tokio::join!(
        stripe.run(move |_| (stripe_body.clone(), Vec::new())),
        standard.run(move |seq| (body.clone(), vec![("webhook-id", format!("msg_{seq}"))]))
    );
    let mut answers = Tally::of(&stripe);
    answers.merge(Tally::of(&standard));
    Ok(Observed {
        sent: answers.total(),
        answers,
        notes: vec![note],
    })
}

/// Connections that send their headers and one byte of a 1 MB body, then nothing, held to
/// the end of the phase.
pub async fn slow_senders(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let before = target.metrics().await?;
    let request: Bytes = format!("{}{{", post_head("/hooks/stripe", SLOW_BODY)).into();
    let mut senders = JoinSet::new();
    for _ in 0..target.sizes.slow_senders {
        let (base, request) = (target.ingest.clone(), request.clone());
        senders.spawn(async move { send_and_hold(&base, &request, until).await });
    }
    let answers: Tally = senders
        .join_all()
        .await
        .into_iter()
        .map(|outcome| outcome.unwrap_or_else(|_| "cannot connect".into()))
        .collect();
    let after = target.metrics().await?;
    let evicted = after.since(
        &before,
        "wasmhook_connections_evicted_total",
        &[("listener", "ingest")],
    );
    Ok(Observed {
        sent: answers.total(),
        answers,
        notes: vec![format!(
            "{evicted} connections closed to make room (wasmhook_connections_evicted_total)"
        )],
    })
}

/// Requests to source names that do not exist, each name new.
pub async fn unknown_sources(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let before = target.metrics().await?;
    let names = Arc::new(AtomicUsize::new(0));
    let count = target.sizes.unknown_sources;
    // Keyed at random for each run: names no earlier run has used.
    let random = std::hash::RandomState::new();
    let mut probers = JoinSet::new();
    for _ in 0..PROBERS {
        let (client, base, names) = (target.client.clone(), target.ingest.clone(), names.clone());
        let random = random.clone();
        probers.spawn(async move {
            let mut answers = Tally::default();
            loop {
                let n = names.fetch_add(1, Ordering::Relaxed);
                if n >= count || Instant::now() >= until {
                    break;
                }
                let name = format!("{PROBE}{:016x}", random.hash_one(n));
                let answer = client
                    .post(format!("{base}/hooks/{name}"))
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await;
                answers.add(answer.map_or(NO_ANSWER.into(), |a| a.status().as_str().to_owned()));
            }
            answers
        });
    }
    let mut answers = Tally::default();
    for prober in probers.join_all().await {
        answers.merge(prober);
    }
    tokio::time::sleep_until(until.into()).await;
    let after = target.metrics().await?;
    let counted = after.since(&before, "wasmhook_requests_unknown_source_total", &[]);
    Ok(Observed {
        sent: answers.total(),
        answers,
        notes: vec![format!(
            "/metrics {} → {} bytes, {} of the names in it; \
             wasmhook_requests_unknown_source_total +{counted}",
            before.bytes(),
            after.bytes(),
            after.mentions(PROBE)
        )],
    })
}

/// Senders that each post a whole event and close the connection without reading the answer.
pub async fn hang_ups(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let before = target.metrics().await?;
    let mut senders = JoinSet::new();
    for seq in 0..target.sizes.hang_ups {
        let base = target.ingest.clone();
        senders.spawn(async move {
            let body = push(seq as u64, 0);
            let mut request = post_head("/hooks/hangup", body.len()).into_bytes();
            request.extend_from_slice(&body);
            send_and_hang_up(&base, &request).await
        });
    }
    let answers: Tally = senders
        .join_all()
        .await
        .into_iter()
        .map(|sent| match sent {
            Ok(()) => "hung up".to_owned(),
            Err(_) => "cannot connect".to_owned(),
        })
        .collect();
    tokio::time::sleep_until(until.into()).await;
    let after = target.metrics().await?;
    let stored = after.since(
        &before,
        "wasmhook_events_received_total",
        &[("source", "hangup")],
    );
    let left = target.events_left_received("hangup").await?;
    Ok(Observed {
        sent: answers.total(),
        answers,
        notes: vec![format!(
            "{stored} events stored, {left} left `received` at the end of the phase, {} delivered",
            target.sinks.hangup.count()
        )],
    })
}
