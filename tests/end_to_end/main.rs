//! End-to-end tests: the real `wasmhook` binary, real sockets on port 0, real `.wasm` plugins,
//! real subscribers. Each file is one user story; the harness lives in `common/`.

mod common;

mod cli;
mod deliver;
mod fan_out;
mod filter;
mod hot_reload;
mod limits;
mod restart;
mod retry;
mod verify;
