use super::*;
use wasmhook_plugin_sdk::serde_json;

/// The shared Stripe fixtures, beside the repository (read, never copied).
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/stripe/"
);

fn fixture(name: &str) -> Value {
    let path = format!("{FIXTURES}{name}");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// The envelope the host builds for a Stripe event: `type` is the event's `type`.
fn envelope(event: Value) -> Envelope {
    Envelope {
        source: "stripe".into(),
        event_type: event["type"].as_str().map(String::from),
        body: event,
        config: json!({}),
        ..Envelope::default()
    }
}

/// A real event (stripe-dotnet's signed test event, `livemode: false`) carrying another
/// type and object.
fn event(event_type: &str, object: Value) -> Value {
    let mut event = fixture("event_test_signature.json");
    event["type"] = event_type.into();
    event["data"] = json!({ "object": object });
    event
}

/// A payment intent as API versions before 2022-11-15 sent it, around the real charge of
/// pay-rails' `charge.succeeded` fixture (its `payment_intent` is `pm_1234`).
fn intent_from_fixture_charge() -> Value {
    let charge = fixture("pay-rails.charge.succeeded.data.json")["object"].clone();
    json!({
        "id": charge["payment_intent"],
        "object": "payment_intent",
        "amount": charge["amount"],
        "amount_received": charge["amount_captured"],
        "currency": charge["currency"],
        "customer": charge["customer"],
        "description": charge["description"],
        "livemode": charge["livemode"],
        "receipt_email": charge["receipt_email"],
        "status": "succeeded",
        "charges": { "object": "list", "data": [charge], "has_more": false },
    })
}

/// A failed payment intent shaped like the API reference's example object.
fn failed_intent(amount: i64, currency: &str) -> Value {
    json!({
        "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "currency": currency,
        "customer": null,
        "description": null,
        "livemode": true,
        "status": "requires_payment_method",
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "payment_method": {
                "id": "pm_1MtwBwLkdIwHu7ixOsnqfo2Z",
                "object": "payment_method",
                "billing_details": { "email": "jenny@example.com", "name": "Jenny Rosen" },
            },
        },
    })
}

fn text_of(output: Output) -> String {
    let messages = output.messages();
    assert_eq!(messages.len(), 1, "{output:?}");
    let body = messages[0].body.as_ref().unwrap();
    body["text"].as_str().unwrap().to_string()
}

#[test]
fn fixtures_of_other_types_are_dropped() {
    for name in [
        "event_test_signature.json",
        "dj-stripe.event_account_application_authorized.json",
        "dj-stripe.event_external_account_card_created.json",
    ] {
        let output = stripe_to_slack(envelope(fixture(name))).unwrap();
        assert!(output.is_drop(), "{name}: {output:?}");
    }
    for (event_type, name) in [
        ("charge.succeeded", "pay-rails.charge.succeeded.data.json"),
        (
            "checkout.session.completed",
            "pay-rails.checkout.session.completed.data.json",
        ),
        (
            "customer.subscription.created",
            "pay-rails.customer.subscription.created.data.json",
        ),
    ] {
        let object = fixture(name)["object"].clone();
        let output = stripe_to_slack(envelope(event(event_type, object))).unwrap();
        assert!(output.is_drop(), "{event_type}: {output:?}");
    }
}

#[test]
fn a_test_mode_success_links_to_the_test_dashboard() {
    let e = envelope(event(
        "payment_intent.succeeded",
        intent_from_fixture_charge(),
    ));
    assert_eq!(
        text_of(stripe_to_slack(e).unwrap()),
        ":white_check_mark: Payment succeeded: *5.00 USD* (test mode)\n\
         Description: Donation 1: https://twitter.com/donor_test/status/262824785606737920\n\
         Customer: <https://dashboard.stripe.com/test/customers/cus_0dUMWLtzCTagWs|cus_0dUMWLtzCTagWs>\n\
         <https://dashboard.stripe.com/test/payments/pm_1234|pm_1234>"
    );
}

#[test]
fn the_charge_billing_details_name_the_customer() {
    let mut intent = intent_from_fixture_charge();
    intent["charges"]["data"][0]["billing_details"]["name"] = "Donor <Test>".into();
    intent["charges"]["data"][0]["billing_details"]["email"] = "donor@example.com".into();
    let text =
        text_of(stripe_to_slack(envelope(event("payment_intent.succeeded", intent))).unwrap());
    assert!(
        text.contains(
            "\nCustomer: Donor &lt;Test&gt; · donor@example.com · <https://dashboard.stripe.com/test/customers/cus_0dUMWLtzCTagWs|cus_0dUMWLtzCTagWs>\n"
        ),
        "{text}"
    );
}

#[test]
fn a_live_failure_gives_the_reason() {
    let mut event = event("payment_intent.payment_failed", failed_intent(1234, "eur"));
    event["livemode"] = true.into();
    assert_eq!(
        text_of(stripe_to_slack(envelope(event)).unwrap()),
        ":x: Payment failed: *12.34 EUR*\n\
         Customer: Jenny Rosen · jenny@example.com\n\
         Reason: Your card has insufficient funds. (`card_declined: insufficient_funds`)\n\
         <https://dashboard.stripe.com/payments/pi_3MtwBwLkdIwHu7ix28a3tqPa|pi_3MtwBwLkdIwHu7ix28a3tqPa>"
    );
}

#[test]
fn zero_and_three_decimal_currencies() {
    let mut intent = failed_intent(500, "jpy");
    intent["cancellation_reason"] = "requested_by_customer".into();
    intent["last_payment_error"] = Value::Null;
    let text =
        text_of(stripe_to_slack(envelope(event("payment_intent.canceled", intent))).unwrap());
    assert_eq!(
        text,
        ":no_entry_sign: Payment canceled: *500 JPY* (test mode)\n\
         Reason: requested by customer\n\
         <https://dashboard.stripe.com/test/payments/pi_3MtwBwLkdIwHu7ix28a3tqPa|pi_3MtwBwLkdIwHu7ix28a3tqPa>"
    );
    let text = text_of(
        stripe_to_slack(envelope(event(
            "payment_intent.created",
            failed_intent(5120, "kwd"),
        )))
        .unwrap(),
    );
    assert!(
        text.starts_with(":new: Payment created: *5.120 KWD* (test mode)\n"),
        "{text}"
    );
}

#[test]
fn requires_action_names_the_next_action() {
    let mut intent = failed_intent(2000, "gbp");
    intent["last_payment_error"] = Value::Null;
    intent["customer"] = json!({"id": "cus_9s6XKzkNRiz8i3", "object": "customer",
                                "name": "Ada", "email": "ada@example.com"});
    intent["next_action"] = json!({"type": "use_stripe_sdk", "use_stripe_sdk": {}});
    let text = text_of(
        stripe_to_slack(envelope(event("payment_intent.requires_action", intent))).unwrap(),
    );
    assert_eq!(
        text,
        ":warning: Payment requires action: *20.00 GBP* (test mode)\n\
         Customer: Ada · ada@example.com · <https://dashboard.stripe.com/test/customers/cus_9s6XKzkNRiz8i3|cus_9s6XKzkNRiz8i3>\n\
         Next action: `use_stripe_sdk`\n\
         <https://dashboard.stripe.com/test/payments/pi_3MtwBwLkdIwHu7ix28a3tqPa|pi_3MtwBwLkdIwHu7ix28a3tqPa>"
    );
}

#[test]
fn unknown_payment_intent_types_still_post() {
    let text = text_of(
        stripe_to_slack(envelope(event(
            "payment_intent.some_new_thing",
            failed_intent(100, "usd"),
        )))
        .unwrap(),
    );
    assert!(
        text.starts_with(":information_source: Payment some new thing: *1.00 USD*"),
        "{text}"
    );
}

#[test]
fn the_type_may_come_from_the_body() {
    let mut e = envelope(event(
        "payment_intent.succeeded",
        intent_from_fixture_charge(),
    ));
    e.event_type = None;
    assert!(!stripe_to_slack(e).unwrap().is_drop());
}

#[test]
fn a_payment_intent_event_without_its_object_is_an_error() {
    let mut body = event("payment_intent.succeeded", json!({}));
    body["data"] = json!({});
    let error = stripe_to_slack(envelope(body)).unwrap_err();
    assert!(error.message().contains("data.object"), "{error}");
}

#[test]
fn channel_comes_from_config() {
    let mut e = envelope(event(
        "payment_intent.succeeded",
        intent_from_fixture_charge(),
    ));
    e.config = json!({"channel": "#payments"});
    let output = stripe_to_slack(e.clone()).unwrap();
    let body = output.messages()[0].body.clone().unwrap();
    assert_eq!(body["channel"], "#payments");
    e.config = json!({"chanel": "#payments"});
    assert!(
        stripe_to_slack(e).is_err(),
        "unknown keys are config errors"
    );
}

#[test]
fn the_host_sees_one_object() {
    let input = serde_json::to_vec(&json!({
        "id": "evt_01", "source": "stripe", "type": "payment_intent.succeeded",
        "body": event("payment_intent.succeeded", intent_from_fixture_charge()),
        "config": {}
    }))
    .unwrap();
    let out = wasmhook_plugin_sdk::run::transform(&input, stripe_to_slack).unwrap();
    let value: Value = serde_json::from_slice(&out).unwrap();
    assert!(value["body"]["text"].is_string(), "{value}");
    assert_eq!(
        value.as_object().unwrap().len(),
        1,
        "only the body: {value}"
    );
}
