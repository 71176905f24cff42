// Runs a canonical-ABI core module the way wasmhook does: the envelope goes in through
// cabi_realloc and handle, the answer comes out of the result record, then cabi_post_handle.

import { readFileSync } from "node:fs";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Compiles a `.wasm` file; `instantiate()` then gives fresh instances, as the host does. */
export function load(path) {
  const module = new WebAssembly.Module(readFileSync(path));
  return {
    module,
    instantiate: () => new Plugin(new WebAssembly.Instance(module, {})),
  };
}

/** One instance, called again and again as with `reuse = true`. */
export class Plugin {
  constructor(instance) {
    this.exports = instance.exports;
  }

  /** Bytes of linear memory right now: it grows when an instance leaks. */
  get memorySize() {
    return this.exports.memory.buffer.byteLength;
  }

  /** Copies `text` (UTF-8) into memory the way the host copies the envelope; returns [ptr, length]. */
  write(text) {
    const bytes = encoder.encode(text);
    const ptr = this.exports.cabi_realloc(0, 0, 1, bytes.length) >>> 0;
    new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes);
    return [ptr, bytes.length];
  }

  /** `handle` on an envelope (an object or JSON text): `{ ok: <JSON value> }` or `{ err: "..." }`. */
  handle(envelope) {
    const text = typeof envelope === "string" ? envelope : JSON.stringify(envelope);
    const record = this.exports.handle(...this.write(text)) >>> 0;
    const view = new DataView(this.exports.memory.buffer);
    if (record % 4 !== 0) throw new Error(`result record at ${record} is not aligned to 4`);
    const tag = view.getUint8(record);
    const ptr = view.getUint32(record + 4, true);
    const length = view.getUint32(record + 8, true);
    const payload = decoder.decode(new Uint8Array(this.exports.memory.buffer, ptr, length));
    this.exports.cabi_post_handle(record);
    if (tag === 0) return { ok: JSON.parse(payload) };
    if (tag === 1) return { err: payload };
    throw new Error(`result record tag ${tag} is neither ok (0) nor err (1)`);
  }
}
