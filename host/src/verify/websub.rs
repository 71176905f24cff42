//! WebSub (W3C Recommendation; Superfeedr and other hubs).
//!
//! Verification of intent (5.3): the hub `GET`s `?hub.mode=subscribe|unsubscribe&hub.topic=T
//! &hub.challenge=C[&hub.lease_seconds=N]`; for a configured topic the answer is 200 with `C`
//! exactly as the body, otherwise 404 ("the subscriber MUST respond with an HTTP error if it
//! does not agree"). A denial (`hub.mode=denied`, 5.2) is acknowledged with an empty 200.
//!
//! Content distribution (8): with a secret, `X-Hub-Signature: <method>=<hex HMAC(method,
//! secret, body)>` is required, method one of `sha1`, `sha256`, `sha384`, `sha512`; without
//! one, every POST is accepted.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};

use super::incoming::{Handshake, Incoming};
use super::{Rejection, signature_header};

pub struct Websub {
    secret: Option<Vec<u8>>,
    topics: Vec<String>,
}

impl Websub {
    pub fn new(secret: Option<String>, topics: Vec<String>) -> Websub {
        Websub {
            secret: secret.map(String::into_bytes),
            topics,
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let value = signature_header(req.headers, "x-hub-signature", "X-Hub-Signature")?;
        let (method, hex_mac) = value.trim().split_once('=').ok_or_else(|| {
            Rejection::unauthorized("X-Hub-Signature must be <method>=<hex signature>")
        })?;
        let mac = hex::decode(hex_mac)
            .map_err(|_| Rejection::unauthorized("X-Hub-Signature is not hex"))?;
        let matches = match method.to_ascii_lowercase().as_str() {
            "sha1" => mac_matches::<Hmac<Sha1>>(secret, req.body, &mac),
            "sha256" => mac_matches::<Hmac<Sha256>>(secret, req.body, &mac),
            "sha384" => mac_matches::<Hmac<Sha384>>(secret, req.body, &mac),
            "sha512" => mac_matches::<Hmac<Sha512>>(secret, req.body, &mac),
            _ => {
                return Err(Rejection::unauthorized(format!(
                    "X-Hub-Signature method {method:?} is not one of sha1, sha256, sha384, sha512"
                )));
            }
        };
        if matches {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "X-Hub-Signature does not match the body and the subscription's hub.secret",
            ))
        }
    }

    /// WebSub content has no event type of its own (the body is the topic's new content).
    pub fn event_type(&self, _req: &Incoming<'_>) -> Option<String> {
        None
    }

    /// WebSub deliveries have no id.
    pub fn delivery_id(&self, _req: &Incoming<'_>) -> Option<String> {
        None
    }

    /// The hub's `GET`s: verification of intent and denial.
    pub fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        if *req.method != http::Method::GET {
            return None;
        }
        let param = |name: &str| req.query.get(name).map(String::as_str);
        Some(match param("hub.mode") {
            Some("subscribe" | "unsubscribe") => {
                let topic = param("hub.topic").unwrap_or_default();
                match param("hub.challenge") {
                    None => Err(Rejection {
                        status: 400,
                        message: "a verification of intent needs hub.challenge".into(),
                    }),
                    Some(_) if !self.topics.iter().any(|known| known == topic) => Err(Rejection {
                        status: 404,
                        message: format!(
                            "this source does not subscribe to the topic {topic:?}; add it to the source's topics to agree"
                        ),
                    }),
                    Some(challenge) => Ok(Handshake::text(challenge)),
                }
            }
            Some("denied") => Ok(Handshake::empty(200)),
            _ => Err(Rejection {
                status: 400,
                message: "a GET to a WebSub source must be a hub's verification: hub.mode=subscribe, unsubscribe or denied".into(),
            }),
        })
    }
}

/// Constant-time check of an HMAC of `body`.
fn mac_matches<M: Mac + KeyInit>(key: &[u8], body: &[u8], expected: &[u8]) -> bool {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(body);
    mac.verify_slice(expected).is_ok()
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::test_support::{TestRequest, fixture_json};
    use super::*;

    const URL: &str = "https://hooks.example.com/hooks/feed";

    fn fixture() -> serde_json::Value {
        fixture_json("websub", "vectors.json")
    }

    const METHODS: [&str; 4] = ["sha1", "sha256", "sha384", "sha512"];

    fn check(websub: &Websub, signature: Option<&str>, body: &[u8]) -> Result<(), Rejection> {
        let mut request = TestRequest::post(URL, body);
        if let Some(signature) = signature {
            request = request.header("x-hub-signature", signature);
        }
        websub.verify(&request.incoming())
    }

    fn handshake(
        websub: &Websub,
        method: &Method,
        query: &str,
    ) -> Option<Result<Handshake, Rejection>> {
        let mut request = TestRequest::post(URL, b"").method(method.clone());
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            request = request.query(&name, &value);
        }
        websub.handshake(&request.incoming())
    }

    #[test]
    fn every_vector_is_accepted_for_every_method() {
        for vector in fixture()["vectors"].as_array().unwrap() {
            let websub = Websub::new(vector["hub_secret"].as_str().map(str::to_owned), vec![]);
            let body = vector["body"].as_str().unwrap().as_bytes();
            for method in METHODS {
                let signature = vector[format!("x_hub_signature_{method}")]
                    .as_str()
                    .unwrap();
                assert_eq!(check(&websub, Some(signature), body), Ok(()), "{method}");
            }
        }
    }

    #[test]
    fn tampered_body_wrong_secret_missing_header_and_unknown_method_are_rejected() {
        let vector = &fixture()["vectors"][0];
        let secret = vector["hub_secret"].as_str().unwrap();
        let websub = Websub::new(Some(secret.to_owned()), vec![]);
        let wrong = Websub::new(Some("It's a Secret to Nobody".to_owned()), vec![]);
        let body = vector["body"].as_str().unwrap().as_bytes();
        for method in METHODS {
            let signature = vector[format!("x_hub_signature_{method}")]
                .as_str()
                .unwrap();
            assert_eq!(
                check(&websub, Some(signature), b"Hello, World?")
                    .unwrap_err()
                    .status,
                401
            );
            assert!(check(&wrong, Some(signature), body).is_err());
            // A signature moved under another method's name does not match.
            let (_, hex_mac) = signature.split_once('=').unwrap();
            let other = if method == "sha256" {
                "sha512"
            } else {
                "sha256"
            };
            assert!(check(&websub, Some(&format!("{other}={hex_mac}")), body).is_err());
        }
        let missing = check(&websub, None, body).unwrap_err();
        assert_eq!(missing.message, "missing X-Hub-Signature header");
        let md5 = check(&websub, Some("md5=00"), body).unwrap_err();
        assert!(md5.message.contains("sha512"), "{}", md5.message);
    }

    #[test]
    fn without_a_secret_every_post_is_accepted() {
        let websub = Websub::new(None, vec![]);
        assert_eq!(check(&websub, None, b"anything"), Ok(()));
        assert_eq!(check(&websub, Some("sha1=00"), b"anything"), Ok(()));
    }

    #[test]
    fn verification_of_intent_is_answered_as_the_fixture_says() {
        let example = &fixture()["verification_of_intent_example"];
        let request = example["request"].as_str().unwrap();
        let query = request.split_once('?').unwrap().1;
        let websub = Websub::new(None, vec!["https://example.com/feed".to_owned()]);
        let answer = handshake(&websub, &Method::GET, query).unwrap().unwrap();
        let expected = &example["expected_response"];
        assert_eq!(
            u64::from(answer.status),
            expected["status"].as_u64().unwrap()
        );
        assert_eq!(answer.body, expected["body"].as_str().unwrap().as_bytes());
        assert_eq!(
            answer.headers,
            vec![("content-type".to_owned(), "text/plain".to_owned())]
        );

        let stranger = Websub::new(None, vec!["https://example.com/other".to_owned()]);
        let refused = handshake(&stranger, &Method::GET, query)
            .unwrap()
            .unwrap_err();
        let expected = example["unknown_topic_response"]["status"]
            .as_u64()
            .unwrap();
        assert_eq!(u64::from(refused.status), expected);
    }

    #[test]
    fn unsubscribe_denied_and_malformed_gets() {
        let websub = Websub::new(None, vec!["https://example.com/feed".to_owned()]);
        let topic = "hub.topic=https%3A%2F%2Fexample.com%2Ffeed";
        let answer = handshake(
            &websub,
            &Method::GET,
            &format!("hub.mode=unsubscribe&{topic}&hub.challenge=a+b%26c"),
        );
        assert_eq!(answer, Some(Ok(Handshake::text("a b&c"))));
        let denied = handshake(
            &websub,
            &Method::GET,
            &format!("hub.mode=denied&{topic}&hub.reason=x"),
        );
        assert_eq!(denied, Some(Ok(Handshake::empty(200))));
        let no_challenge = handshake(
            &websub,
            &Method::GET,
            &format!("hub.mode=subscribe&{topic}"),
        );
        assert_eq!(no_challenge.unwrap().unwrap_err().status, 400);
        let no_mode = handshake(&websub, &Method::GET, "");
        assert_eq!(no_mode.unwrap().unwrap_err().status, 400);
        assert_eq!(handshake(&websub, &Method::POST, topic), None);
        assert_eq!(handshake(&websub, &Method::HEAD, topic), None);
    }
}
