//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(app client secret, body)>`.
//! The topic (`orders/create`) names the event; `X-Shopify-Webhook-Id` is the same on every
//! retry of one delivery.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::incoming::{Handshake, Incoming};
use super::{Rejection, header, hmac_sha256_matches, signature_header};

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
        let encoded = signature_header(
            req.headers,
            "x-shopify-hmac-sha256",
            "X-Shopify-Hmac-Sha256",
        )?;
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
    use super::super::test_support::{TestRequest, fixture, json_headers, vectors};
    use super::*;

    const FIXTURES: &str = "shopify";
    const URL: &str = "https://hooks.example.com/hooks/shop";

    /// A `POST` of `body` with the vector's headers.
    fn with_headers_of(vector: &serde_json::Value, body: impl AsRef<[u8]>) -> TestRequest {
        TestRequest::post(URL, body).headers(json_headers(&vector["headers"]))
    }

    #[test]
    fn every_vector_is_judged_as_the_fixture_says() {
        for vector in vectors(FIXTURES) {
            let shopify = Shopify::new(vector["secret"].as_str().unwrap());
            let request = with_headers_of(&vector, vector["body"].as_str().unwrap());
            let result = shopify.verify(&request.incoming());
            assert_eq!(
                result.is_ok(),
                vector["valid"].as_bool().unwrap(),
                "{result:?}"
            );
        }
    }

    #[test]
    fn tampered_body_wrong_secret_and_missing_header_are_rejected() {
        let vector = &vectors(FIXTURES)[0];
        let secret = vector["secret"].as_str().unwrap();
        let body = vector["body"].as_str().unwrap().as_bytes();
        let signed = with_headers_of(vector, body);
        let tampered = signed.clone().body(body.to_ascii_uppercase());
        let err = Shopify::new(secret)
            .verify(&tampered.incoming())
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert!(
            Shopify::new("wrong_secret")
                .verify(&signed.incoming())
                .is_err()
        );
        let mut unsigned = signed;
        unsigned.headers.remove("x-shopify-hmac-sha256");
        let err = Shopify::new(secret)
            .verify(&unsigned.incoming())
            .unwrap_err();
        assert_eq!(err.message, "missing X-Shopify-Hmac-Sha256 header");
    }

    #[test]
    fn a_real_order_body_signed_with_the_secret_is_accepted() {
        use hmac::{Hmac, Mac};
        let body = fixture(FIXTURES, "shopify_python_api.order.json");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"test_secret_key").unwrap();
        mac.update(&body);
        let request = TestRequest::post(URL, &body).header(
            "x-shopify-hmac-sha256",
            &BASE64.encode(mac.finalize().into_bytes()),
        );
        let shopify = Shopify::new("test_secret_key");
        assert_eq!(shopify.verify(&request.incoming()), Ok(()));
    }

    #[test]
    fn type_and_id_come_from_the_headers() {
        let vector = &vectors(FIXTURES)[0];
        let mut request = with_headers_of(vector, b"{}");
        let shopify = Shopify::new("x");
        let req = request.incoming();
        assert_eq!(shopify.event_type(&req).as_deref(), Some("products/create"));
        assert_eq!(shopify.delivery_id(&req).as_deref(), Some("123456789"));
        assert!(shopify.handshake(&req).is_none());
        request.headers.remove("x-shopify-webhook-id");
        let request = request.header("x-shopify-event-id", "98765");
        assert_eq!(
            shopify.delivery_id(&request.incoming()).as_deref(),
            Some("98765")
        );
    }
}
