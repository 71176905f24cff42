//! The one wasmtime engine every plugin runs on, its linkers, and the epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache::CompileCache;
use super::function_cache::FunctionCache;
use super::sandbox::{ComponentSandbox, ModuleSandbox};
use std::path::PathBuf;

/// The epoch advances this often while a plugin call runs; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How often the epoch thread of an idle engine wakes to see whether the engine is gone.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Instances the pooling allocator keeps slots for, per allowed concurrent call. Warm
/// instances of `reuse = true` plugins hold slots too, hence the headroom.
const POOL_SLOTS_PER_CALL: u32 = 4;

/// Bytes of a freed instance's linear memory reset in place, rather than returned to the
/// kernel, so the next instance in the slot starts without page faults. With `PAGEMAP_SCAN`
/// (Linux 6.7 and later) only the pages the instance dirtied are reset, which is what makes a
/// megabyte cheap: a Rust plugin's stack and heap fit, and a fresh call of push-only fell from
/// about 60 to 25-35 µs (docs/benchmarks.md). Without the ioctl the whole megabyte would be
/// cleared on every free, so older kernels keep [`KEEP_RESIDENT_WITHOUT_SCAN`].
const KEEP_RESIDENT: usize = 1024 * 1024;

/// Enough for a small plugin's stack and data, small enough to clear on every free.
const KEEP_RESIDENT_WITHOUT_SCAN: usize = 64 * 1024;

/// How long [`PluginEngine::stop_calls`] waits for cut calls to return.
const STOP_WAIT: Duration = Duration::from_secs(2);

pub struct PluginEngine {
    pub(super) engine: Engine,
    pub(super) module_linker: wasmtime::Linker<ModuleSandbox>,
    pub(super) component_linker: wasmtime::component::Linker<ComponentSandbox>,
    /// Bounds the plugin calls running at once, and so the instances alive in the pool (a full
    /// pool fails an instantiation instead of waiting) and the blocking threads in use.
    pub permits: Arc<Semaphore>,
    /// How many permits there are: [`PluginEngine::stop_calls`] takes them all.
    concurrency: usize,
    /// Cancelled when the router stops: calls in flight end, new ones fail at once.
    pub(super) stopping: CancellationToken,
    pub pooled: bool,
    /// Where compiled plugins are kept between runs; `None` compiles every time.
    pub(super) cache: Option<CompileCache>,
    pub(super) ticker: EpochTicker,
}

impl PluginEngine {
    /// `concurrency` is the number of plugin calls that may run at the same time; compiled
    /// plugins are cached in `cache_dir` when given.
    pub fn new(
        concurrency: usize,
        cache_dir: Option<PathBuf>,
    ) -> anyhow::Result<Arc<PluginEngine>> {
        let concurrency = concurrency.max(1);
        let (engine, pooled) = match Engine::new(&engine_config(Some(concurrency))) {
            Ok(engine) => (engine, true),
            Err(error) => {
                // Pools reserve address space up front; a host with tight `ulimit -v` cannot.
                tracing::warn!(%error, "cannot reserve the plugin instance pool; allocating instances on demand");
                (Engine::new(&engine_config(None)).map_err(to_anyhow)?, false)
            }
        };
        let mut module_linker = wasmtime::Linker::new(&engine);
        // The async WASI hosts: a guest waiting in WASI (a sleep) waits in a future that the
        // call's deadline can drop (`deadline.rs`), not in a blocking call no deadline reaches.
        wasmtime_wasi::p1::add_to_linker_async(
            &mut module_linker,
            |sandbox: &mut ModuleSandbox| &mut sandbox.wasi,
        )
        .map_err(to_anyhow)?;
        let mut component_linker = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut component_linker).map_err(to_anyhow)?;
        let ticker = EpochTicker::start(&engine);
        Ok(Arc::new(PluginEngine {
            ticker,
            module_linker,
            component_linker,
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            stopping: CancellationToken::new(),
            pooled,
            cache: cache_dir.map(|dir| CompileCache::new(dir, &engine)),
            engine,
        }))
    }

    /// Cuts the plugin calls in flight, wherever their guests are, and fails every later call
    /// at once, both with [`super::PluginError::ShuttingDown`]; returns when no call runs, so
    /// that none is left on a blocking thread while the runtime stops under it.
    pub async fn stop_calls(&self) {
        self.stopping.cancel();
        // A cut call returns within a few milliseconds; the bound is for a host that is
        // stuck anyway, whose exit must not wait on it.
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        match tokio::time::timeout(STOP_WAIT, self.permits.acquire_many(all)).await {
            // Kept: no call starts again in this process.
            Ok(Ok(permits)) => permits.forget(),
            Ok(Err(_closed)) => {}
            Err(_elapsed) => tracing::warn!(
                waited = ?STOP_WAIT,
                "plugin calls still running at shutdown after being cut"
            ),
        }
    }

    /// Deadline in epoch ticks for a wall-clock timeout.
    pub(super) fn deadline_ticks(timeout: Duration) -> u64 {
        (timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
    }
}

fn engine_config(pool_for: Option<usize>) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config.parallel_compilation(true);
    config
        .enable_incremental_compilation(Arc::new(FunctionCache::default()))
        .expect("the incremental cache is compiled in");
    if let Some(concurrency) = pool_for {
        let slots = u32::try_from(concurrency)
            .unwrap_or(u32::MAX / 64)
            .saturating_mul(POOL_SLOTS_PER_CALL)
            + 16;
        let (keep_resident, pagemap_scan) = if PoolingAllocationConfig::is_pagemap_scan_available()
        {
            (KEEP_RESIDENT, Enabled::Yes)
        } else {
            (KEEP_RESIDENT_WITHOUT_SCAN, Enabled::No)
        };
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 8)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_tables_per_module(4)
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(16 * 1024)
            // Every call runs on a fiber stack: one per call in flight, like an instance.
            .total_stacks(slots)
            .pagemap_scan(pagemap_scan);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// The thread that advances an engine's epoch, every [`EPOCH_TICK`] while a plugin call runs
/// and not at all while none does: an idle router does not wake a thousand times a second.
/// It holds the engine weakly, so that dropping the engine stops it.
pub(super) struct EpochTicker {
    /// Plugin calls running: the thread ticks while there are any.
    calls: Arc<AtomicUsize>,
    thread: std::thread::Thread,
}

impl EpochTicker {
    fn start(engine: &Engine) -> EpochTicker {
        let weak = engine.weak();
        let calls = Arc::new(AtomicUsize::new(0));
        let running = calls.clone();
        let thread = std::thread::Builder::new()
            .name("wasmhook-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    if running.load(Ordering::SeqCst) == 0 {
                        drop(engine);
                        // Woken by the next call (`unpark`), or to see whether the engine is gone.
                        std::thread::park_timeout(IDLE_CHECK);
                        continue;
                    }
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .expect("spawn the epoch ticker thread")
            .thread()
            .clone();
        EpochTicker { calls, thread }
    }

    /// The epoch advances until the returned guard is dropped. A call's deadline counts ticks
    /// from when it is set, so a ticker that was idle loses nothing.
    pub(super) fn ticking(&self) -> Ticking<'_> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.thread.unpark();
        }
        Ticking(self)
    }
}

/// A plugin call running: see [`EpochTicker::ticking`].
pub(super) struct Ticking<'a>(&'a EpochTicker);

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.0.calls.fetch_sub(1, Ordering::SeqCst);
    }
}

/// wasmtime 48 has its own error type; at the edges it becomes an `anyhow::Error`.
pub(super) fn to_anyhow(error: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{error:?}")
}
