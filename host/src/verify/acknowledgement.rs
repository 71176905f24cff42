//! The answer to a request whose event is stored, where a provider expects something other than
//! `202 {"id"}`: a source's `ack` in routes.toml, or else its scheme's own.

use super::Verifier;
use super::incoming::{Handshake, Incoming};
use crate::config::{AckBody, Acknowledgement};

impl Verifier {
    /// The scheme's own acknowledgement of this stored request, if the provider expects one
    /// (Slack slash commands and interactive payloads: an empty `200`).
    pub fn acknowledgement(&self, req: &Incoming<'_>) -> Option<Acknowledgement> {
        match self {
            Verifier::Slack(scheme) => scheme.acknowledgement(req),
            _ => None,
        }
    }
}

impl From<&Acknowledgement> for Handshake {
    fn from(ack: &Acknowledgement) -> Handshake {
        let (content_type, body) = match &ack.body {
            AckBody::Empty => return Handshake::empty(ack.status),
            AckBody::Text(text) => ("text/plain; charset=utf-8", text.clone().into_bytes()),
            AckBody::Json(value) => (
                "application/json",
                serde_json::to_vec(value).expect("JSON serialises"),
            ),
        };
        Handshake {
            status: ack.status,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }
}
