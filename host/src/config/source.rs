//! `[sources.NAME]`: where events come in (`POST /hooks/NAME`), how they are verified, and how
//! redeliveries are recognized (`verify.rs`, `dedup.rs`).

use std::time::Duration;

use super::dedup::{DedupConfig, read_dedup};
use super::diagnostic::Sink;
use super::table::{Table, Value};
use super::verify::{Verify, read_verify};

/// `[sources.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub name: String,
    pub verify: Verify,
    /// How a provider's redelivery of an event already stored is recognized; `None` when
    /// `dedup = false`, and every request is a new event.
    pub dedup: Option<DedupConfig>,
}

const KEYS: &[&str] = &["verify", "dedup"];

impl SourceConfig {
    pub(super) fn read(name: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<SourceConfig> {
        let table = Table::new(format!("[sources.{name}]"), value, KEYS, sink)?;
        let verify = match table.raw("verify") {
            None => Some(Verify::None),
            Some(verify) => read_verify(&format!("[sources.{name}.verify]"), verify, sink),
        };
        let dedup = match table.raw("dedup") {
            None => Some(Some(DedupConfig::default())),
            Some(dedup) => read_dedup(name, dedup, sink),
        };
        Some(SourceConfig {
            name: name.to_owned(),
            verify: verify?,
            dedup: dedup?,
        })
    }

    /// How long the store must remember this source's delivery ids and replay keys: the
    /// longer of its `dedup` window and its scheme's replay window.
    #[must_use]
    pub fn remembered_for(&self) -> Duration {
        let dedup = self.dedup.as_ref().map(|dedup| dedup.window);
        dedup
            .into_iter()
            .chain(self.verify.replay_window())
            .max()
            .unwrap_or_default()
    }
}
