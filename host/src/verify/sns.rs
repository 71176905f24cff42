//! Amazon SNS: the body is a JSON message whose `Signature` is base64 RSA PKCS#1 v1.5 over
//! `key\nvalue\n` for each present key of `Message`, `MessageId`, `Subject` (notifications
//! only), `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`, with SHA-1 for
//! `SignatureVersion` 1 and SHA-256 for 2, and the key of the certificate at `SigningCertURL`
//! (`https://sns.<region>.amazonaws.com[.cn]/….pem` only, as the AWS SNS message validators
//! require). Only topics the source lists are accepted.
//!
//! SNS stamps a message with its `Timestamp` when it is published and sends the same signed
//! message on every retry, for at most an hour: the `Timestamp` must be at most the source's
//! tolerance old (two hours unless set) and at most five minutes ahead, checked before any
//! certificate is looked at. The signed `MessageId` is the replay key.
//!
//! A `SubscriptionConfirmation` is answered by the router: once verified, it GETs the
//! `SubscribeURL` (an SNS endpoint only) and answers 200; an `UnsubscribeConfirmation` is
//! answered 200. Neither is stored.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::certificates::{self, Certificates, HostRule, SignatureAlgorithm};
use super::incoming::{Handshake, Incoming};
use super::{Rejection, check_recent_rfc3339};

pub struct Sns {
    /// Allowed `TopicArn`s, split at `:`; a `*` segment matches any one segment.
    topics: Vec<Vec<String>>,
    /// How old `Timestamp` may be.
    tolerance_secs: i64,
    /// Where a `SubscribeURL` may point.
    subscribe_rule: HostRule,
}

/// The fields of an SNS message that matter here (JSON null counts as absent).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Message {
    #[serde(rename = "Type")]
    kind: Option<String>,
    message: Option<String>,
    message_id: Option<String>,
    subject: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    timestamp: Option<String>,
    token: Option<String>,
    topic_arn: Option<String>,
    signature_version: Option<String>,
    signature: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
}

const NOTIFICATION: &str = "Notification";
const SUBSCRIPTION_CONFIRMATION: &str = "SubscriptionConfirmation";
const UNSUBSCRIBE_CONFIRMATION: &str = "UnsubscribeConfirmation";

impl Message {
    fn parse(body: &[u8]) -> Result<Message, Rejection> {
        serde_json::from_slice(body).map_err(|_| Rejection {
            status: 400,
            message: "the body is not an SNS message (a JSON object of strings)".into(),
        })
    }

    /// The string SNS signs, or a 401 naming a missing field: `Subject` (optional) is signed
    /// for notifications only, `SubscribeURL` and `Token` for the confirmations only.
    fn string_to_sign(&self, kind: &str) -> Result<String, Rejection> {
        let fields: &[(&str, &Option<String>)] = if kind == NOTIFICATION {
            &[
                ("Message", &self.message),
                ("MessageId", &self.message_id),
                ("Subject", &self.subject),
                ("Timestamp", &self.timestamp),
                ("TopicArn", &self.topic_arn),
                ("Type", &self.kind),
            ]
        } else {
            &[
                ("Message", &self.message),
                ("MessageId", &self.message_id),
                ("SubscribeURL", &self.subscribe_url),
                ("Timestamp", &self.timestamp),
                ("Token", &self.token),
                ("TopicArn", &self.topic_arn),
                ("Type", &self.kind),
            ]
        };
        let mut text = String::new();
        for (name, value) in fields {
            match value {
                Some(value) => {
                    for part in [name, "\n", value, "\n"] {
                        text.push_str(part);
                    }
                }
                None if *name == "Subject" => {}
                None => return Err(missing(name)),
            }
        }
        Ok(text)
    }
}

fn missing(field: &str) -> Rejection {
    Rejection::unauthorized(format!("the SNS message has no {field}"))
}

impl Sns {
    /// `topics` are the TopicArns accepted, e.g. `arn:aws:sns:us-east-1:123456789012:orders`;
    /// a `*` segment matches any one (`arn:aws:sns:*:123456789012:*`). None: nothing accepted.
    pub fn new(topics: Vec<String>, tolerance: Duration) -> Sns {
        Sns {
            topics: topics
                .iter()
                .map(|topic| topic.split(':').map(str::to_owned).collect())
                .collect(),
            tolerance_secs: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
            subscribe_rule: HostRule::SNS_ENDPOINT,
        }
    }

    /// Lets tests confirm subscriptions against a server of their own.
    #[cfg(test)]
    fn with_subscribe_rule(mut self, rule: HostRule) -> Sns {
        self.subscribe_rule = rule;
        self
    }

    fn allows_topic(&self, arn: &str) -> bool {
        let segments: Vec<&str> = arn.split(':').collect();
        self.topics.iter().any(|pattern| {
            pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(want, got)| want == "*" || want == got)
        })
    }

    pub async fn verify(&self, req: &Incoming<'_>, certs: &Certificates) -> Result<(), Rejection> {
        let message = Message::parse(req.body)?;
        let kind = message.kind.as_deref().ok_or_else(|| missing("Type"))?;
        if ![
            NOTIFICATION,
            SUBSCRIPTION_CONFIRMATION,
            UNSUBSCRIBE_CONFIRMATION,
        ]
        .contains(&kind)
        {
            return Err(Rejection::unauthorized(format!(
                "SNS message Type {kind} is not Notification, SubscriptionConfirmation or \
                 UnsubscribeConfirmation"
            )));
        }
        let topic = message
            .topic_arn
            .as_deref()
            .ok_or_else(|| missing("TopicArn"))?;
        if !self.allows_topic(topic) {
            return Err(Rejection::unauthorized(format!(
                "TopicArn {topic} is not one of the source's topics"
            )));
        }
        self.check_timestamp(&message, req.now)?;
        let algorithm = match message.signature_version.as_deref() {
            Some("1") => SignatureAlgorithm::RsaPkcs1Sha1,
            Some("2") => SignatureAlgorithm::RsaPkcs1Sha256,
            Some(other) => {
                return Err(Rejection::unauthorized(format!(
                    "SNS SignatureVersion {other} is not supported (1 or 2)"
                )));
            }
            None => return Err(missing("SignatureVersion")),
        };
        let signature = message
            .signature
            .as_deref()
            .ok_or_else(|| missing("Signature"))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| Rejection::unauthorized("the SNS Signature is not base64"))?;
        let string_to_sign = message.string_to_sign(kind)?;
        let cert_url = message
            .signing_cert_url
            .as_deref()
            .ok_or_else(|| missing("SigningCertURL"))?;

        let certificate = certs.get(cert_url, HostRule::SNS).await?;
        certificate.check_valid_at(req.now)?;
        if certificate
            .public_key
            .verify(algorithm, string_to_sign.as_bytes(), &signature)
        {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "the SNS Signature does not match the message and its SigningCertURL certificate",
            ))
        }
    }

    fn check_timestamp(&self, message: &Message, now: i64) -> Result<(), Rejection> {
        let timestamp = message
            .timestamp
            .as_deref()
            .ok_or_else(|| missing("Timestamp"))?;
        check_recent_rfc3339("the SNS Timestamp", timestamp, now, self.tolerance_secs)
    }

    /// The router's own answer to a message [`Sns::verify`] accepted, if it takes one:
    /// `SubscriptionConfirmation` → GET `SubscribeURL`, then 200 (502 if SNS could not be
    /// reached: SNS resends the confirmation); `UnsubscribeConfirmation` → 200. `None` for a
    /// `Notification`, which is stored.
    pub async fn handshake(
        &self,
        req: &Incoming<'_>,
        http: &reqwest::Client,
    ) -> Option<Result<Handshake, Rejection>> {
        let message = Message::parse(req.body).ok()?;
        let topic = message.topic_arn.as_deref().unwrap_or_default();
        match message.kind.as_deref()? {
            SUBSCRIPTION_CONFIRMATION => Some(self.confirm(&message, topic, http).await),
            UNSUBSCRIBE_CONFIRMATION => Some(Ok(Handshake::json(
                &serde_json::json!({ "unsubscribed": topic }),
            ))),
            _ => None,
        }
    }

    async fn confirm(
        &self,
        message: &Message,
        topic: &str,
        http: &reqwest::Client,
    ) -> Result<Handshake, Rejection> {
        if !self.allows_topic(topic) {
            return Err(Rejection::unauthorized(format!(
                "TopicArn {topic} is not one of the source's topics"
            )));
        }
        let url = message
            .subscribe_url
            .as_deref()
            .ok_or_else(|| missing("SubscribeURL"))?;
        let url = self.subscribe_rule.check("SubscribeURL", url)?;
        certificates::fetch(http, &url, "the SubscribeURL")
            .await
            .map_err(|rejection| Rejection {
                status: 502,
                message: format!(
                    "could not confirm the subscription to {topic}: {}",
                    rejection.message
                ),
            })?;
        Ok(Handshake::json(&serde_json::json!({ "confirmed": topic })))
    }
}

/// The event type: the message `Type` (`Notification`, or a confirmation).
pub fn event_type(body: &[u8]) -> Option<String> {
    Message::parse(body).ok()?.kind
}

/// The message's `MessageId`, the same on each redelivery.
pub fn delivery_id(body: &[u8]) -> Option<String> {
    Message::parse(body).ok()?.message_id
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::RawQuery;
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::{Value, json};

    use super::super::certificates::test_support::{TEST_NOW, pin_test_certificate, sign};
    use super::super::test_support::{self, TestRequest, fixture, fixture_json, fixture_path};
    use super::*;

    const FIXTURES: &str = "aws-sns";
    const FIXTURE_CERT_URL: &str = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
    /// The fixtures' topics: one per message, all of one account and region.
    const FIXTURE_TOPICS: &str = "arn:aws:sns:us-east-2:295079676684:*";
    /// Inside the fixture certificate's validity (2021-09-07 .. 2022-08-17), and within two
    /// hours of the fixtures' Timestamps: 2022-07-28T23:00:00Z.
    const FIXTURE_NOW: i64 = 1_659_049_200;
    /// The default tolerance of an SNS source.
    const TOLERANCE: Duration = Duration::from_secs(2 * 3600);

    fn fixture_certs() -> Certificates {
        let pinned = BTreeMap::from([(
            FIXTURE_CERT_URL.to_owned(),
            fixture_path(FIXTURES, "sns.amazonaws.com.2021-09-07.cert.pem"),
        )]);
        Certificates::new(pinned, reqwest::Client::new())
    }

    fn vector_files() -> Vec<String> {
        test_support::vectors(FIXTURES)
            .iter()
            .filter(|vector| vector["valid"] == true)
            .map(|vector| vector["file"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A `POST` of `body` at `now`, without headers or query.
    fn post(body: &[u8], now: i64) -> TestRequest {
        TestRequest::post("https://hooks.example.com/hooks/sns", body).now(now)
    }

    async fn check(
        sns: &Sns,
        body: &[u8],
        now: i64,
        certs: &Certificates,
    ) -> Result<(), Rejection> {
        sns.verify(&post(body, now).incoming(), certs).await
    }

    /// Why `sns` refuses `message` at [`FIXTURE_NOW`]; panics if it accepts it.
    async fn rejection(sns: &Sns, message: &serde_json::Value, certs: &Certificates) -> Rejection {
        check(
            sns,
            &serde_json::to_vec(message).unwrap(),
            FIXTURE_NOW,
            certs,
        )
        .await
        .unwrap_err()
    }

    #[tokio::test]
    async fn accepts_every_fixture_vector() {
        let sns = Sns::new(vec![FIXTURE_TOPICS.to_owned()], TOLERANCE);
        let certs = fixture_certs();
        let files = vector_files();
        assert_eq!(files.len(), 4);
        for file in files {
            let body = fixture(FIXTURES, &file);
            check(&sns, &body, FIXTURE_NOW, &certs)
                .await
                .unwrap_or_else(|err| panic!("{file}: {err:?}"));
            assert_eq!(event_type(&body).as_deref(), Some("Notification"));
            assert!(delivery_id(&body).is_some());
        }
    }

    #[tokio::test]
    async fn rejects_tampered_messages() {
        let sns = Sns::new(vec![FIXTURE_TOPICS.to_owned()], TOLERANCE);
        let certs = fixture_certs();
        for (file, field, value) in [
            (
                "notification.sigv1.with-subject.json",
                "Message",
                json!("Hello world!"),
            ),
            (
                "notification.sigv2.with-subject.json",
                "Subject",
                json!("Goodbye"),
            ),
            (
                "notification.sigv1.no-subject.json",
                "Subject",
                json!("Added"),
            ),
            (
                "notification.sigv2.no-subject.json",
                "Timestamp",
                json!("2022-07-28T22:53:50.000Z"),
            ),
            (
                "notification.sigv2.no-subject.json",
                "SignatureVersion",
                json!("1"),
            ),
            (
                "notification.sigv1.no-subject.json",
                "Type",
                json!("UnsubscribeConfirmation"),
            ),
        ] {
            let mut message = fixture_json(FIXTURES, file);
            message[field] = value;
            let err = rejection(&sns, &message, &certs).await;
            assert_eq!(err.status, 401, "{file} {field}");
        }
        let mut message = fixture_json(FIXTURES, "notification.sigv1.no-subject.json");
        message["MessageId"] = json!("11405cc3-9ac7-56d5-b45d-079e8f7a8ede");
        let err = rejection(&sns, &message, &certs).await;
        assert_eq!(
            err.message,
            "the SNS Signature does not match the message and its SigningCertURL certificate"
        );
    }

    #[tokio::test]
    async fn rejects_topics_not_listed() {
        let certs = fixture_certs();
        let body = fixture(FIXTURES, "notification.sigv2.no-subject.json");
        let topic = "arn:aws:sns:us-east-2:295079676684:publish-and-verify-62674b1d-4295-426b-88e7-5fb75652a04e";
        for topics in [
            vec![],
            vec!["arn:aws:sns:us-east-2:295079676684:other".to_owned()],
            vec!["arn:aws:sns:us-east-1:295079676684:*".to_owned()],
            vec!["arn:aws:sns:*:*".to_owned()],
            vec!["arn:aws:sns:us-east-2:295079676684:publish-and-verify-*".to_owned()],
        ] {
            let err = check(
                &Sns::new(topics.clone(), TOLERANCE),
                &body,
                FIXTURE_NOW,
                &certs,
            )
            .await
            .unwrap_err();
            assert_eq!(err.status, 401, "{topics:?}");
            assert_eq!(
                err.message,
                format!("TopicArn {topic} is not one of the source's topics")
            );
        }
        for topics in [
            vec!["arn:aws:sns:*:295079676684:*".to_owned()],
            vec!["arn:aws:sns:*:*:*".to_owned(), "nonsense".to_owned()],
            vec!["arn:aws:sns:eu-west-1:1:x".to_owned(), topic.to_owned()],
        ] {
            check(&Sns::new(topics, TOLERANCE), &body, FIXTURE_NOW, &certs)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn rejects_an_expired_certificate() {
        // However long the tolerance.
        let sns = Sns::new(
            vec![FIXTURE_TOPICS.to_owned()],
            Duration::from_secs(30 * 86_400),
        );
        let body = fixture(FIXTURES, "notification.sigv1.no-subject.json");
        let err = check(&sns, &body, 1_660_780_800, &fixture_certs())
            .await
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert_eq!(
            err.message,
            "the signing certificate expired at 2022-08-17T23:59:59Z"
        );
    }

    #[tokio::test]
    async fn bounds_the_timestamp_before_fetching_anything() {
        let sns = Sns::new(vec![FIXTURE_TOPICS.to_owned()], TOLERANCE);
        // Nothing pinned: a fetch would be refused with another message.
        let certs = Certificates::new(BTreeMap::new(), reqwest::Client::new());
        let body = fixture(FIXTURES, "notification.sigv2.with-subject.json");
        let published = fixture_json(FIXTURES, "notification.sigv2.with-subject.json")["Timestamp"]
            .as_str()
            .map(|t| humantime::parse_rfc3339(t).unwrap())
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let stale = check(&sns, &body, published + 2 * 3600 + 1, &certs)
            .await
            .unwrap_err();
        assert_eq!(
            stale.message,
            "the SNS Timestamp is more than 2 hours old; a captured request is not accepted later"
        );
        let ahead = check(&sns, &body, published - 301, &certs)
            .await
            .unwrap_err();
        assert!(ahead.message.contains("ahead"), "{}", ahead.message);
        let mut message = fixture_json(FIXTURES, "notification.sigv2.with-subject.json");
        message["Timestamp"] = json!("Thursday");
        let err = rejection(&sns, &message, &certs).await;
        assert_eq!(err.message, "the SNS Timestamp is not an RFC 3339 time");
    }

    #[tokio::test]
    async fn rejects_certificate_urls_off_sns_hosts() {
        let sns = Sns::new(vec![FIXTURE_TOPICS.to_owned()], TOLERANCE);
        // Nothing pinned, so these would be fetched if the rule let them.
        let certs = Certificates::new(BTreeMap::new(), reqwest::Client::new());
        for url in [
            "https://evil.example/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "https://sns.us-east-2.amazonaws.com.evil.example/cert.pem",
            "https://sns.us-east-2.amazonaws.com/cert.txt",
        ] {
            let mut message = fixture_json(FIXTURES, "notification.sigv1.no-subject.json");
            message["SigningCertURL"] = json!(url);
            let err = rejection(&sns, &message, &certs).await;
            assert_eq!(err.status, 401);
            assert!(
                err.message.contains("refusing to fetch it"),
                "{}",
                err.message
            );
        }
    }

    #[tokio::test]
    async fn rejects_missing_fields_and_non_json() {
        let sns = Sns::new(vec![FIXTURE_TOPICS.to_owned()], TOLERANCE);
        let certs = fixture_certs();
        for field in [
            "Type",
            "TopicArn",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
            "Message",
            "MessageId",
            "Timestamp",
        ] {
            let mut message = fixture_json(FIXTURES, "notification.sigv1.no-subject.json");
            message.as_object_mut().unwrap().remove(field);
            let err = rejection(&sns, &message, &certs).await;
            assert_eq!(err.status, 401, "{field}");
            assert_eq!(err.message, format!("the SNS message has no {field}"));
        }
        let mut message = fixture_json(FIXTURES, "notification.sigv1.no-subject.json");
        message["SignatureVersion"] = json!("3");
        let err = rejection(&sns, &message, &certs).await;
        assert_eq!(
            err.message,
            "SNS SignatureVersion 3 is not supported (1 or 2)"
        );

        let err = check(&sns, b"Type=Notification", FIXTURE_NOW, &certs)
            .await
            .unwrap_err();
        assert_eq!(err.status, 400);
        let err = check(&sns, b"[]", FIXTURE_NOW, &certs).await.unwrap_err();
        assert_eq!(err.status, 400);
    }

    #[test]
    fn string_to_sign_follows_the_type() {
        let confirmation =
            fixture_json(FIXTURES, "anymail.subscription-confirmation.unsigned.json");
        let message: Message = serde_json::from_value(confirmation).unwrap();
        assert_eq!(
            message.string_to_sign(SUBSCRIPTION_CONFIRMATION).unwrap(),
            "Message\nYou have chosen to subscribe ...\nTo confirm..., visit the SubscribeURL \
             included in this message.\nMessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n\
             SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&\
             TopicArn=...\nTimestamp\n2012-04-26T20:45:04.751Z\nToken\nEXAMPLE_TOKEN\nTopicArn\n\
             arn:aws:sns:us-west-2:123456789012:SES_Notifications\nType\nSubscriptionConfirmation\n"
        );
        let notification: Message = serde_json::from_value(json!({
            "Type": "Notification", "Message": "m", "MessageId": "i", "Subject": null,
            "Timestamp": "t", "TopicArn": "a", "Token": "ignored", "SubscribeURL": "ignored"
        }))
        .unwrap();
        assert_eq!(
            notification.string_to_sign(NOTIFICATION).unwrap(),
            "Message\nm\nMessageId\ni\nTimestamp\nt\nTopicArn\na\nType\nNotification\n"
        );
    }

    /// A message signed (`SignatureVersion` 2) with the test key, whose certificate the tests
    /// pin at [`TEST_CERT_URL`].
    fn signed(mut message: Value) -> Vec<u8> {
        message["Timestamp"] = json!(
            humantime::format_rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(TEST_NOW as u64))
                .to_string()
        );
        message["SignatureVersion"] = json!("2");
        message["SigningCertURL"] = json!(TEST_CERT_URL);
        let parsed: Message = serde_json::from_value(message.clone()).unwrap();
        let kind = parsed.kind.clone().unwrap();
        let text = parsed.string_to_sign(&kind).unwrap();
        message["Signature"] = json!(BASE64.encode(sign(text.as_bytes())));
        serde_json::to_vec(&message).unwrap()
    }

    const TEST_CERT_URL: &str =
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem";
    const TEST_TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:SES_Notifications";

    /// A local SNS stand-in that records the SubscribeURL queries it was sent.
    async fn serve(status: StatusCode) -> (String, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let app = Router::new().route(
            "/",
            get(move |RawQuery(query): RawQuery| {
                record.lock().unwrap().push(query.unwrap_or_default());
                async move { (status, "<ConfirmSubscriptionResponse/>") }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{address}"), seen)
    }

    const LOCAL: HostRule = HostRule::custom("a local SNS stand-in", |url| {
        url.scheme() == "http" && url.host_str() == Some("127.0.0.1")
    });

    fn confirmation(subscribe_url: &str) -> Value {
        let mut message = fixture_json(FIXTURES, "anymail.subscription-confirmation.unsigned.json");
        message["SubscribeURL"] = json!(subscribe_url);
        message
    }

    #[tokio::test]
    async fn confirms_a_verified_subscription_by_fetching_subscribe_url() {
        let dir = tempfile::tempdir().unwrap();
        let certs = Certificates::new(
            pin_test_certificate(&dir, TEST_CERT_URL),
            reqwest::Client::new(),
        );
        let (base, seen) = serve(StatusCode::OK).await;
        let sns = Sns::new(
            vec!["arn:aws:sns:*:123456789012:SES_Notifications".to_owned()],
            TOLERANCE,
        )
        .with_subscribe_rule(LOCAL);
        let http = reqwest::Client::new();

        for token in ["t1", "t2"] {
            let subscribe_url = format!("{base}/?Action=ConfirmSubscription&Token={token}");
            let body = signed(confirmation(&subscribe_url));
            let request = post(&body, TEST_NOW);
            let req = request.incoming();
            sns.verify(&req, &certs).await.unwrap();
            let answer = sns.handshake(&req, &http).await.unwrap().unwrap();
            assert_eq!(answer.status, 200);
            assert_eq!(
                serde_json::from_slice::<Value>(&answer.body).unwrap(),
                json!({ "confirmed": TEST_TOPIC })
            );
        }
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "Action=ConfirmSubscription&Token=t1",
                "Action=ConfirmSubscription&Token=t2"
            ]
        );

        // The signature covers SubscribeURL and Token.
        for (field, value) in [
            ("SubscribeURL", json!(format!("{base}/?evil"))),
            ("Token", json!("other")),
        ] {
            let mut message: Value =
                serde_json::from_slice(&signed(confirmation(&format!("{base}/")))).unwrap();
            message[field] = value;
            let body = serde_json::to_vec(&message).unwrap();
            let request = post(&body, TEST_NOW);
            let req = request.incoming();
            assert_eq!(
                sns.verify(&req, &certs).await.unwrap_err().status,
                401,
                "{field}"
            );
        }
    }

    #[tokio::test]
    async fn a_failed_confirmation_is_a_502() {
        let (base, seen) = serve(StatusCode::FORBIDDEN).await;
        let sns = Sns::new(vec![TEST_TOPIC.to_owned()], TOLERANCE).with_subscribe_rule(LOCAL);
        let body = serde_json::to_vec(&confirmation(&format!(
            "{base}/?Action=ConfirmSubscription"
        )))
        .unwrap();
        let request = post(&body, TEST_NOW);
        let req = request.incoming();
        let err = sns
            .handshake(&req, &reqwest::Client::new())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.status, 502);
        assert!(err.message.contains("403 Forbidden"), "{}", err.message);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn subscribe_urls_go_only_to_sns() {
        // The real rule: the fixture's SubscribeURL is SNS's, a local one is not fetched.
        let sns = Sns::new(vec![TEST_TOPIC.to_owned()], TOLERANCE);
        let (base, seen) = serve(StatusCode::OK).await;
        let body = serde_json::to_vec(&confirmation(&format!(
            "{base}/?Action=ConfirmSubscription"
        )))
        .unwrap();
        let request = post(&body, TEST_NOW);
        let req = request.incoming();
        let err = sns
            .handshake(&req, &reqwest::Client::new())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert!(
            err.message.starts_with("SubscribeURL http://127.0.0.1"),
            "{}",
            err.message
        );
        assert!(seen.lock().unwrap().is_empty());

        // A topic not listed is never confirmed, even if verify was skipped.
        let sns = Sns::new(vec!["arn:aws:sns:*:*:orders".to_owned()], TOLERANCE)
            .with_subscribe_rule(LOCAL);
        let err = sns
            .handshake(&req, &reqwest::Client::new())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.status, 401);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn notifications_are_stored_and_unsubscribes_answered() {
        let sns = Sns::new(vec![FIXTURE_TOPICS.to_owned()], TOLERANCE);
        let body = fixture(FIXTURES, "notification.sigv1.no-subject.json");
        let request = post(&body, FIXTURE_NOW);
        let req = request.incoming();
        assert!(sns.handshake(&req, &reqwest::Client::new()).await.is_none());

        let dir = tempfile::tempdir().unwrap();
        let certs = Certificates::new(
            pin_test_certificate(&dir, TEST_CERT_URL),
            reqwest::Client::new(),
        );
        let mut message = confirmation("https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe");
        message["Type"] = json!("UnsubscribeConfirmation");
        let body = signed(message);
        let sns = Sns::new(vec![TEST_TOPIC.to_owned()], TOLERANCE);
        let request = post(&body, TEST_NOW);
        let req = request.incoming();
        sns.verify(&req, &certs).await.unwrap();
        let answer = sns
            .handshake(&req, &reqwest::Client::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(
            serde_json::from_slice::<Value>(&answer.body).unwrap(),
            json!({ "unsubscribed": TEST_TOPIC })
        );
        assert_eq!(
            event_type(&body).as_deref(),
            Some("UnsubscribeConfirmation")
        );
        assert_eq!(
            delivery_id(&body).as_deref(),
            Some("165545c9-2a5c-472c-8df2-7ff2be2b3b1b")
        );
    }
}
