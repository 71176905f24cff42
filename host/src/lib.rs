//! wasmhook: a self-hosted webhook router. Events arrive at `ingest`, are committed to the
//! `store`, run through user-supplied WebAssembly plugins in the `pipeline`, and are sent to
//! subscribers by `delivery`. `topology` is the running wiring, hot-reloaded from
//! `routes.toml` and the plugin files; `admin` shows all of it.
// Unsafe code is denied everywhere but in the one place that loads machine code from the
// compile cache (plugin/cache.rs), which says why it is sound.
#![deny(unsafe_code)]

pub mod activity;
pub mod admin;
pub mod api_error;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod health;
pub mod ids;
pub mod ingest;
pub mod listener;
pub mod node;
pub mod pipeline;
pub mod plugin;
pub mod retention;
pub mod router_headers;
pub mod standard_webhooks;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod topology;
pub mod verify;

#[cfg(test)]
mod import_graph;
#[cfg(test)]
mod testing;
