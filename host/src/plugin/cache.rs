//! Compiled plugins cached on disk by content hash, so that a restart, or a re-deploy of the
//! same bytes, loads machine code in milliseconds instead of compiling again (seconds for the
//! large Python and JavaScript components).
//!
//! A file is named by the sha256 of the `.wasm` and a hash of everything about the engine that
//! the machine code depends on (wasmtime version, target, settings), so a build of wasmhook
//! never loads another build's code. Only this directory is ever read, and only files wasmhook
//! wrote there: loading precompiled code is trusting it, which is why the directory belongs to
//! the store (`data_dir`), not to the plugins. The commands without a store (`check`, `test`,
//! `plugin run`) use the user's own cache directory, [`user_cache_dir`], on the same terms.

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use wasmtime::Module;

/// Where the commands that run without a data dir (`check`, `test`, `plugin run`) keep
/// compiled plugins, as `serve` keeps them in its data dir: a heavy language runtime compiles
/// once, not on every run. `$XDG_CACHE_HOME/wasmhook/plugin-cache`, else
/// `~/.cache/wasmhook/plugin-cache`.
pub fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("wasmhook").join("plugin-cache"))
}

pub struct CompileCache {
    dir: PathBuf,
    engine_hash: String,
}

impl CompileCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> CompileCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompileCache {
            dir,
            engine_hash: format!("{:016x}", hasher.finish()),
        }
    }

    fn path(&self, sha256: &str, kind: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.{kind}", self.engine_hash))
    }

    pub fn module(&self, engine: &Engine, sha256: &str, bytes: &[u8]) -> wasmtime::Result<Module> {
        if let Some(module) = self.cached_module(engine, sha256) {
            return Ok(module);
        }
        let module = Module::new(engine, bytes)?;
        store(&self.path(sha256, "module"), module.serialize());
        Ok(module)
    }

    /// The compiled code of the plugin whose `.wasm` had this sha256, if this cache holds it:
    /// how a version that loaded once can serve again when its file no longer does.
    pub fn cached(&self, engine: &Engine, sha256: &str) -> Option<Cached> {
        // A name from outside (the record of last good versions) never leaves the directory.
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.cached_module(engine, sha256)
            .map(Cached::Module)
            .or_else(|| self.cached_component(engine, sha256).map(Cached::Component))
    }

    fn cached_module(&self, engine: &Engine, sha256: &str) -> Option<Module> {
        // SAFETY: the file was written by `store` below, by a wasmhook whose engine hash is in
        // its name, into a directory only wasmhook writes to; wasmtime checks its header and
        // version again before use.
        #[allow(unsafe_code)]
        self.read(sha256, "module", |path| unsafe {
            Module::deserialize_file(engine, path)
        })
    }

    fn cached_component(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        // SAFETY: as for modules above.
        #[allow(unsafe_code)]
        self.read(sha256, "component", |path| unsafe {
            Component::deserialize_file(engine, path)
        })
    }

    /// The cached file of this kind, deserialized; one that cannot be is removed.
    fn read<T>(
        &self,
        sha256: &str,
        kind: &str,
        deserialize: impl FnOnce(&Path) -> wasmtime::Result<T>,
    ) -> Option<T> {
        let path = self.path(sha256, kind);
        if !path.exists() {
            return None;
        }
        deserialize(&path)
            .inspect_err(|error| discard(&path, error))
            .ok()
    }

    pub fn component(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        self.component_with(engine, sha256, || Ok(Cow::Borrowed(bytes)))
    }

    /// Like [`CompileCache::component`] for a component made from the file's bytes (a
    /// hand-written core module encoded at load): `sha256` is that of the file, and `encode`
    /// runs only on a cache miss, so a re-deploy skips the encoding as well as the compiling.
    pub fn component_with<'a>(
        &self,
        engine: &Engine,
        sha256: &str,
        encode: impl FnOnce() -> wasmtime::Result<Cow<'a, [u8]>>,
    ) -> wasmtime::Result<Component> {
        if let Some(component) = self.cached_component(engine, sha256) {
            return Ok(component);
        }
        let component = Component::new(engine, encode()?)?;
        store(&self.path(sha256, "component"), component.serialize());
        Ok(component)
    }
}

/// Compiled code found in the cache.
pub enum Cached {
    Module(Module),
    Component(Component),
}

/// Writes beside and renames, so a reader never sees half a file. The temporary name is the
/// writer's own: two processes sharing a cache (`wasmhook test` runs in parallel) may compile
/// the same plugin at once.
fn store(path: &Path, serialized: wasmtime::Result<Vec<u8>>) {
    let written = serialized
        .map_err(|error| format!("{error:?}"))
        .and_then(|bytes| {
            let dir = path
                .parent()
                .expect("cache files live in the cache directory");
            std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
            static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let temporary = path.with_extension(format!("{}-{write}.partial", std::process::id()));
            std::fs::write(&temporary, bytes).map_err(|error| error.to_string())?;
            std::fs::rename(&temporary, path).map_err(|error| error.to_string())
        });
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error, "cannot cache a compiled plugin; it will be compiled again next time");
    }
}

fn discard(path: &Path, error: &wasmtime::Error) {
    tracing::warn!(path = %path.display(), error = %format!("{error:?}"), "discarding an unusable compiled plugin from the cache");
    let _ = std::fs::remove_file(path);
}
