//! Command plugins: a WASI program that reads the envelope from stdin and writes the result
//! to stdout. Build it for `wasm32-wasip1` (or `wasm32-wasip2`) as an ordinary binary:
//!
//! ```no_run
//! use wasmhook_plugin_sdk::{command, Envelope};
//!
//! fn main() {
//!     command::run_filter(|e: &Envelope| e.is("push"));
//! }
//! ```
//!
//! On a plugin error the message goes to stderr and the process exits with status 1, which
//! the host reads as a plugin error.

use std::io::{Read, Write};

use crate::returns::{FilterReturn, HandlerReturn, TransformReturn};
use crate::{Envelope, run};

/// Reads the envelope from stdin, runs the filter, writes `true` or `false` to stdout.
pub fn run_filter<R: FilterReturn>(f: impl FnOnce(&Envelope) -> R) {
    finish(read_stdin().and_then(|input| run::filter(&input, f)));
}

/// Reads the envelope from stdin, runs the transform, writes its output to stdout.
pub fn run_transform<R: TransformReturn>(f: impl FnOnce(Envelope) -> R) {
    finish(read_stdin().and_then(|input| run::transform(&input, f)));
}

/// Reads the envelope from stdin, runs the handler, writes its JSON to stdout as is.
pub fn run_handler<R: HandlerReturn>(f: impl FnOnce(Envelope) -> R) {
    finish(read_stdin().and_then(|input| run::handler(&input, f)));
}

fn read_stdin() -> Result<Vec<u8>, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read the envelope from stdin: {e}"))?;
    Ok(input)
}

fn finish(result: Result<Vec<u8>, String>) {
    let written = result.and_then(|output| {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&output)
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write the result to stdout: {e}"))
    });
    if let Err(message) = written {
        eprintln!("{message}");
        std::process::exit(1);
    }
}
