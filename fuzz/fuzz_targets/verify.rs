//! Every verification scheme's reading of a request: headers, query, path and body in any
//! shape reach `verify`, `handshake`, `event_type` and `delivery_id` of every scheme, which
//! answer or refuse, never panic. Certificates are pinned to the fixtures' and outgoing calls
//! go to a closed local port, so nothing leaves the machine.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use wasmhook::config::Config;
use wasmhook::verify::Verifier;
use wasmhook::verify::{Certificates, Incoming};

/// One source per scheme; the secrets are the fixtures' where a fixture can sign a request.
const SOURCES: &str = r#"
[server]
[server.certificates]
"https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem" = "FIXTURES/aws-sns/sns.amazonaws.com.2021-09-07.cert.pem"
"https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270" = "FIXTURES/paypal/messageverificationcerts.sandbox.paypal.com.2019-04-02.cert.pem"

[sources.none]
[sources.hmac]
verify = { scheme = "hmac-sha256", secret = "s3cret", header = "X-Signature", encoding = "base64", prefix = "sha256=" }
[sources.github]
verify = { scheme = "github", secret = "It's a Secret to Everybody", legacy_sha1 = true }
[sources.standard]
verify = { scheme = "standard-webhooks", secret = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whpk_6LJ7Eo6D1ZCCw0V11jyTSuhfJDT5nVb6cDK1YGh6jAU="] }
[sources.stripe]
verify = { scheme = "stripe", secret = ["whsec_test_secret", "whsec_other"] }
[sources.shopify]
verify = { scheme = "shopify", secret = "hush" }
[sources.slack]
verify = { scheme = "slack", secret = "8f742231b10e8888abcd99yyyzzz85a5" }
[sources.paypal]
verify = { scheme = "paypal", webhook_id = "0FV983392A0531201" }
[sources.sendgrid]
verify = { scheme = "sendgrid", public_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==" }
[sources.mailgun]
verify = { scheme = "mailgun", signing_key = "key-1234" }
[sources.mandrill]
verify = { scheme = "mandrill", key = "mandrill-key", url = "https://hooks.example.com/hooks/mandrill" }
[sources.mailchimp]
verify = { scheme = "mailchimp", secret = "path-secret" }
[sources.websub]
verify = { scheme = "websub", secret = "hub-secret", topics = ["https://example.com/feed"] }
[sources.sns]
verify = { scheme = "sns", topics = ["arn:aws:sns:*:*:*"] }
[sources.eventgrid]
verify = { scheme = "eventgrid", secret = "grid-secret", allowed_origins = ["eventgrid.azure.net"] }
[sources.openstack]
verify = { scheme = "openstack", secret = "stack-secret" }
"#;

struct Schemes {
    verifiers: Vec<Verifier>,
    runtime: tokio::runtime::Runtime,
}

static SCHEMES: LazyLock<Schemes> = LazyLock::new(|| {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    let text = SOURCES.replace("FIXTURES", &fixtures.display().to_string());
    let config = Config::parse(Path::new("/fuzz/routes.toml"), &text, &|_| None)
        .unwrap_or_else(|errors| panic!("the fuzzing config is invalid: {errors}"));
    // Every outgoing call (certificates not pinned, provider call-backs) meets a closed port.
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all("http://127.0.0.1:9").expect("a proxy URL"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let certificates = Certificates::new(config.server.certificates.clone(), http.clone());
    let verifiers = config
        .sources
        .values()
        .map(|source| Verifier::new(&source.verify, &certificates, &http).expect("a verifier"))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    Schemes { verifiers, runtime }
});

/// Header names the schemes read, so that the fuzzer reaches past "missing header".
const KNOWN_HEADERS: &[&str] = &[
    "content-type",
    "x-signature",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-github-event",
    "x-github-delivery",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "stripe-signature",
    "x-shopify-hmac-sha256",
    "x-shopify-topic",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
    "x-twilio-email-event-webhook-signature",
    "x-twilio-email-event-webhook-timestamp",
    "x-mandrill-signature",
    "x-amz-sns-message-type",
    "aeg-event-type",
    "aeg-sas-key",
    "aeg-sas-token",
    "webhook-request-origin",
    "webhook-request-callback",
    "x-openstack-secret",
    "authorization",
    "host",
    "forwarded",
    "x-forwarded-proto",
    "x-forwarded-host",
];

#[derive(Arbitrary, Debug)]
enum Name<'a> {
    Known(u8),
    Other(&'a str),
}

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    scheme: u8,
    method: u8,
    headers: Vec<(Name<'a>, &'a [u8])>,
    query: Vec<(&'a str, &'a str)>,
    rest: &'a str,
    url: &'a str,
    body: &'a [u8],
    now: i64,
}

fuzz_target!(|request: Request<'_>| {
    let schemes = &*SCHEMES;
    let verifier = &schemes.verifiers[request.scheme as usize % schemes.verifiers.len()];
    let method = [Method::POST, Method::GET, Method::HEAD, Method::OPTIONS]
        [request.method as usize % 4]
        .clone();
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let name = match name {
            Name::Known(index) => {
                HeaderName::from_static(KNOWN_HEADERS[*index as usize % KNOWN_HEADERS.len()])
            }
            Name::Other(name) => match HeaderName::try_from(*name) {
                Ok(name) => name,
                Err(_) => continue,
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let query: BTreeMap<String, String> = request
        .query
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    let incoming = Incoming {
        method: &method,
        headers: &headers,
        query: &query,
        rest: request.rest,
        url: request.url,
        body: request.body,
        now: request.now,
    };
    schemes.runtime.block_on(async {
        let _ = verifier.verify(&incoming).await;
        let _ = verifier.handshake(&incoming).await;
    });
    let _ = verifier.event_type(&incoming);
    let _ = verifier.delivery_id(&incoming);
});
