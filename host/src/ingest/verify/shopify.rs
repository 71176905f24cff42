//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(app client secret, body)>`.
//! The topic (`orders/create`) names the event; `X-Shopify-Webhook-Id` is the same on every
//! retry of one delivery.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::incoming::{Handshake, Incoming};
use super::{Rejection, header, hmac_sha256_matches};

pub struct Shopify {
    secret: Vec<u8>,
}

impl Shopify {
    pub fn new(secret: &str) -> Shopify {
        Shopify {
            secret: secret.as_bytes().to_vec(),
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let encoded = header(req.headers, "x-shopify-hmac-sha256")
            .ok_or_else(|| Rejection::unauthorized("missing X-Shopify-Hmac-Sha256 header"))?;
        let mac = BASE64
            .decode(encoded.trim())
            .map_err(|_| Rejection::unauthorized("X-Shopify-Hmac-Sha256 is not base64"))?;
        if hmac_sha256_matches(&self.secret, &[req.body], &mac) {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "X-Shopify-Hmac-Sha256 does not match the body and the app's client secret",
            ))
        }
    }

    /// `X-Shopify-Topic`, e.g. `orders/create`.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        header(req.headers, "x-shopify-topic").map(str::to_owned)
    }

    /// `X-Shopify-Webhook-Id` (one delivery, kept on retries), else `X-Shopify-Event-Id`.
    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        header(req.headers, "x-shopify-webhook-id")
            .or_else(|| header(req.headers, "x-shopify-event-id"))
            .map(str::to_owned)
    }

    /// Shopify has no handshake.
    pub fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use http::{HeaderMap, HeaderName, HeaderValue, Method};

    use super::*;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/shopify/"
    );

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).expect("fixture is readable")
    }

    fn vectors() -> Vec<serde_json::Value> {
        let all: serde_json::Value = serde_json::from_slice(&fixture("vectors.json")).unwrap();
        all["vectors"].as_array().unwrap().clone()
    }

    fn headers_of(vector: &serde_json::Value) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in vector["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        headers
    }

    fn incoming<'a>(
        headers: &'a HeaderMap,
        query: &'a BTreeMap<String, String>,
        body: &'a [u8],
    ) -> Incoming<'a> {
        Incoming {
            method: &Method::POST,
            headers,
            query,
            rest: "",
            url: "https://hooks.example.com/hooks/shop",
            body,
            now: 1_700_000_000,
        }
    }

    #[test]
    fn every_vector_is_judged_as_the_fixture_says() {
        let query = BTreeMap::new();
        for vector in vectors() {
            let shopify = Shopify::new(vector["secret"].as_str().unwrap());
            let headers = headers_of(&vector);
            let body = vector["body"].as_str().unwrap().as_bytes();
            let result = shopify.verify(&incoming(&headers, &query, body));
            assert_eq!(
                result.is_ok(),
                vector["valid"].as_bool().unwrap(),
                "{result:?}"
            );
        }
    }

    #[test]
    fn tampered_body_wrong_secret_and_missing_header_are_rejected() {
        let query = BTreeMap::new();
        let vector = &vectors()[0];
        let secret = vector["secret"].as_str().unwrap();
        let mut headers = headers_of(vector);
        let body = vector["body"].as_str().unwrap().as_bytes();
        let tampered = body.to_ascii_uppercase();
        let err = Shopify::new(secret)
            .verify(&incoming(&headers, &query, &tampered))
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert!(
            Shopify::new("wrong_secret")
                .verify(&incoming(&headers, &query, body))
                .is_err()
        );
        headers.remove("x-shopify-hmac-sha256");
        let err = Shopify::new(secret)
            .verify(&incoming(&headers, &query, body))
            .unwrap_err();
        assert_eq!(err.message, "missing X-Shopify-Hmac-Sha256 header");
    }

    #[test]
    fn a_real_order_body_signed_with_the_secret_is_accepted() {
        use hmac::{Hmac, Mac};
        let query = BTreeMap::new();
        let body = fixture("shopify_python_api.order.json");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"test_secret_key").unwrap();
        mac.update(&body);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-shopify-hmac-sha256",
            HeaderValue::from_str(&BASE64.encode(mac.finalize().into_bytes())).unwrap(),
        );
        let shopify = Shopify::new("test_secret_key");
        assert_eq!(shopify.verify(&incoming(&headers, &query, &body)), Ok(()));
    }

    #[test]
    fn type_and_id_come_from_the_headers() {
        let query = BTreeMap::new();
        let vector = &vectors()[0];
        let mut headers = headers_of(vector);
        let shopify = Shopify::new("x");
        let req = incoming(&headers, &query, b"{}");
        assert_eq!(shopify.event_type(&req).as_deref(), Some("products/create"));
        assert_eq!(shopify.delivery_id(&req).as_deref(), Some("123456789"));
        assert!(shopify.handshake(&req).is_none());
        headers.remove("x-shopify-webhook-id");
        headers.insert("x-shopify-event-id", HeaderValue::from_static("98765"));
        let req = incoming(&headers, &query, b"{}");
        assert_eq!(shopify.delivery_id(&req).as_deref(), Some("98765"));
    }
}
