//! Hand-written function plugins: a core module implementing the `wasmhook:plugin` world's
//! canonical ABI by hand (exports `handle`, `cabi_realloc`, `memory`, optionally
//! `cabi_post_handle`) is encoded into a component of that world at load (SPEC section 5,
//! plugin-sdk/docs/abi.md "By hand: a core module").
//!
//! The module need not embed the WIT: the host knows the world, embeds its metadata and lets
//! `wit-component` build the component. A module importing WASI preview 1 (wasi-libc, Go) gets
//! wasmtime's own reactor adapter, which maps those imports onto WASI 0.2 that the component
//! linker provides with the usual sandbox.

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

/// The world every function plugin implements.
const PLUGIN_WIT: &str = include_str!("../../../plugin-sdk/wit/plugin.wit");

/// What the exports and imports of a core module say about it.
pub(super) struct CoreModuleShape {
    /// Exports `handle` and no `_start`: a hand-written function plugin.
    pub hand_written_function: bool,
    exports: Vec<(String, ExternalKind)>,
    imports: Vec<(String, String, bool)>,
}

impl CoreModuleShape {
    /// Reads the import and export sections only; the module is validated when encoded or
    /// compiled.
    pub fn read(bytes: &[u8]) -> Result<CoreModuleShape, String> {
        let mut exports = Vec::new();
        let mut imports = Vec::new();
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(|error| error.to_string())? {
                Payload::ExportSection(section) => {
                    for export in section {
                        let export = export.map_err(|error| error.to_string())?;
                        exports.push((export.name.to_owned(), export.kind));
                    }
                }
                Payload::ImportSection(section) => {
                    for import in section.into_imports() {
                        let import = import.map_err(|error| error.to_string())?;
                        let is_func = matches!(import.ty, TypeRef::Func(_));
                        imports.push((import.module.to_owned(), import.name.to_owned(), is_func));
                    }
                }
                // Everything that matters comes before the code.
                Payload::CodeSectionStart { .. } | Payload::End(_) => break,
                _ => {}
            }
        }
        let exports_func = |name: &str| {
            exports
                .iter()
                .any(|(n, kind)| n == name && *kind == ExternalKind::Func)
        };
        let hand_written_function = exports_func("handle") && !exports_func("_start");
        Ok(CoreModuleShape {
            hand_written_function,
            exports,
            imports,
        })
    }

    fn exports(&self, name: &str, kind: ExternalKind) -> bool {
        self.exports.iter().any(|(n, k)| n == name && *k == kind)
    }

    fn imports_wasi_preview1(&self) -> bool {
        self.imports
            .iter()
            .any(|(module, _, _)| module == WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME)
    }

    /// The ABI checks whose failure `wit-component` reports obscurely, stated plainly.
    fn check(&self) -> Result<(), String> {
        for (name, kind, what) in [
            ("memory", ExternalKind::Memory, "a memory"),
            ("cabi_realloc", ExternalKind::Func, "a function"),
        ] {
            if !self.exports(name, kind) {
                return Err(format!(
                    "a core module exporting `handle` is a hand-written function plugin and \
                     must also export `{name}` ({what}); see plugin-sdk/docs/abi.md"
                ));
            }
        }
        if let Some((module, name, _)) = self
            .imports
            .iter()
            .find(|(module, _, _)| module != WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME)
        {
            return Err(format!(
                "a hand-written function plugin may import only `{WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME}` \
                 functions, but it imports `{module}::{name}`"
            ));
        }
        if let Some((_, name, _)) = self.imports.iter().find(|(_, _, is_func)| !is_func) {
            return Err(format!(
                "a hand-written function plugin may import only functions, but it imports \
                 `{WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME}::{name}` of another kind"
            ));
        }
        Ok(())
    }
}

/// Encodes a hand-written function plugin (see [`CoreModuleShape::hand_written_function`])
/// into a component of the `wasmhook:plugin` world. The error is a reason for the operator.
pub(super) fn encode_function_module(
    bytes: &[u8],
    shape: &CoreModuleShape,
) -> Result<Vec<u8>, String> {
    shape.check()?;
    let mut resolve = Resolve::default();
    let package = resolve
        .push_str("plugin-sdk/wit/plugin.wit", PLUGIN_WIT)
        .map_err(|error| format!("the built-in plugin.wit does not parse: {error:#}"))?;
    let world = resolve
        .select_world(&[package], Some("plugin"))
        .map_err(|error| format!("the built-in plugin.wit has no `plugin` world: {error:#}"))?;
    let mut module = bytes.to_vec();
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .map_err(|error| format!("cannot embed the wasmhook:plugin world: {error:#}"))?;
    let mut encoder = ComponentEncoder::default()
        .module(&module)
        .map_err(|error| not_the_world(&error))?
        .validate(true);
    if shape.imports_wasi_preview1() {
        encoder = encoder
            .adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
            .map_err(|error| format!("cannot use the WASI preview 1 adapter: {error:#}"))?;
    }
    encoder.encode().map_err(|error| not_the_world(&error))
}

fn not_the_world(error: &anyhow::Error) -> String {
    format!(
        "a core module exporting `handle` must implement the wasmhook:plugin world's canonical \
         ABI (see plugin-sdk/docs/abi.md): {error:#}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(wat: &str) -> (Vec<u8>, CoreModuleShape) {
        let bytes = wat::parse_str(wat).expect("valid WAT");
        let shape = CoreModuleShape::read(&bytes).expect("readable module");
        (bytes, shape)
    }

    const HANDLE: &str = r#"(func (export "handle") (param i32 i32) (result i32) i32.const 0)"#;
    const REALLOC: &str =
        r#"(func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 16)"#;

    #[test]
    fn a_module_exporting_start_is_a_command() {
        let (_, command) = read(&format!(r#"(module {HANDLE} (func (export "_start")))"#));
        assert!(!command.hand_written_function);
        let (_, function) = read(&format!("(module {HANDLE})"));
        assert!(function.hand_written_function);
    }

    #[test]
    fn a_minimal_module_encodes() {
        let (bytes, shape) = read(&format!(
            r#"(module (memory (export "memory") 1) {HANDLE} {REALLOC})"#
        ));
        let component = encode_function_module(&bytes, &shape).expect("encodes");
        assert_eq!(component.get(4..8), Some(&[0x0d, 0, 1, 0][..]));
    }

    #[test]
    fn missing_exports_and_foreign_imports_are_named() {
        let (bytes, shape) = read(&format!("(module {HANDLE} {REALLOC})"));
        let reason = encode_function_module(&bytes, &shape).unwrap_err();
        assert!(reason.contains("`memory`"), "{reason}");

        let (bytes, shape) = read(&format!(
            r#"(module (import "env" "f" (func)) (memory (export "memory") 1) {HANDLE} {REALLOC})"#
        ));
        let reason = encode_function_module(&bytes, &shape).unwrap_err();
        assert!(reason.contains("`env::f`"), "{reason}");
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let (bytes, shape) = read(&format!(
            r#"(module (memory (export "memory") 1) {REALLOC}
                 (func (export "handle") (param i32) (result i32) i32.const 0))"#
        ));
        let reason = encode_function_module(&bytes, &shape).unwrap_err();
        assert!(reason.contains("canonical ABI"), "{reason}");
    }

    #[test]
    fn the_compile_cache_skips_encoding_on_a_redeploy() {
        use super::super::{CompiledPlugin, PluginEngine, PluginKind};
        let dir = tempfile::tempdir().unwrap();
        let engine = PluginEngine::new(1, Some(dir.path().to_owned())).unwrap();
        let wat = format!(r#"(module (memory (export "memory") 1) {HANDLE} {REALLOC})"#);
        let bytes = wat::parse_str(&wat).unwrap();
        let path = dir.path().join("plugin.wasm");
        let loaded = CompiledPlugin::from_bytes(&engine, &path, &bytes).unwrap();
        assert_eq!(loaded.kind, PluginKind::FunctionComponent);
        // The original bytes' sha256 names the cached component: found again without
        // encoding (the closure would fail the lookup).
        let cache = engine.cache.as_ref().unwrap();
        cache
            .component_with(&engine.engine, &loaded.sha256, || {
                Err(wasmtime::format_err!("encoded again"))
            })
            .expect("served from the cache");
        let again = CompiledPlugin::from_bytes(&engine, &path, &bytes).unwrap();
        assert_eq!(again.kind, PluginKind::FunctionComponent);
    }
}
