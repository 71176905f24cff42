// The component entry of the `redact` transform: componentize-js binds `handle` to the `handle`
// export of the wasmhook `plugin` world (plugin-sdk/wit/plugin.wit). It only converts between
// bytes and JSON; the redaction itself is in redact.js.

import { transform } from "./redact.js";

// Both are stateless outside streaming mode, so one of each serves every call.
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * `handle: func(envelope: list<u8>) -> result<list<u8>, string>`: a Uint8Array in, a
 * Uint8Array out for `ok`. componentize-js turns a thrown string into `err`, whereas a thrown
 * Error object makes the call trap with a message about the binding, not about the error. So
 * every failure is rethrown as a string, prefixed with the plugin's name for the operator's log.
 */
export function handle(envelope) {
  try {
    const event = JSON.parse(decoder.decode(envelope));
    return encoder.encode(JSON.stringify(transform(event)));
  } catch (error) {
    throw `redact: ${error instanceof Error ? error.message : error}`;
  }
}
