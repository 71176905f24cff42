//! The Rust example plugins compiled natively from their own sources, for scenario 5's
//! comparison. Including the sources (rather than depending on the crates) keeps the plugin
//! crates `cdylib` only: with an `rlib` beside it, cargo builds the WebAssembly without LTO, a
//! third larger and slower. The bench's own test build leaves them out: the plugins' unit
//! tests read fixtures relative to their crates and run there.

use crate::envelopes::Handle;

#[cfg(not(test))]
#[path = "../../plugins/push-only/src/lib.rs"]
mod push_only;

#[cfg(not(test))]
#[path = "../../plugins/github-to-slack/src/lib.rs"]
mod github_to_slack;

#[cfg(not(test))]
#[path = "../../plugins/split-commits/src/lib.rs"]
mod split_commits;

#[cfg(not(test))]
#[path = "../../plugins/stripe-to-slack/src/lib.rs"]
mod stripe_to_slack;

#[cfg(not(test))]
#[path = "../../plugins/shopify-order-compact/src/lib.rs"]
mod shopify_order_compact;

#[cfg(not(test))]
#[path = "../../plugins/sns-unwrap/src/lib.rs"]
mod sns_unwrap;

/// The native build of the example plugin `file`, if it is one of the Rust examples.
#[cfg(not(test))]
pub fn handle(file: &str) -> Option<Handle> {
    use wasmhook_plugin_sdk::run::transform;
    Some(match file {
        "push_only.wasm" => push_only::wasmhook_handle,
        "github_to_slack.wasm" => github_to_slack::wasmhook_handle,
        "split_commits.wasm" => |envelope| transform(envelope, split_commits::split_commits),
        "stripe_to_slack.wasm" => stripe_to_slack::wasmhook_handle,
        "shopify_order_compact.wasm" => shopify_order_compact::wasmhook_handle,
        "sns_unwrap.wasm" => |envelope| transform(envelope, sns_unwrap::sns_unwrap),
        _ => return None,
    })
}

#[cfg(test)]
pub fn handle(_file: &str) -> Option<Handle> {
    None
}
