//! The faults of plugins: events sent at a steady rate to routes through the `chaos` plugin
//! misbehaving, and a broken file written over a plugin of the running router.

use std::time::Instant;

use super::tally::Tally;
use super::{Observed, Target};
use crate::events::push;
use crate::load::Sent;
use crate::metrics::Metrics;

/// Events per second to the sleeping plugin: each holds one of the router's plugin slots for
/// its 100 ms `timeout`.
const SLEEPING_RATE: f64 = 20.0;
/// Events per second to the fan-out bomb, and to the plugin that multiplies a large body.
const BOMB_RATE: f64 = 5.0;
const CARRY_RATE: f64 = 2.0;
/// The body the carrying plugin's messages would each copy: just under the default
/// `max_body` (1 MiB).
const CARRIED_BODY: usize = 1_000_000;
/// Events per second through the plugin whose file is broken.
const FRAGILE_RATE: f64 = 10.0;
/// Concurrent connections of each of these senders.
const SENDERS: usize = 8;

/// The plugin errors by plugin and kind.
const ERRORS: &str = "wasmhook_plugin_errors_total";

/// Events through a plugin that sleeps 30 s in WASI under a 100 ms `timeout`.
pub async fn sleeping_plugin(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let faulty = Faulty::send(target, "sleepy", SLEEPING_RATE, 0, until).await?;
    let note = format!(
        "{SLEEPING_RATE} events/s; by the end of the phase {} calls cut at their deadline \
         (plugin errors `timeout`), {} messages delivered",
        faulty.errors("sleepy", "timeout"),
        target.sinks.sleepy.count()
    );
    Ok(faulty.observed(note))
}

/// Events to a transform returning 20,000 messages, where `max_messages` is 1,000.
pub async fn fan_out_bomb(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let faulty = Faulty::send(target, "bomb", BOMB_RATE, 0, until).await?;
    let note = format!(
        "{BOMB_RATE} events/s; by the end of the phase {} plugin errors `messages`, {} messages \
         delivered",
        faulty.errors("bomb", "messages"),
        target.sinks.bomb.count()
    );
    Ok(faulty.observed(note))
}

/// 1 MB events to a transform returning 1,000 messages that each carry the event's body (1 GB
/// of them), where `max_messages_size` is 16 MiB.
pub async fn carried_bodies(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let faulty = Faulty::send(target, "carry", CARRY_RATE, CARRIED_BODY, until).await?;
    let note = format!(
        "{CARRY_RATE} events/s of 1 MB; by the end of the phase {} plugin errors \
         `messages-size`, {} messages delivered",
        faulty.errors("carrier", "messages-size"),
        target.sinks.carry.count()
    );
    Ok(faulty.observed(note))
}

/// Events sent to a route through a misbehaving plugin, and the router's metrics around them.
struct Faulty {
    sent: Sent,
    before: Metrics,
    after: Metrics,
}

impl Faulty {
    /// Sends events of `size` bytes to `source` at `rate` until `until`.
    async fn send(
        target: &Target,
        source: &str,
        rate: f64,
        size: usize,
        until: Instant,
    ) -> anyhow::Result<Faulty> {
        let before = target.metrics().await?;
        let sent = target
            .load(source, Some(rate), SENDERS, until)
            .run(move |seq| (push(seq, size), Vec::new()))
            .await;
        tokio::time::sleep_until(until.into()).await;
        let after = target.metrics().await?;
        Ok(Faulty {
            sent,
            before,
            after,
        })
    }

    /// How many calls of `plugin` failed with `kind` meanwhile.
    fn errors(&self, plugin: &str, kind: &str) -> f64 {
        let labels = [("plugin", plugin), ("kind", kind)];
        self.after.since(&self.before, ERRORS, &labels)
    }

    fn observed(self, note: String) -> Observed {
        Observed {
            sent: self.sent.answers.len(),
            answers: Tally::of(&self.sent),
            notes: vec![note],
        }
    }
}

/// Broken bytes written over the file of a plugin in use, twice (two contents), while events
/// flow through it; the good file is put back at the end of the phase.
pub async fn broken_plugin(target: &Target, until: Instant) -> anyhow::Result<Observed> {
    let before = target.metrics().await?;
    let logged_before = target.log.count(RELOAD_FAILED);
    let start = Instant::now();
    let midway = start + until.saturating_duration_since(start) / 2;
    let fragile = &target.fragile;
    let events = target.load("fragile", Some(FRAGILE_RATE), SENDERS, until);
    let writes = async {
        std::fs::write(
            &fragile.path,
            b"\0asm\x01\0\0\0 a build that failed halfway",
        )?;
        tokio::time::sleep_until(midway.into()).await;
        std::fs::write(&fragile.path, b"\0asm\x01\0\0\0 another broken deploy")?;
        anyhow::Ok(())
    };
    let (sent, written) = tokio::join!(events.run(|seq| (push(seq, 0), Vec::new())), writes);
    written?;
    tokio::time::sleep_until(until.into()).await;
    let after = target.metrics().await?;
    let logged = target.log.count(RELOAD_FAILED) - logged_before;
    let counted = after.since(
        &before,
        "wasmhook_plugin_reload_failures_total",
        &[("plugin", "fragile")],
    );
    let delivered = target.sinks.fragile.count();
    fragile.restore()?;
    Ok(Observed {
        sent: sent.answers.len(),
        answers: Tally::of(&sent),
        notes: vec![format!(
            "2 broken files written; {logged} `{RELOAD_FAILED}` log lines, \
             wasmhook_plugin_reload_failures_total +{counted}; {delivered} of {} events sent \
             through the plugin ({FRAGILE_RATE}/s) delivered by the end of the phase",
            sent.accepted
        )],
    })
}

/// The start of the log line of a plugin file that did not load.
const RELOAD_FAILED: &str = "plugin reload failed";
