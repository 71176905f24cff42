//! `[sources.NAME]`: where events come in (`POST /hooks/NAME`), how they are verified, how
//! redeliveries are recognized (`verify.rs`, `dedup.rs`), and what a stored event is answered.

use std::time::Duration;

use serde::Deserialize;
use toml::de::DeValue;

use super::dedup::{DedupConfig, read_dedup};
use super::diagnostic::Sink;
use super::json::to_json;
use super::table::{Table, Value, describe};
use super::verify::{Verify, read_verify};

/// `[sources.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub name: String,
    pub verify: Verify,
    /// How a provider's redelivery of an event already stored is recognized; `None` when
    /// `dedup = false`, and every request is a new event.
    pub dedup: Option<DedupConfig>,
    /// What a stored event is answered instead of `202 {"id"}`; `None` for that answer (or the
    /// scheme's own, such as Slack's empty `200` to a slash command).
    pub ack: Option<Acknowledgement>,
}

/// The answer to a request whose event is stored, where the sender expects something other
/// than `202 {"id"}`: Slack shows a slash command's answer to the user, and takes anything but a
/// quick `200` for a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// A 2xx status: the event is stored, and any other status has the provider send it again.
    pub status: u16,
    pub body: AckBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckBody {
    Empty,
    /// Sent as `text/plain`.
    Text(String),
    /// Sent as `application/json`.
    Json(serde_json::Value),
}

impl Acknowledgement {
    /// An empty `200`.
    #[must_use]
    pub fn empty() -> Acknowledgement {
        Acknowledgement {
            status: 200,
            body: AckBody::Empty,
        }
    }
}

const KEYS: &[&str] = &["verify", "dedup", "ack"];
const ACK_KEYS: &[&str] = &["status", "body"];

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
        let ack = match table.raw("ack") {
            None => Some(None),
            Some(ack) => read_ack(&format!("[sources.{name}.ack]"), ack, sink).map(Some),
        };
        Some(SourceConfig {
            name: name.to_owned(),
            verify: verify?,
            dedup: dedup?,
            ack: ack?,
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

/// A status of 200 to 299.
#[derive(Deserialize)]
#[serde(try_from = "i64")]
struct AckStatus(u16);

impl TryFrom<i64> for AckStatus {
    type Error = String;

    fn try_from(status: i64) -> Result<Self, Self::Error> {
        match u16::try_from(status) {
            Ok(status @ 200..=299) => Ok(AckStatus(status)),
            _ => Err(format!(
                "{status} is not a 2xx status; the event is stored, and any other status would \
                 have the provider send it again"
            )),
        }
    }
}

/// `ack = { status = 200, body = ... }`: the body a string (text) or a table or array (JSON).
fn read_ack(what: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<Acknowledgement> {
    let table = Table::new(what.to_owned(), value, ACK_KEYS, sink)?;
    let status = table.optional("status", AckStatus(200), sink).map(|s| s.0);
    let body = match table.raw("body") {
        None => Some(AckBody::Empty),
        Some(body) => match body.get_ref() {
            DeValue::String(text) => Some(AckBody::Text(text.to_string())),
            DeValue::Table(_) | DeValue::Array(_) => {
                to_json(body, &format!("`body` in {what}"), sink).map(AckBody::Json)
            }
            _ => {
                sink.error(
                    body.span(),
                    format!(
                        "`body` in {what} must be a string (sent as text) or a table (sent as \
                         JSON), not {}",
                        describe(body)
                    ),
                );
                None
            }
        },
    };
    if status == Some(204) && body.as_ref().is_some_and(|b| *b != AckBody::Empty) {
        let span = table
            .raw("body")
            .map_or_else(|| table.span.clone(), Value::span);
        sink.error(
            span,
            format!("{what} answers 204, which has no body; remove `body` or answer 200"),
        );
        return None;
    }
    Some(Acknowledgement {
        status: status?,
        body: body?,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn sources(text: &str) -> std::collections::BTreeMap<String, SourceConfig> {
        Config::parse(Path::new("routes.toml"), text, &|_: &str| None)
            .unwrap_or_else(|errors| panic!("{errors}"))
            .sources
    }

    #[test]
    fn reads_acknowledgements() {
        let sources = sources(
            r#"
            [sources.none]
            [sources.json]
            ack = { status = 200, body = { text = "On it", blocks = [] } }
            [sources.text]
            ack = { body = "thanks" }
            [sources.accepted]
            ack = { status = 202 }
            "#,
        );
        assert_eq!(sources["none"].ack, None);
        assert_eq!(
            sources["json"].ack,
            Some(Acknowledgement {
                status: 200,
                body: AckBody::Json(serde_json::json!({ "text": "On it", "blocks": [] })),
            })
        );
        assert_eq!(
            sources["text"].ack,
            Some(Acknowledgement {
                status: 200,
                body: AckBody::Text("thanks".into()),
            })
        );
        assert_eq!(
            sources["accepted"].ack,
            Some(Acknowledgement {
                status: 202,
                body: AckBody::Empty,
            })
        );
    }

    #[test]
    fn keys_are_remembered_for_the_longer_of_the_dedup_and_replay_windows() {
        let sources = sources(
            r#"
            [sources.github]
            verify = { scheme = "github", secret = "s" }
            [sources.paypal]
            dedup = false
            verify = { scheme = "paypal", webhook_id = "0FV983392A0531201" }
            [sources.mailgun]
            dedup = { window = "1m" }
            verify = { scheme = "mailgun", signing_key = "k", tolerance = "10m" }
            [sources.plain]
            dedup = false
            "#,
        );
        let remembered = |name: &str| sources[name].remembered_for();
        assert_eq!(remembered("github"), Duration::from_hours(24));
        assert_eq!(
            remembered("paypal"),
            Duration::from_hours(96) + Duration::from_secs(300)
        );
        assert_eq!(remembered("mailgun"), Duration::from_mins(20));
        assert_eq!(remembered("plain"), Duration::ZERO);
    }
}
