//! The command's entry point: the envelope from stdin, the result to stdout. The logic is in
//! `lib.rs`, where it is unit-tested and can be measured natively.

fn main() {
    wasmhook_plugin_sdk::command::run_transform(sns_unwrap::sns_unwrap);
}
