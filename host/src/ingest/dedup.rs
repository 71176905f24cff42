//! Recognising a request stored before: a provider's redelivery, by the delivery id it carries
//! (the source's `dedup`), and a replay of a verified request, by its scheme's replay key
//! (whatever the source's `dedup`; see `verify/replay.rs`). Both are kept in the store's
//! delivery-id table, so that they are remembered across restarts.

use std::time::Duration;

use crate::config::{DedupConfig, DedupKey, SourceConfig};
use crate::store::Dedup;
use crate::verify::Verifier;
use crate::verify::{Incoming, header};

/// The keys to check this verified request against: its delivery id, if the source dedups and
/// the request carries one, and its replay key, if its scheme signs a timestamp.
pub fn keys(source: &SourceConfig, verifier: &Verifier, req: &Incoming<'_>) -> Vec<Dedup> {
    let delivery = source
        .dedup
        .as_ref()
        .and_then(|config| delivery_key(config, verifier, req));
    let replay = source.verify.replay_window().and_then(|window| {
        Some(Dedup {
            key: verifier.replay_key(req)?,
            window_ms: millis(window),
        })
    });
    delivery.into_iter().chain(replay).collect()
}

/// The delivery id to check this request against, if it carries one.
fn delivery_key(config: &DedupConfig, verifier: &Verifier, req: &Incoming<'_>) -> Option<Dedup> {
    let key = match &config.key {
        DedupKey::Scheme => verifier.delivery_id(req)?,
        DedupKey::Header(name) => header(req.headers, name)?.to_owned(),
        DedupKey::Json(pointer) => {
            let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
            match body.pointer(pointer)? {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            }
        }
    };
    (!key.is_empty()).then(|| Dedup {
        key,
        window_ms: millis(config.window),
    })
}

fn millis(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}
