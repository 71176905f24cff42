//! WebSub (hubs such as Superfeedr): with `secret`, `X-Hub-Signature: <method>=<hex HMAC>` of
//! the body, method sha1, sha256, sha384 or sha512. Content has no type and no delivery id, and
//! nothing is timestamped. The hub's verification of intent, a `GET` with `hub.challenge`, is
//! answered with the challenge for a configured topic, and `404` for any other.

use hmac::Hmac;

use crate::common::providers::*;

const TOPIC: &str = "https://example.com/feed";

fn wiring(v: &Value) -> String {
    format!(
        "[sources.feed]\nverify = {{ scheme = \"websub\", secret = {}, topics = [{TOPIC:?}] }}\n\
         [sources.open-feed]\nverify = {{ scheme = \"websub\", topics = [{TOPIC:?}] }}\n",
        v["hub_secret"]
    )
}

fn content(signature: &str, body: &[u8]) -> Hook {
    post("feed", body.to_vec())
        .header("content-type", "application/atom+xml")
        .header("x-hub-signature", signature)
}

fn sign(method: &str, secret: &[u8], body: &[u8]) -> String {
    let mac = match method {
        "sha1" => mac::<Hmac<sha1::Sha1>>(secret, &[body]),
        "sha256" => mac::<Hmac<sha2::Sha256>>(secret, &[body]),
        "sha384" => mac::<Hmac<sha2::Sha384>>(secret, &[body]),
        "sha512" => mac::<Hmac<sha2::Sha512>>(secret, &[body]),
        _ => unreachable!(),
    };
    format!("{method}={}", hex::encode(mac))
}

const METHODS: [&str; 4] = ["sha1", "sha256", "sha384", "sha512"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_signed_with_each_method_is_stored_and_intent_is_verified() {
    let v = &vectors("websub")[0];
    let router = Router::start(&wiring(v)).await;
    let hooks = Hooks::new(&router);

    let body = v["body"].as_str().unwrap().as_bytes();
    for method in METHODS {
        let signature = v[format!("x_hub_signature_{method}")].as_str().unwrap();
        assert_eq!(
            signature,
            sign(method, v["hub_secret"].as_str().unwrap().as_bytes(), body)
        );
        hooks.accepts(content(signature, body), None).await;
    }
    // Without a secret, content is taken as it comes.
    hooks
        .accepts(
            post("open-feed", body.to_vec()).header("content-type", "text/plain"),
            None,
        )
        .await;

    // Verification of intent, as the fixture's example: the challenge, byte for byte.
    let example = fixture_json("websub/vectors.json")["verification_of_intent_example"].clone();
    let query = example["request"]
        .as_str()
        .unwrap()
        .strip_prefix("GET /callback?")
        .unwrap()
        .to_owned();
    let expected = &example["expected_response"];
    for source in ["feed", "open-feed"] {
        let answer = hooks
            .answers(
                request("GET", &format!("{source}?{query}")),
                expected["status"].as_u64().unwrap() as u16,
                expected["body"].as_str().unwrap().as_bytes(),
            )
            .await;
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("text/plain"),
            "{:?}",
            answer.headers
        );
    }
    let unsubscribe = query.replace("hub.mode=subscribe", "hub.mode=unsubscribe");
    hooks
        .answers(
            request("GET", &format!("feed?{unsubscribe}")),
            200,
            b"d1e2f3a4b5",
        )
        .await;
    // A challenge with characters that need escaping comes back decoded, exactly.
    let odd = "feed?hub.mode=subscribe&hub.topic=https%3A%2F%2Fexample.com%2Ffeed&hub.challenge=a%2Bb%20c%3D%26";
    hooks.answers(request("GET", odd), 200, b"a+b c=&").await;
    // A topic this source did not subscribe to: not agreed.
    let unknown = query.replace("example.com%2Ffeed", "example.com%2Fother");
    let refusal = hooks
        .refuses_with(
            request("GET", &format!("feed?{unknown}")),
            404,
            "an unknown topic",
        )
        .await;
    assert!(refusal.contains("https://example.com/other"), "{refusal}");
    hooks
        .answers(
            request(
                "GET",
                "feed?hub.mode=denied&hub.topic=https%3A%2F%2Fexample.com%2Ffeed&hub.reason=spam",
            ),
            200,
            b"",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_content_is_refused_and_nothing_is_stored() {
    let v = &vectors("websub")[0];
    let router = Router::start(&wiring(v)).await;
    let hooks = Hooks::new(&router);
    let secret = v["hub_secret"].as_str().unwrap().as_bytes();
    let body = v["body"].as_str().unwrap().as_bytes();

    for method in METHODS {
        let signature = v[format!("x_hub_signature_{method}")].as_str().unwrap();
        hooks
            .refuses(
                content(signature, &tampered(body)),
                &format!("tampered body, {method}"),
            )
            .await;
        hooks
            .refuses(
                content(&sign(method, b"not the hub.secret", body), body),
                &format!("wrong secret, {method}"),
            )
            .await;
    }
    let missing = hooks
        .refuses(
            content("x", body).without("x-hub-signature"),
            "no signature",
        )
        .await;
    assert!(missing.contains("X-Hub-Signature"), "{missing}");
    let md5 = format!("md5={}", "0".repeat(32));
    hooks
        .refuses(content(&md5, body), "an unknown method")
        .await;
    // A signature over one method's MAC, announced as another method.
    let sha256_as_sha1 = sign("sha256", secret, body).replace("sha256=", "sha1=");
    hooks
        .refuses(content(&sha256_as_sha1, body), "the wrong method name")
        .await;
}
