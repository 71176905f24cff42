//! The table of the `hostile` scenario: one row a phase, the baseline first, in Markdown so
//! that it can be pasted into docs/benchmarks.md as it is.

use std::collections::HashMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use super::tally::{NO_ANSWER, Tally};
use super::{HEALTHY_RATE, Observed};
use crate::load::Sent;
use crate::stats::{Percentiles, human};

/// One phase: the fault's doing, and what the router used meanwhile.
pub struct Phase {
    pub label: &'static str,
    pub window: Range<Instant>,
    pub router_cpu: Duration,
    pub load_generator_cpu: Duration,
    pub peak_rss_kib: u64,
    /// Whether the peak is the phase's own: where the kernel would not reset it, it is the
    /// process's since it started.
    pub own_peak: bool,
    pub observed: Observed,
}

/// The healthy route's events sent during one phase.
struct Healthy {
    sent: usize,
    accepted: usize,
    /// The answers that were not `202`.
    refused: Tally,
    /// From the request to its answer.
    answer: Percentiles,
    /// From the `202` to the subscriber's receipt.
    delivery: Percentiles,
}

impl Healthy {
    fn during(window: &Range<Instant>, sent: &Sent, arrivals: &HashMap<u64, Instant>) -> Healthy {
        let mut healthy = Healthy {
            sent: 0,
            accepted: 0,
            refused: Tally::default(),
            answer: Percentiles::new(Vec::new()),
            delivery: Percentiles::new(Vec::new()),
        };
        let (mut answers, mut deliveries) = (Vec::new(), Vec::new());
        for (seq, answer) in sent.answers.iter().enumerate() {
            let Some(answer) = answer.filter(|a| window.contains(&a.sent)) else {
                continue;
            };
            healthy.sent += 1;
            match answer.status {
                Some(202) => healthy.accepted += 1,
                Some(status) => healthy.refused.add(status.to_string()),
                None => healthy.refused.add(NO_ANSWER),
            }
            answers.push(answer.answered - answer.sent);
            if let Some(arrived) = arrivals.get(&(seq as u64)) {
                deliveries.push(arrived.saturating_duration_since(answer.answered));
            }
        }
        healthy.answer = Percentiles::new(answers);
        healthy.delivery = Percentiles::new(deliveries);
        healthy
    }

    /// Events accepted during the phase that never reached the subscriber.
    fn undelivered(&self) -> usize {
        self.accepted.saturating_sub(self.delivery.len())
    }
}

pub fn print(phases: &[Phase], healthy: &Sent, arrivals: &[(u64, Instant)], length: Duration) {
    let mut first_arrival: HashMap<u64, Instant> = HashMap::new();
    for &(seq, at) in arrivals {
        first_arrival
            .entry(seq)
            .and_modify(|first| *first = (*first).min(at))
            .or_insert(at);
    }
    println!(
        "\n== 7. hostile senders and faulty plugins: {} s phases, a healthy route at {HEALTHY_RATE} \
         events/s throughout",
        length.as_secs_f64()
    );
    println!(
        "| phase | sent | router CPU | peak RSS | load generator CPU | healthy 202 | answer p99 \
         | answer max | delivery p50 | delivery p99 | delivery max | router answered |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    for phase in phases {
        let healthy = Healthy::during(&phase.window, healthy, &first_arrival);
        let observed = &phase.observed;
        println!(
            "| {} | {} | {:.2} s | {} MiB{} | {:.2} s | {}/{} | {} | {} | {} | {} | {} | {} |",
            phase.label.trim(),
            if observed.sent == 0 {
                "-".into()
            } else {
                observed.sent.to_string()
            },
            phase.router_cpu.as_secs_f64(),
            phase.peak_rss_kib / 1024,
            if phase.own_peak { "" } else { " (since start)" },
            phase.load_generator_cpu.as_secs_f64(),
            healthy.accepted,
            healthy.sent,
            human(healthy.answer.at(0.99)),
            human(healthy.answer.at(1.0)),
            human(healthy.delivery.at(0.5)),
            human(healthy.delivery.at(0.99)),
            human(healthy.delivery.at(1.0)),
            observed.answers,
        );
        for note in &observed.notes {
            notes.push(format!("{}: {note}", phase.label.trim()));
        }
        if healthy.refused.total() > 0 {
            notes.push(format!(
                "{}: healthy requests not answered 202: {}",
                phase.label.trim(),
                healthy.refused
            ));
        }
        if healthy.undelivered() > 0 {
            notes.push(format!(
                "{}: {} healthy events accepted but not delivered",
                phase.label.trim(),
                healthy.undelivered()
            ));
        }
    }
    println!();
    for note in notes {
        println!("- {note}");
    }
}
