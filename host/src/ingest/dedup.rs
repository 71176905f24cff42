//! Recognising a provider's redelivery: the delivery id a request carries.

use super::Verifier;
use super::verify::{Incoming, header};
use crate::config::{DedupConfig, DedupKey};
use crate::store::Dedup;

/// The key to check this request against, if the source dedups and the request carries one.
pub fn key(config: &DedupConfig, verifier: &Verifier, req: &Incoming<'_>) -> Option<Dedup> {
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
    let window_ms = i64::try_from(config.window.as_millis()).unwrap_or(i64::MAX);
    (!key.is_empty()).then_some(Dedup { key, window_ms })
}
