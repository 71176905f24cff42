//! PayPal: `PAYPAL-TRANSMISSION-SIG` is base64 RSA PKCS#1 v1.5 SHA-256 (`PAYPAL-AUTH-ALGO:
//! SHA256withRSA`) over `<PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook id>|<CRC-32
//! of the body, unsigned decimal>`, with the key of the certificate at `PAYPAL-CERT-URL`.
//!
//! As PayPal's Java SDK (`Event.validateReceivedEvent`, `SSLUtil.validateCertificateChain`):
//! the certificate must be valid now and be PayPal's message-signing certificate (a subject CN
//! `messageverificationcerts….paypal.com`; the subjectAltName DNS names count too). Instead of
//! the SDK's chain check against a bundled DigiCert intermediate, the certificate is trusted for
//! where it comes from: fetched over HTTPS (web PKI) from PayPal's API hosts only, or pinned in
//! config.
//!
//! Unlike the SDK, the transmission time is bounded: at most the source's tolerance old (PayPal
//! retries for three days, so the default tolerance is four) and at most five minutes ahead,
//! checked before any certificate is looked at. What PayPal signs of the body is its CRC-32,
//! which anyone can match with another body, so the replay key is the signed transmission id:
//! one transmission is taken once, whatever body comes with it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;

use super::certificates::{Certificates, HostRule, SignatureAlgorithm};
use super::incoming::Incoming;
use super::{Rejection, check_recent_rfc3339, header, within_limit};

pub struct Paypal {
    webhook_id: String,
    tolerance_secs: i64,
}

impl Paypal {
    /// `webhook_id` is the id PayPal gave the webhook (developer dashboard or `POST
    /// /v1/notifications/webhooks`); it is part of what PayPal signs. `tolerance` is how old
    /// `PAYPAL-TRANSMISSION-TIME` may be.
    pub fn new(webhook_id: String, tolerance: Duration) -> Paypal {
        Paypal {
            webhook_id,
            tolerance_secs: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
        }
    }

    pub async fn verify(&self, req: &Incoming<'_>, certs: &Certificates) -> Result<(), Rejection> {
        let transmission_id = required(req.headers, "paypal-transmission-id")?;
        let transmission_time = required(req.headers, "paypal-transmission-time")?;
        let signature = within_limit(
            "PAYPAL-TRANSMISSION-SIG",
            required(req.headers, "paypal-transmission-sig")?,
        )?;
        let cert_url = required(req.headers, "paypal-cert-url")?;
        let algorithm = required(req.headers, "paypal-auth-algo")?;
        if !algorithm.eq_ignore_ascii_case("SHA256withRSA") {
            return Err(Rejection::unauthorized(format!(
                "PAYPAL-AUTH-ALGO {algorithm} is not supported; PayPal signs with SHA256withRSA"
            )));
        }
        check_recent_rfc3339(
            "PAYPAL-TRANSMISSION-TIME",
            transmission_time,
            req.now,
            self.tolerance_secs,
        )?;
        let signature = BASE64
            .decode(signature.trim())
            .map_err(|_| Rejection::unauthorized("PAYPAL-TRANSMISSION-SIG is not base64"))?;

        let certificate = certs.get(cert_url, HostRule::PAYPAL).await?;
        if !certificate
            .common_names
            .iter()
            .chain(&certificate.dns_names)
            .any(|name| is_message_verification_name(name))
        {
            return Err(Rejection::unauthorized(format!(
                "the certificate at PAYPAL-CERT-URL {cert_url} is not PayPal's message \
                 verification certificate (messageverificationcerts.paypal.com)"
            )));
        }
        certificate.check_valid_at(req.now)?;

        let message = format!(
            "{transmission_id}|{transmission_time}|{}|{}",
            self.webhook_id,
            crc32fast::hash(req.body)
        );
        if certificate.public_key.verify(
            SignatureAlgorithm::RsaPkcs1Sha256,
            message.as_bytes(),
            &signature,
        ) {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "PAYPAL-TRANSMISSION-SIG does not match the body, the transmission headers and \
                 the source's webhook_id",
            ))
        }
    }
}

/// The SDK's rule: `CN=messageverificationcerts…` ending in `.paypal.com` (live
/// `messageverificationcerts.paypal.com`, sandbox `messageverificationcerts.sandbox.paypal.com`).
fn is_message_verification_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("messageverificationcerts") && name.ends_with(".paypal.com")
}

/// `PAYPAL-TRANSMISSION-ID`, which is signed and names one transmission.
pub fn replay_key(req: &Incoming<'_>) -> Option<String> {
    header(req.headers, "paypal-transmission-id").map(str::to_owned)
}

/// The event type: the body's `event_type` (e.g. `PAYMENT.CAPTURE.COMPLETED`).
pub fn event_type(body: &[u8]) -> Option<String> {
    string_field(body, "event_type")
}

/// The event's id, `WH-…`: the same on each redelivery and on a dashboard "resend", where
/// PAYPAL-TRANSMISSION-ID names one transmission.
pub fn delivery_id(body: &[u8]) -> Option<String> {
    string_field(body, "id")
}

fn string_field(body: &[u8], name: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get(name)?.as_str().map(str::to_owned)
}

fn required<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Rejection> {
    header(headers, name).ok_or_else(|| {
        Rejection::unauthorized(format!("missing {} header", name.to_ascii_uppercase()))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use http::HeaderValue;

    use super::super::certificates::test_support::{TEST_NOW, pin_test_certificate, sign};
    use super::super::test_support::{
        self, TestRequest, fixture, fixture_path, header_map, json_headers,
    };
    use super::*;

    const FIXTURES: &str = "paypal";

    /// One vector of `paypal/vectors.json`.
    struct Vector {
        webhook_id: String,
        headers: HeaderMap,
        body: Vec<u8>,
        cert_url: String,
        cert_file: PathBuf,
    }

    fn vectors() -> Vec<Vector> {
        test_support::vectors(FIXTURES)
            .iter()
            .filter(|vector| vector["valid"] == true)
            .map(|vector| {
                let file = |key: &str| vector[key].as_str().unwrap();
                Vector {
                    webhook_id: vector["webhook_id"].as_str().unwrap().to_owned(),
                    cert_url: vector["headers"]["PAYPAL-CERT-URL"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    headers: json_headers(&vector["headers"]),
                    body: fixture(FIXTURES, file("body_file")),
                    cert_file: fixture_path(FIXTURES, file("certificate_file")),
                }
            })
            .collect()
    }

    /// Pins every vector's certificate for its URL.
    fn pinned_certs() -> Certificates {
        let pinned = vectors()
            .into_iter()
            .map(|vector| (vector.cert_url, vector.cert_file))
            .collect();
        Certificates::new(pinned, reqwest::Client::new())
    }

    /// The default tolerance of a PayPal source.
    const TOLERANCE: Duration = Duration::from_secs(4 * 24 * 3600);

    /// When vector 0 was sent, inside its certificate's validity: 2019-08-29T10:49:33Z.
    const FIXTURE_NOW: i64 = 1_567_075_773;

    async fn check(
        webhook_id: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
        certs: &Certificates,
    ) -> Result<(), Rejection> {
        let request = TestRequest::post("https://hooks.example.com/hooks/paypal", body)
            .headers(headers.clone())
            .now(now);
        Paypal::new(webhook_id.to_owned(), TOLERANCE)
            .verify(&request.incoming(), certs)
            .await
    }

    /// When `vector` was sent.
    fn transmitted(vector: &Vector) -> i64 {
        humantime::parse_rfc3339(vector.headers["paypal-transmission-time"].to_str().unwrap())
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    /// [`check`] of `vector`'s webhook id and body with `headers`, when it was sent.
    async fn check_vector(
        vector: &Vector,
        headers: &HeaderMap,
        certs: &Certificates,
    ) -> Result<(), Rejection> {
        check(
            &vector.webhook_id,
            headers,
            &vector.body,
            transmitted(vector),
            certs,
        )
        .await
    }

    #[tokio::test]
    async fn accepts_every_fixture_vector() {
        let certs = pinned_certs();
        let vectors = vectors();
        assert_eq!(vectors.len(), 2);
        for vector in &vectors {
            check_vector(vector, &vector.headers, &certs)
                .await
                .unwrap_or_else(|err| panic!("{}: {err:?}", vector.webhook_id));
        }
    }

    #[tokio::test]
    async fn bounds_the_transmission_time_before_fetching_anything() {
        // Nothing pinned: a fetch would be refused with another message.
        let certs = Certificates::new(BTreeMap::new(), reqwest::Client::new());
        let vector = &vectors()[0];
        let sent = transmitted(vector);
        let at = |now: i64| {
            check(
                &vector.webhook_id,
                &vector.headers,
                &vector.body,
                now,
                &certs,
            )
        };
        let stale = at(sent + 4 * 24 * 3600 + 1).await.unwrap_err();
        assert_eq!(
            stale.message,
            "PAYPAL-TRANSMISSION-TIME is more than 4 days old; a captured request is not \
             accepted later"
        );
        let ahead = at(sent - 301).await.unwrap_err();
        assert_eq!(
            ahead.message,
            "PAYPAL-TRANSMISSION-TIME is more than 300 seconds ahead of wasmhook's clock; \
             check the clocks"
        );
        let mut headers = vector.headers.clone();
        headers.insert(
            "paypal-transmission-time",
            HeaderValue::from_static("yesterday"),
        );
        let err = check_vector(vector, &headers, &certs).await.unwrap_err();
        assert_eq!(
            err.message,
            "PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time"
        );
    }

    #[tokio::test]
    async fn rejects_the_wrong_webhook_id() {
        // The vectors' negative case: ValidateCertTest.testInvalidWebhookId.
        let vector = &vectors()[0];
        let err = check(
            "NotToBeFound",
            &vector.headers,
            &vector.body,
            FIXTURE_NOW,
            &pinned_certs(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(
            err.message,
            "PAYPAL-TRANSMISSION-SIG does not match the body, the transmission headers and the \
             source's webhook_id"
        );
    }

    #[tokio::test]
    async fn rejects_a_tampered_body_or_header() {
        let certs = pinned_certs();
        let vector = &vectors()[0];
        let mut body = vector.body.clone();
        body[10] ^= 1;
        assert!(
            check(
                &vector.webhook_id,
                &vector.headers,
                &body,
                FIXTURE_NOW,
                &certs
            )
            .await
            .is_err()
        );

        let mut headers = vector.headers.clone();
        let later = vector.headers["paypal-transmission-time"]
            .to_str()
            .unwrap()
            .replace("33Z", "34Z");
        headers.insert(
            "paypal-transmission-time",
            HeaderValue::from_str(&later).unwrap(),
        );
        assert!(check_vector(vector, &headers, &certs).await.is_err());

        // Another vector's signature.
        let mut headers = vector.headers.clone();
        headers.insert(
            "paypal-transmission-sig",
            vectors()[1].headers["paypal-transmission-sig"].clone(),
        );
        assert!(check_vector(vector, &headers, &certs).await.is_err());

        let mut headers = vector.headers.clone();
        headers.insert(
            "paypal-transmission-sig",
            HeaderValue::from_static("not base64!"),
        );
        let err = check_vector(vector, &headers, &certs).await.unwrap_err();
        assert_eq!(err.message, "PAYPAL-TRANSMISSION-SIG is not base64");
    }

    #[tokio::test]
    async fn rejects_missing_headers_and_other_algorithms() {
        let certs = pinned_certs();
        let vector = &vectors()[0];
        for name in [
            "paypal-transmission-id",
            "paypal-transmission-time",
            "paypal-transmission-sig",
            "paypal-cert-url",
            "paypal-auth-algo",
        ] {
            let mut headers = vector.headers.clone();
            headers.remove(name);
            let err = check_vector(vector, &headers, &certs).await.unwrap_err();
            assert_eq!(err.status, 401);
            assert_eq!(
                err.message,
                format!("missing {} header", name.to_ascii_uppercase())
            );
        }
        let mut headers = vector.headers.clone();
        headers.insert("paypal-auth-algo", HeaderValue::from_static("SHA1withRSA"));
        let err = check_vector(vector, &headers, &certs).await.unwrap_err();
        assert_eq!(
            err.message,
            "PAYPAL-AUTH-ALGO SHA1withRSA is not supported; PayPal signs with SHA256withRSA"
        );
    }

    #[tokio::test]
    async fn rejects_a_certificate_outside_its_validity() {
        let certs = pinned_certs();
        let vector = &vectors()[0];
        // The 2019 certificate expired 2021-05-24T12:00:00Z, under two years after vector 0.
        let request = TestRequest::post("", &vector.body)
            .headers(vector.headers.clone())
            .now(1_621_857_601);
        let err = Paypal::new(
            vector.webhook_id.clone(),
            Duration::from_secs(2 * 365 * 86_400),
        )
        .verify(&request.incoming(), &certs)
        .await
        .unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(
            err.message,
            "the signing certificate expired at 2021-05-24T12:00:00Z"
        );
        // Before the certificate's validity, a vector's transmission time is ahead of the
        // clock: `Certificate::check_valid_at` is tested on its own for that side.
    }

    #[tokio::test]
    async fn rejects_cert_urls_off_paypal_hosts() {
        // Nothing pinned: the URL must be on PayPal's hosts, and is refused before any fetch.
        let certs = Certificates::new(BTreeMap::new(), reqwest::Client::new());
        let vector = &vectors()[0];
        for url in [
            "https://evil.example/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
            "http://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
            "https://api.sandbox.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        ] {
            let mut headers = vector.headers.clone();
            headers.insert("paypal-cert-url", HeaderValue::from_str(url).unwrap());
            let err = check_vector(vector, &headers, &certs).await.unwrap_err();
            assert_eq!(err.status, 401);
            assert!(
                err.message.contains("refusing to fetch it"),
                "{}",
                err.message
            );
        }
    }

    #[tokio::test]
    async fn rejects_a_certificate_that_is_not_paypals_even_if_it_signed() {
        // A forger's certificate: a good signature by its own key, but not PayPal's name.
        let dir = tempfile::tempdir().unwrap();
        let url = "https://api.paypal.com/v1/notifications/certs/CERT-forged";
        let certs = Certificates::new(pin_test_certificate(&dir, url), reqwest::Client::new());
        let body = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#;
        let message = format!("tid|2030-01-01T00:00:00Z|WH-ID|{}", crc32fast::hash(body));
        let headers = header_map([
            ("paypal-transmission-id", "tid"),
            ("paypal-transmission-time", "2030-01-01T00:00:00Z"),
            ("paypal-auth-algo", "SHA256withRSA"),
            ("paypal-cert-url", url),
            (
                "paypal-transmission-sig",
                &BASE64.encode(sign(message.as_bytes())),
            ),
        ]);
        // The signature itself is good: only the certificate's name gives the forger away.
        let forged = certs.get(url, HostRule::PAYPAL).await.unwrap();
        assert!(forged.public_key.verify(
            SignatureAlgorithm::RsaPkcs1Sha256,
            message.as_bytes(),
            &sign(message.as_bytes())
        ));
        let err = check("WH-ID", &headers, body, TEST_NOW, &certs)
            .await
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(
            err.message,
            "the certificate at PAYPAL-CERT-URL https://api.paypal.com/v1/notifications/certs/\
             CERT-forged is not PayPal's message verification certificate \
             (messageverificationcerts.paypal.com)"
        );
    }

    #[test]
    fn message_verification_names() {
        assert!(is_message_verification_name(
            "messageverificationcerts.paypal.com"
        ));
        assert!(is_message_verification_name(
            "messageverificationcerts.sandbox.paypal.com"
        ));
        assert!(!is_message_verification_name(
            "messageverificationcerts.paypal.com.evil.example"
        ));
        assert!(!is_message_verification_name("evil.paypal.com"));
        assert!(!is_message_verification_name("sns.amazonaws.com"));
    }

    #[test]
    fn event_type_and_delivery_id_come_from_the_body() {
        let vector = &vectors()[0];
        assert_eq!(
            event_type(&vector.body).as_deref(),
            Some("PAYMENTS.PAYMENT.CREATED")
        );
        // The event id (`WH-…`), not the transmission id.
        let body: serde_json::Value = serde_json::from_slice(&vector.body).unwrap();
        let id = delivery_id(&vector.body).unwrap();
        assert!(id.starts_with("WH-"), "{id}");
        assert_eq!(body["id"], id.as_str());
        assert_eq!(event_type(b"not json"), None);
        assert_eq!(delivery_id(br#"{"id": 5}"#), None);
    }
}
