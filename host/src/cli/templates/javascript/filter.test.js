// Unit tests of {{name}}, run natively with `node --test` (`make check`): no WebAssembly needed.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { passes } from "./filter.js";
import { handle } from "./plugin.js";

// A GitHub push envelope, the same that `make test` gives the built plugin.
const example = JSON.parse(readFileSync(new URL("example.json", import.meta.url), "utf8"));

function withConfig(config) {
  return { ...example, config };
}

describe("passes", () => {
  it("passes an event whose type is listed", () => {
    assert.equal(passes(withConfig({ types: ["push"] })), true);
    assert.equal(passes(withConfig({ types: ["release", "push"] })), true);
  });

  it("drops an event whose type is not listed", () => {
    assert.equal(passes(withConfig({ types: ["release"] })), false);
  });

  it("drops an event without a type", () => {
    assert.equal(passes({ ...example, type: null }), false);
  });

  it("requires config.types", () => {
    for (const config of [{}, { types: [] }, { types: "push" }]) {
      assert.throws(() => passes(withConfig(config)), /config.types is required/);
    }
  });
});

describe("handle", () => {
  const bytes = (value) => new TextEncoder().encode(JSON.stringify(value));

  it("answers the verdict as JSON bytes", () => {
    assert.equal(new TextDecoder().decode(handle(bytes(example))), "true");
  });

  it("throws a string, which the component returns as err", () => {
    assert.throws(
      () => handle(bytes(withConfig({}))),
      (thrown) => typeof thrown === "string" && thrown.startsWith("{{name}}: config.types is required"),
    );
  });
});
