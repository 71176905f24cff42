//! routes.toml parsing and validation: any text gives a config or errors, never a panic, and
//! every error names a place in the file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let env = |name: &str| {
        name.len()
            .is_multiple_of(2)
            .then(|| format!("value-of-{name}"))
    };
    let (_, errors) =
        wasmhook::config::Config::parse_partial(Path::new("/fuzz/routes.toml"), text, &env);
    for error in &errors.0 {
        assert!(!error.message.is_empty(), "an error without a message");
    }
});
