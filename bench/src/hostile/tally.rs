//! What the router answered an attack: how many of each status, or of each way a connection
//! ended without one.

use std::collections::BTreeMap;
use std::fmt;

use crate::load::Sent;

#[derive(Default)]
pub struct Tally(BTreeMap<String, usize>);

/// A request that got no HTTP answer: the connection broke or was closed first.
pub const NO_ANSWER: &str = "no answer";

impl Tally {
    pub fn add(&mut self, outcome: impl Into<String>) {
        *self.0.entry(outcome.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        for (outcome, n) in other.0 {
            *self.0.entry(outcome).or_default() += n;
        }
    }

    /// The answers to the requests of a load run.
    pub fn of(sent: &Sent) -> Tally {
        let mut tally = Tally::default();
        for answer in sent.answers.iter().flatten() {
            tally.add(answer.status.map_or(NO_ANSWER.into(), |s| s.to_string()));
        }
        tally
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

impl FromIterator<String> for Tally {
    fn from_iter<I: IntoIterator<Item = String>>(outcomes: I) -> Tally {
        let mut tally = Tally::default();
        for outcome in outcomes {
            tally.add(outcome);
        }
        tally
    }
}

/// `401 ×120, no answer ×3`, or `-`.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        let parts: Vec<String> = self.0.iter().map(|(o, n)| format!("{o} ×{n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_outcome() {
        let mut tally: Tally = ["401", "401", NO_ANSWER]
            .map(String::from)
            .into_iter()
            .collect();
        tally.merge(["202".to_owned()].into_iter().collect());
        assert_eq!(tally.to_string(), "202 ×1, 401 ×2, no answer ×1");
        assert_eq!(tally.total(), 4);
        assert_eq!(Tally::default().to_string(), "-");
    }
}
