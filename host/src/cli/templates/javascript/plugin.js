// The component entry of {{name}}: componentize-js binds `handle` to the `handle` export of the
// wasmhook `plugin` world (plugin.wit). It converts between bytes and JSON; the decision itself
// is in filter.js.

import { passes } from "./filter.js";

// Both are stateless outside streaming mode, so one of each serves every call, even when the
// host keeps the instance warm (`reuse = true`).
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * `handle: func(envelope: list<u8>) -> result<list<u8>, string>`: the envelope's JSON bytes in,
 * `true` or `false` out. componentize-js turns a thrown string into `err` (a plugin error with
 * that message); a thrown Error object would trap instead, with a message about the bindings.
 * So every failure is rethrown as a string.
 */
export function handle(envelope) {
  try {
    const event = JSON.parse(decoder.decode(envelope));
    return encoder.encode(JSON.stringify(passes(event)));
  } catch (error) {
    throw `{{name}}: ${error instanceof Error ? error.message : error}`;
  }
}
