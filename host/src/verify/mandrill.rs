//! Mandrill (Mailchimp Transactional): `X-Mandrill-Signature: <base64 HMAC-SHA1(webhook key,
//! URL + each POST field sorted by name as name + value)>`, where URL is the webhook URL
//! exactly as entered in Mandrill (configured, or the URL the request came to).
//!
//! Mandrill checks a new webhook URL with a `HEAD`, answered 200. Should that fail, it POSTs
//! an empty batch (`mandrill_events=[]`) signed with the generic key `test-webhook` instead,
//! because the real key is only issued once the URL is accepted: that POST is accepted and
//! answered 200 without being stored, as is any other empty batch.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use url::form_urlencoded;

use super::incoming::{Handshake, Incoming};
use super::{Rejection, signature_header};

/// The key Mandrill signs its URL-check POST with, before the webhook has a key of its own.
const URL_CHECK_KEY: &[u8] = b"test-webhook";

pub struct Mandrill {
    key: Vec<u8>,
    url: Option<String>,
}

impl Mandrill {
    pub fn new(key: &str, url: Option<String>) -> Mandrill {
        Mandrill {
            key: key.as_bytes().to_vec(),
            url,
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let encoded =
            signature_header(req.headers, "x-mandrill-signature", "X-Mandrill-Signature")?;
        let mac = BASE64
            .decode(encoded.trim())
            .map_err(|_| Rejection::unauthorized("X-Mandrill-Signature is not base64"))?;
        let fields = fields(req.body);
        let url = self.url.as_deref().unwrap_or(req.url);
        if signature_matches(&self.key, url, &fields, &mac)
            || (is_empty_batch(&fields) && signature_matches(URL_CHECK_KEY, url, &fields, &mac))
        {
            Ok(())
        } else {
            Err(Rejection::unauthorized(format!(
                "X-Mandrill-Signature does not match the webhook key, the form fields and the URL {url}; the URL must be exactly the one entered in Mandrill"
            )))
        }
    }

    /// The first event's `event` (`send`, `open`, `hard_bounce`, `inbound`...), or `type` for
    /// sync events (`blacklist`, `whitelist`): a batch of up to 1000 events is one event here.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        let fields = fields(req.body);
        let events: serde_json::Value =
            serde_json::from_str(fields.get("mandrill_events")?).ok()?;
        let first = events.as_array()?.first()?;
        first
            .get("event")
            .or_else(|| first.get("type"))?
            .as_str()
            .map(str::to_owned)
    }

    /// Mandrill gives a batch no id.
    pub fn delivery_id(&self, _req: &Incoming<'_>) -> Option<String> {
        None
    }

    /// `HEAD` (Mandrill checking the URL exists) and, after verification, an empty batch are
    /// answered 200 with nothing stored.
    pub fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        if *req.method == http::Method::HEAD
            || (*req.method == http::Method::POST && is_empty_batch(&fields(req.body)))
        {
            Some(Ok(Handshake::empty(200)))
        } else {
            None
        }
    }
}

/// The form fields by name; a repeated name keeps its last value, as PHP and Django read it.
fn fields(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn is_empty_batch(fields: &BTreeMap<String, String>) -> bool {
    fields.len() == 1
        && fields.get("mandrill_events").is_some_and(|events| {
            serde_json::from_str::<Vec<serde_json::Value>>(events).is_ok_and(|e| e.is_empty())
        })
}

fn signature_matches(
    key: &[u8],
    url: &str,
    fields: &BTreeMap<String, String>,
    expected: &[u8],
) -> bool {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(url.as_bytes());
    for (name, value) in fields {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(expected).is_ok()
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::test_support::{TestRequest, fixture, vectors};
    use super::*;

    const FIXTURES: &str = "mandrill";

    /// A `POST` of `body` to `url`, with `X-Mandrill-Signature` when there is a signature.
    fn signed(url: &str, body: impl AsRef<[u8]>, signature: Option<&str>) -> TestRequest {
        let request = TestRequest::post(url, body);
        match signature {
            Some(signature) => request.header("x-mandrill-signature", signature),
            None => request,
        }
    }

    fn sign(key: &[u8], url: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(key).unwrap();
        mac.update(url.as_bytes());
        for (name, value) in fields(body) {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
        BASE64.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn every_vector_is_accepted_with_the_url_configured_or_as_received() {
        for vector in vectors(FIXTURES) {
            let key = vector["webhook_key"].as_str().unwrap();
            let url = vector["url"].as_str().unwrap();
            let body = fixture(FIXTURES, vector["body_file"].as_str().unwrap());
            let expected_fields: BTreeMap<String, String> =
                serde_json::from_value(vector["form_fields"].clone()).unwrap();
            assert_eq!(fields(&body), expected_fields);
            let request = signed(url, &body, vector["x_mandrill_signature"].as_str());

            let as_received = Mandrill::new(key, None);
            let req = request.incoming();
            assert_eq!(as_received.verify(&req), Ok(()));
            assert!(as_received.handshake(&req).is_none());
            assert_eq!(as_received.event_type(&req).as_deref(), Some("send"));
            assert_eq!(as_received.delivery_id(&req), None);

            // Behind a proxy the router sees another URL; the configured one is signed.
            let configured = Mandrill::new(key, Some(url.to_owned()));
            let proxied = request.clone().url("http://10.0.0.5/x");
            let req = proxied.incoming();
            assert_eq!(configured.verify(&req), Ok(()));
            assert!(as_received.verify(&req).is_err());
        }
    }

    #[test]
    fn tampered_body_wrong_key_other_url_and_missing_header_are_rejected() {
        let vector = &vectors(FIXTURES)[0];
        let key = vector["webhook_key"].as_str().unwrap();
        let url = vector["url"].as_str().unwrap();
        let body = fixture(FIXTURES, "send.form.body");
        let signature = vector["x_mandrill_signature"].as_str();
        let mandrill = Mandrill::new(key, None);

        let tampered = String::from_utf8(body.clone())
            .unwrap()
            .replace("send", "open");
        let request = signed(url, &tampered, signature);
        assert_eq!(
            mandrill.verify(&request.incoming()).unwrap_err().status,
            401
        );

        let request = signed(url, &body, signature);
        assert!(
            Mandrill::new("OTHER_KEY", None)
                .verify(&request.incoming())
                .is_err()
        );

        let request = signed(&format!("{url}/"), &body, signature);
        let err = mandrill.verify(&request.incoming()).unwrap_err();
        assert!(err.message.contains("exactly"), "{}", err.message);

        let unsigned = signed(url, &body, None);
        let err = mandrill.verify(&unsigned.incoming()).unwrap_err();
        assert_eq!(err.message, "missing X-Mandrill-Signature header");
    }

    #[test]
    fn fields_are_signed_sorted_by_name_whatever_their_order_in_the_body() {
        let url = "https://example.com/webhooks/mandrill";
        let body = b"mandrill_events=%5B%5D&a_field=1";
        let signature = sign(b"k", url, b"a_field=1&mandrill_events=%5B%5D");
        let request = signed(url, body, Some(&signature));
        assert_eq!(Mandrill::new("k", None).verify(&request.incoming()), Ok(()));
    }

    #[test]
    fn head_is_answered_200_empty() {
        let mandrill = Mandrill::new("k", None);
        let head = TestRequest::post("https://x/", b"").method(Method::HEAD);
        assert_eq!(
            mandrill.handshake(&head.incoming()),
            Some(Ok(Handshake::empty(200)))
        );
        let get = TestRequest::post("https://x/", b"").method(Method::GET);
        assert!(mandrill.handshake(&get.incoming()).is_none());
    }

    #[test]
    fn the_url_check_post_signed_with_the_generic_key_is_answered_not_stored() {
        let url = "https://example.com/webhooks/mandrill";
        let body = b"mandrill_events=%5B%5D";
        let request = signed(url, body, Some(&sign(URL_CHECK_KEY, url, body)));
        let mandrill = Mandrill::new("not-issued-yet", None);
        let req = request.incoming();
        assert_eq!(mandrill.verify(&req), Ok(()));
        assert_eq!(mandrill.handshake(&req), Some(Ok(Handshake::empty(200))));

        // The generic key signs nothing but an empty batch.
        let events = fixture(FIXTURES, "send.form.body");
        let request = signed(url, &events, Some(&sign(URL_CHECK_KEY, url, &events)));
        assert_eq!(
            mandrill.verify(&request.incoming()).unwrap_err().status,
            401
        );
    }

    #[test]
    fn the_type_is_the_first_events_and_sync_events_use_type() {
        let mandrill = Mandrill::new("k", None);
        for (file, expected) in [
            ("anymail.send.events.json", "send"),
            ("anymail.hard_bounce.events.json", "hard_bounce"),
            ("anymail.click.events.json", "click"),
        ] {
            let events = fixture(FIXTURES, file);
            let body: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("mandrill_events", std::str::from_utf8(&events).unwrap())
                .finish();
            let request = TestRequest::post("", body);
            assert_eq!(
                mandrill.event_type(&request.incoming()).as_deref(),
                Some(expected)
            );
        }
        let sync = br#"mandrill_events=[{"type":"blacklist","action":"add"}]"#;
        let request = TestRequest::post("", sync);
        assert_eq!(
            mandrill.event_type(&request.incoming()).as_deref(),
            Some("blacklist")
        );
    }
}
