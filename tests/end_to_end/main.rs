//! End-to-end tests: the real `wasmhook` binary, real sockets on port 0, real `.wasm` plugins,
//! real subscribers. Each file is one user story; the harness lives in `common/`.

mod common;

mod admin_access;
mod broken_plugin;
mod circuit;
mod cli;
mod container;
mod core_abi;
mod crash;
mod dashboard;
mod dead_letters;
mod deadlines;
mod dedup;
mod deliver;
mod disk_full;
mod fan_out;
mod filter;
mod gone;
mod hang_ups;
mod headers;
mod hostile_config;
mod hostile_senders;
mod hot_reload;
mod isolation;
mod languages;
mod limits;
mod ordering;
mod plugin_new;
mod plugin_shutdown;
mod rate;
mod restart;
mod retry;
mod retry_schedule;
mod route_tests;
mod scale_out;
mod service;
mod shutdown;
mod slow_senders;
mod sources;
mod transports;
mod unknown_sources;
mod verify;
mod watch;
