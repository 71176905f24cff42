//! Write [wasmhook](https://github.com/wasmhook/wasmhook) filter and transform plugins in
//! Rust.
//!
//! A plugin gets an [`Envelope`] (the event, its request and the plugin's config) and returns
//! a verdict (filters) or an [`Output`] (transforms). The host carries both as UTF-8 JSON in
//! one of two ways, and the SDK writes either for you:
//!
//! - **Function plugins** (a component for `wasm32-wasip2`, crate type `cdylib`): put
//!   [`macro@filter`], [`macro@transform`] or [`macro@handler`] on one function.
//!
//!   ```ignore
//!   use wasmhook_plugin_sdk::Envelope;
//!
//!   #[wasmhook_plugin_sdk::filter]
//!   fn only_pushes(e: &Envelope) -> bool {
//!       e.is("push")
//!   }
//!   ```
//!
//! - **Command plugins** (any WASI binary): call [`command::run_filter`] or
//!   [`command::run_transform`] from `main`.
//!
//! The ABI itself, for any language, is described in `docs/abi.md`.

#![deny(unsafe_code)]

pub mod command;
mod envelope;
mod error;
mod message;
mod output;
pub mod returns;
pub mod run;

pub use envelope::{Envelope, Request};
pub use error::Error;
pub use message::Message;
pub use output::Output;
/// Re-exported so that plugins can build JSON without naming `serde_json` themselves.
pub use serde_json::{self, Value, json};

#[cfg(feature = "function")]
pub use wasmhook_plugin_sdk_macros::{filter, handler, transform};

/// Bindings of the `wasmhook:plugin` world (`wit/plugin.wit`), used by the code the attribute
/// macros generate. Not a stable API.
#[cfg(all(feature = "function", target_arch = "wasm32"))]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/plugin.wit",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "wasmhook_plugin_sdk::bindings",
    });
}
