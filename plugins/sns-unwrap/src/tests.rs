use super::*;
use wasmhook_plugin_sdk::json;

/// The shared SNS fixtures, beside the repository (read, never copied).
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/aws-sns/"
);

fn raw(name: &str) -> String {
    let path = format!("{FIXTURES}{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parsed(name: &str) -> Value {
    serde_json::from_str(&raw(name)).unwrap()
}

/// The envelope the host builds for an SNS delivery: SNS posts `text/plain`, so the body is
/// the notification's text; `type` is the SNS `Type`.
fn envelope(body: Value) -> Envelope {
    let mut e = Envelope {
        source: "sns".into(),
        event_type: Some("Notification".into()),
        body,
        config: json!({}),
        ..Envelope::default()
    };
    e.request
        .headers
        .insert("content-type".into(), "text/plain; charset=UTF-8".into());
    e
}

fn one(output: Output) -> Message {
    let messages = output.messages();
    assert_eq!(messages.len(), 1, "{output:?}");
    messages[0].clone()
}

fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn plain_text_notifications_become_text_bodies() {
    for name in [
        "notification.sigv1.no-subject.json",
        "notification.sigv2.no-subject.json",
        "notification.sigv1.with-subject.json",
        "notification.sigv2.with-subject.json",
    ] {
        let fixture = parsed(name);
        // As the host sees it (a text body), and as a JSON body (content type set to JSON).
        for body in [Value::String(raw(name)), fixture.clone()] {
            let message = one(sns_unwrap(envelope(body)).unwrap());
            assert_eq!(message.body, Some(json!("Hello world")), "{name}");
            let mut expected = headers(&[
                ("content-type", "text/plain; charset=utf-8"),
                ("x-sns-message-id", fixture["MessageId"].as_str().unwrap()),
                ("x-sns-topic-arn", fixture["TopicArn"].as_str().unwrap()),
                ("x-sns-timestamp", fixture["Timestamp"].as_str().unwrap()),
            ]);
            if name.contains("with-subject") {
                expected.insert("x-sns-subject".into(), "Hello world".into());
                assert_eq!(message.event_type.as_deref(), Some("Hello world"));
            } else {
                assert_eq!(message.event_type, None, "{name}: the type is carried");
            }
            assert_eq!(message.headers, Some(expected), "{name}");
        }
    }
}

#[test]
fn the_sigv1_notification_exactly() {
    let message = one(sns_unwrap(envelope(Value::String(raw(
        "notification.sigv1.with-subject.json",
    ))))
    .unwrap());
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        json!({
            "body": "Hello world",
            "headers": {
                "content-type": "text/plain; charset=utf-8",
                "x-sns-message-id": "11405cc3-9ac7-56d5-b45d-079e8f7a8edf",
                "x-sns-subject": "Hello world",
                "x-sns-timestamp": "2022-07-28T22:53:49.654Z",
                "x-sns-topic-arn": "arn:aws:sns:us-east-2:295079676684:publish-and-verify-6e11fed2-fcdf-4c52-9dc4-36ef43f37f84",
            },
            "type": "Hello world",
        })
    );
}

#[test]
fn an_ses_bounce_is_unwrapped_to_its_json() {
    let fixture = parsed("anymail.ses-bounce-notification.unsigned.json");
    let inner: Value = serde_json::from_str(fixture["Message"].as_str().unwrap()).unwrap();
    let message = one(sns_unwrap(envelope(Value::String(raw(
        "anymail.ses-bounce-notification.unsigned.json",
    ))))
    .unwrap());
    assert_eq!(message.body.as_ref(), Some(&inner));
    assert_eq!(
        message.body.as_ref().unwrap()["bounce"]["bouncedRecipients"][0]["emailAddress"],
        "jane@example.com"
    );
    // SES's own type wins over the generic subject, which stays a header.
    assert_eq!(message.event_type.as_deref(), Some("Bounce"));
    assert_eq!(
        message.headers,
        Some(headers(&[
            ("x-sns-message-id", "19ba9823-d7f2-53c1-860e-cb10e0d13dfc"),
            ("x-sns-subject", "Amazon SES Email Event Notification"),
            ("x-sns-timestamp", "2018-03-26T17:58:59.675Z"),
            (
                "x-sns-topic-arn",
                "arn:aws:sns:us-east-1:1234567890:SES_Events"
            ),
        ]))
    );
}

#[test]
fn ses_event_publishing_uses_event_type() {
    let mut fixture = parsed("anymail.ses-bounce-notification.unsigned.json");
    let mut inner: Value = serde_json::from_str(fixture["Message"].as_str().unwrap()).unwrap();
    let object = inner.as_object_mut().unwrap();
    object.remove("notificationType");
    object.insert("eventType".into(), "Delivery".into());
    fixture["Message"] = inner.to_string().into();
    let message = one(sns_unwrap(envelope(fixture)).unwrap());
    assert_eq!(message.event_type.as_deref(), Some("Delivery"));
}

#[test]
fn json_without_a_type_takes_the_subject() {
    let mut fixture = parsed("notification.sigv2.with-subject.json");
    fixture["Message"] = r#"{"order": 42}"#.into();
    let message = one(sns_unwrap(envelope(fixture.clone())).unwrap());
    assert_eq!(message.body, Some(json!({"order": 42})));
    assert_eq!(message.event_type.as_deref(), Some("Hello world"));
    assert!(!message.headers.unwrap().contains_key("content-type"));
    // A JSON scalar is kept as the text it was.
    fixture["Message"] = "42".into();
    let message = one(sns_unwrap(envelope(fixture)).unwrap());
    assert_eq!(message.body, Some(json!("42")));
}

#[test]
fn message_attributes_become_headers() {
    let mut fixture = parsed("notification.sigv1.no-subject.json");
    fixture["MessageAttributes"] = json!({
        "Store": {"Type": "String", "Value": "example_corp"},
        "Price": {"Type": "Number", "Value": "210.75"},
        "Sizes": {"Type": "String.Array", "Value": "[\"S\",\"M\"]"},
        "Blob": {"Type": "Binary", "Value": "AAE="},
        "Multi": {"Type": "String", "Value": "line 1\nline 2"},
        "Accent": {"Type": "String", "Value": "café"},
    });
    let headers = one(sns_unwrap(envelope(fixture)).unwrap()).headers.unwrap();
    assert_eq!(headers["x-sns-attribute-store"], "example_corp");
    assert_eq!(headers["x-sns-attribute-price"], "210.75");
    assert_eq!(headers["x-sns-attribute-sizes"], "[\"S\",\"M\"]");
    for left_out in ["blob", "multi", "accent"] {
        assert!(
            !headers.contains_key(&format!("x-sns-attribute-{left_out}")),
            "{left_out}"
        );
    }
}

#[test]
fn headers_set_by_earlier_transforms_are_kept() {
    let mut e = envelope(parsed("notification.sigv1.no-subject.json"));
    e.headers.insert("x-team".into(), "ops".into());
    let headers = one(sns_unwrap(e).unwrap()).headers.unwrap();
    assert_eq!(headers["x-team"], "ops");
    assert!(headers.contains_key("x-sns-message-id"));
}

#[test]
fn confirmations_and_other_bodies_are_dropped() {
    let confirmation = "anymail.subscription-confirmation.unsigned.json";
    let mut e = envelope(Value::String(raw(confirmation)));
    e.event_type = Some("SubscriptionConfirmation".into());
    assert!(sns_unwrap(e).unwrap().is_drop());
    assert!(
        sns_unwrap(envelope(parsed(confirmation)))
            .unwrap()
            .is_drop()
    );
    assert!(
        sns_unwrap(envelope(json!({"hello": "world"})))
            .unwrap()
            .is_drop()
    );
    assert!(sns_unwrap(envelope(json!("not json"))).unwrap().is_drop());
    assert!(sns_unwrap(Envelope::default()).unwrap().is_drop());
}

#[test]
fn a_notification_without_a_message_is_an_error() {
    let mut fixture = parsed("notification.sigv1.no-subject.json");
    fixture.as_object_mut().unwrap().remove("Message");
    assert!(sns_unwrap(envelope(fixture)).is_err());
}

#[test]
fn the_host_sees_one_object() {
    let input = serde_json::to_vec(&json!({
        "id": "evt_01", "source": "sns", "type": "Notification",
        "headers": {}, "body": raw("anymail.ses-bounce-notification.unsigned.json"),
        "config": {}
    }))
    .unwrap();
    let out = wasmhook_plugin_sdk::run::transform(&input, sns_unwrap).unwrap();
    let value: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["type"], "Bounce");
    assert_eq!(value["body"]["notificationType"], "Bounce");
    assert_eq!(
        value["headers"]["x-sns-message-id"],
        "19ba9823-d7f2-53c1-860e-cb10e0d13dfc"
    );
}
