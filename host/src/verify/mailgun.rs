//! Mailgun: the JSON body carries its own signature,
//! `{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}`, where
//! `signature` is the lowercase hex HMAC-SHA256 of `timestamp + token` under the domain's
//! webhook signing key, and `timestamp` must be within the tolerance of now (Mailgun's
//! advice against replays).
//!
//! Mailgun signs only `timestamp + token`, not `event-data`: whoever has seen one signed
//! request could replay its signature object around other event data within the tolerance.
//! As Mailgun advises, a token is taken once: it is the replay key.

use std::time::Duration;

use serde::Deserialize;

use super::incoming::{Handshake, Incoming};
use super::{Rejection, hmac_sha256_matches};

pub struct Mailgun {
    signing_key: Vec<u8>,
    tolerance_secs: i64,
}

impl Mailgun {
    pub fn new(signing_key: &str, tolerance: Duration) -> Mailgun {
        Mailgun {
            signing_key: signing_key.as_bytes().to_vec(),
            tolerance_secs: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let signature = Signed::parse(req.body)?.signature.ok_or_else(|| {
            Rejection::unauthorized("the body has no signature object; is this a Mailgun webhook?")
        })?;
        let timestamp = text(&signature, "timestamp")?;
        let token = text(&signature, "token")?;
        // The clock first: a stale request costs no MAC.
        let sent_at: i64 = timestamp.parse().map_err(|_| {
            Rejection::unauthorized("signature.timestamp is not a Unix time in seconds")
        })?;
        if sent_at.abs_diff(req.now) > self.tolerance_secs.unsigned_abs() {
            return Err(Rejection::unauthorized(format!(
                "signature.timestamp is more than {} seconds from now; check the clock or resend",
                self.tolerance_secs
            )));
        }
        let mac = text(&signature, "signature")?;
        let mac = hex::decode(mac)
            .map_err(|_| Rejection::unauthorized("signature.signature is not hex"))?;
        let message: [&[u8]; 2] = [timestamp.as_bytes(), token.as_bytes()];
        if !hmac_sha256_matches(&self.signing_key, &message, &mac) {
            return Err(Rejection::unauthorized(
                "signature.signature does not match the timestamp, the token and the webhook signing key",
            ));
        }
        Ok(())
    }

    /// `signature.token`, signed and unique to one request: the only part of the body a
    /// replayer cannot change.
    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
        text(&Signed::parse(req.body).ok()?.signature?, "token").ok()
    }

    /// `event-data.event`, e.g. `delivered`, `failed`, `opened`.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        body.get("event-data")?
            .get("event")?
            .as_str()
            .map(str::to_owned)
    }

    /// `event-data.id`, else the signature's `token`.
    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        let id = body.get("event-data").and_then(|data| data.get("id"));
        let token = body.get("signature").and_then(|sig| sig.get("token"));
        id.or(token)?.as_str().map(str::to_owned)
    }

    /// Mailgun has no handshake.
    pub fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }
}

/// The body as far as verification reads it: only the `signature` object is built, so that a
/// large `event-data` is scanned once and never made into values.
#[derive(Deserialize)]
struct Signed {
    signature: Option<serde_json::Value>,
}

impl Signed {
    fn parse(body: &[u8]) -> Result<Signed, Rejection> {
        serde_json::from_slice(body).map_err(|_| Rejection {
            status: 400,
            message: "the body must be Mailgun's JSON webhook payload".into(),
        })
    }
}

/// A member of the signature object as text (Mailgun sends strings; a numeric timestamp is
/// taken in its decimal form).
fn text(signature: &serde_json::Value, name: &str) -> Result<String, Rejection> {
    match signature.get(name) {
        Some(serde_json::Value::String(value)) => Ok(value.clone()),
        Some(serde_json::Value::Number(value)) => Ok(value.to_string()),
        _ => Err(Rejection::unauthorized(format!(
            "the body's signature object has no {name}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{TestRequest, fixture, vectors};
    use super::*;

    const FIXTURES: &str = "mailgun";

    fn check(mailgun: &Mailgun, body: &[u8], now: i64) -> Result<(), Rejection> {
        let request = TestRequest::post("https://hooks.example.com/hooks/mailgun", body).now(now);
        mailgun.verify(&request.incoming())
    }

    /// A webhook body around a vector's signature triple (the mailgun-php vectors have none).
    fn body_for(vector: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "signature": {
                "timestamp": vector["timestamp"],
                "token": vector["token"],
                "signature": vector["signature"],
            },
            "event-data": {"event": "delivered", "id": "x"},
        }))
        .unwrap()
    }

    fn now_of(vector: &serde_json::Value) -> i64 {
        vector["timestamp"].as_str().unwrap().parse().unwrap()
    }

    #[test]
    fn every_vector_is_judged_as_the_fixture_says() {
        for vector in vectors(FIXTURES) {
            let mailgun = Mailgun::new(
                vector["signing_key"].as_str().unwrap(),
                Duration::from_secs(300),
            );
            let result = check(&mailgun, &body_for(&vector), now_of(&vector));
            assert_eq!(
                result.is_ok(),
                vector["valid"].as_bool().unwrap(),
                "{result:?}"
            );
        }
    }

    #[test]
    fn the_real_delivered_event_is_accepted_with_its_type_and_id() {
        let body = fixture(FIXTURES, "anymail.delivered.signed.json");
        let mailgun = Mailgun::new("TEST_WEBHOOK_SIGNING_KEY", Duration::from_secs(300));
        // The event is from 2018: the clock is set to its timestamp.
        assert_eq!(check(&mailgun, &body, 1_534_108_637 + 299), Ok(()));
        let request = TestRequest::post("", &body).now(0);
        let req = request.incoming();
        assert_eq!(mailgun.event_type(&req).as_deref(), Some("delivered"));
        assert_eq!(
            mailgun.delivery_id(&req).as_deref(),
            Some("hTWCTD81RtiDN-...")
        );
        assert!(mailgun.handshake(&req).is_none());
    }

    #[test]
    fn tampered_signature_fields_wrong_key_stale_timestamp_and_missing_signature_are_rejected() {
        let body = fixture(FIXTURES, "anymail.delivered.signed.json");
        let now = 1_534_108_637;
        let mailgun = Mailgun::new("TEST_WEBHOOK_SIGNING_KEY", Duration::from_secs(300));
        let wrong = Mailgun::new("OTHER_KEY", Duration::from_secs(300));
        assert_eq!(check(&wrong, &body, now).unwrap_err().status, 401);

        let stale = check(&mailgun, &body, now + 301).unwrap_err();
        assert!(stale.message.contains("300 seconds"), "{}", stale.message);
        assert!(check(&mailgun, &body, now - 301).is_err());

        let mut value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        value["signature"]["timestamp"] = json!("1534108638");
        let tampered = serde_json::to_vec(&value).unwrap();
        assert_eq!(check(&mailgun, &tampered, now).unwrap_err().status, 401);

        value["signature"]["timestamp"] = json!("1534108637");
        value["signature"]["token"] = json!("651869375b9df3c98fc15c4889b102119add1235c38fc92825");
        let tampered = serde_json::to_vec(&value).unwrap();
        assert_eq!(check(&mailgun, &tampered, now).unwrap_err().status, 401);

        let unsigned = serde_json::to_vec(&json!({"event-data": value["event-data"]})).unwrap();
        let err = check(&mailgun, &unsigned, now).unwrap_err();
        assert_eq!(err.status, 401);
        assert!(
            err.message.contains("no signature object"),
            "{}",
            err.message
        );

        let err = check(&mailgun, b"timestamp=1&token=2&signature=3", now).unwrap_err();
        assert_eq!(err.status, 400);
    }

    #[test]
    fn the_token_is_the_id_when_the_event_has_none() {
        let vector = &vectors(FIXTURES)[0];
        let body = serde_json::to_vec(&json!({"signature": {"token": vector["token"]}})).unwrap();
        let request = TestRequest::post("", &body).now(0);
        let req = request.incoming();
        let mailgun = Mailgun::new("k", Duration::from_secs(300));
        assert_eq!(
            mailgun.delivery_id(&req).as_deref(),
            vector["token"].as_str()
        );
        assert_eq!(mailgun.event_type(&req), None);
    }

    #[test]
    fn the_replay_key_is_the_signed_token_whatever_the_event_data() {
        let body = fixture(FIXTURES, "anymail.delivered.signed.json");
        let mut value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let token = value["signature"]["token"].as_str().unwrap().to_owned();
        let mailgun = Mailgun::new("k", Duration::from_secs(300));
        let key = |body: &[u8]| mailgun.replay_key(&TestRequest::post("", body).incoming());
        assert_eq!(key(&body), Some(token.clone()));
        value["event-data"] = json!({"event": "failed", "id": "other"});
        assert_eq!(key(&serde_json::to_vec(&value).unwrap()), Some(token));
        assert_eq!(key(b"{}"), None);
    }
}
