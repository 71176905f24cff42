// The plugin's surface: the canonical ABI of `handle` in the wasmhook:plugin world, by hand
// (plugin-sdk/docs/abi.md, "By hand: a core module"). The module imports nothing.
//
// Memory: built with `--runtime stub`, AssemblyScript's heap is a bump allocator. Everything
// one call allocates (the envelope, the strings the JSON reader decodes, the answer) comes from
// it, and cabi_post_handle rewinds it with heap.reset() once the host has copied the answer
// out. So a warm instance (`reuse = true`) ends every call with the heap it started with. The
// price of the rewind: no global may keep a heap object from one call to the next.

import { Value } from "./json";
import { decide } from "./filter";

/** The result record of `handle`: 12 bytes, aligned to 4, in static memory, not on the heap. */
const RESULT = memory.data(12, 4);

/** The host asks for room for the envelope: `cabi_realloc(0, 0, 1, length)`. */
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  // heap.alloc aligns to 16 bytes, more than the canonical ABI ever asks for.
  return oldPtr == 0 ? heap.alloc(newSize) : heap.realloc(oldPtr, newSize);
}

/** Answers `ok` with `true` or `false`, or `err` with a message for the operator. */
export function handle(envelope: usize, length: usize): usize {
  const answer = decide(Value.parse(envelope, length));
  const error = answer.error;
  if (error !== null) return respond(1, String.UTF8.encode(error));
  return respond(0, String.UTF8.encode(answer.pass ? "true" : "false"));
}

/** The host has copied the answer out: everything this call allocated is free again. */
export function cabi_post_handle(result: usize): void {
  heap.reset();
}

/** Fills in the result record: `tag` 0 is `ok`, 1 is `err`, and `payload` is UTF-8. */
function respond(tag: u8, payload: ArrayBuffer): usize {
  store<u8>(RESULT, tag);
  store<u32>(RESULT, changetype<usize>(payload), 4);
  store<u32>(RESULT, payload.byteLength, 8);
  return RESULT;
}

/**
 * Where `throw` and failed assertions end up (`--use abort=assembly/index/trap`). The default
 * would import `env.abort` from the host, which has none: a trap is a plugin error as it is.
 */
function trap(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}
