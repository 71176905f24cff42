//! Azure Event Grid, in the Event Grid schema or the CloudEvents 1.0 schema.
//!
//! Event Grid signs nothing: with a secret configured, the request must carry it in the
//! configured header (an event subscription's delivery property) or in the query parameter
//! `code` of the endpoint URL, compared in constant time.
//!
//! Handshakes: the Event Grid schema's `Microsoft.EventGrid.SubscriptionValidationEvent` is
//! answered with `{"validationResponse": <data.validationCode>}`; the CloudEvents schema's
//! abuse protection (`OPTIONS` with `WebHook-Request-Origin`, CloudEvents HTTP webhook spec
//! 4.2) is answered with `WebHook-Allowed-Origin` when the origin is allowed.

use subtle::ConstantTimeEq;

use super::incoming::{Handshake, Incoming};
use super::{Rejection, header};

const VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

/// The origin Event Grid announces in `WebHook-Request-Origin`; allowed when the source
/// names no origins of its own.
pub const DEFAULT_ORIGIN: &str = "eventgrid.azure.net";

pub struct Eventgrid {
    secret: Option<Vec<u8>>,
    header: String,
    allowed_origins: Vec<String>,
}

impl Eventgrid {
    pub fn new(secret: Option<String>, header: String, allowed_origins: Vec<String>) -> Eventgrid {
        let allowed_origins = if allowed_origins.is_empty() {
            vec![DEFAULT_ORIGIN.to_owned()]
        } else {
            allowed_origins
        };
        Eventgrid {
            secret: secret.map(String::into_bytes),
            header: header.to_ascii_lowercase(),
            allowed_origins,
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let in_header = (!self.header.is_empty())
            .then(|| header(req.headers, &self.header))
            .flatten();
        let in_query = req.query.get("code").map(String::as_str);
        if in_header.is_none() && in_query.is_none() {
            return Err(Rejection::unauthorized(format!(
                "missing {} header or code query parameter with the source's secret",
                self.header_name()
            )));
        }
        let matches = secret.ct_eq(in_header.unwrap_or_default().as_bytes())
            | secret.ct_eq(in_query.unwrap_or_default().as_bytes());
        if bool::from(matches) && !secret.is_empty() {
            Ok(())
        } else {
            Err(Rejection::unauthorized(format!(
                "the {} header or code query parameter is not the source's secret",
                self.header_name()
            )))
        }
    }

    /// Event Grid schema: the first event's `eventType` (`Microsoft.Storage.BlobCreated`).
    /// CloudEvents: `ce-type` in binary mode, else the (first) event's `type`.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        if let Some(ce_type) = header(req.headers, "ce-type") {
            return Some(ce_type.to_owned());
        }
        let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        let event = first_event(&body)?;
        event
            .get("eventType")
            .or_else(|| event.get("type"))?
            .as_str()
            .map(str::to_owned)
    }

    /// `ce-id` in CloudEvents binary mode, else the (first) event's `id`, which Event Grid
    /// keeps when it retries.
    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        if let Some(ce_id) = header(req.headers, "ce-id") {
            return Some(ce_id.to_owned());
        }
        let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        first_event(&body)?.get("id")?.as_str().map(str::to_owned)
    }

    /// `OPTIONS` (CloudEvents abuse protection) before verification; after it, a POST whose
    /// first event is a `SubscriptionValidationEvent`.
    pub fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        if *req.method == http::Method::OPTIONS {
            return Some(self.abuse_protection(req));
        }
        if *req.method != http::Method::POST {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        let event = body.as_array()?.first()?;
        if event.get("eventType")?.as_str()? != VALIDATION_EVENT {
            return None;
        }
        let code = event
            .get("data")
            .and_then(|data| data.get("validationCode"))
            .and_then(serde_json::Value::as_str);
        Some(match code {
            Some(code) => Ok(Handshake::json(
                &serde_json::json!({ "validationResponse": code }),
            )),
            None => Err(Rejection {
                status: 400,
                message: "the SubscriptionValidationEvent has no data.validationCode".into(),
            }),
        })
    }

    fn abuse_protection(&self, req: &Incoming<'_>) -> Result<Handshake, Rejection> {
        let origin = header(req.headers, "webhook-request-origin").ok_or_else(|| Rejection {
            status: 400,
            message: "an OPTIONS request must carry WebHook-Request-Origin (CloudEvents abuse protection)".into(),
        })?;
        if self
            .allowed_origins
            .iter()
            .any(|allowed| origin_matches(origin, allowed))
        {
            Ok(Handshake {
                status: 200,
                headers: vec![
                    ("webhook-allowed-origin".into(), origin.to_owned()),
                    ("webhook-allowed-rate".into(), "*".into()),
                ],
                body: Vec::new(),
            })
        } else {
            Err(Rejection {
                status: 403,
                message: format!(
                    "the origin {origin:?} may not deliver to this source; add it to the source's allowed origins"
                ),
            })
        }
    }

    /// The header that carries the secret, lower-cased.
    pub fn secret_header(&self) -> &str {
        &self.header
    }

    fn header_name(&self) -> &str {
        if self.header.is_empty() {
            "secret"
        } else {
            &self.header
        }
    }
}

/// A batch's first event (Event Grid and CloudEvents batches are arrays), or the single
/// event of a CloudEvents structured-mode body.
fn first_event(body: &serde_json::Value) -> Option<&serde_json::Value> {
    match body {
        serde_json::Value::Array(events) => events.first(),
        event @ serde_json::Value::Object(_) => Some(event),
        _ => None,
    }
}

/// `origin` is `allowed` or one of its subdomains, ignoring case.
fn origin_matches(origin: &str, allowed: &str) -> bool {
    let origin = origin.trim().to_ascii_lowercase();
    let allowed = allowed.trim().to_ascii_lowercase();
    !allowed.is_empty()
        && (origin == allowed
            || origin
                .strip_suffix(allowed.as_str())
                .is_some_and(|prefix| prefix.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::test_support::{TestRequest, fixture, fixture_json};
    use super::*;

    const FIXTURES: &str = "azure-eventgrid";
    const URL: &str = "https://hooks.example.com/hooks/grid";

    const EVENTS: [(&str, &str, &str); 5] = [
        (
            "azure-sdk-for-java.StorageBlobCreatedEvent.json",
            "Microsoft.Storage.BlobCreated",
            "602a88ef-0001-00e6-1233-1646070610ea",
        ),
        (
            "azure-sdk-for-java.EventGridSubscriptionDeletedEvent.json",
            "Microsoft.EventGrid.SubscriptionDeletedEvent",
            "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        ),
        (
            "azure-sdk-for-java.MultipleEventsInSameBatch.json",
            "Microsoft.Storage.BlobCreated",
            "602a88ef-0001-00e6-1233-1646070610ea",
        ),
        (
            "azure-sdk-for-java.CloudEventBinaryData.json",
            "Contoso.Items.ItemReceived",
            "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        ),
        (
            "azure-docs.SubscriptionValidationEvent.json",
            VALIDATION_EVENT,
            "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        ),
    ];

    fn with_secret() -> Eventgrid {
        Eventgrid::new(Some("s3cret".into()), "X-Grid-Secret".into(), vec![])
    }

    #[test]
    fn every_fixture_is_accepted_with_the_secret_in_the_header_or_the_query() {
        let grid = with_secret();
        for (file, event_type, id) in EVENTS {
            let plain = TestRequest::post(URL, fixture(FIXTURES, file));
            for request in [
                plain.clone().header("x-grid-secret", "s3cret"),
                plain.clone().query("code", "s3cret"),
            ] {
                let req = request.incoming();
                assert_eq!(grid.verify(&req), Ok(()), "{file}");
                assert_eq!(grid.event_type(&req).as_deref(), Some(event_type), "{file}");
                assert_eq!(grid.delivery_id(&req).as_deref(), Some(id), "{file}");
            }
            let open = Eventgrid::new(None, String::new(), vec![]);
            assert_eq!(open.verify(&plain.incoming()), Ok(()));
        }
    }

    #[test]
    fn wrong_and_missing_secrets_are_rejected() {
        let grid = with_secret();
        let plain = TestRequest::post(
            URL,
            fixture(FIXTURES, "azure-sdk-for-java.StorageBlobCreatedEvent.json"),
        );
        let wrong = plain.clone().header("x-grid-secret", "s3cret2");
        let err = grid.verify(&wrong.incoming()).unwrap_err();
        assert_eq!(err.status, 401);
        let wrong_code = plain.clone().query("code", "S3CRET");
        assert_eq!(grid.verify(&wrong_code.incoming()).unwrap_err().status, 401);
        let err = grid.verify(&plain.incoming()).unwrap_err();
        assert_eq!(
            err.message,
            "missing x-grid-secret header or code query parameter with the source's secret"
        );
        // The secret is in no other header.
        let elsewhere = plain.header("aeg-secret", "s3cret");
        assert!(grid.verify(&elsewhere.incoming()).is_err());
    }

    #[test]
    fn the_validation_event_is_answered_as_the_docs_show() {
        let grid = with_secret();
        let request = TestRequest::post(
            URL,
            fixture(FIXTURES, "azure-docs.SubscriptionValidationEvent.json"),
        )
        .header("aeg-event-type", "SubscriptionValidation")
        .query("code", "s3cret");
        let req = request.incoming();
        assert_eq!(grid.verify(&req), Ok(()));
        let answer = grid.handshake(&req).unwrap().unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.headers,
            vec![("content-type".to_owned(), "application/json".to_owned())]
        );
        // The docs show the response pretty-printed; Event Grid reads it as JSON, so the
        // answer is the same JSON serialised compactly.
        let expected = fixture_json(FIXTURES, "azure-docs.SubscriptionValidationResponse.json");
        assert_eq!(answer.body, serde_json::to_vec(&expected).unwrap());
        assert_eq!(
            answer.body,
            br#"{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}"#
        );
    }

    #[test]
    fn ordinary_events_are_no_handshake() {
        let grid = with_secret();
        for (file, _, _) in &EVENTS[..4] {
            let request = TestRequest::post(URL, fixture(FIXTURES, file));
            assert!(grid.handshake(&request.incoming()).is_none());
        }
        let broken =
            br#"[{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{}}]"#;
        let answer = grid.handshake(&TestRequest::post(URL, broken).incoming());
        assert_eq!(answer.unwrap().unwrap_err().status, 400);
        let get = TestRequest::post(URL, b"").method(Method::GET);
        assert!(grid.handshake(&get.incoming()).is_none());
    }

    #[test]
    fn cloudevents_abuse_protection_allows_the_configured_origins_and_their_subdomains() {
        let ask = |grid: &Eventgrid, origin: Option<&str>| {
            let mut request = TestRequest::post(URL, b"").method(Method::OPTIONS);
            if let Some(origin) = origin {
                request = request
                    .header("webhook-request-origin", origin)
                    .header("webhook-request-rate", "120");
            }
            grid.handshake(&request.incoming()).unwrap()
        };
        let default = with_secret();
        let answer = ask(&default, Some("eventgrid.azure.net")).unwrap();
        assert_eq!(answer.status, 200);
        assert!(answer.body.is_empty());
        assert_eq!(
            answer.headers,
            vec![
                (
                    "webhook-allowed-origin".to_owned(),
                    "eventgrid.azure.net".to_owned()
                ),
                ("webhook-allowed-rate".to_owned(), "*".to_owned()),
            ]
        );
        let sub = ask(&default, Some("westus.eventgrid.azure.net")).unwrap();
        assert_eq!(sub.headers[0].1, "westus.eventgrid.azure.net");
        assert_eq!(
            ask(&default, Some("evileventgrid.azure.net"))
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            ask(&default, Some("eventgrid.azure.net.evil.com"))
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(ask(&default, None).unwrap_err().status, 400);

        let custom = Eventgrid::new(None, String::new(), vec!["events.example.com".into()]);
        assert!(ask(&custom, Some("Events.Example.com")).is_ok());
        assert_eq!(
            ask(&custom, Some("eventgrid.azure.net"))
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn cloudevents_binary_mode_takes_type_and_id_from_headers() {
        let grid = Eventgrid::new(None, String::new(), vec![]);
        let binary = TestRequest::post(URL, b"<much wow=\"xml\"/>")
            .header("ce-specversion", "1.0")
            .header("ce-type", "com.example.object.deleted.v2")
            .header("ce-id", "A234-1234-1234")
            .header("ce-source", "/mycontext");
        let req = binary.incoming();
        assert_eq!(
            grid.event_type(&req).as_deref(),
            Some("com.example.object.deleted.v2")
        );
        assert_eq!(grid.delivery_id(&req).as_deref(), Some("A234-1234-1234"));
        let structured = TestRequest::post(
            URL,
            br#"{"specversion":"1.0","type":"com.example.someevent","id":"B1","source":"/x"}"#,
        );
        let req = structured.incoming();
        assert_eq!(
            grid.event_type(&req).as_deref(),
            Some("com.example.someevent")
        );
        assert_eq!(grid.delivery_id(&req).as_deref(), Some("B1"));
    }
}
