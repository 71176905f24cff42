//! What a plugin hands back, and the envelope it was given: an event body of any content type
//! becomes an envelope, and any output bytes a transform returns are read as the pipeline
//! reads them (split into messages, the router's own and invalid headers dropped, the message
//! and byte bounds of `max_messages` and `max_messages_size` applied over a chain of calls),
//! merged or refused with a reason, never a panic. Whatever is kept is sendable.
#![no_main]

use std::path::Path;
use std::sync::{Arc, LazyLock};

use arbitrary::Arbitrary;
use http::{HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wasmhook::config::Config;
use wasmhook::pipeline::FanOut;
use wasmhook::pipeline::envelope;
use wasmhook::plugin::{CompiledPlugin, Plugin, PluginEngine};
use wasmhook::router_headers;

/// `(module (func (export "_start")))`: a transform whose output the fuzzer writes instead.
const COMMAND: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
    0x03, 0x02, 0x01, 0x00, // one function of that type
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export _start
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // its empty body
];

/// Small bounds, so that the fuzzer reaches them.
const ROUTES: &str = r#"
[plugins.transform]
wasm = "transform.wasm"
max_messages = 20
max_messages_size = "16KiB"
"#;

static PLUGIN: LazyLock<Plugin> = LazyLock::new(|| {
    let path = Path::new("/fuzz/transform.wasm");
    let config = Config::parse(Path::new("/fuzz/routes.toml"), ROUTES, &|_| None)
        .unwrap_or_else(|errors| panic!("the fuzzing routes.toml is invalid: {errors}"));
    let engine = PluginEngine::new(1, None).expect("a plugin engine");
    let compiled = CompiledPlugin::from_bytes(&engine, path, COMMAND).expect("a command");
    Plugin::new(Arc::new(compiled), config.plugins["transform"].clone(), 1)
});

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    content_type: Option<&'a str>,
    body: &'a [u8],
    /// The outputs of one transform's calls for one event: the second call sees a message
    /// the first made, as in a chain.
    outputs: Vec<&'a [u8]>,
}

fuzz_target!(|input: Input<'_>| {
    let checked = envelope::check_body(input.content_type, input.body);
    let parsed = envelope::parse_body(input.content_type, input.body);
    // Ingest refuses exactly the bodies the pipeline could not parse.
    assert_eq!(checked.is_ok(), parsed.is_ok());
    let Ok((field, body)) = parsed else { return };
    let mut parent = envelope::Envelope::new();
    parent.insert(field.into(), envelope::json(&body));
    parent.insert("headers".into(), envelope::json(&serde_json::Map::new()));
    let mut fan_out = FanOut::new(&PLUGIN);
    for output in input.outputs {
        let parsed = envelope::parse_output(output);
        // Outputs are JSON by the same rules as bodies parsed into values.
        assert_eq!(
            parsed.is_ok(),
            serde_json::from_slice::<Value>(output).is_ok()
        );
        let Ok(output) = parsed else {
            continue;
        };
        let Ok(messages) = fan_out.take(&parent, &output) else {
            return;
        };
        for message in messages {
            let merged = envelope::merge(&parent, message);
            assert_sendable(&merged);
            parent = merged;
        }
    }
});

/// Every header a kept message sets is valid HTTP and none is the router's own.
fn assert_sendable(message: &envelope::Envelope) {
    let Some(headers) = message.get("headers") else {
        return;
    };
    let headers: serde_json::Map<String, Value> =
        envelope::read(headers).expect("kept headers are an object");
    for (name, value) in &headers {
        assert!(
            router_headers::reserved(name).is_none(),
            "the router's own header {name:?} kept"
        );
        assert!(HeaderName::try_from(name.as_str()).is_ok(), "{name:?} kept");
        if let Value::String(text) = value {
            assert!(
                HeaderValue::try_from(text.as_str()).is_ok(),
                "{text:?} kept"
            );
        }
    }
}
