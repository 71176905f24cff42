//! Amazon SNS: the message's `Signature` (SignatureVersion 1, SHA1, or 2, SHA256) by the
//! certificate at `SigningCertURL` (`sns.<region>.amazonaws.com` only, valid at the router's
//! clock), its `TopicArn` among the source's `topics`. The type is the message `Type`; a retry
//! keeps `MessageId`. Confirmations are answered, never stored, and nothing is fetched from a
//! host that is not Amazon's. Certificates are pinned (`[server.certificates]`): the fixtures'
//! (expired in 2022, hence the clock), and one of this test's own to sign anymail's unsigned
//! samples and the confirmations.

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use crate::common::Subscriber;
use crate::common::providers::*;

const SNS_CERT_URL: &str = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
/// The fixtures' certificate runs from 2021-09-07 to 2022-08-17; they were sent on 2022-07-28.
const SNS_NOW: &str = "2022-07-28T23:00:00Z";
const SNS_EXPIRED: &str = "2022-08-18T00:00:00Z";
const SNS_TOPICS: &str = "arn:aws:sns:us-east-2:295079676684:*";

/// A key and certificate of this test's own, pinned for an SNS URL, to sign the fixtures'
/// unsigned messages (and confirmations) with SignatureVersion 2.
const E2E_CERT_URL: &str = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-e2e.pem";
const E2E_CERT_PEM: &str = r"-----BEGIN CERTIFICATE-----
MIICrjCCAZYCAQEwDQYJKoZIhvcNAQELBQAwHDEaMBgGA1UEAwwRc25zLmFtYXpv
bmF3cy5jb20wIBcNMTAwMTAxMDAwMDAwWhgPMjA5OTEyMzEyMzU5NTlaMBwxGjAY
BgNVBAMMEXNucy5hbWF6b25hd3MuY29tMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A
MIIBCgKCAQEA4xGBWZ75dqyweiJIk9zAzYi13+KA9+XtJlQ94x2FXG3PqJwPbJ0Q
IIKIe/sfu3li+ZJZCGFKPjNR39vmA4lInn/UrUi1jgsTD0bVGSXzRWMIXLA5rifb
mSVbvji/72tCpAjzSAH6U4HWg2/S0Gu6sOoOuRk2SBc3I84/Why6XnijfF8ca8Lr
+hYmx2FpSfevZoKKlfe5rnp/MeJj1b+WQXCVZ8xvvpD4teZJLeQpNwxSU+Dv0q3B
Q2VboiBrINk1bZbiKE+E5zotye4ITCxfEjbng/92LwG3+i7ut/XKcRXmTiFSv5Ut
J2BESwrpVtK/NrZmz51L3V5LFyjZvUv1qQIDAQABMA0GCSqGSIb3DQEBCwUAA4IB
AQAg0s7YCNR4AbTFdvHU/u1gFdrp9rdT1DUXq6pXzTaqAIN9ym9vk4JJlolKNYzF
8O5ws7Y3HBvwjNQyoTd5Jom/TEI8a3rKuBG7pfRFoHJkE8aWmhnE0bf+yHXxeT+H
VQGS2WuWMcbF3YjigGk3o8brn8LqiXG6ygqf8Pk31DUkq3usB8rHwGQNfX7AWS4D
ywjbST74vLs2ZvWkNhtgUkLEEkd54WDBOzbwbbFbcw8ppg3JKQJqu9slJInY4/DP
7KCh6m2Bi0F667p/9rijoNAaU/VDX5Uocyvzi6ATWRqdXLSeLXE4n4xIzBYzYVNv
UN9uJIu2FqjOVtjSZsfO9H7r
-----END CERTIFICATE-----
";
const E2E_KEY_PEM: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDjEYFZnvl2rLB6
IkiT3MDNiLXf4oD35e0mVD3jHYVcbc+onA9snRAggoh7+x+7eWL5klkIYUo+M1Hf
2+YDiUief9StSLWOCxMPRtUZJfNFYwhcsDmuJ9uZJVu+OL/va0KkCPNIAfpTgdaD
b9LQa7qw6g65GTZIFzcjzj9aHLpeeKN8Xxxrwuv6FibHYWlJ969mgoqV97muen8x
4mPVv5ZBcJVnzG++kPi15kkt5Ck3DFJT4O/SrcFDZVuiIGsg2TVtluIoT4TnOi3J
7ghMLF8SNueD/3YvAbf6Lu639cpxFeZOIVK/lS0nYERLCulW0r82tmbPnUvdXksX
KNm9S/WpAgMBAAECggEANfW0/W0v7ym+jmeTQ8AT+UPhpKCY8VAseQ1P36bmSD64
OGNNrwvsBy297WiR8+U2xgQnMDyefgWIEWCaWoDHRxMtoThEHMs47kpw3ZcNJpIQ
LKacLmy+XLhqAtxNkEG3BnAyEAyYRjv2lCmAuZLAPMaCVS5OnfcWXWXn3CwzhbtG
uEXY8qEk+aZ3CcbnqcHRuJ1Dv+RN/pqTRVA0NiRCCLK6CK/4EmvzCbxx/PmpuZJq
pTaaUmP8ntLSP1iwA/jXnYEibGGQHZbYGC3Ep0yuxL2k/QjHCEJqOMyuovkfZllE
VwbBXpWxEi8fBC8fWsaQVFnT3hFVB/F6huZuL0OWOQKBgQD8dhWwRguRkNx+//yX
OwI/z4V7+R+/pYmgxLkG6ad59pwQlvuM4dCAfTIlenlIEQVjqrvEwIIVF097AsSw
AwmsseLKCCXq8LhEEo2ig/z6hZ3Tly0vszW+U5wnJdBA9yrlchR1rv8IgdXawiJq
JjBtBMfVwcpCXVOIDw5UOKD5twKBgQDmQE1pxcBu6YOMObPDawSiA22M5oyYcjLA
xlP6KL3MljvNDWe0ohoYuVIC3jGqOfrldjNpMGC/4lKMMioARnac+ox7Di4QdZ7Z
MjNxgDtkIZ1r/KNk4E5AivF4P5nHKLR8GrFMnx3K1VaUvo7zvA9AbWaXPHzR64DG
xfFYBhoLnwKBgE12ui7tPy16In4Bc/K/U3Ba751bkodOds1Sr2dUmGPO7JIWkbbn
rv9N6u4fB0m6l0m+oIC9hOyNy4B2F/3d4MERkAHnwCK3nAKfIsBj+WKxTv0WnPHO
7kWpB/fnHWBhttLSTz7Q5EYq+IB4IvEpKKC638pR/Qqh8jiETiQ/f/0/AoGBAM21
9XPisaJmDplhlDGrk2AMH/wantI0dRO2HaEKdUgrkRIKP/UqPpaIO7VEPqsPUhFg
IV6BUm8dDRMkXlIQojhtwMTQTmd2Lo1uRHfLUUSMo9Cuzmx52m/fswz0Bbfhrh6S
2oTSRBPLtqb9+UnZYub01wuXhw0lktAEWTODgBGRAoGBAJBh3HAWKyohZYQ5cm5E
p7gMy4qU+qZPKYTJuzC9t4oHrcYFA9fOdGAjuc4b3bXeBPpzTJ9MUGwOGxBliErY
vX20LP4uTDx+6hS8C1cK3foZMkk6DWXWIqu/9ErgbT4lFjAIHKc7R2HZE7Wxi1g+
JOn5mvZkH1kT7fn8Ff7Ym1RI
-----END PRIVATE KEY-----
";

fn sns_server(now: &str, e2e_cert: &Path) -> String {
    clock_and_certificates(
        unix(now),
        &[
            (
                SNS_CERT_URL,
                &fixture_path("aws-sns/sns.amazonaws.com.2021-09-07.cert.pem"),
            ),
            (E2E_CERT_URL, e2e_cert),
        ],
    )
}

/// `sns` takes the fixtures' account and the SES topics of anymail's samples (one of which has
/// a 10-digit account, hence the `*`), with `extra` keys in its `verify` table; `orders` one
/// topic only; `keep_all` the fixtures' account, with every request a new event
/// (`dedup = false`).
fn sns_wiring(extra: &str) -> String {
    format!(
        "[sources.sns]\nverify = {{ scheme = \"sns\", topics = [{SNS_TOPICS:?}, \"arn:aws:sns:us-west-2:123456789012:SES_Notifications\", \"arn:aws:sns:us-east-1:*:SES_Events\"]{extra} }}\n\
         [sources.orders]\nverify = {{ scheme = \"sns\", topics = [\"arn:aws:sns:us-east-1:123456789012:orders\"] }}\n\
         [sources.keep_all]\ndedup = false\nverify = {{ scheme = \"sns\", topics = [{SNS_TOPICS:?}] }}\n"
    )
}

/// A router for the SNS stories at `now`, with this test's certificate written beside it.
async fn sns_router(now: &str) -> (Router, tempfile::TempDir) {
    sns_router_with(now, "").await
}

/// [`sns_router`] with `extra` keys in the `sns` source's `verify` table.
async fn sns_router_with(now: &str, extra: &str) -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("e2e-sns.pem");
    std::fs::write(&cert, E2E_CERT_PEM).unwrap();
    let router = Router::start_with_server(&sns_server(now, &cert), &sns_wiring(extra)).await;
    (router, dir)
}

fn sns_post(source: &str, message: &Value) -> Hook {
    // SNS posts JSON as text/plain, with the type in a header.
    post(source, serde_json::to_vec(message).unwrap())
        .header("content-type", "text/plain; charset=UTF-8")
        .header(
            "x-amz-sns-message-type",
            message["Type"].as_str().unwrap_or(""),
        )
        .header(
            "x-amz-sns-message-id",
            message["MessageId"].as_str().unwrap_or(""),
        )
}

/// `message` published at [`SNS_NOW`] and signed by this test's key (SignatureVersion 2), as
/// SNS stamps and signs it.
fn sns_sign(mut message: Value) -> Value {
    message["Timestamp"] = json!(SNS_NOW);
    let kind = message["Type"].as_str().unwrap().to_owned();
    let fields: &[&str] = if kind == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut text = String::new();
    for field in fields {
        if let Some(value) = message[*field].as_str() {
            text += &format!("{field}\n{value}\n");
        }
    }
    message["SignatureVersion"] = json!("2");
    message["SigningCertURL"] = json!(E2E_CERT_URL);
    let der = pem_body(E2E_KEY_PEM);
    let key = RsaKeyPair::from_pkcs8(&der).unwrap();
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        text.as_bytes(),
        &mut signature,
    )
    .unwrap();
    message["Signature"] = json!(base64(&signature));
    message
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let text: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_stored_with_their_type() {
    let (router, _dir) = sns_router(SNS_NOW).await;
    let hooks = Hooks::new(&router);
    let vectors = vectors("aws-sns");
    assert_eq!(vectors.len(), 4);
    for v in &vectors {
        let message = fixture_json(&format!("aws-sns/{}", v["file"].as_str().unwrap()));
        assert_eq!(message["SignatureVersion"], v["SignatureVersion"]);
        let id = hooks
            .accepts(sns_post("sns", &message), Some("Notification"))
            .await;
        // SNS retries with the same MessageId.
        hooks.duplicate(sns_post("sns", &message), &id).await;
    }
    // anymail's SES bounce sample, signed here: the SES notification inside is its Message.
    let bounce = fixture_json("aws-sns/anymail.ses-bounce-notification.unsigned.json");
    hooks
        .refuses(
            sns_post("sns", &bounce),
            "the sample's placeholder signature",
        )
        .await;
    hooks
        .accepts(sns_post("sns", &sns_sign(bounce)), Some("Notification"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_are_answered_without_calling_anyone_but_amazon() {
    let (router, _dir) = sns_router(SNS_NOW).await;
    let hooks = Hooks::new(&router);
    let confirmation = fixture_json("aws-sns/anymail.subscription-confirmation.unsigned.json");
    let topic = confirmation["TopicArn"].as_str().unwrap().to_owned();

    // An UnsubscribeConfirmation is acknowledged, not stored.
    let mut unsubscribed = confirmation.clone();
    unsubscribed["Type"] = json!("UnsubscribeConfirmation");
    let body = serde_json::to_vec(&json!({ "unsubscribed": topic })).unwrap();
    hooks
        .answers(sns_post("sns", &sns_sign(unsubscribed)), 200, &body)
        .await;

    // A SubscribeURL off Amazon's SNS endpoints is never fetched.
    let trap = Subscriber::ok().await;
    let mut foreign = confirmation.clone();
    foreign["SubscribeURL"] = json!(format!("{}?Action=ConfirmSubscription", trap.url()));
    let refusal = hooks
        .refuses(
            sns_post("sns", &sns_sign(foreign)),
            "a SubscribeURL off Amazon's hosts",
        )
        .await;
    assert!(refusal.contains("SubscribeURL"), "{refusal}");
    assert_eq!(
        trap.count(),
        0,
        "wasmhook fetched a SubscribeURL that is not Amazon's"
    );

    // The fixture as published (placeholder signature), and a signed one for a topic the
    // source does not take: refused, nothing fetched.
    hooks
        .refuses(sns_post("sns", &confirmation), "the unsigned sample")
        .await;
    hooks
        .refuses(
            sns_post("orders", &sns_sign(confirmation.clone())),
            "a topic not subscribed",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_messages_are_refused_and_nothing_is_stored() {
    let (router, _dir) = sns_router(SNS_NOW).await;
    let hooks = Hooks::new(&router);
    let message = fixture_json("aws-sns/notification.sigv2.with-subject.json");

    let mut tampered_message = message.clone();
    tampered_message["Message"] = json!("Hello world!");
    hooks
        .refuses(sns_post("sns", &tampered_message), "tampered Message")
        .await;
    let mut tampered_subject = message.clone();
    tampered_subject["Subject"] = json!("Hello");
    hooks
        .refuses(sns_post("sns", &tampered_subject), "tampered Subject")
        .await;
    hooks
        .refuses(
            sns_post("orders", &message),
            "a topic the source does not take",
        )
        .await;
    let mut v1 = message.clone();
    v1["SignatureVersion"] = json!("1");
    hooks
        .refuses(
            sns_post("sns", &v1),
            "a SHA256 signature announced as SigV1",
        )
        .await;
    for field in ["Signature", "SigningCertURL", "SignatureVersion"] {
        let mut missing = message.clone();
        missing.as_object_mut().unwrap().remove(field);
        hooks
            .refuses(sns_post("sns", &missing), &format!("no {field}"))
            .await;
    }
    let trap = Subscriber::ok().await;
    for url in [
        format!("{}/SimpleNotificationService-x.pem", trap.url()),
        "https://sns.us-east-2.amazonaws.com.evil.example/SimpleNotificationService-x.pem".to_owned(),
        "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem".to_owned(),
    ] {
        let mut foreign = message.clone();
        foreign["SigningCertURL"] = json!(url);
        hooks.refuses(sns_post("sns", &foreign), &format!("certificate at {url}")).await;
    }
    assert_eq!(
        trap.count(),
        0,
        "a certificate was fetched from a foreign host"
    );
    hooks
        .refuses_with(
            post("sns", "Action=Publish").form(),
            400,
            "not an SNS message",
        )
        .await;

    // However long the tolerance, an expired certificate's signatures no longer count.
    let (later, _later_dir) = sns_router_with(SNS_EXPIRED, ", tolerance = \"30d\"").await;
    let expired = Hooks::new(&later)
        .refuses(sns_post("sns", &message), "an expired certificate")
        .await;
    assert!(
        expired.contains("valid") || expired.contains("expired"),
        "{expired}"
    );
}

/// A message is taken once: replayed to a source that keeps every request (`dedup = false`),
/// even after a restart, it is answered as a duplicate. Once its `Timestamp` is older than the
/// tolerance (`"2h"` unless set: SNS retries for at most an hour), or more than five minutes
/// ahead, it is refused before any certificate is looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_message_is_taken_once_and_only_while_it_is_recent() {
    let message = fixture_json("aws-sns/notification.sigv2.with-subject.json");
    let published = unix(message["Timestamp"].as_str().unwrap());
    let (mut router, _dir) = sns_router(SNS_NOW).await;
    let hooks = Hooks::new(&router);
    let first = hooks
        .accepts(sns_post("keep_all", &message), Some("Notification"))
        .await;
    hooks
        .duplicate(sns_post("keep_all", &message), &first)
        .await;
    router.restart().await;
    Hooks::new(&router)
        .duplicate(sns_post("keep_all", &message), &first)
        .await;

    let at = |unix: i64| {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix as u64),
        )
        .to_string()
    };
    let two_hours = 2 * 3600;
    for (now, extra, why) in [
        (
            published + two_hours + 1,
            "",
            "a Timestamp older than 2 hours",
        ),
        (published - 301, "", "a Timestamp more than 5 minutes ahead"),
        (
            published + 600,
            ", tolerance = \"5m\"",
            "older than the configured tolerance",
        ),
    ] {
        let (router, _dir) = sns_router_with(&at(now), extra).await;
        let refused = Hooks::new(&router)
            .refuses(sns_post("sns", &message), why)
            .await;
        assert!(refused.contains("Timestamp"), "{refused}");
    }
    let (router, _dir) = sns_router_with(&at(published + two_hours), "").await;
    Hooks::new(&router)
        .accepts(sns_post("sns", &message), Some("Notification"))
        .await;
}
