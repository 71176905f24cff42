// The sampling decision. The FNV-1a hash of an event's key puts it in one of 10,000 buckets,
// and the event passes when its bucket is among the first `percent` per cent. The hash depends
// on the key alone, so every replay of an event, and every event that shares a key, gets the
// same verdict, on any instance; and raising `percent` only adds events to the sample.

import { Kind, Value } from "./json";

/** The key when `config.key` is not set: the event id, the same on every replay. */
const DEFAULT_KEY = "/id";

const FNV_OFFSET_BASIS: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 0x01000193;

/** Buckets of the sample, so `percent` counts in steps of 0.01. */
const BUCKETS: u32 = 10000;

/** A filter's answer: a verdict, or a message for the operator that makes it a plugin error. */
export class Answer {
  constructor(
    readonly pass: bool,
    readonly error: string | null = null,
  ) {}
}

/** Decides whether the event `envelope` is in the sample. */
export function decide(envelope: Value): Answer {
  const config = envelope.member("config");
  if (config === null || config.kind != Kind.Object) {
    return fail("the envelope has no config object");
  }
  const percent = readPercent(config);
  if (isNaN(percent)) {
    return fail("config.percent is required: a number from 0 to 100, decimals allowed (e.g. 12.5)");
  }
  const pointer = readKeyPointer(config);
  if (pointer === null) {
    return fail('config.key must be a JSON pointer into the envelope, e.g. "/body/customer/id"');
  }
  const key = keyAt(envelope, pointer);
  if (key === null) {
    return fail("config.key " + pointer + ": the event has no string or number there");
  }
  return new Answer(inSample(hash(key), percent));
}

/** FNV-1a (32 bits) of the UTF-8 bytes of `key`: easy to reproduce in any language. */
export function hash(key: string): u32 {
  const bytes = String.UTF8.encode(key);
  const data = changetype<usize>(bytes);
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < bytes.byteLength; i++) {
    h = (h ^ load<u8>(data + i)) * FNV_PRIME; // u32 arithmetic wraps, as FNV wants
  }
  return h;
}

/** Whether a key with hash `h` is in a sample of `percent` per cent. */
export function inSample(h: u32, percent: f64): bool {
  // The remainder depends on all 32 bits. Comparing the hash itself with a threshold would
  // decide by its top bits, which FNV-1a mixes poorly for keys that differ only at the end
  // (cus_000001, cus_000002, ...): such keys would be sampled far off the configured rate.
  return <f64>(h % BUCKETS) < percent * (<f64>BUCKETS / 100);
}

/** The string or number at `pointer` in the envelope, as text; null when there is none. */
export function keyAt(envelope: Value, pointer: string): string | null {
  const value = envelope.find(pointer);
  if (value === null) return null;
  if (value.kind == Kind.String) return value.asString();
  // A number keys by its JSON text, so `42` and `42.0` are different keys.
  if (value.kind == Kind.Number) return value.text();
  return null;
}

/** `config.percent`, from 0 to 100; NaN when it is missing or out of range. */
function readPercent(config: Value): f64 {
  const value = config.member("percent");
  if (value === null) return NaN;
  const percent = value.asNumber();
  return percent >= 0 && percent <= 100 ? percent : NaN;
}

/** `config.key`, a JSON pointer, `/id` when it is not set; null when it is not a pointer. */
function readKeyPointer(config: Value): string | null {
  const value = config.member("key");
  if (value === null || value.kind == Kind.Null) return DEFAULT_KEY;
  const pointer = value.asString();
  if (pointer === null || !pointer.startsWith("/")) return null;
  return pointer;
}

function fail(message: string): Answer {
  return new Answer(false, message);
}
