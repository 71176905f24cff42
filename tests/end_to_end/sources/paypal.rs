//! PayPal: `PAYPAL-TRANSMISSION-SIG`, RSA-SHA256 over
//! `{PAYPAL-TRANSMISSION-ID}|{PAYPAL-TRANSMISSION-TIME}|{webhook_id}|{CRC-32 of the body}` by
//! the certificate at `PAYPAL-CERT-URL` (PayPal's hosts only, valid at the router's clock). The
//! type is the event's `event_type`; a redelivery keeps the event's `id` (`WH-...`). The
//! fixtures' certificates are pinned in `[server.certificates]`: nothing is downloaded.

use std::path::{Path, PathBuf};

use crate::common::Subscriber;
use crate::common::providers::*;

/// Both sandbox certificates are valid on this day (2017's until 2019-04-26, 2019's from
/// 2019-04-02); PayPal does not bound the transmission time.
const PAYPAL_BOTH_VALID: &str = "2019-04-10T00:00:00Z";
/// The 2019 certificate expired on 2021-05-24.
const PAYPAL_EXPIRED: &str = "2021-06-01T00:00:00Z";

fn paypal_server(now: &str) -> String {
    let pins: Vec<(String, PathBuf)> = vectors("paypal")
        .iter()
        .filter(|v| v["certificate_file"].is_string())
        .map(|v| {
            (
                v["headers"]["PAYPAL-CERT-URL"].as_str().unwrap().to_owned(),
                fixture_path(&format!(
                    "paypal/{}",
                    v["certificate_file"].as_str().unwrap()
                )),
            )
        })
        .collect();
    let pins: Vec<(&str, &Path)> = pins
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_path()))
        .collect();
    clock_and_certificates(unix(now), &pins)
}

/// `paypalN` for each vector with its webhook id (the negative vector's `NotToBeFound`
/// included).
fn paypal_wiring() -> String {
    vectors("paypal")
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "[sources.paypal{i}]\nverify = {{ scheme = \"paypal\", webhook_id = {} }}\n",
                v["webhook_id"]
            )
        })
        .collect()
}

/// Vector `i`'s delivery to `source`, as PayPal sent it (the negative vector uses the
/// delivery of the vector it is `based_on`).
fn paypal_delivery(i: usize, source: &str) -> Hook {
    let vectors = vectors("paypal");
    let v = match vectors[i]["based_on"].as_u64() {
        Some(base) => &vectors[base as usize],
        None => &vectors[i],
    };
    let body = fixture(&format!("paypal/{}", v["body_file"].as_str().unwrap()));
    let mut hook = post(source, body).json();
    for (name, value) in v["headers"].as_object().unwrap() {
        hook = hook.header(name, value.as_str().unwrap());
    }
    hook
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_is_judged_as_the_fixture_says() {
    let router =
        Router::start_with_server(&paypal_server(PAYPAL_BOTH_VALID), &paypal_wiring()).await;
    let hooks = Hooks::new(&router);
    for (i, v) in vectors("paypal").iter().enumerate() {
        let source = format!("paypal{i}");
        let delivery = paypal_delivery(i, &source);
        if v["valid"] == false {
            hooks
                .refuses(delivery, &format!("vector {i}: {}", v["source"]))
                .await;
            continue;
        }
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        let id = hooks
            .accepts(delivery.clone(), body["event_type"].as_str())
            .await;
        // A redelivery (or a dashboard "Resend") is the same event, `WH-...`.
        hooks.duplicate(delivery, &id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_deliveries_are_refused_and_nothing_is_stored() {
    let router =
        Router::start_with_server(&paypal_server(PAYPAL_BOTH_VALID), &paypal_wiring()).await;
    let hooks = Hooks::new(&router);
    let good = paypal_delivery(0, "paypal0");
    hooks
        .refuses(good.clone().body(tampered(&good.body)), "tampered body")
        .await;
    hooks
        .refuses(good.clone().to("paypal1"), "another webhook_id")
        .await;
    for header in [
        "paypal-transmission-sig",
        "paypal-transmission-id",
        "paypal-cert-url",
    ] {
        let missing = hooks
            .refuses(good.clone().without(header), &format!("no {header}"))
            .await;
        assert!(missing.to_lowercase().contains(header), "{missing}");
    }
    hooks
        .refuses(
            good.clone()
                .header("paypal-transmission-time", "2019-08-29T10:49:34Z"),
            "another transmission time",
        )
        .await;
    // A certificate URL off PayPal's hosts is refused before anything is fetched.
    let evil = Subscriber::ok().await;
    let off_host = hooks
        .refuses(
            good.clone()
                .header("paypal-cert-url", &format!("{}/cert.pem", evil.url())),
            "a certificate URL off PayPal's hosts",
        )
        .await;
    assert!(off_host.contains("paypal.com"), "{off_host}");
    hooks
        .refuses(
            good.clone().header(
                "paypal-cert-url",
                "https://api.sandbox.paypal.com.evil.example/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
            ),
            "a look-alike host",
        )
        .await;
    assert_eq!(
        evil.count(),
        0,
        "a certificate was fetched from a foreign host"
    );
    hooks.accepts(good, Some("PAYMENTS.PAYMENT.CREATED")).await;

    // Once the certificate has expired, its signatures no longer count.
    let later = Router::start_with_server(&paypal_server(PAYPAL_EXPIRED), &paypal_wiring()).await;
    let expired = Hooks::new(&later)
        .refuses(paypal_delivery(0, "paypal0"), "an expired certificate")
        .await;
    assert!(
        expired.contains("valid") || expired.contains("expired"),
        "{expired}"
    );
}
