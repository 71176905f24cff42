//! chaos as a command plugin: the envelope from stdin, the result to stdout, the same modes
//! as the function plugin (see `plugins/chaos`). Built for `wasm32-wasip1`, it shows what the
//! host's limits do to a WASI program: `sleep` blocks in `poll_oneoff`, `big-output` writes
//! past the output limit to stdout.

fn main() {
    wasmhook_plugin_sdk::command::run_handler(chaos::chaos);
}
