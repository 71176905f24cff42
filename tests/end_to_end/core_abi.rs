//! A function plugin written by hand as a core module (plugin-sdk/docs/abi.md, "By hand: a
//! core module"): the router encodes it into a component of the `wasmhook:plugin` world when
//! it loads it, and it then runs in routes and in `wasmhook plugin run` like any other.
//!
//! The plugin is `plugins/wat-identity/identity.wat`, assembled here at test time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::*;

const IDENTITY_WAT: &str = include_str!("../../plugins/wat-identity/identity.wat");

/// Assembles `wat` into `dir/name` and returns the path.
fn assemble(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let bytes = wat::parse_str(wat).unwrap_or_else(|e| panic!("{name} does not assemble: {e}"));
    assert_eq!(&bytes[..8], b"\0asm\x01\0\0\0", "{name} is a core module");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `plain` → transform `identity` (the plugin at `wasm`, with `extra` keys) → `sink`.
fn through_identity(wasm: &Path, extra: &str, sink: &Subscriber) -> String {
    format!(
        "{}\n[plugins.identity]\nwasm = {wasm:?}\n{extra}\n",
        plain_route(&[("sink", sink, "")]).replace(
            "subscribers = [\"sink\"]",
            "transforms = [\"identity\"]\nsubscribers = [\"sink\"]"
        )
    )
}

/// Bodies that exercise the ABI: nested JSON, non-ASCII text, and one larger than the
/// module's initial 64 KiB page, so `cabi_realloc` must grow the memory.
fn bodies() -> Vec<Value> {
    let big: Vec<String> = (0..4000).map(|n| format!("line {n} ✓")).collect();
    vec![
        json!({ "ref": "refs/heads/main", "nested": { "list": [1, 2.5, null, true] } }),
        json!({ "text": "héllo, wörld – 日本語 🚀" }),
        json!({ "lines": big }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_written_core_module_passes_events_through_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = assemble(dir.path(), "identity.wasm", IDENTITY_WAT);
    let sink = Subscriber::ok().await;
    let router = Router::start(&through_identity(&wasm, "", &sink)).await;
    assert_eq!(
        router.plugin("identity").await["kind"],
        "function-component",
        "a core module exporting `handle` is encoded into a component"
    );
    for body in bodies() {
        let id = accepted(router.post_hook("plain", body.to_string(), JSON).await);
        assert_eq!(delivered_bodies(&router, &sink, &id).await, vec![body]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_written_core_module_serves_warm_instances() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = assemble(dir.path(), "identity.wasm", IDENTITY_WAT);
    let sink = Subscriber::ok().await;
    let router = Router::start(&through_identity(&wasm, "reuse = true", &sink)).await;
    let plugin = router.plugin("identity").await;
    assert_eq!(
        (plugin["kind"].as_str(), plugin["reuse"].as_bool()),
        (Some("function-component"), Some(true))
    );
    // `cabi_post_handle` resets the bump arena, so a warm instance serves event after event,
    // the large ones included.
    for round in 0..3 {
        for mut body in bodies() {
            body["round"] = json!(round);
            let id = accepted(router.post_hook("plain", body.to_string(), JSON).await);
            assert_eq!(delivered_bodies(&router, &sink, &id).await, vec![body]);
        }
    }
}

fn plugin_run(wasm: &Path, envelope: &Value) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["plugin", "run", wasm.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning wasmhook");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(envelope.to_string().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The body values anywhere in `output`: `plugin run` prints the messages the result makes.
fn bodies_in(output: &Value) -> Vec<&Value> {
    match output {
        Value::Array(items) => items.iter().flat_map(bodies_in).collect(),
        Value::Object(object) => object.get("body").into_iter().collect(),
        _ => Vec::new(),
    }
}

#[test]
fn plugin_run_runs_a_hand_written_core_module() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = assemble(dir.path(), "identity.wasm", IDENTITY_WAT);
    let envelope = envelope("github", "push", &push_to("main", 2), json!({}));
    let output = plugin_run(&wasm, &envelope);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{printed}");
    let result: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("output is not JSON ({e}):\n{printed}"));
    assert_eq!(bodies_in(&result), vec![&envelope["body"]], "{printed}");
}

#[test]
fn a_core_module_breaking_the_abi_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    // `handle` without `memory` or `cabi_realloc`: not a plugin the host can call.
    let wasm = assemble(
        dir.path(),
        "broken.wasm",
        r#"(module (func (export "handle") (param i32 i32) (result i32) i32.const 0))"#,
    );
    let output = plugin_run(&wasm, &envelope("plain", "push", b"{}", json!({})));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_ne!(output.status.code(), Some(0), "{printed}");
    assert!(
        printed.contains("not a valid WebAssembly plugin") && printed.contains("`memory`"),
        "the reason names the missing export:\n{printed}"
    );
}

/// A hand-written module importing WASI preview 1 (as wasi-libc and Go runtimes do) gets the
/// WASI adapter: here `handle` writes to stderr with `fd_write`, then answers `err`.
const WASI_ERR_WAT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..12: result record; 16..24: one iovec; 24..28: bytes written; 32..: the texts.
  (data (i32.const 32) "wat says hi to stderr\n")   ;; 22 bytes at 32
  (data (i32.const 64) "no thanks")                 ;; 9 bytes at 64
  ;; The arena starts at 1024 and grows the memory as needed. Besides the envelope it serves
  ;; the WASI adapter, which allocates its state and a 64 KiB stack here on the first WASI
  ;; call and keeps them for the life of the instance: so `cabi_post_handle` must not hand
  ;; that memory out again, and this module, simply, frees nothing (every event gets a fresh
  ;; instance unless `reuse = true`).
  (global $next (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr
      (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
               (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq (memory.grow
                      (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535))
                                          (i32.const 16))
                               (memory.size)))
                    (i32.const -1))
          (then unreachable))))
    (global.set $next (local.get $end))
    (local.get $ptr))
  (func (export "handle") (param i32 i32) (result i32)
    (i32.store (i32.const 16) (i32.const 32))
    (i32.store (i32.const 20) (i32.const 22))
    (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24)))
    (i32.store8 (i32.const 0) (i32.const 1))   ;; 1 = err
    (i32.store (i32.const 4) (i32.const 64))
    (i32.store (i32.const 8) (i32.const 9))
    (i32.const 0))
)
"#;

#[test]
fn a_hand_written_core_module_may_use_wasi_preview1() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = assemble(dir.path(), "wasi-err.wasm", WASI_ERR_WAT);
    let output = plugin_run(&wasm, &envelope("plain", "push", b"{}", json!({})));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "an `err` is a plugin error:\n{printed}"
    );
    assert!(
        printed.contains("no thanks") && printed.contains("wat says hi to stderr"),
        "the `err` message and the plugin's stderr are shown:\n{printed}"
    );
}
