// The test build's entry: the plugin's ABI, exactly as the host calls it, and the sampling
// functions with plain-number signatures, so that sample.test.mjs can call them from node.
// Strings go in as UTF-8 bytes written through cabi_realloc; cabi_post_handle frees them.

import { Value } from "../assembly/json";
import { hash, inSample, keyAt } from "../assembly/filter";

export { cabi_realloc, handle, cabi_post_handle } from "../assembly/index";
export { inSample };

/** FNV-1a of the string whose `length` UTF-8 bytes are at `ptr`. */
export function fnv1a(ptr: usize, length: usize): u32 {
  return hash(String.UTF8.decodeUnsafe(ptr, length));
}

/** The hash of the key that `pointer` names in `envelope`, or -1 when there is none. */
export function keyHash(envelope: usize, envelopeLength: usize, pointer: usize, pointerLength: usize): i64 {
  const key = keyAt(Value.parse(envelope, envelopeLength), String.UTF8.decodeUnsafe(pointer, pointerLength));
  return key === null ? -1 : <i64>hash(key);
}
