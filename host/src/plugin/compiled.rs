//! Turning `.wasm` bytes into something ready to instantiate: compile, link, type-check.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Serialize;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre};
use wasmtime::{Module, Store};
use wasmtime_wasi::p2::bindings::CommandPre;

use super::cache::Cached;
use super::deadline::{self, Cut, ShuttingDown};
use super::encode::{CoreModuleShape, encode_function_module};
use super::engine::PluginEngine;
use super::error::LoadError;
use super::sandbox::{ComponentSandbox, ModuleSandbox, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    CommandModule,
    CommandComponent,
    FunctionComponent,
}

/// A compiled, linked plugin version; shared by every route and reload that uses the same bytes.
pub struct CompiledPlugin {
    pub path: PathBuf,
    pub sha256: String,
    pub kind: PluginKind,
    pub(super) code: Code,
}

pub(super) enum Code {
    CommandModule(wasmtime::InstancePre<ModuleSandbox>),
    CommandComponent(CommandPre<ComponentSandbox>),
    Function {
        pre: InstancePre<ComponentSandbox>,
        handle: ComponentExportIndex,
    },
}

/// The signature of `handle` in the `wasmhook:plugin` world.
pub(super) type HandleParams<'a> = (&'a [u8],);
pub(super) type HandleResults = (Result<Vec<u8>, String>,);

impl CompiledPlugin {
    /// Reads and compiles the plugin at `path`. CPU-heavy: call it off the async runtime.
    pub fn load(engine: &PluginEngine, path: &Path) -> Result<CompiledPlugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|error| LoadError::Read {
            path: path.to_owned(),
            error,
        })?;
        CompiledPlugin::from_bytes(engine, path, &bytes)
    }

    pub fn from_bytes(
        engine: &PluginEngine,
        path: &Path,
        bytes: &[u8],
    ) -> Result<CompiledPlugin, LoadError> {
        let invalid = invalid_at(path);
        let sha256 = crate::digest::sha256_hex(bytes);
        // A core module exporting `handle` (and no `_start`) is a hand-written function
        // plugin: encoded into a component here, then loaded as one. A module that does not
        // even parse is left to `Module::new` to describe.
        let hand_written = is_core_module(bytes)
            .then(|| CoreModuleShape::read(bytes).ok())
            .flatten()
            .filter(|shape| shape.hand_written_function);
        let code = if is_core_module(bytes) && hand_written.is_none() {
            let module = match &engine.cache {
                Some(cache) => cache.module(&engine.engine, &sha256, bytes),
                None => Module::new(&engine.engine, bytes),
            }
            .map_err(invalid)?;
            link_module(engine, path, &module)?
        } else {
            let component = match (&engine.cache, &hand_written) {
                (Some(cache), None) => cache.component(&engine.engine, &sha256, bytes),
                (None, None) => Component::new(&engine.engine, bytes),
                // Cached under the file's sha256: a re-deploy skips encoding and compiling.
                (Some(cache), Some(shape)) => cache.component_with(&engine.engine, &sha256, || {
                    encode_function_module(bytes, shape)
                        .map(Cow::Owned)
                        .map_err(|reason| wasmtime::format_err!("{reason}"))
                }),
                (None, Some(shape)) => encode_function_module(bytes, shape)
                    .map_err(|reason| wasmtime::format_err!("{reason}"))
                    .and_then(|component| Component::new(&engine.engine, component)),
            }
            .map_err(invalid)?;
            link_component(engine, path, &component)?
        };
        Ok(CompiledPlugin::new(path, sha256, code))
    }

    /// The version of the plugin at `path` whose `.wasm` had `sha256`, from the compile cache
    /// alone: `None` when the cache does not hold it. This is how the last version that loaded
    /// serves again after a restart that finds its file broken.
    pub fn from_cache(
        engine: &PluginEngine,
        path: &Path,
        sha256: &str,
    ) -> Option<Result<CompiledPlugin, LoadError>> {
        let code = match engine.cache.as_ref()?.cached(&engine.engine, sha256)? {
            Cached::Module(module) => link_module(engine, path, &module),
            Cached::Component(component) => link_component(engine, path, &component),
        };
        Some(code.map(|code| CompiledPlugin::new(path, sha256.to_owned(), code)))
    }

    fn new(path: &Path, sha256: String, code: Code) -> CompiledPlugin {
        let kind = match code {
            Code::CommandModule(_) => PluginKind::CommandModule,
            Code::CommandComponent(_) => PluginKind::CommandComponent,
            Code::Function { .. } => PluginKind::FunctionComponent,
        };
        CompiledPlugin {
            path: path.to_owned(),
            sha256,
            kind,
            code,
        }
    }
}

fn invalid_at(path: &Path) -> impl Fn(wasmtime::Error) -> LoadError + '_ {
    move |error| LoadError::Invalid {
        path: path.to_owned(),
        reason: format!("{error:#}"),
    }
}

/// Links a compiled core module as a WASI command.
fn link_module(engine: &PluginEngine, path: &Path, module: &Module) -> Result<Code, LoadError> {
    if module.get_export("_start").is_none() {
        return Err(LoadError::NoEntryPoint {
            path: path.to_owned(),
        });
    }
    let pre = engine
        .module_linker
        .instantiate_pre(module)
        .map_err(invalid_at(path))?;
    Ok(Code::CommandModule(pre))
}

/// Links a compiled component: a function plugin if it exports `handle`, else a command.
fn link_component(
    engine: &PluginEngine,
    path: &Path,
    component: &Component,
) -> Result<Code, LoadError> {
    let invalid = invalid_at(path);
    let pre = engine
        .component_linker
        .instantiate_pre(component)
        .map_err(&invalid)?;
    match component.get_export_index(None, "handle") {
        Some(handle) => {
            check_handle_signature(&pre, &handle, engine).map_err(&invalid)?;
            Ok(Code::Function { pre, handle })
        }
        None => Ok(Code::CommandComponent(CommandPre::new(pre).map_err(
            |_| LoadError::NoEntryPoint {
                path: path.to_owned(),
            },
        )?)),
    }
}

/// Instantiates once and looks `handle` up with its typed signature, so a plugin exporting a
/// `handle` of another shape is refused at load instead of failing every event.
fn check_handle_signature(
    pre: &InstancePre<ComponentSandbox>,
    handle: &ComponentExportIndex,
    engine: &PluginEngine,
) -> wasmtime::Result<()> {
    let stdio = Stdio {
        stdout: super::sandbox::Captured::stdout(0),
        stderr: super::sandbox::Captured::stderr(0),
    };
    let mut store = Store::new(pre.engine(), ComponentSandbox::new(None, &stdio, u64::MAX));
    let limit = std::time::Duration::from_secs(5);
    deadline::arm(&mut store, limit, &engine.stopping);
    let checked = deadline::run(limit, engine, async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.get_typed_func::<HandleParams<'_>, HandleResults>(&mut store, handle)?;
        Ok(())
    });
    checked.unwrap_or_else(|cut| match cut {
        Cut::Deadline => Err(wasmtime::format_err!(
            "instantiating took longer than {limit:?}"
        )),
        Cut::ShuttingDown => Err(ShuttingDown.into()),
    })
}

/// Core modules start `\0asm` + version 1; components carry a different version/layer word.
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(&[1, 0, 0, 0])
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .field("kind", &self.kind)
            .finish()
    }
}
