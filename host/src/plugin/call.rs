//! One plugin call: instantiate (or take a warm instance), run, classify what happened.

use bytes::Bytes;
use wasmtime::component::Func;
use wasmtime::{Store, Trap};
use wasmtime_wasi::I32Exit;

use super::compiled::{Code, HandleParams, HandleResults};
use super::deadline::{self, Cut, ShuttingDown};
use super::engine::PluginEngine;
use super::error::{PluginError, PluginFailure};
use super::sandbox::{Captured, ComponentSandbox, Limiter, ModuleSandbox, Stdio};
use super::{Plugin, STDERR_LIMIT};

/// Warm instances a `reuse = true` plugin keeps between calls.
const MAX_WARM_INSTANCES: usize = 8;

/// What a successful call produced.
pub struct Output {
    /// The result JSON, as the plugin wrote it.
    pub output: Vec<u8>,
    /// What it wrote to stderr, up to 4 KiB.
    pub stderr: String,
    /// The largest linear memory the instance had, in bytes (the largest one when it has
    /// several). For a warm instance: the largest over all its calls so far.
    pub peak_memory: u64,
}

/// A function plugin's instance kept for the next call.
pub(super) struct WarmInstance {
    store: Store<ComponentSandbox>,
    handle: Func,
    stdio: Stdio,
}

impl Plugin {
    /// Runs the plugin on `input` (the envelope JSON) and returns its output bytes.
    ///
    /// Blocks for up to the plugin's timeout: call it on the blocking pool (never on an async
    /// worker), holding a permit of [`PluginEngine::permits`]. The guest runs on this thread;
    /// the tokio runtime only wakes it when a WASI call it waits in (a sleep) completes, or
    /// when the deadline passes, which ends the call wherever the guest is.
    pub fn call(&self, engine: &PluginEngine, input: &Bytes) -> Result<Output, PluginFailure> {
        let warm = if self.reuses_instances() {
            self.warm.lock().expect("warm instances").pop()
        } else {
            None
        };
        let stdio = warm
            .as_ref()
            .map_or_else(|| self.new_stdio(), |warm| warm.stdio.clone());
        let stderr = stdio.stderr.clone();
        let call = self.call_until_done(engine, input, stdio, warm);
        // A cut call's future, and with it the instance, is gone: a warm one is not kept.
        deadline::run(self.settings.timeout, engine, call).unwrap_or_else(|cut| {
            let error = match cut {
                Cut::Deadline => PluginError::Timeout(self.settings.timeout),
                Cut::ShuttingDown => PluginError::ShuttingDown,
            };
            Err(self.failure(error, &String::from_utf8_lossy(&stderr.take())))
        })
    }

    /// The call itself, without the wall-clock bound [`Plugin::call`] puts around it.
    async fn call_until_done(
        &self,
        engine: &PluginEngine,
        input: &Bytes,
        stdio: Stdio,
        warm: Option<WarmInstance>,
    ) -> Result<Output, PluginFailure> {
        let peak_memory;
        let result = match &self.compiled.code {
            Code::CommandModule(pre) => {
                let sandbox = ModuleSandbox::new(input.clone(), &stdio, self.settings.memory);
                let mut store = self.new_store(engine, sandbox, |s| &mut s.limiter);
                let run = async {
                    let instance = pre.instantiate_async(&mut store).await?;
                    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                    start.call_async(&mut store, ()).await
                }
                .await;
                peak_memory = store.data().limiter.peak_memory;
                self.command_outcome(run, &store.data().limiter, &stdio)
            }
            Code::CommandComponent(pre) => {
                let sandbox =
                    ComponentSandbox::new(Some(input.clone()), &stdio, self.settings.memory);
                let mut store = self.new_store(engine, sandbox, |s| &mut s.limiter);
                let run = async {
                    let command = pre.instantiate_async(&mut store).await?;
                    command.wasi_cli_run().call_run(&mut store).await
                }
                .await;
                let run = match run {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(())) => Err(I32Exit(1).into()),
                    Err(error) => Err(error),
                };
                peak_memory = store.data().limiter.peak_memory;
                self.command_outcome(run, &store.data().limiter, &stdio)
            }
            Code::Function { .. } => {
                let mut instance = match warm {
                    Some(warm) => warm,
                    None => self
                        .instantiate_function(engine, stdio)
                        .await
                        .map_err(|e| self.failure(e, ""))?,
                };
                let output = self.call_function(engine, &mut instance, input).await?;
                if self.reuses_instances() {
                    let mut pool = self.warm.lock().expect("warm instances");
                    if pool.len() < MAX_WARM_INSTANCES {
                        pool.push(instance);
                    }
                }
                return Ok(output);
            }
        };
        let stderr = String::from_utf8_lossy(&stdio.stderr.take()).into_owned();
        match result {
            Ok(output) => Ok(Output {
                output,
                stderr,
                peak_memory: peak_memory as u64,
            }),
            Err(error) => Err(self.failure(error, &stderr)),
        }
    }

    async fn instantiate_function(
        &self,
        engine: &PluginEngine,
        stdio: Stdio,
    ) -> Result<WarmInstance, PluginError> {
        let Code::Function { pre, handle } = &self.compiled.code else {
            unreachable!("only function plugins are instantiated as functions")
        };
        let sandbox = ComponentSandbox::new(None, &stdio, self.settings.memory);
        let mut store = self.new_store(engine, sandbox, |s| &mut s.limiter);
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| classify(e, &store.data().limiter, self))?;
        let handle = instance
            .get_func(&mut store, handle)
            .ok_or_else(|| PluginError::Instantiate("`handle` is not exported".into()))?;
        Ok(WarmInstance {
            store,
            handle,
            stdio,
        })
    }

    async fn call_function(
        &self,
        engine: &PluginEngine,
        warm: &mut WarmInstance,
        input: &Bytes,
    ) -> Result<Output, PluginFailure> {
        deadline::arm(&mut warm.store, self.settings.timeout, &engine.stopping);
        let outcome = match warm
            .handle
            .typed::<HandleParams<'_>, HandleResults>(&warm.store)
        {
            Ok(handle) => handle.call_async(&mut warm.store, (&input[..],)).await,
            Err(error) => Err(error),
        };
        let stderr = String::from_utf8_lossy(&warm.stdio.stderr.take()).into_owned();
        let fail = |error| self.failure(error, &stderr);
        match outcome {
            Ok((Ok(output),)) if output.len() as u64 > self.settings.max_output => {
                Err(fail(PluginError::OutputTooLarge(self.settings.max_output)))
            }
            Ok((Ok(output),)) => Ok(Output {
                output,
                stderr,
                peak_memory: warm.store.data().limiter.peak_memory as u64,
            }),
            Ok((Err(message),)) => Err(fail(PluginError::Returned(shortened(message)))),
            Err(error) => Err(fail(classify(error, &warm.store.data().limiter, self))),
        }
    }

    fn new_stdio(&self) -> Stdio {
        Stdio {
            stdout: Captured::stdout(self.settings.max_output),
            stderr: Captured::stderr(STDERR_LIMIT),
        }
    }

    fn new_store<T: 'static>(
        &self,
        engine: &PluginEngine,
        data: T,
        limiter: fn(&mut T) -> &mut Limiter,
    ) -> Store<T> {
        let mut store = Store::new(&engine.engine, data);
        store.limiter(move |data| -> &mut dyn wasmtime::ResourceLimiter { limiter(data) });
        deadline::arm(&mut store, self.settings.timeout, &engine.stopping);
        store
    }

    /// A command succeeded when it exited 0 (returning from `_start` or `exit(0)`).
    fn command_outcome(
        &self,
        run: wasmtime::Result<()>,
        limiter: &Limiter,
        stdio: &Stdio,
    ) -> Result<Vec<u8>, PluginError> {
        if stdio.stdout.overflowed() {
            return Err(PluginError::OutputTooLarge(self.settings.max_output));
        }
        match run {
            Ok(()) => Ok(stdio.stdout.take()),
            Err(error) => match error.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => Ok(stdio.stdout.take()),
                Some(I32Exit(status)) => Err(PluginError::Exit(*status)),
                None => Err(classify(error, limiter, self)),
            },
        }
    }

    fn failure(&self, error: PluginError, stderr: &str) -> PluginFailure {
        PluginFailure {
            plugin: self.name.clone(),
            error,
            stderr: stderr.to_owned(),
        }
    }
}

/// The first [`STDERR_LIMIT`] bytes of a plugin's error message, cut at a character.
fn shortened(mut message: String) -> String {
    if message.len() > STDERR_LIMIT {
        message.truncate(message.floor_char_boundary(STDERR_LIMIT));
        message.push_str(" [truncated]");
    }
    message
}

/// Names the limit a failed call ran into, if any; otherwise it is the guest's own trap.
fn classify(error: wasmtime::Error, limiter: &Limiter, plugin: &Plugin) -> PluginError {
    if limiter.memory_exceeded {
        return PluginError::MemoryLimit(plugin.settings.memory);
    }
    if error.downcast_ref::<ShuttingDown>().is_some() {
        return PluginError::ShuttingDown;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Timeout(plugin.settings.timeout),
        Some(trap) => PluginError::Trap(trap.to_string()),
        None => PluginError::Trap(error.root_cause().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_error_message_is_cut_at_a_character() {
        assert_eq!(shortened("short".into()), "short");
        // One ASCII byte, then two-byte characters: the limit falls inside one of them.
        let cut = shortened(format!("a{}", "é".repeat(STDERR_LIMIT)));
        let kept = cut.strip_suffix(" [truncated]").expect(&cut);
        assert_eq!(kept.len(), STDERR_LIMIT - 1);
        assert!(kept.ends_with('é'));
    }
}
