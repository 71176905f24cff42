//! What a plugin hands back, and the envelope it was given: an event body of any content type
//! becomes an envelope, and any output bytes a transform returns either merge into messages or
//! are refused with a reason, never a panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasmhook::pipeline::envelope;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    content_type: Option<&'a str>,
    body: &'a [u8],
    output: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let checked = envelope::check_body(input.content_type, input.body);
    let parsed = envelope::parse_body(input.content_type, input.body);
    // Ingest refuses exactly the bodies the pipeline could not parse.
    assert_eq!(checked.is_ok(), parsed.is_ok());
    let Ok((field, body)) = parsed else { return };
    let mut event = serde_json::Map::new();
    event.insert(field.into(), body);
    event.insert(
        "headers".into(),
        serde_json::Value::Object(Default::default()),
    );
    let Ok(output) = serde_json::from_slice::<serde_json::Value>(input.output) else {
        return;
    };
    if let Ok(messages) = envelope::split_output(output) {
        for message in messages {
            let merged = envelope::merge(&event, message);
            assert!(merged.contains_key("headers"));
        }
    }
});
