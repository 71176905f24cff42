//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=...]`.
//! The key is the endpoint secret's UTF-8 bytes, `whsec_` prefix included (as Stripe's SDKs
//! use it); any `v1` entry may match any configured secret (secret rotation sends several),
//! `v0` and unknown schemes are ignored, and `t` must be at most the tolerance old.

use std::time::Duration;

use super::incoming::{Handshake, Incoming};
use super::{
    Rejection, check_recent, few_signatures, hmac_sha256_tags, matches_any, signature_header,
};

pub struct Stripe {
    secrets: Vec<Vec<u8>>,
    tolerance_secs: i64,
}

impl Stripe {
    pub fn new(secrets: &[String], tolerance: Duration) -> Stripe {
        Stripe {
            secrets: secrets
                .iter()
                .map(|secret| secret.as_bytes().to_vec())
                .collect(),
            tolerance_secs: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let header = Header::parse(req)?;
        let sent_at: i64 = header
            .timestamp
            .parse()
            .map_err(|_| Rejection::unauthorized("Stripe-Signature t= is not a Unix time"))?;
        // Stripe's SDKs refuse only an old timestamp. One far ahead is refused too: its replay
        // key is kept for `tolerance` and a few minutes only, not until it grows old.
        check_recent(
            "Stripe-Signature timestamp",
            sent_at,
            req.now,
            self.tolerance_secs,
        )?;
        let message: [&[u8]; 3] = [header.timestamp.as_bytes(), b".", req.body];
        let tags = hmac_sha256_tags(&self.secrets, &message);
        let matches = header
            .signatures
            .iter()
            .filter_map(|mac| hex::decode(mac).ok())
            .any(|mac| matches_any(&tags, &mac));
        if !matches {
            return Err(Rejection::unauthorized(
                "no Stripe-Signature v1 signature matches the body and the endpoint's signing secret",
            ));
        }
        Ok(())
    }

    /// `t` and the event's `id`, both signed: a copy of a verified request carries them again,
    /// while Stripe's own retry of an event is signed at a new `t`.
    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
        let header = Header::parse(req).ok()?;
        Some(format!(
            "{} {}",
            header.timestamp,
            body_field(req.body, "id")?
        ))
    }

    /// The event's `type`, e.g. `payment_intent.succeeded`.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        body_field(req.body, "type")
    }

    /// The event's `id` (`evt_...`), the same on every redelivery.
    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        body_field(req.body, "id")
    }

    /// Stripe has no handshake.
    pub fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }
}

/// A `Stripe-Signature` header: `t` and the `v1` signatures; other schemes (`v0`) are ignored.
struct Header<'a> {
    timestamp: &'a str,
    signatures: Vec<&'a str>,
}

impl<'a> Header<'a> {
    fn parse(req: &Incoming<'a>) -> Result<Header<'a>, Rejection> {
        let value = signature_header(req.headers, "stripe-signature", "Stripe-Signature")?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for item in value.split(',') {
            match item.trim().split_once('=') {
                Some(("t", t)) => timestamp = Some(t),
                Some(("v1", mac)) => signatures.push(mac),
                _ => {}
            }
        }
        few_signatures("Stripe-Signature", signatures.len())?;
        match (timestamp, signatures.is_empty()) {
            (Some(timestamp), false) => Ok(Header {
                timestamp,
                signatures,
            }),
            _ => Err(Rejection::unauthorized(
                "Stripe-Signature must carry t= and at least one v1= signature",
            )),
        }
    }
}

fn body_field(body: &[u8], name: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get(name)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestRequest, fixture, vectors};
    use super::*;

    const FIXTURES: &str = "stripe";

    /// A vector's secret, body bytes and header.
    fn vector(index: usize) -> (String, Vec<u8>, String, i64) {
        let v = &vectors(FIXTURES)[index];
        let body = match v["body_file"].as_str() {
            Some(file) => fixture(FIXTURES, file),
            None => v["body"].as_str().unwrap().as_bytes().to_vec(),
        };
        (
            v["secret"].as_str().unwrap().to_owned(),
            body,
            v["stripe_signature"].as_str().unwrap().to_owned(),
            v["timestamp"].as_i64().unwrap(),
        )
    }

    fn check(
        scheme: &Stripe,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), Rejection> {
        let mut request =
            TestRequest::post("https://hooks.example.com/hooks/stripe", body).now(now);
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        scheme.verify(&request.incoming())
    }

    fn scheme(secret: &str) -> Stripe {
        Stripe::new(&[secret.to_owned()], Duration::from_secs(300))
    }

    #[test]
    fn every_vector_is_accepted() {
        for index in 0..vectors(FIXTURES).len() {
            let (secret, body, signature, timestamp) = vector(index);
            assert_eq!(
                check(&scheme(&secret), Some(&signature), &body, timestamp),
                Ok(()),
                "vector {index}"
            );
        }
    }

    #[test]
    fn the_dotnet_vector_honours_its_tolerance_window() {
        let v = &vectors(FIXTURES)[0];
        let (secret, body, signature, _) = vector(0);
        let stripe = Stripe::new(
            &[secret],
            Duration::from_secs(v["tolerance"].as_u64().unwrap()),
        );
        let valid_now = v["valid_with_now"].as_i64().unwrap();
        let invalid_now = v["invalid_with_now"].as_i64().unwrap();
        assert_eq!(check(&stripe, Some(&signature), &body, valid_now), Ok(()));
        let stale = check(&stripe, Some(&signature), &body, invalid_now).unwrap_err();
        assert_eq!(stale.status, 401);
        assert!(stale.message.contains("5 minutes old"), "{}", stale.message);
    }

    #[test]
    fn a_timestamp_at_most_five_minutes_ahead_of_the_clock_is_accepted() {
        let (secret, body, signature, timestamp) = vector(1);
        assert!(check(&scheme(&secret), Some(&signature), &body, timestamp - 300).is_ok());
        let ahead = check(&scheme(&secret), Some(&signature), &body, timestamp - 301).unwrap_err();
        assert!(
            ahead.message.contains("ahead of wasmhook's clock"),
            "{}",
            ahead.message
        );
        assert!(check(&scheme(&secret), Some(&signature), &body, timestamp + 301).is_err());
        assert!(check(&scheme(&secret), Some(&signature), &body, timestamp + 300).is_ok());
    }

    #[test]
    fn tampered_body_wrong_secret_and_missing_header_are_rejected() {
        let (secret, mut body, signature, timestamp) = vector(0);
        assert!(check(&scheme("whsec_other"), Some(&signature), &body, timestamp).is_err());
        let missing = check(&scheme(&secret), None, &body, timestamp).unwrap_err();
        assert_eq!(missing.message, "missing Stripe-Signature header");
        body[10] ^= 1;
        let tampered = check(&scheme(&secret), Some(&signature), &body, timestamp).unwrap_err();
        assert_eq!(tampered.status, 401);
    }

    #[test]
    fn the_whsec_prefix_is_part_of_the_key() {
        let (secret, body, signature, timestamp) = vector(1);
        let stripped = secret.strip_prefix("whsec_").unwrap();
        assert!(check(&scheme(stripped), Some(&signature), &body, timestamp).is_err());
    }

    #[test]
    fn any_v1_may_match_any_secret_and_v0_alone_is_not_enough() {
        let (secret, body, signature, timestamp) = vector(0);
        let rotated = Stripe::new(
            &["whsec_new".to_owned(), secret.clone()],
            Duration::from_secs(300),
        );
        let (t, rest) = signature.split_once(',').unwrap();
        let with_decoy = format!("{t},v1={},{rest}", "00".repeat(32));
        assert_eq!(check(&rotated, Some(&with_decoy), &body, timestamp), Ok(()));
        let v0 = signature.split(',').find(|s| s.starts_with("v0=")).unwrap();
        let only_v0 = format!("{t},{v0}");
        let err = check(&scheme(&secret), Some(&only_v0), &body, timestamp).unwrap_err();
        assert!(err.message.contains("v1="), "{}", err.message);
    }

    #[test]
    fn an_oversized_header_or_too_many_signatures_are_refused_unread() {
        use super::super::{MAX_SIGNATURE_HEADER, MAX_SIGNATURES};
        let (secret, body, signature, timestamp) = vector(0);
        let (t, rest) = signature.split_once(',').unwrap();
        let decoys = |count: usize| vec![format!("v1={}", "00".repeat(32)); count].join(",");
        let up_to_the_limit = format!("{t},{},{rest}", decoys(MAX_SIGNATURES - 1));
        assert_eq!(
            check(&scheme(&secret), Some(&up_to_the_limit), &body, timestamp),
            Ok(())
        );
        let many = format!("{t},{},{rest}", decoys(MAX_SIGNATURES));
        let err = check(&scheme(&secret), Some(&many), &body, timestamp).unwrap_err();
        assert_eq!(
            err.message,
            "Stripe-Signature carries 9 signatures; at most 8 are read"
        );
        let long = format!("{signature},v0={}", "0".repeat(MAX_SIGNATURE_HEADER));
        let err = check(&scheme(&secret), Some(&long), &body, timestamp).unwrap_err();
        assert!(
            err.message.contains("longer than 4096 bytes"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_replay_carries_the_same_key_and_a_retry_another() {
        let (secret, body, signature, timestamp) = vector(0);
        let stripe = scheme(&secret);
        let key = |signature: &str| {
            let request = TestRequest::post("", &body)
                .header("stripe-signature", signature)
                .now(timestamp);
            stripe.replay_key(&request.incoming())
        };
        let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(key(&signature), Some(format!("{timestamp} {id}")));
        let (_, rest) = signature.split_once(',').unwrap();
        assert_ne!(
            key(&format!("t={},{rest}", timestamp + 60)),
            key(&signature)
        );
    }

    #[test]
    fn type_and_id_come_from_the_event() {
        let stripe = scheme("whsec_x");
        let body = fixture(
            FIXTURES,
            "dj-stripe.event_external_account_card_created.json",
        );
        let expected: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let request = TestRequest::post("", &body).now(0);
        let req = request.incoming();
        assert_eq!(
            stripe.event_type(&req).as_deref(),
            expected["type"].as_str()
        );
        assert_eq!(
            stripe.event_type(&req).as_deref(),
            Some("account.external_account.created")
        );
        assert_eq!(stripe.delivery_id(&req).as_deref(), expected["id"].as_str());
        assert!(stripe.handshake(&req).is_none());
    }
}
