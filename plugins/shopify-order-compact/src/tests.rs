use super::*;
use wasmhook_plugin_sdk::serde_json;

/// The shared Shopify fixture, beside the repository (read, never copied): the REST Order
/// resource, wrapped as `{"order": {...}}`.
const ORDER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/shopify/shopify_python_api.order.json"
);

fn wrapped_order() -> Value {
    let bytes = std::fs::read(ORDER).unwrap_or_else(|e| panic!("{ORDER}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// What an `orders/*` webhook sends: the bare order.
fn bare_order() -> Value {
    wrapped_order()["order"].clone()
}

/// The envelope the host builds for a Shopify webhook: `type` is `X-Shopify-Topic`.
fn envelope(topic: &str, body: Value) -> Envelope {
    let mut e = Envelope {
        source: "shopify".into(),
        event_type: Some(topic.into()),
        body,
        config: json!({}),
        ..Envelope::default()
    };
    e.request
        .headers
        .insert("x-shopify-topic".into(), topic.into());
    e
}

fn one(output: Output) -> Message {
    let messages = output.messages();
    assert_eq!(messages.len(), 1, "{output:?}");
    messages[0].clone()
}

fn expected() -> Value {
    json!({
        "order_id": 450789469,
        "name": "#1001",
        "created_at": "2008-01-10T11:00:00-05:00",
        "currency": "USD",
        "total": "409.94",
        "customer": { "name": "Bob Norman", "email": "bob.norman@hostmail.com" },
        "shipping_address": {
            "name": "Bob Norman",
            "company": null,
            "address1": "Chestnut Street 92",
            "address2": "",
            "city": "Louisville",
            "province": "Kentucky",
            "province_code": "KY",
            "zip": "40202",
            "country": "United States",
            "country_code": "US",
            "phone": "555-625-1199",
        },
        "lines": [
            { "sku": "IPOD2008GREEN", "title": "IPod Nano - 8gb", "quantity": 1, "price": "199.00" },
            { "sku": "IPOD2008RED", "title": "IPod Nano - 8gb", "quantity": 1, "price": "199.00" },
            { "sku": "IPOD2008BLACK", "title": "IPod Nano - 8gb", "quantity": 1, "price": "199.00" },
        ],
    })
}

#[test]
fn the_fixture_order_is_compacted() {
    let message = one(shopify_order_compact(envelope("orders/create", bare_order())).unwrap());
    assert_eq!(message.body.unwrap(), expected());
    assert_eq!(message.key.as_deref(), Some("450789469"));
    assert_eq!(
        message.headers.unwrap(),
        [("x-shopify-order-id".to_string(), "450789469".to_string())].into()
    );
    assert_eq!(message.event_type, None, "the topic is carried as the type");
}

#[test]
fn a_wrapped_order_gives_the_same_result() {
    for topic in ["orders/create", "orders/updated", "orders/paid"] {
        let message = one(shopify_order_compact(envelope(topic, wrapped_order())).unwrap());
        assert_eq!(message.body.unwrap(), expected(), "{topic}");
        assert_eq!(message.key.as_deref(), Some("450789469"));
    }
}

#[test]
fn other_topics_are_dropped_unless_configured() {
    for topic in ["products/create", "orders/cancelled", "customers/create"] {
        let output = shopify_order_compact(envelope(topic, bare_order())).unwrap();
        assert!(output.is_drop(), "{topic}");
    }
    let mut e = envelope("orders/cancelled", bare_order());
    e.config = json!({"topics": ["orders/cancelled"]});
    assert!(!shopify_order_compact(e.clone()).unwrap().is_drop());
    e.event_type = Some("orders/create".into());
    assert!(shopify_order_compact(e).unwrap().is_drop());
}

#[test]
fn the_topic_header_stands_in_for_a_missing_type() {
    let mut e = envelope("orders/paid", bare_order());
    e.event_type = None;
    assert!(!shopify_order_compact(e.clone()).unwrap().is_drop());
    e.request.headers.clear();
    assert!(shopify_order_compact(e).unwrap().is_drop());
}

#[test]
fn headers_set_by_earlier_transforms_are_kept() {
    let mut e = envelope("orders/updated", bare_order());
    e.headers.insert("x-team".into(), "warehouse".into());
    let headers = one(shopify_order_compact(e).unwrap()).headers.unwrap();
    assert_eq!(headers["x-team"], "warehouse");
    assert_eq!(headers["x-shopify-order-id"], "450789469");
}

#[test]
fn missing_customer_and_address_fall_back_or_are_null() {
    let mut order = bare_order();
    order["customer"] = Value::Null;
    order["email"] = "".into();
    order["shipping_address"] = Value::Null;
    let body = one(shopify_order_compact(envelope("orders/create", order.clone())).unwrap())
        .body
        .unwrap();
    assert_eq!(body["shipping_address"], Value::Null);
    // The billing address names the buyer; there is no email left.
    assert_eq!(
        body["customer"],
        json!({"name": "Bob Norman", "email": null})
    );
    let object = order.as_object_mut().unwrap();
    object.remove("billing_address");
    object.remove("line_items");
    let body = one(shopify_order_compact(envelope("orders/create", order)).unwrap())
        .body
        .unwrap();
    assert_eq!(body["customer"], json!({"name": null, "email": null}));
    assert_eq!(body["lines"], json!([]));
}

#[test]
fn a_body_without_an_order_id_is_an_error() {
    let error =
        shopify_order_compact(envelope("orders/create", json!({"foo": "bar"}))).unwrap_err();
    assert!(error.message().contains("no `id`"), "{error}");
}

#[test]
fn unknown_config_keys_are_errors() {
    let mut e = envelope("orders/create", bare_order());
    e.config = json!({"topic": ["orders/create"]});
    assert!(shopify_order_compact(e).is_err());
}

#[test]
fn the_host_sees_body_headers_and_key() {
    let input = serde_json::to_vec(&json!({
        "id": "evt_01", "source": "shopify", "type": "orders/create",
        "request": {"method": "POST", "path": "/hooks/shopify", "query": {},
                    "headers": {"x-shopify-topic": "orders/create"}},
        "headers": {}, "body": bare_order(), "config": {}
    }))
    .unwrap();
    let out = wasmhook_plugin_sdk::run::transform(&input, shopify_order_compact).unwrap();
    let value: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["body"], expected());
    assert_eq!(value["key"], "450789469");
    assert_eq!(value["headers"], json!({"x-shopify-order-id": "450789469"}));
}
