//! The state each plugin instance runs with: WASI locked down to stdio, clocks and random, a
//! memory limiter that remembers it said no, and captured stdout/stderr.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Tables larger than this are refused: a bound on host memory a table can pin.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Caps linear memory and records when the cap was hit, so a failure can say why. It also
/// records the largest linear memory it granted (`peak_memory`, bytes), for `plugin run`.
pub struct Limiter {
    memory_limit: usize,
    pub memory_exceeded: bool,
    pub peak_memory: usize,
}

impl Limiter {
    pub fn new(memory_limit: u64) -> Limiter {
        Limiter {
            memory_limit: usize::try_from(memory_limit).unwrap_or(usize::MAX),
            memory_exceeded: false,
            peak_memory: 0,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exceeded = true;
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// An in-memory stdout or stderr. Past `limit` it either fails the write (stdout: the output is
/// unusable anyway, so stop the plugin early) or drops the rest (stderr: keep the first bytes).
#[derive(Clone)]
pub struct Captured {
    inner: Arc<Mutex<CapturedInner>>,
}

struct CapturedInner {
    bytes: Vec<u8>,
    limit: usize,
    fail_when_full: bool,
    overflowed: bool,
}

impl Captured {
    pub fn stdout(limit: u64) -> Captured {
        Captured::new(usize::try_from(limit).unwrap_or(usize::MAX), true)
    }

    pub fn stderr(limit: usize) -> Captured {
        Captured::new(limit, false)
    }

    fn new(limit: usize, fail_when_full: bool) -> Captured {
        Captured {
            inner: Arc::new(Mutex::new(CapturedInner {
                bytes: Vec::new(),
                limit,
                fail_when_full,
                overflowed: false,
            })),
        }
    }

    /// Takes what was written so far, leaving the capture empty for the next call.
    pub fn take(&self) -> Vec<u8> {
        let mut inner = self.inner.lock().expect("captured output");
        inner.overflowed = false;
        std::mem::take(&mut inner.bytes)
    }

    pub fn overflowed(&self) -> bool {
        self.inner.lock().expect("captured output").overflowed
    }

    fn append(&self, bytes: &[u8]) -> Result<(), ()> {
        let mut inner = self.inner.lock().expect("captured output");
        let room = inner.limit.saturating_sub(inner.bytes.len());
        if bytes.len() > room {
            inner.overflowed = true;
            if inner.fail_when_full {
                return Err(());
            }
            inner.bytes.extend_from_slice(&bytes[..room]);
            return Ok(());
        }
        inner.bytes.extend_from_slice(bytes);
        Ok(())
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes)
            .map_err(|()| StreamError::Trap(wasmtime::format_err!("output limit reached")))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.append(buf)
                .map(|()| buf.len())
                .map_err(|()| io::Error::other("output limit reached")),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The pipes one instance talks through; a clone shares them.
#[derive(Clone)]
pub struct Stdio {
    pub stdout: Captured,
    pub stderr: Captured,
}

/// A WASI context granting stdin/stdout/stderr, clocks and random, and nothing else: no
/// files, sockets, arguments or environment.
fn locked_down(stdin: Option<Bytes>, stdio: &Stdio) -> WasiCtxBuilder {
    let mut builder = WasiCtx::builder();
    if let Some(stdin) = stdin {
        builder.stdin(MemoryInputPipe::new(stdin));
    }
    builder
        .stdout(stdio.stdout.clone())
        .stderr(stdio.stderr.clone());
    builder
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    builder
}

/// Store data of a core-module command (WASI preview 1).
pub struct ModuleSandbox {
    pub wasi: WasiP1Ctx,
    pub limiter: Limiter,
}

impl ModuleSandbox {
    pub fn new(stdin: Bytes, stdio: &Stdio, memory: u64) -> ModuleSandbox {
        ModuleSandbox {
            wasi: locked_down(Some(stdin), stdio).build_p1(),
            limiter: Limiter::new(memory),
        }
    }
}

/// Store data of a component (WASI preview 2), command or function.
pub struct ComponentSandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
}

impl ComponentSandbox {
    pub fn new(stdin: Option<Bytes>, stdio: &Stdio, memory: u64) -> ComponentSandbox {
        ComponentSandbox {
            wasi: locked_down(stdin, stdio).build(),
            table: ResourceTable::new(),
            limiter: Limiter::new(memory),
        }
    }
}

impl WasiView for ComponentSandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
