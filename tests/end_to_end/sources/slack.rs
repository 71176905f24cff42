//! Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{body}">`
//! with the app's signing secret, the timestamp within 300 s of now either way. Events API
//! (JSON), slash commands and interactive payloads (forms) share one URL. The type is the
//! inner `event.type` of an `event_callback`, a command's `command`, an interactive payload's
//! `type`; Events API retries keep `event_id`. `url_verification` is answered with its
//! challenge. Slash commands and interactive payloads are stored and acknowledged with the
//! empty `200` Slack expects (or the source's own `ack`), so that nothing is echoed back to
//! the channel.

use crate::common::providers::*;

fn vector() -> Value {
    vectors("slack").remove(0)
}

fn wiring(v: &Value) -> String {
    format!(
        "[sources.slack]\nverify = {{ scheme = \"slack\", secret = {} }}\n",
        v["signing_secret"]
    )
}

/// A request to `slack` signed as Slack signs it, sent at `timestamp`.
fn signed(secret: &str, timestamp: i64, body: &[u8], content_type: &str) -> Hook {
    let ts = timestamp.to_string();
    let mac = hmac_sha256(secret.as_bytes(), &[b"v0:", ts.as_bytes(), b":", body]);
    post("slack", body.to_vec())
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", &format!("v0={}", hex::encode(mac)))
}

/// The vector exactly as Slack sent it.
fn vector_request(v: &Value) -> Hook {
    let body = fixture(&format!("slack/{}", v["body_file"].as_str().unwrap()));
    assert_eq!(body, v["body"].as_str().unwrap().as_bytes());
    post("slack", body)
        .header("content-type", v["content_type"].as_str().unwrap())
        .header(
            "x-slack-request-timestamp",
            v["x_slack_request_timestamp"].as_str().unwrap(),
        )
        .header(
            "x-slack-signature",
            v["x_slack_signature"].as_str().unwrap(),
        )
}

const JSON_TYPE: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_events_and_interactions_are_stored_and_url_verification_is_answered() {
    let v = vector();
    let now = v["now_for_test"].as_i64().unwrap();
    let secret = v["signing_secret"].as_str().unwrap();
    let router = start_at(now, &wiring(&v)).await;
    let hooks = Hooks::new(&router);

    // The signed slash command from Slack's docs: stored, answered with an empty 200.
    let command = hooks
        .acknowledges(vector_request(&v), 200, b"", Some("/webhook-collect"))
        .await;
    // Sent again, it is the same request: a duplicate, as any other.
    hooks.duplicate(vector_request(&v), &command).await;

    // Events API: the fixture's reaction_added, then one with an event_id, retried.
    let reaction = fixture("slack/events-api.reaction_added.json");
    hooks
        .accepts(
            signed(secret, now, &reaction, JSON_TYPE),
            Some("reaction_added"),
        )
        .await;
    let mention = br#"{"type":"event_callback","team_id":"T0JFD6M53","event_id":"Ev0PV52K21","event_time":1531420600,"event":{"type":"app_mention","user":"U27FFLNF4","text":"<@U0LAN0Z89> hi","channel":"C0LAN2Q65"}}"#;
    let id = hooks
        .accepts(signed(secret, now, mention, JSON_TYPE), Some("app_mention"))
        .await;
    hooks
        .duplicate(
            signed(secret, now + 60, mention, JSON_TYPE)
                .header("x-slack-retry-num", "1")
                .header("x-slack-retry-reason", "http_timeout"),
            &id,
        )
        .await;

    // An interactive payload: `payload=<JSON>`.
    let payload = r#"{"type":"block_actions","user":{"id":"U2CERLKJA"},"actions":[{"action_id":"approve","value":"yes"}]}"#;
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", payload)
        .finish();
    hooks
        .acknowledges(
            signed(secret, now, form.as_bytes(), FORM),
            200,
            b"",
            Some("block_actions"),
        )
        .await;

    // url_verification: answered `{"challenge": ...}` once signed, never stored.
    let challenge = fixture("slack/events-api.url_verification.json");
    let answer = hooks
        .answers(
            signed(secret, now, &challenge, JSON_TYPE),
            200,
            br#"{"challenge":"valid_challenge_token"}"#,
        )
        .await;
    assert_eq!(answer.header("content-type"), Some("application/json"));
    hooks
        .refuses(
            post("slack", challenge.clone()).json(),
            "an unsigned url_verification",
        )
        .await;
    hooks
        .refuses(
            signed(
                "8f742231b10e8888abcd99yyyzzz85a6",
                now,
                &challenge,
                JSON_TYPE,
            ),
            "a url_verification signed with another secret",
        )
        .await;

    // A slash command's SSL check: an empty 200.
    hooks
        .answers(
            signed(
                secret,
                now,
                b"ssl_check=1&token=xyzz0WbapA4vBCDEFasx0q6G",
                FORM,
            ),
            200,
            b"",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_forged_slack_requests_are_refused_and_nothing_is_stored() {
    let v = vector();
    let now = v["now_for_test"].as_i64().unwrap();
    let secret = v["signing_secret"].as_str().unwrap();
    let router = start_at(now, &wiring(&v)).await;
    let hooks = Hooks::new(&router);
    let good = vector_request(&v);
    let body = good.body.clone();

    hooks
        .refuses(good.clone().body(tampered(&body)), "tampered body")
        .await;
    let mut appended = body.clone();
    appended.extend_from_slice(b"&x=1");
    hooks
        .refuses(good.clone().body(appended), "a field appended")
        .await;
    hooks
        .refuses(
            signed("8f742231b10e8888abcd99yyyzzz85a6", now, &body, FORM),
            "wrong secret",
        )
        .await;
    for sent in [now - 301, now + 301] {
        let stale = hooks
            .refuses(
                signed(secret, sent, &body, FORM),
                &format!("timestamp now {:+}", sent - now),
            )
            .await;
        assert!(stale.contains("300 seconds"), "{stale}");
    }
    hooks
        .refuses(
            good.clone()
                .header("x-slack-request-timestamp", &(now - 1).to_string()),
            "a timestamp other than the signed one",
        )
        .await;
    let missing = hooks
        .refuses(
            good.clone().without("x-slack-signature"),
            "no X-Slack-Signature",
        )
        .await;
    assert!(missing.contains("X-Slack-Signature"), "{missing}");
    hooks
        .refuses(
            good.clone().without("x-slack-request-timestamp"),
            "no X-Slack-Request-Timestamp",
        )
        .await;

    // Signed at the edges of the tolerance, it passes.
    for sent in [now - 300, now + 300] {
        hooks
            .acknowledges(
                signed(secret, sent, &body, FORM),
                200,
                b"",
                Some("/webhook-collect"),
            )
            .await;
    }
}

/// A source's `ack` answers every event it stores: a slash command gets the message Slack
/// shows the user, an Events API event the same. Duplicates and refusals are answered as
/// always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_sets_its_own_acknowledgement() {
    let v = vector();
    let now = v["now_for_test"].as_i64().unwrap();
    let secret = v["signing_secret"].as_str().unwrap();
    let wiring = format!(
        "[sources.slack]\nack = {{ status = 200, body = {{ text = \"On it\" }} }}\nverify = {{ scheme = \"slack\", secret = {} }}\n\
         [sources.plain]\nack = {{ body = \"thanks\" }}\n",
        v["signing_secret"]
    );
    let router = start_at(now, &wiring).await;
    let hooks = Hooks::new(&router);
    let on_it = br#"{"text":"On it"}"#;

    let command = vector_request(&v);
    let first = hooks
        .acknowledges(command.clone(), 200, on_it, Some("/webhook-collect"))
        .await;
    let answer = hooks.send(&command).await;
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.json(), json!({ "id": first, "duplicate": true }));
    let mention = br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}"#;
    hooks
        .acknowledges(
            signed(secret, now, mention, JSON_TYPE),
            200,
            on_it,
            Some("app_mention"),
        )
        .await;
    hooks
        .refuses(
            command.body(tampered(&vector_request(&v).body)),
            "tampered body",
        )
        .await;

    let answer = hooks.send(&post("plain", b"{}".to_vec()).json()).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_slice()),
        (200, &b"thanks"[..])
    );
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}
