//! Only senders who prove who they are get in; nothing else is stored.

use crate::common::signature::{github, hmac_sha256_hex, now_unix, standard_webhook_sign};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_github_signature_is_refused_and_nothing_is_stored() {
    let router = Router::start(&github_source("github")).await;
    let push = push_to("main", 1);
    let forged = github("not the secret", &push);
    let headers = [
        ("content-type", "application/json"),
        ("x-github-event", "push"),
        ("x-hub-signature-256", forged.as_str()),
    ];
    rejected(
        router.post_hook("github", push.clone(), &headers).await,
        StatusCode::UNAUTHORIZED,
    );
    rejected(
        router
            .post_hook("github", push.clone(), &headers[..2])
            .await,
        StatusCode::UNAUTHORIZED,
    );
    assert_eq!(
        router.admin_get("/api/events").await["events"],
        json!([]),
        "a refused event was stored"
    );

    rejected(
        router.post_hook("gitlab", push, &headers).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_max_body_is_refused() {
    let router = Router::start_with_server("max_body = \"1KiB\"", "[sources.plain]\n").await;
    rejected(
        router.post_hook("plain", vec![b'x'; 1025], &[]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    accepted(router.post_hook("plain", vec![b'x'; 1024], &[]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_github_vector_is_accepted() {
    let vectors = fixture_json("github/vectors.json");
    let vectors = vectors["vectors"].as_array().unwrap();
    let sources: String = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "[sources.gh{i}]\nverify = {{ scheme = \"github\", secret = {} }}\n",
                v["secret"]
            )
        })
        .collect();
    let router = Router::start(&sources).await;
    for (i, v) in vectors.iter().enumerate() {
        let body = match v["body"].as_str() {
            Some(body) => body.as_bytes().to_vec(),
            None => fixture(&format!("github/{}", v["body_file"].as_str().unwrap())),
        };
        let is_json = serde_json::from_slice::<Value>(&body).is_ok();
        let content_type = if is_json {
            "application/json"
        } else {
            "text/plain"
        };
        let delivery = format!("vector-{i}");
        let headers = [
            ("content-type", content_type),
            ("x-github-event", "push"),
            ("x-github-delivery", delivery.as_str()),
            (
                "x-hub-signature-256",
                v["x_hub_signature_256"].as_str().unwrap(),
            ),
        ];
        let answer = router.post_hook(&format!("gh{i}"), body, &headers).await;
        assert_eq!(
            answer.0,
            StatusCode::ACCEPTED,
            "vector {} refused: {answer:?}",
            v["source"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_sha256_and_standard_webhooks_sources_check_their_signatures() {
    let vectors = fixture_json("standard-webhooks/vectors.json");
    let vector = &vectors["vectors"][0];
    let whsec = vector["secret"].as_str().unwrap();
    let router = Router::start(&format!(
        r#"[sources.signed]
verify = {{ scheme = "hmac-sha256", secret = "s3cret", header = "x-signature" }}

[sources.standard]
verify = {{ scheme = "standard-webhooks", secret = "{whsec}" }}

[sources.open]
"#
    ))
    .await;

    let body = br#"{"order":42}"#;
    let good = hmac_sha256_hex("s3cret", body);
    accepted(
        router
            .post_hook(
                "signed",
                body.to_vec(),
                &[("content-type", "application/json"), ("x-signature", &good)],
            )
            .await,
    );
    let bad = hmac_sha256_hex("guess", body);
    rejected(
        router
            .post_hook("signed", body.to_vec(), &[("x-signature", &bad)])
            .await,
        StatusCode::UNAUTHORIZED,
    );
    rejected(
        router.post_hook("signed", body.to_vec(), &[]).await,
        StatusCode::UNAUTHORIZED,
    );

    // Fresh message signed with the fixture's key: inside the 5-minute tolerance.
    let now = now_unix();
    let signature = standard_webhook_sign(whsec, "msg_e2e_fresh", now, body);
    let fresh = [
        ("webhook-id", "msg_e2e_fresh"),
        ("webhook-signature", signature.as_str()),
    ];
    let now = now.to_string();
    let headers = [
        fresh[0],
        ("webhook-timestamp", now.as_str()),
        fresh[1],
        ("content-type", "application/json"),
    ];
    accepted(router.post_hook("standard", body.to_vec(), &headers).await);
    let tampered = [headers[0], headers[1], headers[2]];
    rejected(
        router
            .post_hook("standard", br#"{"order":43}"#.to_vec(), &tampered)
            .await,
        StatusCode::UNAUTHORIZED,
    );
    // The fixture vector itself is correctly signed but years old.
    let stale_ts = vector["webhook_timestamp"].to_string();
    let stale = [
        ("webhook-id", vector["webhook_id"].as_str().unwrap()),
        ("webhook-timestamp", stale_ts.as_str()),
        (
            "webhook-signature",
            vector["webhook_signature"].as_str().unwrap(),
        ),
    ];
    rejected(
        router
            .post_hook(
                "standard",
                vector["body"].as_str().unwrap().to_owned(),
                &stale,
            )
            .await,
        StatusCode::UNAUTHORIZED,
    );

    // No verification: anything is accepted.
    accepted(
        router
            .post_hook("open", "just text", &[("content-type", "text/plain")])
            .await,
    );
    accepted(router.post_hook("open", body.to_vec(), &[]).await);
}
