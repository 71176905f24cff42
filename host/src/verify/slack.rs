//! Slack request signing v0: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
//! "v0:<X-Slack-Request-Timestamp>:<body>")>`, with the timestamp within the tolerance of now
//! in either direction (as Slack's SDKs check it).
//!
//! Bodies are Events API JSON, or form-encoded slash commands and interactive payloads
//! (`payload=<JSON>`). The Events API `url_verification` request is answered with its
//! challenge once its signature checks out.

use std::time::Duration;

use url::form_urlencoded;

use super::incoming::{Handshake, Incoming};
use super::{Rejection, header, hmac_sha256_matches, signature_header};
use crate::config::Acknowledgement;

pub struct Slack {
    secret: Vec<u8>,
    tolerance_secs: i64,
}

impl Slack {
    pub fn new(secret: &str, tolerance: Duration) -> Slack {
        Slack {
            secret: secret.as_bytes().to_vec(),
            tolerance_secs: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let timestamp = header(req.headers, "x-slack-request-timestamp")
            .ok_or_else(|| Rejection::unauthorized("missing X-Slack-Request-Timestamp header"))?;
        let signature = signature_header(req.headers, "x-slack-signature", "X-Slack-Signature")?;
        let sent_at: i64 = timestamp.trim().parse().map_err(|_| {
            Rejection::unauthorized("X-Slack-Request-Timestamp is not a Unix time in seconds")
        })?;
        if sent_at.abs_diff(req.now) > self.tolerance_secs.unsigned_abs() {
            return Err(Rejection::unauthorized(format!(
                "X-Slack-Request-Timestamp is more than {} seconds from now; check the clock or resend",
                self.tolerance_secs
            )));
        }
        let mac = decoded_signature(signature)
            .ok_or_else(|| Rejection::unauthorized("X-Slack-Signature must be v0=<hex>"))?;
        let message: [&[u8]; 4] = [b"v0:", timestamp.as_bytes(), b":", req.body];
        if hmac_sha256_matches(&self.secret, &message, &mac) {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "X-Slack-Signature does not match the body and the app's signing secret",
            ))
        }
    }

    /// The signature, decoded (hex is read in either case, so the text is not the key): it
    /// covers the timestamp and the whole body, which slash commands and interactive payloads
    /// give no id of their own in, so a copy carries it again while a retry of Slack's is
    /// signed anew.
    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
        let signature = header(req.headers, "x-slack-signature")?;
        decoded_signature(signature).map(hex::encode)
    }

    /// Slash commands and interactive payloads (form bodies) are acknowledged with the empty
    /// `200` Slack expects: anything else would be posted back to the user, and a `202`
    /// shows them an error. Events API requests keep the usual answer.
    pub fn acknowledgement(&self, req: &Incoming<'_>) -> Option<Acknowledgement> {
        (!is_events_api(req.body)).then(Acknowledgement::empty)
    }

    /// Events API: the inner `event.type` of an `event_callback` (`reaction_added`), else the
    /// envelope's `type` (`url_verification`, `app_rate_limited`). Slash commands: the
    /// `command` (`/deploy`). Interactive payloads: the payload's `type` (`block_actions`,
    /// `view_submission`, `shortcut`...).
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        match parse(req.body)? {
            Body::Json(value) => {
                let outer = value.get("type")?.as_str()?;
                let inner = value.get("event").and_then(|event| event.get("type"));
                match (outer, inner.and_then(|t| t.as_str())) {
                    ("event_callback", Some(inner)) => Some(inner.to_owned()),
                    _ => Some(outer.to_owned()),
                }
            }
            Body::Form(fields) => {
                if let Some(payload) = field(&fields, "payload") {
                    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
                    value.get("type")?.as_str().map(str::to_owned)
                } else {
                    field(&fields, "command").map(str::to_owned)
                }
            }
        }
    }

    /// The Events API `event_id`, which Slack keeps when it retries (`X-Slack-Retry-Num`).
    /// Slash commands and interactive payloads have none.
    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        match parse(req.body)? {
            Body::Json(value) => value.get("event_id")?.as_str().map(str::to_owned),
            Body::Form(_) => None,
        }
    }

    /// After verification: `{"type": "url_verification", "challenge": X}` is answered with
    /// `{"challenge": X}`, and a slash command's `ssl_check=1` probe with an empty 200.
    pub fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        if *req.method != http::Method::POST {
            return None;
        }
        match parse(req.body)? {
            Body::Json(value) if value.get("type")?.as_str()? == "url_verification" => {
                let challenge = value.get("challenge").cloned().unwrap_or_default();
                Some(Ok(Handshake::json(
                    &serde_json::json!({ "challenge": challenge }),
                )))
            }
            Body::Form(fields) if field(&fields, "ssl_check") == Some("1") => {
                Some(Ok(Handshake::empty(200)))
            }
            _ => None,
        }
    }
}

/// The MAC of a `v0=<hex>` signature.
fn decoded_signature(signature: &str) -> Option<Vec<u8>> {
    hex::decode(signature.strip_prefix("v0=")?).ok()
}

enum Body {
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

/// Events API bodies are JSON objects; everything else Slack sends is form-encoded.
fn is_events_api(body: &[u8]) -> bool {
    body.trim_ascii_start().starts_with(b"{")
}

fn parse(body: &[u8]) -> Option<Body> {
    if is_events_api(body) {
        serde_json::from_slice(body).ok().map(Body::Json)
    } else {
        Some(Body::Form(
            form_urlencoded::parse(body).into_owned().collect(),
        ))
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};
    use http::{HeaderMap, HeaderValue, Method};

    use super::super::test_support::{TestRequest, fixture, vectors};
    use super::*;

    const FIXTURES: &str = "slack";

    fn headers(timestamp: Option<&str>, signature: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(timestamp) = timestamp {
            headers.insert(
                "x-slack-request-timestamp",
                HeaderValue::from_str(timestamp).unwrap(),
            );
        }
        if let Some(signature) = signature {
            headers.insert(
                "x-slack-signature",
                HeaderValue::from_str(signature).unwrap(),
            );
        }
        headers
    }

    /// A `POST` of `body` with `headers`, at `now`.
    fn post(headers: &HeaderMap, body: impl AsRef<[u8]>, now: i64) -> TestRequest {
        TestRequest::post("https://hooks.example.com/hooks/slack", body)
            .headers(headers.clone())
            .now(now)
    }

    fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{timestamp}:").as_bytes());
        mac.update(body);
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn every_vector_is_judged_as_the_fixture_says() {
        for vector in vectors(FIXTURES) {
            let body = fixture(FIXTURES, vector["body_file"].as_str().unwrap());
            assert_eq!(body, vector["body"].as_str().unwrap().as_bytes());
            let slack = Slack::new(
                vector["signing_secret"].as_str().unwrap(),
                Duration::from_secs(300),
            );
            let headers = headers(
                vector["x_slack_request_timestamp"].as_str(),
                vector["x_slack_signature"].as_str(),
            );
            let now = vector["now_for_test"].as_i64().unwrap();
            let result = slack.verify(&post(&headers, &body, now).incoming());
            assert_eq!(
                result.is_ok(),
                vector["valid"].as_bool().unwrap(),
                "{result:?}"
            );
        }
    }

    #[test]
    fn tampered_body_wrong_secret_stale_timestamp_and_missing_headers_are_rejected() {
        let vector = &vectors(FIXTURES)[0];
        let secret = vector["signing_secret"].as_str().unwrap();
        let timestamp = vector["x_slack_request_timestamp"].as_str().unwrap();
        let signature = vector["x_slack_signature"].as_str().unwrap();
        let now = vector["now_for_test"].as_i64().unwrap();
        let body = fixture(FIXTURES, "slash-command.signed.body");
        let slack = Slack::new(secret, Duration::from_secs(300));
        let good = headers(Some(timestamp), Some(signature));
        let check = |slack: &Slack, headers: &HeaderMap, body: &[u8], now: i64| {
            slack.verify(&post(headers, body, now).incoming())
        };

        assert_eq!(check(&slack, &good, &body, now + 300), Ok(()));
        assert_eq!(check(&slack, &good, &body, now - 300), Ok(()));
        let stale = check(&slack, &good, &body, now + 301).unwrap_err();
        assert!(stale.message.contains("300 seconds"), "{}", stale.message);
        assert!(check(&slack, &good, &body, now - 301).is_err());

        let mut tampered = body.clone();
        tampered.extend_from_slice(b"&x=1");
        assert!(check(&slack, &good, &tampered, now).is_err());
        let wrong = Slack::new("8f742231b10e8888abcd99yyyzzz85a6", Duration::from_secs(300));
        assert!(check(&wrong, &good, &body, now).is_err());

        let err = check(&slack, &headers(None, Some(signature)), &body, now).unwrap_err();
        assert_eq!(err.message, "missing X-Slack-Request-Timestamp header");
        let err = check(&slack, &headers(Some(timestamp), None), &body, now).unwrap_err();
        assert_eq!(err.message, "missing X-Slack-Signature header");
        // A signature over another timestamp does not carry over.
        let moved = headers(Some("1531420619"), Some(signature));
        assert_eq!(check(&slack, &moved, &body, now).unwrap_err().status, 401);
    }

    #[test]
    fn url_verification_is_answered_with_its_challenge_after_verification() {
        let body = fixture(FIXTURES, "events-api.url_verification.json");
        let slack = Slack::new("secret", Duration::from_secs(300));
        let headers = headers(
            Some("1700000000"),
            Some(&sign("secret", "1700000000", &body)),
        );
        let request = post(&headers, &body, 1_700_000_000);
        let req = request.incoming();
        assert_eq!(slack.verify(&req), Ok(()));
        let answer = slack.handshake(&req).unwrap().unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, br#"{"challenge":"valid_challenge_token"}"#);
        assert_eq!(
            answer.headers,
            vec![("content-type".to_owned(), "application/json".to_owned())]
        );
        assert_eq!(slack.event_type(&req).as_deref(), Some("url_verification"));
        // Unsigned, it never gets as far as the handshake.
        let unsigned = post(&HeaderMap::new(), &body, 1_700_000_000);
        assert!(slack.verify(&unsigned.incoming()).is_err());
    }

    #[test]
    fn events_commands_and_interactive_payloads_are_ordinary_events() {
        let headers = HeaderMap::new();
        let slack = Slack::new("secret", Duration::from_secs(300));
        let get = |body: &[u8]| {
            let request = post(&headers, body, 0);
            let req = request.incoming();
            (
                slack.event_type(&req),
                slack.delivery_id(&req),
                slack.handshake(&req).is_some(),
            )
        };

        let reaction = fixture(FIXTURES, "events-api.reaction_added.json");
        assert_eq!(get(&reaction), (Some("reaction_added".into()), None, false));
        let with_id =
            br#"{"type":"event_callback","event_id":"Ev0PV52K21","event":{"type":"app_mention"}}"#;
        assert_eq!(
            get(with_id),
            (Some("app_mention".into()), Some("Ev0PV52K21".into()), false)
        );

        let command = fixture(FIXTURES, "slash-command.signed.body");
        assert_eq!(
            get(&command),
            (Some("/webhook-collect".into()), None, false)
        );

        let interactive = format!(
            "payload={}",
            form_urlencoded::byte_serialize(br#"{"type":"block_actions","actions":[]}"#)
                .collect::<String>()
        );
        assert_eq!(
            get(interactive.as_bytes()),
            (Some("block_actions".into()), None, false)
        );

        let ssl_check = b"ssl_check=1&token=xyzz0WbapA4vBCDEFasx0q6G";
        let request = post(&headers, ssl_check, 0);
        assert_eq!(
            slack.handshake(&request.incoming()),
            Some(Ok(Handshake::empty(200)))
        );
    }

    #[test]
    fn other_methods_are_not_handshakes() {
        let headers = HeaderMap::new();
        let slack = Slack::new("secret", Duration::from_secs(300));
        let body = fixture(FIXTURES, "events-api.url_verification.json");
        let request = post(&headers, &body, 0).method(Method::GET);
        assert!(slack.handshake(&request.incoming()).is_none());
    }
}
