// {{name}}'s unit tests, run by node's own test runner (`make check`): they call the plugin's
// `handle` through the canonical ABI, exactly as wasmhook does, on a debug build.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { load } from "./plugin.mjs";

const here = (relative) => fileURLToPath(new URL(relative, import.meta.url));
const build = load(process.env.PLUGIN_WASM ?? here("../build/debug.wasm"));
const example = JSON.parse(readFileSync(here("../example.json"), "utf8"));

/** example.json with another `type` and `config`. */
const event = (type, config) => ({ ...example, type, config });

describe("{{name}}", () => {
  const plugin = build.instantiate();

  it("passes the example, a push with types [push]", () => {
    assert.deepEqual(plugin.handle(example), { ok: true });
  });

  it("passes the types listed in config.types and drops the others", () => {
    const config = { types: ["push", "release"] };
    assert.deepEqual(plugin.handle(event("release", config)), { ok: true });
    assert.deepEqual(plugin.handle(event("issues", config)), { ok: false });
  });

  it("drops an event whose type the source does not know", () => {
    assert.deepEqual(plugin.handle(event(null, { types: ["push"] })), { ok: false });
  });

  it("answers err when config.types is missing, empty or not a list of strings", () => {
    for (const config of [{}, { types: [] }, { types: "push" }, { types: ["push", 1] }]) {
      assert.match(plugin.handle(event("push", config)).err ?? "", /config\.types is required/, JSON.stringify(config));
    }
  });

  it("imports nothing: the host provides no functions to a hand-written module", () => {
    assert.deepEqual(WebAssembly.Module.imports(build.module), []);
  });

  it("ends every call with the memory it started with, so reuse = true is safe", () => {
    plugin.handle(example);
    const size = plugin.memorySize;
    for (let i = 0; i < 1000; i++) plugin.handle(event(i % 2 ? "push" : "issues", i % 3 ? { types: ["push"] } : {}));
    assert.equal(plugin.memorySize, size);
  });
});
