//! PayPal: `PAYPAL-TRANSMISSION-SIG`, RSA-SHA256 over
//! `{PAYPAL-TRANSMISSION-ID}|{PAYPAL-TRANSMISSION-TIME}|{webhook_id}|{CRC-32 of the body}` by
//! the certificate at `PAYPAL-CERT-URL` (PayPal's hosts only, valid at the router's clock), the
//! transmission time within the source's tolerance. The type is the event's `event_type`; a
//! redelivery keeps the event's `id` (`WH-...`), and a transmission is taken once. The
//! fixtures' certificates are pinned in `[server.certificates]`: nothing is downloaded.

use std::path::{Path, PathBuf};

use crate::common::Subscriber;
use crate::common::providers::*;

/// The 2019 certificate expired on 2021-05-24.
const PAYPAL_EXPIRED: &str = "2021-06-01T00:00:00Z";

/// Vector `i`'s `PAYPAL-TRANSMISSION-TIME`, in Unix seconds: the router's clock for it.
fn transmitted_at(i: usize) -> i64 {
    unix(
        vectors("paypal")[i]["headers"]["PAYPAL-TRANSMISSION-TIME"]
            .as_str()
            .unwrap(),
    )
}

fn paypal_server(now: i64) -> String {
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
    clock_and_certificates(now, &pins)
}

/// `paypalN` for each vector with its webhook id (the negative vector's `NotToBeFound`
/// included); `extra` is added to each source's `verify` table.
fn paypal_wiring(extra: &str) -> String {
    vectors("paypal")
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "[sources.paypal{i}]\nverify = {{ scheme = \"paypal\", webhook_id = {}{extra} }}\n",
                v["webhook_id"]
            )
        })
        .collect()
}

/// A router whose clock is `now`, with every vector's source and certificate.
async fn paypal_router(now: i64, extra: &str) -> Router {
    Router::start_with_server(&paypal_server(now), &paypal_wiring(extra)).await
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

/// Each vector on a router at its own transmission time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_is_judged_as_the_fixture_says() {
    for (i, v) in vectors("paypal").iter().enumerate() {
        let based_on = v["based_on"].as_u64().map_or(i, |base| base as usize);
        let router = paypal_router(transmitted_at(based_on), "").await;
        let hooks = Hooks::new(&router);
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
    let router = paypal_router(transmitted_at(0), "").await;
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

    // Once the certificate has expired, its signatures no longer count (however long the
    // source's tolerance).
    let later = paypal_router(unix(PAYPAL_EXPIRED), ", tolerance = \"1000d\"").await;
    let expired = Hooks::new(&later)
        .refuses(paypal_delivery(0, "paypal0"), "an expired certificate")
        .await;
    assert!(
        expired.contains("valid") || expired.contains("expired"),
        "{expired}"
    );
}

/// A delivery is taken once: replayed as it was captured, even to a source that keeps every
/// request (`dedup = false`) and after a restart, it is answered as a duplicate; replayed
/// with another event in a body of the same CRC-32 (all PayPal signs of it), too. Once the
/// transmission time is older than the tolerance (`"4d"` unless set), or more than five
/// minutes ahead, it is refused before any certificate is looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_delivery_is_taken_once_and_only_while_it_is_recent() {
    let sent = transmitted_at(0);
    let wiring = format!(
        "{}[sources.keep_all]\ndedup = false\nverify = {{ scheme = \"paypal\", webhook_id = {} }}\n",
        paypal_wiring(""),
        vectors("paypal")[0]["webhook_id"]
    );
    let mut router = Router::start_with_server(&paypal_server(sent + 60), &wiring).await;
    let hooks = Hooks::new(&router);
    let captured = paypal_delivery(0, "keep_all");
    let first = hooks
        .accepts(captured.clone(), Some("PAYMENTS.PAYMENT.CREATED"))
        .await;
    hooks.duplicate(captured.clone(), &first).await;

    let forged = forged_with_the_same_crc(&captured.body);
    assert_eq!(crc32fast::hash(&forged), crc32fast::hash(&captured.body));
    let forged_id = serde_json::from_slice::<Value>(&forged).unwrap()["id"].clone();
    assert_ne!(
        forged_id,
        serde_json::from_slice::<Value>(&captured.body).unwrap()["id"]
    );
    let to_dedup_source = paypal_delivery(0, "paypal0");
    let original = hooks
        .accepts(to_dedup_source.clone(), Some("PAYMENTS.PAYMENT.CREATED"))
        .await;
    hooks
        .duplicate(to_dedup_source.body(forged), &original)
        .await;

    router.restart().await;
    let hooks = Hooks::new(&router);
    hooks.duplicate(captured, &first).await;

    let four_days = 4 * 24 * 3600;
    for (now, why) in [
        (
            sent + four_days + 1,
            "a transmission time older than 4 days",
        ),
        (sent - 301, "a transmission time more than 5 minutes ahead"),
    ] {
        let router = paypal_router(now, "").await;
        let refused = Hooks::new(&router)
            .refuses(paypal_delivery(0, "paypal0"), why)
            .await;
        assert!(refused.contains("PAYPAL-TRANSMISSION-TIME"), "{refused}");
    }
    let router = paypal_router(sent + 3600, ", tolerance = \"30m\"").await;
    Hooks::new(&router)
        .refuses(
            paypal_delivery(0, "paypal0"),
            "older than the configured tolerance",
        )
        .await;
    let router = paypal_router(sent + four_days, "").await;
    Hooks::new(&router)
        .accepts(
            paypal_delivery(0, "paypal0"),
            Some("PAYMENTS.PAYMENT.CREATED"),
        )
        .await;
}

/// `body` with another event `id` and the same CRC-32: one letter of the id changes case, and
/// the case of letters in the `summary` and `description` texts is flipped to bring the CRC
/// back. CRC-32 is linear, so which letters to flip is a small system of equations over GF(2).
fn forged_with_the_same_crc(body: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(body).unwrap();
    let mut forged = body.to_vec();
    let id = text.find("\"id\":\"WH-").unwrap() + "\"id\":\"WH-".len();
    let letter = id + text[id..].find(|c: char| c.is_ascii_alphabetic()).unwrap();
    forged[letter] ^= 0x20;

    let letters_of = |key: &str| {
        let start = text.find(&format!("\"{key}\":\"")).unwrap() + key.len() + 4;
        let end = start + text[start..].find('"').unwrap();
        (start..end).filter(|&i| body[i].is_ascii_alphabetic())
    };
    let candidates: Vec<usize> = letters_of("summary")
        .chain(letters_of("description"))
        .collect();
    assert!(candidates.len() <= 128);
    let base = crc32fast::hash(&forged);
    // Each candidate's effect on the CRC, reduced to a basis with distinct leading bits;
    // each basis vector remembers which candidates it combines.
    let mut basis: Vec<(u32, u128)> = Vec::new();
    let reduce = |basis: &[(u32, u128)], mut vector: u32, mut combination: u128| {
        for &(b, c) in basis {
            if vector ^ b < vector {
                vector ^= b;
                combination ^= c;
            }
        }
        (vector, combination)
    };
    for (k, &at) in candidates.iter().enumerate() {
        let mut flipped = forged.clone();
        flipped[at] ^= 0x20;
        let (vector, combination) = reduce(&basis, crc32fast::hash(&flipped) ^ base, 1 << k);
        if vector != 0 {
            basis.push((vector, combination));
            basis.sort_by_key(|&(vector, _)| std::cmp::Reverse(vector));
        }
    }
    let (rest, flips) = reduce(&basis, base ^ crc32fast::hash(body), 0);
    assert_eq!(rest, 0, "not enough letters to bring the CRC back");
    for (k, &at) in candidates.iter().enumerate() {
        if flips & (1 << k) != 0 {
            forged[at] ^= 0x20;
        }
    }
    forged
}
