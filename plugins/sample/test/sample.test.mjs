// The sample filter's tests, run by node's own test runner (`node --test`) on two builds:
// build/test.wasm (the plugin plus its sampling functions as extra exports) and the release
// sample.wasm (only what the host sees). No wasmhook needed.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { load } from "./plugin.mjs";

const here = (relative) => fileURLToPath(new URL(relative, import.meta.url));
const testBuild = load(process.env.TEST_WASM ?? here("../build/test.wasm"));
const releaseBuild = load(process.env.PLUGIN_WASM ?? here("../sample.wasm"));
const fixtures = here("../../../../shared/fixtures/");

// The reference: FNV-1a (32 bits) over UTF-8, and 10,000 buckets.
const encoder = new TextEncoder();
function fnv1a(text) {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(text)) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}
const inSample = (key, percent) => fnv1a(key) % 10000 < percent * 100;

/** An envelope as the host builds it; `body` is JSON text, kept byte for byte. */
function envelope({ id = "evt_01JDX3Q4Z9EXAMPLE0000000000", type = "push", body = "{}", config }) {
  const head = { id, source: "github", type, received_at: "2026-11-28T17:30:00.123Z",
    request: { method: "POST", path: "/hooks/github", query: {}, headers: {} }, headers: {} };
  // `config` comes after the body, so the reader has to skip the whole body to find it.
  return `${JSON.stringify(head).slice(0, -1)},"body":${body},"config":${JSON.stringify(config)}}`;
}

/** The share of `ids` that `plugin` passes at `percent`. */
function passRate(plugin, ids, percent) {
  let passed = 0;
  for (const id of ids) if (plugin.handle(envelope({ id, config: { percent } })).ok) passed++;
  return passed / ids.length;
}

const syntheticIds = Array.from({ length: 10_000 }, (_, i) => `evt_${(1e12 + i * 7919).toString(36)}`);

describe("FNV-1a", () => {
  const plugin = testBuild.instantiate();
  const hash = (text) => plugin.callWithStrings("fnv1a", text) >>> 0;

  it("matches the published test vectors", () => {
    assert.equal(hash(""), 0x811c9dc5);
    assert.equal(hash("a"), 0xe40c292c);
    assert.equal(hash("foobar"), 0xbf9cf968);
  });

  it("hashes the UTF-8 bytes, as any other implementation does", () => {
    for (const key of ["café", "東京", "emoji 😀", "cus_M5wW9RPFk9xNZ5"]) assert.equal(hash(key), fnv1a(key), key);
  });
});

describe("the buckets", () => {
  const { inSample: sampled } = testBuild.instantiate().exports;

  it("pass a hash whose remainder by 10,000 is below percent × 100", () => {
    assert.equal(sampled(2499, 25), 1);
    assert.equal(sampled(2500, 25), 0);
    assert.equal(sampled(10000 + 2499, 25), 1);
    assert.equal(sampled(0, 0), 0);
    assert.equal(sampled(9999, 100), 1);
    assert.equal(sampled(0xffffffff, 100), 1);
    assert.equal(sampled(28, 0.29), 1); // 0.29 × 100 is 28.999999999999996 in floating point
    assert.equal(sampled(29, 0.29), 0);
    assert.equal(sampled(1234, 12.345), 1);
    assert.equal(sampled(1235, 12.345), 0);
  });
});

describe("sampling", () => {
  const plugin = testBuild.instantiate();

  it("passes 25% ± 2% of 10,000 ids at percent 25", () => {
    const rate = passRate(plugin, syntheticIds, 25);
    assert.ok(Math.abs(rate - 0.25) <= 0.02, `passed ${rate}`);
  });

  it("passes about the configured share at other rates too", () => {
    for (const percent of [1, 10, 50, 90]) {
      const rate = passRate(plugin, syntheticIds, percent);
      assert.ok(Math.abs(rate - percent / 100) <= 0.02, `${percent}%: passed ${rate}`);
    }
    assert.equal(passRate(plugin, syntheticIds.slice(0, 500), 0), 0);
    assert.equal(passRate(plugin, syntheticIds.slice(0, 500), 100), 1);
  });

  it("gives an id the same verdict on every call and every instance", () => {
    const fresh = testBuild.instantiate();
    for (const id of syntheticIds.slice(0, 300)) {
      const event = envelope({ id, config: { percent: 50 } });
      const first = plugin.handle(event).ok;
      assert.equal(plugin.handle(event).ok, first);
      assert.equal(fresh.handle(event).ok, first);
      assert.equal(first, inSample(id, 50), id);
    }
  });

  it("keeps a smaller sample inside a larger one", () => {
    for (const id of syntheticIds.slice(0, 2000)) {
      if (plugin.handle(envelope({ id, config: { percent: 10 } })).ok) {
        assert.equal(plugin.handle(envelope({ id, config: { percent: 25 } })).ok, true, id);
      }
    }
  });

  it("gives all events of one customer one verdict with config.key", () => {
    const config = { percent: 30, key: "/body/data/object/customer" };
    let customersIn = 0;
    for (let c = 0; c < 1000; c++) {
      const customer = `cus_${c.toString(36).padStart(6, "0")}`;
      const verdicts = new Set();
      for (let e = 0; e < 4; e++) {
        const body = JSON.stringify({ id: `evt_${c}_${e}`, data: { object: { customer } } });
        verdicts.add(plugin.handle(envelope({ id: `evt_${c}_${e}`, body, config })).ok);
      }
      assert.equal(verdicts.size, 1, customer);
      if (verdicts.has(true)) customersIn++;
    }
    assert.ok(Math.abs(customersIn / 1000 - 0.3) <= 0.05, `customers passed: ${customersIn}`);
  });
});

describe("config.key", () => {
  const plugin = testBuild.instantiate();
  const keyHash = (event, pointer) => Number(plugin.callWithStrings("keyHash", event, pointer));
  const event = envelope({
    body: String.raw`{"a/b": {"m~n": "slashed"}, "items": [{"sku": "A1"}, {"sku": "B2"}],
      "order": {"number": 1001, "total": 12.50}, "name": "caf\u00e9 \ud83d\ude00", "": "empty name",
      "nested": {"deep": [[[{"x": "found"}]]]}, "flag": true, "nothing": null}`,
    config: {},
  });

  it("is a JSON pointer into the envelope, with ~1 for / and ~0 for ~", () => {
    assert.equal(keyHash(event, "/id"), fnv1a("evt_01JDX3Q4Z9EXAMPLE0000000000"));
    assert.equal(keyHash(event, "/body/a~1b/m~0n"), fnv1a("slashed"));
    assert.equal(keyHash(event, "/body/items/1/sku"), fnv1a("B2"));
    assert.equal(keyHash(event, "/body/nested/deep/0/0/0/x"), fnv1a("found"));
    assert.equal(keyHash(event, "/body/"), fnv1a("empty name"));
  });

  it("decodes JSON escapes before hashing, surrogate pairs included", () => {
    assert.equal(keyHash(event, "/body/name"), fnv1a("café 😀"));
  });

  it("keys a number by its JSON text", () => {
    assert.equal(keyHash(event, "/body/order/number"), fnv1a("1001"));
    assert.equal(keyHash(event, "/body/order/total"), fnv1a("12.50"));
  });

  it("finds nothing at a missing path or a value that is not a string or number", () => {
    for (const pointer of ["/body/missing", "/body/items/2/sku", "/body/items/01/sku", "/body/items/-",
      "/body/flag", "/body/nothing", "/body/order", "/body/items", "/type/x"]) {
      assert.equal(keyHash(event, pointer), -1, pointer);
    }
  });
});

describe("errors", () => {
  const plugin = testBuild.instantiate();
  const answer = (config, body) => plugin.handle(envelope({ config, body }));

  it("requires config.percent, a number from 0 to 100", () => {
    for (const config of [{}, { percent: "25" }, { percent: -1 }, { percent: 100.5 }, { percent: null }]) {
      assert.match(answer(config).err ?? "", /config\.percent is required/, JSON.stringify(config));
    }
  });

  it("requires config.key to be a JSON pointer", () => {
    for (const key of ["body.customer", "", 42]) {
      assert.match(answer({ percent: 10, key }).err ?? "", /config\.key must be a JSON pointer/, String(key));
    }
    assert.deepEqual(answer({ percent: 100, key: null }), { ok: true });
  });

  it("names the pointer when the event has no key there", () => {
    assert.deepEqual(answer({ percent: 10, key: "/body/customer/id" }, '{"customer": {}}'), {
      err: "config.key /body/customer/id: the event has no string or number there",
    });
    assert.match(answer({ percent: 10, key: "/body/customer" }, '{"customer": {"id": 1}}').err ?? "", /no string or number/);
  });
});

describe("real payloads", () => {
  const plugin = testBuild.instantiate();
  const read = (path) => readFileSync(fixtures + path, "utf8");
  const at = (value, pointer) => pointer.split("/").slice(1).reduce((v, token) => v?.[token], value);

  /** The plugin agrees with the reference on `body` for each pointer, at several rates. */
  function agrees(type, body, pointers) {
    for (const pointer of pointers) {
      const key = at({ body: JSON.parse(body) }, pointer);
      for (const percent of [5, 33.3, 50, 75]) {
        const answer = plugin.handle(envelope({ type, body, config: { percent, key: pointer } }));
        const expected = key === undefined ? { err: `config.key ${pointer}: the event has no string or number there` }
          : { ok: inSample(String(key), percent) };
        assert.deepEqual(answer, expected, `${type} ${pointer} at ${percent}%`);
      }
    }
  }

  it("samples every GitHub fixture by sender, repository and repository id", () => {
    const files = readdirSync(fixtures + "github").filter((f) => f.endsWith(".payload.json"));
    assert.ok(files.length >= 20);
    for (const file of files) {
      agrees(file.split(".")[0], read(`github/${file}`), ["/body/sender/login", "/body/repository/full_name", "/body/repository/id"]);
    }
  });

  it("samples Stripe events by event id and by customer", () => {
    agrees("customer.created", read("stripe/event_test_signature.json"), ["/body/id", "/body/data/object/id"]);
    const charge = `{"id": "evt_charge", "type": "charge.succeeded", "data": ${read("stripe/pay-rails.charge.succeeded.data.json")}}`;
    agrees("charge.succeeded", charge, ["/body/data/object/customer"]);
  });

  it("samples a Shopify order by its customer's numeric id", () => {
    agrees("orders/create", read("shopify/shopify_python_api.order.json"), ["/body/order/customer/id", "/body/order/email"]);
  });

  it("samples a SendGrid batch by its first event", () => {
    agrees(null, read("sendgrid/anymail.delivered.batch.json"), ["/body/0/sg_event_id"]);
  });
});

describe("a warm instance (reuse = true)", () => {
  it("ends every call with the memory it started with", () => {
    const plugin = testBuild.instantiate();
    const big = envelope({ body: readFileSync(fixtures + "github/pull_request.opened.payload.json", "utf8"), config: { percent: 50 } });
    plugin.handle(big);
    const size = plugin.memorySize;
    const start = plugin.write("x")[0];
    plugin.exports.cabi_post_handle(0);
    for (let i = 0; i < 5000; i++) {
      plugin.handle(i % 2 ? big : envelope({ id: syntheticIds[i], config: i % 3 ? { percent: 25 } : {} }));
    }
    assert.equal(plugin.memorySize, size);
    assert.equal(plugin.write("x")[0], start, "the heap starts where it started");
  });
});

describe("the release build", () => {
  it("imports nothing and exports just the canonical ABI", () => {
    assert.deepEqual(WebAssembly.Module.imports(releaseBuild.module), []);
    const exports = WebAssembly.Module.exports(releaseBuild.module).map((e) => e.name).sort();
    assert.deepEqual(exports, ["cabi_post_handle", "cabi_realloc", "handle", "memory"]);
  });

  it("answers like the test build", () => {
    const plugin = releaseBuild.instantiate();
    for (const id of syntheticIds.slice(0, 200)) {
      assert.deepEqual(plugin.handle(envelope({ id, config: { percent: 40 } })), { ok: inSample(id, 40) });
    }
    assert.ok(plugin.handle(envelope({ config: {} })).err);
  });
});
