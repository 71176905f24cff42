//! SendGrid (Twilio) Event Webhook: `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER
//! ECDSA P-256 SHA-256 signature of `X-Twilio-Email-Event-Webhook-Timestamp` followed by the
//! raw body, checked with the public key from the SendGrid console (base64 DER
//! `SubjectPublicKeyInfo`). The SDKs stop there; here the timestamp must also be within the
//! source's tolerance of now, which bounds replays.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;

use super::certificates::{PublicKey, SignatureAlgorithm};
use super::incoming::Incoming;
use super::{Rejection, header, within_limit};

const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

pub struct Sendgrid {
    key: PublicKey,
    tolerance_secs: i64,
}

impl Sendgrid {
    /// `public_key` as the SendGrid console shows it (base64 DER; PEM armour is accepted too).
    pub fn new(public_key: &str, tolerance: Duration) -> Result<Sendgrid, String> {
        let base64: String = public_key
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .flat_map(|line| line.chars().filter(|c| !c.is_ascii_whitespace()))
            .collect();
        let der = BASE64
            .decode(base64)
            .map_err(|_| "the SendGrid verification key is not base64".to_owned())?;
        let key = PublicKey::from_spki_der(&der)
            .map_err(|err| format!("the SendGrid verification key is unusable: {err}"))?;
        if !matches!(key, PublicKey::EcP256(_)) {
            return Err("the SendGrid verification key is not an ECDSA P-256 key".into());
        }
        Ok(Sendgrid {
            key,
            tolerance_secs: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
        })
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let signature = within_limit(
            "X-Twilio-Email-Event-Webhook-Signature",
            required(req.headers, SIGNATURE)?,
        )?;
        let timestamp = required(req.headers, TIMESTAMP)?;
        let sent_at: i64 = timestamp.trim().parse().map_err(|_| {
            Rejection::unauthorized(
                "X-Twilio-Email-Event-Webhook-Timestamp is not a Unix time in seconds",
            )
        })?;
        if req.now.abs_diff(sent_at) > self.tolerance_secs.unsigned_abs() {
            return Err(Rejection::unauthorized(format!(
                "X-Twilio-Email-Event-Webhook-Timestamp is more than {} s from now; check the \
                 sender's clock or resend",
                self.tolerance_secs
            )));
        }
        let signature = BASE64.decode(signature.trim()).map_err(|_| {
            Rejection::unauthorized("X-Twilio-Email-Event-Webhook-Signature is not base64")
        })?;
        let mut message = Vec::with_capacity(timestamp.len() + req.body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(req.body);
        if self
            .key
            .verify(SignatureAlgorithm::EcdsaP256Sha256, &message, &signature)
        {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "X-Twilio-Email-Event-Webhook-Signature does not match the body, the timestamp \
                 and the source's verification key",
            ))
        }
    }
}

/// The SHA-256 of what is signed, the timestamp and the body. Not the signature: an ECDSA
/// signature can be rewritten into another valid one for the same message, so a replayer
/// could change it.
pub fn replay_key(req: &Incoming<'_>) -> Option<String> {
    use sha2::{Digest, Sha256};
    let timestamp = header(req.headers, TIMESTAMP)?;
    let digest = Sha256::new()
        .chain_update(timestamp.as_bytes())
        .chain_update(req.body)
        .finalize();
    Some(hex::encode(digest))
}

/// The first event's `event` (`processed`, `delivered`, `bounce`, …).
pub fn event_type(body: &[u8]) -> Option<String> {
    first_event_field(body, "event")
}

/// The first event's `sg_event_id`: the same on each redelivery of the batch.
pub fn delivery_id(body: &[u8]) -> Option<String> {
    first_event_field(body, "sg_event_id")
}

fn first_event_field(body: &[u8], name: &str) -> Option<String> {
    let events: Vec<serde_json::Value> = serde_json::from_slice(body).ok()?;
    events.first()?.get(name)?.as_str().map(str::to_owned)
}

fn required<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Rejection> {
    header(headers, name).ok_or_else(|| {
        let display = match name {
            SIGNATURE => "X-Twilio-Email-Event-Webhook-Signature",
            _ => "X-Twilio-Email-Event-Webhook-Timestamp",
        };
        Rejection::unauthorized(format!("missing {display} header"))
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::super::test_support::{self, TestRequest, fixture};
    use super::*;

    const FIXTURES: &str = "sendgrid";
    const TOLERANCE: Duration = Duration::from_secs(300);

    struct Vector {
        public_key: String,
        timestamp: String,
        signature: String,
        body: Vec<u8>,
        valid: bool,
    }

    fn vectors() -> Vec<Vector> {
        test_support::vectors(FIXTURES)
            .iter()
            .map(|vector| {
                let text = |key: &str| vector[key].as_str().unwrap().to_owned();
                let body = fixture(FIXTURES, &text("body_file"));
                if let Some(inline) = vector["body"].as_str() {
                    assert_eq!(body, inline.as_bytes(), "body file and inline body agree");
                }
                Vector {
                    public_key: text("public_key"),
                    timestamp: text("timestamp"),
                    signature: text("signature"),
                    body,
                    valid: vector["valid"].as_bool().unwrap(),
                }
            })
            .collect()
    }

    fn headers(signature: &str, timestamp: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE, HeaderValue::from_str(signature).unwrap());
        headers.insert(TIMESTAMP, HeaderValue::from_str(timestamp).unwrap());
        headers
    }

    fn check(key: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        let request = TestRequest::post("https://hooks.example.com/hooks/sendgrid", body)
            .headers(headers.clone())
            .now(now);
        Sendgrid::new(key, TOLERANCE)
            .unwrap()
            .verify(&request.incoming())
    }

    fn now_for(vector: &Vector) -> i64 {
        vector.timestamp.parse().unwrap()
    }

    #[test]
    fn every_fixture_vector_as_expected() {
        let vectors = vectors();
        assert_eq!(vectors.len(), 4);
        for (n, vector) in vectors.iter().enumerate() {
            let result = check(
                &vector.public_key,
                &headers(&vector.signature, &vector.timestamp),
                &vector.body,
                now_for(vector) + 60,
            );
            assert_eq!(result.is_ok(), vector.valid, "vector {n}: {result:?}");
            if let Err(err) = result {
                assert_eq!(err.status, 401);
                assert_eq!(
                    err.message,
                    "X-Twilio-Email-Event-Webhook-Signature does not match the body, the \
                     timestamp and the source's verification key"
                );
            }
        }
    }

    #[test]
    fn rejects_a_tampered_body_or_timestamp() {
        let vector = &vectors()[1];
        let now = now_for(vector);
        let mut body = vector.body.clone();
        let at = body.len() - 3;
        body[at] ^= 1;
        let headers_ok = headers(&vector.signature, &vector.timestamp);
        assert!(check(&vector.public_key, &headers_ok, &body, now).is_err());
        // Without the trailing CR LF.
        let trimmed = &vector.body[..vector.body.len() - 2];
        assert!(check(&vector.public_key, &headers_ok, trimmed, now).is_err());
        let next = (now + 1).to_string();
        assert!(
            check(
                &vector.public_key,
                &headers(&vector.signature, &next),
                &vector.body,
                now
            )
            .is_err()
        );
    }

    #[test]
    fn rejects_stale_and_future_timestamps() {
        let vector = &vectors()[0];
        let sent = now_for(vector);
        let headers = headers(&vector.signature, &vector.timestamp);
        for now in [sent - 300, sent, sent + 300] {
            check(&vector.public_key, &headers, &vector.body, now).unwrap();
        }
        for now in [sent - 301, sent + 301, 1_900_000_000] {
            let err = check(&vector.public_key, &headers, &vector.body, now).unwrap_err();
            assert_eq!(err.status, 401);
            assert_eq!(
                err.message,
                "X-Twilio-Email-Event-Webhook-Timestamp is more than 300 s from now; check the \
                 sender's clock or resend"
            );
        }
    }

    #[test]
    fn rejects_missing_or_malformed_headers() {
        let vector = &vectors()[0];
        let now = now_for(vector);
        let full = headers(&vector.signature, &vector.timestamp);
        for (name, display) in [
            (SIGNATURE, "X-Twilio-Email-Event-Webhook-Signature"),
            (TIMESTAMP, "X-Twilio-Email-Event-Webhook-Timestamp"),
        ] {
            let mut headers = full.clone();
            headers.remove(name);
            let err = check(&vector.public_key, &headers, &vector.body, now).unwrap_err();
            assert_eq!(err.status, 401);
            assert_eq!(err.message, format!("missing {display} header"));
        }
        let err = check(
            &vector.public_key,
            &headers("!!", &vector.timestamp),
            &vector.body,
            now,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "X-Twilio-Email-Event-Webhook-Signature is not base64"
        );
        let err = check(
            &vector.public_key,
            &headers(&vector.signature, "yesterday"),
            &vector.body,
            now,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "X-Twilio-Email-Event-Webhook-Timestamp is not a Unix time in seconds"
        );
        // Base64 of something that is not a DER signature.
        let err = check(
            &vector.public_key,
            &headers("AAAA", &vector.timestamp),
            &vector.body,
            now,
        )
        .unwrap_err();
        assert_eq!(err.status, 401);
    }

    #[test]
    fn keys_must_be_p256_spki() {
        let vector = &vectors()[0];
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
            &vector.public_key[..64],
            &vector.public_key[64..]
        );
        let from_pem = Sendgrid::new(&pem, TOLERANCE).unwrap();
        assert_eq!(
            from_pem.key,
            Sendgrid::new(&vector.public_key, TOLERANCE).unwrap().key
        );
        assert_eq!(
            Sendgrid::new("not base64!", TOLERANCE).err().unwrap(),
            "the SendGrid verification key is not base64"
        );
        assert!(
            Sendgrid::new("AAAA", TOLERANCE)
                .err()
                .unwrap()
                .contains("unusable")
        );
        // An RSA key (the SPKI of the SNS fixture certificate) is refused.
        let cert = fixture("aws-sns", "sns.amazonaws.com.2021-09-07.cert.pem");
        let (_, der) = x509_cert::der::pem::decode_vec(&cert).unwrap();
        let cert = <x509_cert::Certificate as x509_cert::der::Decode>::from_der(&der).unwrap();
        let spki = x509_cert::der::Encode::to_der(cert.tbs_certificate().subject_public_key_info())
            .unwrap();
        assert_eq!(
            Sendgrid::new(&BASE64.encode(spki), TOLERANCE)
                .err()
                .unwrap(),
            "the SendGrid verification key is not an ECDSA P-256 key"
        );
    }

    #[test]
    fn event_type_and_delivery_id_come_from_the_first_event() {
        let vector = &vectors()[1];
        assert_eq!(event_type(&vector.body).as_deref(), Some("processed"));
        assert_eq!(
            delivery_id(&vector.body).as_deref(),
            Some("cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA")
        );
        for (file, event) in [
            ("anymail.processed.batch.json", "processed"),
            ("anymail.delivered.batch.json", "delivered"),
            ("anymail.bounce.batch.json", "bounce"),
        ] {
            let body = fixture(FIXTURES, file);
            assert_eq!(event_type(&body).as_deref(), Some(event), "{file}");
            assert!(delivery_id(&body).is_some(), "{file}");
        }
        assert_eq!(event_type(b"[]"), None);
        assert_eq!(event_type(b"{}"), None);
    }

    #[test]
    fn the_replay_key_is_what_is_signed() {
        let vector = &vectors()[0];
        let request = TestRequest::post("", &vector.body)
            .headers(headers(&vector.signature, &vector.timestamp));
        let key = replay_key(&request.incoming()).unwrap();
        // Another signature of the same message is the same replay.
        let other = request.clone().header(SIGNATURE, "AAAA");
        assert_eq!(replay_key(&other.incoming()), Some(key.clone()));
        let later = request.header(TIMESTAMP, "1");
        assert_ne!(replay_key(&later.incoming()), Some(key));
    }
}
