//! Replays: a request captured on its way (a proxy log, a leaked HAR file) and sent again.
//!
//! A scheme that signs a timestamp refuses the request once that timestamp is older than its
//! tolerance, but until then a copy passes verification as well as the original. So each such
//! scheme names what its provider signed that is unique to one request, the **replay key**
//! (PayPal's transmission id, SNS's `MessageId`, Mailgun's token...), and ingest remembers it
//! in the store's delivery-id table for as long as the timestamp is accepted
//! (`Verify::replay_window`), whatever the source's `dedup`: a second request with the same
//! key is answered as a duplicate and stores nothing. The key must be signed, or a replayer
//! could change it; where the provider signs the body without an id, the key is the signature
//! itself, which a copy carries unchanged.
//!
//! Schemes without a signed timestamp have no replay key: a copy of their request passes for
//! as long as their secret is unchanged, and only `dedup` recognises it (docs/providers.md).

use super::Verifier;
use super::incoming::Incoming;

impl Verifier {
    /// The key a replay of this verified request would carry again, prefixed with what it is
    /// so that it cannot meet a delivery id of the same text; `None` for schemes that sign no
    /// timestamp, or a request without one.
    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
        let (kind, key) = match self {
            Verifier::Stripe(scheme) => ("stripe-signature", scheme.replay_key(req)?),
            Verifier::StandardWebhooks(scheme) => ("webhook-id", scheme.replay_key(req)?),
            Verifier::Slack(scheme) => ("x-slack-signature", scheme.replay_key(req)?),
            Verifier::Mailgun(scheme) => ("mailgun-token", scheme.replay_key(req)?),
            Verifier::Sendgrid(scheme) => ("sendgrid-signed", scheme.replay_key(req)?),
            Verifier::Paypal(scheme) => ("paypal-transmission-id", scheme.replay_key(req)?),
            Verifier::Sns(scheme) => ("sns-message-id", scheme.replay_key(req)?),
            _ => return None,
        };
        (!key.is_empty()).then(|| format!("replay {kind} {key}"))
    }
}
