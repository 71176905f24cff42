//! Azure Event Grid signs nothing: with `secret`, a request must carry it in the delivery
//! header (`aeg-sas-key` by default) or as `?code=`. The type is the first event's `eventType`
//! (Event Grid schema) or `type` (CloudEvents; `ce-type` in binary mode); a retry keeps the
//! first event's `id` (`ce-id`). There is no timestamp to check. A
//! `SubscriptionValidationEvent` is answered with its validation code, and a CloudEvents
//! `OPTIONS` from an allowed origin with `WebHook-Allowed-Origin`.

use crate::common::providers::*;

const SECRET: &str = "s3cr3t-Key_1";

/// `grid` takes the secret and keeps every batch (two fixtures share a first event id);
/// `open` has no secret, dedups by id, and allows one more CloudEvents origin.
fn wiring() -> String {
    format!(
        "[sources.grid]\ndedup = false\nverify = {{ scheme = \"eventgrid\", secret = {SECRET:?} }}\n\
         [sources.open]\nverify = {{ scheme = \"eventgrid\", allowed_origins = [\"eventgrid.azure.net\", \"events.example.com\"] }}\n"
    )
}

fn delivery(path: &str, body: Vec<u8>) -> Hook {
    post(path, body)
        .json()
        .header("aeg-event-type", "Notification")
}

/// Each fixture and the type it is stored with.
const EVENTS: [(&str, &str); 4] = [
    (
        "azure-sdk-for-java.StorageBlobCreatedEvent.json",
        "Microsoft.Storage.BlobCreated",
    ),
    (
        "azure-sdk-for-java.EventGridSubscriptionDeletedEvent.json",
        "Microsoft.EventGrid.SubscriptionDeletedEvent",
    ),
    (
        "azure-sdk-for-java.MultipleEventsInSameBatch.json",
        "Microsoft.Storage.BlobCreated",
    ),
    (
        "azure-sdk-for-java.CloudEventBinaryData.json",
        "Contoso.Items.ItemReceived",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_sample_is_stored_with_its_type() {
    let router = Router::start(&wiring()).await;
    let hooks = Hooks::new(&router);
    let files = fixture_files("azure-eventgrid", ".json");
    for (file, expected) in EVENTS {
        assert!(files.iter().any(|f| f == file), "{file}");
        let body = fixture(&format!("azure-eventgrid/{file}"));
        hooks
            .accepts(
                delivery("grid", body.clone()).header("aeg-sas-key", SECRET),
                Some(expected),
            )
            .await;
        hooks
            .accepts(
                delivery(&format!("grid?code={SECRET}"), body.clone()),
                Some(expected),
            )
            .await;
    }
    // CloudEvents binary mode: the event's attributes are headers.
    let binary = post("open", br#"{"orderId":"1234"}"#.to_vec())
        .json()
        .header("ce-specversion", "1.0")
        .header("ce-type", "com.example.order.created")
        .header("ce-source", "/orders")
        .header("ce-id", "A234-1234-1234");
    let id = hooks
        .accepts(binary.clone(), Some("com.example.order.created"))
        .await;
    hooks.duplicate(binary, &id).await;
    // Event Grid retries a batch as it was: same first event id.
    let blob = fixture("azure-eventgrid/azure-sdk-for-java.StorageBlobCreatedEvent.json");
    let id = hooks
        .accepts(
            delivery("open", blob.clone()),
            Some("Microsoft.Storage.BlobCreated"),
        )
        .await;
    hooks
        .duplicate(
            delivery("open", blob).header("aeg-delivery-count", "1"),
            &id,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_validation_and_cloudevents_options_are_answered_and_not_stored() {
    let router = Router::start(&wiring()).await;
    let hooks = Hooks::new(&router);
    let validation = fixture("azure-eventgrid/azure-docs.SubscriptionValidationEvent.json");
    let expected = fixture_json("azure-eventgrid/azure-docs.SubscriptionValidationResponse.json");
    let compact = serde_json::to_vec(&expected).unwrap();
    for hook in [
        delivery("grid", validation.clone())
            .header("aeg-event-type", "SubscriptionValidation")
            .header("aeg-sas-key", SECRET),
        delivery(&format!("grid?code={SECRET}"), validation.clone())
            .header("aeg-event-type", "SubscriptionValidation"),
        delivery("open", validation.clone()).header("aeg-event-type", "SubscriptionValidation"),
    ] {
        let answer = hooks.answers(hook, 200, &compact).await;
        assert_eq!(answer.json(), expected);
        assert_eq!(answer.header("content-type"), Some("application/json"));
    }
    // The validation must carry the secret like any delivery.
    hooks
        .refuses(
            delivery("grid", validation.clone()).header("aeg-event-type", "SubscriptionValidation"),
            "a validation without the secret",
        )
        .await;

    // CloudEvents abuse protection (HTTP webhook spec 4.2).
    for (source, origin) in [
        ("grid", "eventgrid.azure.net"),
        ("open", "eventgrid.azure.net"),
        ("open", "events.example.com"),
    ] {
        let answer = hooks
            .answers(
                request("OPTIONS", source).header("webhook-request-origin", origin),
                200,
                b"",
            )
            .await;
        assert_eq!(
            answer.header("webhook-allowed-origin"),
            Some(origin),
            "{source}"
        );
    }
    let refusal = hooks
        .refuses_with(
            request("OPTIONS", "grid").header("webhook-request-origin", "evil.example.net"),
            403,
            "an origin not allowed",
        )
        .await;
    assert!(refusal.contains("evil.example.net"), "{refusal}");
    hooks
        .refuses_with(request("OPTIONS", "grid"), 400, "no WebHook-Request-Origin")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_without_the_secret_are_refused_and_nothing_is_stored() {
    let router = Router::start(&wiring()).await;
    let hooks = Hooks::new(&router);
    let body = fixture("azure-eventgrid/azure-sdk-for-java.StorageBlobCreatedEvent.json");
    let missing = hooks
        .refuses(delivery("grid", body.clone()), "no secret")
        .await;
    assert!(missing.contains("aeg-sas-key"), "{missing}");
    hooks
        .refuses(
            delivery("grid", body.clone()).header("aeg-sas-key", "s3cr3t-Key_2"),
            "wrong secret in the header",
        )
        .await;
    hooks
        .refuses(
            delivery("grid?code=s3cr3t-Key_2", body.clone()),
            "wrong code",
        )
        .await;
    hooks
        .refuses(
            delivery("grid", body.clone()).header("aeg-sas-key", &SECRET.to_lowercase()),
            "the secret in another case",
        )
        .await;
}
