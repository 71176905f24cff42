//! OpenStack: Aodh alarm notifications (the REST notifier's JSON with `alarm_id`,
//! `previous`, `current`, `reason`, `reason_data`...) and Zaqar queue webhook notifications
//! (one JSON message per POST, `Message_Type: "Notification"`).
//!
//! Neither signs its requests. With a secret configured, the request must carry it as the
//! query parameter `secret` (put it in the alarm action or subscriber URL) or as the header
//! `x-openstack-secret` (a Zaqar subscription's `post_headers` option), compared in constant
//! time; without one, every POST is accepted.
//!
//! Zaqar with `require_confirmation` first POSTs a `SubscriptionConfirmation` message: the
//! subscriber confirms by `PUT`ting `{"confirmed": true}` to its `WSGISubscribeURL` with the
//! signed-URL headers it carries (see [`zaqar_confirmation`]). wasmhook makes that call only
//! for a source with a secret: the URL comes from the request, and an unauthenticated request
//! must not make the router call anywhere. That message, and the `UnsubscribeConfirmation`
//! notice, are answered 200 and never stored.

use subtle::ConstantTimeEq;

use super::incoming::{Handshake, Incoming};
use super::{Rejection, header};

pub struct Openstack {
    secret: Option<Vec<u8>>,
}

impl Openstack {
    pub fn new(secret: Option<String>) -> Openstack {
        Openstack {
            secret: secret.map(String::into_bytes),
        }
    }

    /// Whether requests must carry the source's secret, which makes a confirmation request
    /// trustworthy enough to act on.
    pub fn authenticates(&self) -> bool {
        self.secret.is_some()
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let in_query = req.query.get("secret").map(String::as_str);
        let in_header = header(req.headers, "x-openstack-secret");
        if in_query.is_none() && in_header.is_none() {
            return Err(Rejection::unauthorized(
                "missing the source's secret: add ?secret=<secret> to the alarm action or subscriber URL, or send an x-openstack-secret header",
            ));
        }
        let matches = secret.ct_eq(in_query.unwrap_or_default().as_bytes())
            | secret.ct_eq(in_header.unwrap_or_default().as_bytes());
        if bool::from(matches) && !secret.is_empty() {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "the secret query parameter or x-openstack-secret header is not the source's secret",
            ))
        }
    }

    /// Aodh: `alarm.<current state>` in lower case with `_` for spaces (`alarm.alarm`,
    /// `alarm.ok`, `alarm.insufficient_data`), the transition a route most often selects on;
    /// `previous`, `severity` and `reason_data.type` stay in the body. Zaqar: the message
    /// body's `event` when it is a string (the convention of Zaqar's own examples, such as
    /// `BackupStarted`), else `zaqar.notification`.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        if body.get("alarm_id").is_some() {
            let current = body.get("current")?.as_str()?;
            return Some(format!(
                "alarm.{}",
                current.trim().to_ascii_lowercase().replace(' ', "_")
            ));
        }
        match body.get("Message_Type")?.as_str()? {
            "Notification" => Some(
                body.get("body")
                    .and_then(|inner| inner.get("event"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("zaqar.notification")
                    .to_owned(),
            ),
            other => Some(format!("zaqar.{}", other.to_ascii_lowercase())),
        }
    }

    /// Aodh's `x-openstack-request-id` (a fresh `req-<uuid>` per notification, kept when the
    /// REST notifier retries); Zaqar gives none.
    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        header(req.headers, "x-openstack-request-id").map(str::to_owned)
    }

    /// After verification, Zaqar's `SubscriptionConfirmation` and `UnsubscribeConfirmation`
    /// messages are answered 200, empty. Confirming the subscription takes a further call
    /// from the router, described by [`zaqar_confirmation`].
    pub fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        if *req.method != http::Method::POST {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        match body.get("Message_Type")?.as_str()? {
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                Some(Ok(Handshake::empty(200)))
            }
            _ => None,
        }
    }
}

/// The call that confirms a Zaqar subscription, as Zaqar's sample subscriber makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZaqarConfirmation {
    /// Always `PUT`.
    pub method: &'static str,
    /// `WSGISubscribeURL`: Zaqar's public endpoint + `/v2/queues/{queue}/subscriptions/{id}/confirm`.
    pub url: String,
    /// `Content-Type` and the signed-URL headers (`URL-Signature`, `URL-Methods`, `URL-Paths`,
    /// `URL-Expires`, `X-Project-ID` when set). Zaqar also requires a `Client-ID` header with
    /// a UUID of the caller's choosing, which the caller adds.
    pub headers: Vec<(String, String)>,
    /// `{"confirmed":true}`.
    pub body: Vec<u8>,
}

/// For a `SubscriptionConfirmation` message, the `PUT` that confirms it; `None` for any other
/// body, and for a confirmation without `WSGISubscribeURL` (Zaqar sends it only when its
/// public endpoint is in the Keystone catalogue; older Zaqar sent only `SubscribeURL` paths).
pub fn zaqar_confirmation(body: &[u8]) -> Option<ZaqarConfirmation> {
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message.get("Message_Type")?.as_str()? != "SubscriptionConfirmation" {
        return None;
    }
    let text = |name: &str| message.get(name).and_then(serde_json::Value::as_str);
    let url = text("WSGISubscribeURL")?;
    if text("URL-Methods")? != "PUT" {
        return None;
    }
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    for name in ["URL-Signature", "URL-Methods", "URL-Paths", "URL-Expires"] {
        headers.push((name.to_owned(), text(name)?.to_owned()));
    }
    if let Some(project) = text("X-Project-ID") {
        headers.push(("X-Project-ID".to_owned(), project.to_owned()));
    }
    let confirm = message
        .get("SubscribeBody")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({ "confirmed": true }));
    Some(ZaqarConfirmation {
        method: "PUT",
        url: url.to_owned(),
        headers,
        body: serde_json::to_vec(&confirm).expect("JSON serialises"),
    })
}

#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::json;

    use super::super::test_support::{TestRequest, fixture, fixture_json};
    use super::*;

    const FIXTURES: &str = "openstack";
    const URL: &str = "https://hooks.example.com/hooks/alarms";

    /// A `POST` of `body` with the Aodh REST notifier's headers from the fixture (its `note`
    /// is not a header).
    fn from_aodh(body: impl AsRef<[u8]>) -> TestRequest {
        let pairs = fixture_json(FIXTURES, "aodh.rest-notifier.headers.json");
        let mut request = TestRequest::post(URL, body);
        for (name, value) in pairs.as_object().unwrap() {
            if name != "note" {
                request = request.header(name, value.as_str().unwrap());
            }
        }
        request
    }

    /// Each Zaqar notification as Zaqar POSTs it: one JSON message per request.
    fn zaqar_bodies() -> Vec<Vec<u8>> {
        let all = fixture_json(FIXTURES, "zaqar.webhook-notifications.json");
        let all = all.as_array().unwrap();
        all.iter().map(|m| serde_json::to_vec(m).unwrap()).collect()
    }

    #[test]
    fn aodh_notifications_are_accepted_with_their_type_and_id() {
        let request =
            from_aodh(fixture(FIXTURES, "aodh.rest-notifier.body.json")).query("secret", "s3cret");
        let openstack = Openstack::new(Some("s3cret".into()));
        let req = request.incoming();
        assert_eq!(openstack.verify(&req), Ok(()));
        assert_eq!(openstack.event_type(&req).as_deref(), Some("alarm.alarm"));
        assert_eq!(
            openstack.delivery_id(&req).as_deref(),
            Some("fake_request_id")
        );
        assert!(openstack.handshake(&req).is_none());

        let unknown =
            request.body(br#"{"alarm_id":"a","current":"insufficient data","previous":"ok"}"#);
        let req = unknown.incoming();
        assert_eq!(
            openstack.event_type(&req).as_deref(),
            Some("alarm.insufficient_data")
        );
    }

    #[test]
    fn zaqar_notifications_are_accepted_with_the_secret_in_a_header() {
        let openstack = Openstack::new(Some("s3cret".into()));
        let types: Vec<_> = zaqar_bodies()
            .iter()
            .map(|body| {
                let request = TestRequest::post(URL, body).header("x-openstack-secret", "s3cret");
                let req = request.incoming();
                assert_eq!(openstack.verify(&req), Ok(()));
                assert!(openstack.handshake(&req).is_none());
                assert_eq!(openstack.delivery_id(&req), None);
                openstack.event_type(&req)
            })
            .collect();
        assert_eq!(
            types,
            vec![Some("BackupStarted".into()), Some("BackupProgress".into())]
        );
    }

    #[test]
    fn wrong_and_missing_secrets_are_rejected_and_no_secret_accepts_all() {
        let unsigned = from_aodh(fixture(FIXTURES, "aodh.rest-notifier.body.json"));
        let openstack = Openstack::new(Some("s3cret".into()));
        let wrong = unsigned.clone().query("secret", "s3cret ");
        assert_eq!(openstack.verify(&wrong.incoming()).unwrap_err().status, 401);
        let req = unsigned.incoming();
        let err = openstack.verify(&req).unwrap_err();
        assert!(err.message.starts_with("missing"), "{}", err.message);
        assert_eq!(Openstack::new(None).verify(&req), Ok(()));
    }

    /// A `SubscriptionConfirmation` as Zaqar's notifier builds it, carrying the signed-URL
    /// values of the fixture's vector.
    fn confirmation() -> serde_json::Value {
        let vectors = fixture_json(FIXTURES, "vectors.json");
        let v = &vectors["zaqar_signed_url"]["vectors"][0];
        json!({
            "WSGISubscribeURL": "https://zaqar.example.com:8888/v2/queues/shared/subscriptions/576256b03990b480617b4063/confirm",
            "Message_Type": "SubscriptionConfirmation",
            "Message": "You have chosen to subscribe to the queue: shared",
            "URL-Signature": v["signature"],
            "URL-Methods": "PUT",
            "URL-Paths": v["paths"][0],
            "X-Project-ID": v["project"],
            "URL-Expires": v["expires"],
            "SubscribeBody": {"confirmed": true},
            "UnsubscribeBody": {"confirmed": false},
            "queue_name": "shared",
        })
    }

    #[test]
    fn the_signed_url_vector_is_what_the_relayed_headers_carry() {
        use hmac::{Hmac, Mac};
        let vectors = fixture_json(FIXTURES, "vectors.json");
        for v in vectors["zaqar_signed_url"]["vectors"].as_array().unwrap() {
            let strings = |name: &str| -> Vec<&str> {
                v[name]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect()
            };
            let project = v["project"].as_str().unwrap_or("None");
            let joined = [
                strings("paths").join(","),
                strings("methods").join(","),
                project.to_owned(),
                v["expires"].as_str().unwrap().to_owned(),
            ]
            .join("\\n");
            assert_eq!(joined, v["hmac_body"].as_str().unwrap());
            let mut mac =
                Hmac::<sha2::Sha256>::new_from_slice(v["key"].as_str().unwrap().as_bytes())
                    .unwrap();
            mac.update(joined.as_bytes());
            assert_eq!(
                hex::encode(mac.finalize().into_bytes()),
                v["signature"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn subscription_confirmation_is_answered_and_describes_the_confirming_put() {
        let body = serde_json::to_vec(&confirmation()).unwrap();
        let request = TestRequest::post(URL, &body).query("secret", "s3cret");
        let openstack = Openstack::new(Some("s3cret".into()));
        let req = request.incoming();
        assert_eq!(openstack.verify(&req), Ok(()));
        assert_eq!(openstack.handshake(&req), Some(Ok(Handshake::empty(200))));
        assert_eq!(
            openstack.event_type(&req).as_deref(),
            Some("zaqar.subscriptionconfirmation")
        );

        let call = zaqar_confirmation(&body).unwrap();
        assert_eq!(call.method, "PUT");
        assert_eq!(
            call.url,
            "https://zaqar.example.com:8888/v2/queues/shared/subscriptions/576256b03990b480617b4063/confirm"
        );
        assert_eq!(call.body, br#"{"confirmed":true}"#);
        let header = |name: &str| {
            call.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("URL-Signature"),
            Some("62e7ad71a837c6d02b627350c1ed0f46a16759b783ff9ace4ac3553ccb309444")
        );
        assert_eq!(header("URL-Paths"), Some("/v2/queues/shared/messages"));
        assert_eq!(header("URL-Expires"), Some("2100-05-31T17:00:17"));
        assert_eq!(header("URL-Methods"), Some("PUT"));
        assert_eq!(header("X-Project-ID"), None, "the vector's project is null");
        assert_eq!(header("Content-Type"), Some("application/json"));

        // Unsigned, it never gets as far as the handshake.
        let unsigned = TestRequest::post(URL, &body);
        assert!(openstack.verify(&unsigned.incoming()).is_err());
    }

    #[test]
    fn unsubscribe_notices_are_answered_and_other_bodies_describe_no_call() {
        let mut message = confirmation();
        message["Message_Type"] = json!("UnsubscribeConfirmation");
        let body = serde_json::to_vec(&message).unwrap();
        let openstack = Openstack::new(None);
        let request = TestRequest::post(URL, &body);
        assert_eq!(
            openstack.handshake(&request.incoming()),
            Some(Ok(Handshake::empty(200)))
        );
        assert_eq!(zaqar_confirmation(&body), None);
        for body in zaqar_bodies() {
            assert_eq!(zaqar_confirmation(&body), None);
        }
        assert_eq!(
            zaqar_confirmation(&fixture(FIXTURES, "aodh.rest-notifier.body.json")),
            None
        );
        let mut old = confirmation();
        old.as_object_mut().unwrap().remove("WSGISubscribeURL");
        assert_eq!(zaqar_confirmation(&serde_json::to_vec(&old).unwrap()), None);
        let get = TestRequest::post(URL, b"").method(Method::GET);
        assert!(openstack.handshake(&get.incoming()).is_none());
    }
}
