// The redaction logic of the `redact` transform, as a plain ES module: no WebAssembly and no
// component bindings here, so `node --test` runs it natively, and plugin.js only moves bytes.
//
// Nothing about one event is kept in a module-level variable: that is what makes the component
// safe to run with `reuse = true`, where one instance handles event after event. `redact`
// works on the body in place, because the body is a fresh parse that belongs to the call, and
// because copying every object costs far more than the redaction in an interpreter without a
// JIT, which is how the component runs it.
//
// The same interpreter sets the style of the hot paths. Measured inside the component, a
// `for...of` loop over `Object.keys` costs eight times an indexed loop (every step is a call to
// the self-hosted iterator), and a `String.prototype.replace` costs about 6 µs even when nothing
// matches, against about 1 µs for a `test`. So the loops are indexed, and a cheap test comes
// before every replace.

export const DEFAULT_MASK = "[redacted]";

const CONFIG_KEYS = new Set(["paths", "mask", "emails", "card_numbers"]);

// A pointer segment that is exactly `*` stands for every element of an array or every member
// of an object. A symbol, so that no string segment can be mistaken for it.
const WILDCARD = Symbol("*");

// An e-mail address: a local part, `@`, and a domain of dot-separated labels ending in a
// top-level domain of letters. Group 1 is the first character of the local part, group 2 the
// domain; both are kept. The lookbehind lets a match start only where a local part can start,
// which keeps the search linear on long strings without `@` (base64 blobs, say).
//
// Module-level regular expressions with the `g` flag are safe because they are only used with
// `String.prototype.replace`, which starts every call at index 0 and resets `lastIndex` when
// done: no state leaks from one string, or event, to the next.
const EMAIL = /(?<![\w.%+-])([\w.%+-])[\w.%+-]*@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})/g;

// A card number candidate: 13 to 19 digits, either in one run or grouped by single spaces or
// hyphens as cards are printed ("4242 4242 4242 4242"). The lookarounds keep it from starting
// or ending inside a longer word or number, so an id like `sub_00000000000000` or a 40-digit
// commit hash is never taken for a card.
const CARD_CANDIDATE = /(?<![\w-]|\d )\d(?:[ -]?\d){12,18}(?![\w-]| \d)/g;

/**
 * The transform: takes the envelope (parsed JSON) and returns the message, `{ body }` with the
 * body redacted as `envelope.config` asks. Throws an Error whose message is meant for the
 * operator when the config is invalid or the body cannot be redacted.
 */
export function transform(envelope) {
  const options = readConfig(envelope.config ?? {});
  if (!Object.hasOwn(envelope, "body")) {
    // A body that is not UTF-8 arrives base64-encoded; it cannot be searched for personal
    // data, so it must not go out unredacted: failing sends it to the dead-letter queue.
    const why = Object.hasOwn(envelope, "body_base64")
      ? "the body is not UTF-8 text"
      : "the envelope has no body";
    throw new Error(`${why}, so it cannot be redacted`);
  }
  return { body: redact(envelope.body, options) };
}

/**
 * Checks `config` and returns the options `redact` takes: `pointers` (parsed JSON pointers),
 * `mask`, `emails` and `cardNumbers`. Unknown keys are an error rather than ignored: a
 * misspelt `card_number` would otherwise let card numbers through unnoticed.
 */
export function readConfig(config) {
  if (!isObject(config)) throw new Error("config must be an object");
  const keys = Object.keys(config);
  for (let i = 0; i < keys.length; i++) {
    if (!CONFIG_KEYS.has(keys[i])) throw new Error(`unknown config key "${keys[i]}"`);
  }
  const paths = config.paths ?? [];
  if (!Array.isArray(paths)) throw new Error("config.paths must be an array of JSON pointers");
  const options = {
    pointers: paths.map(parsePointer),
    mask: Object.hasOwn(config, "mask") ? config.mask : DEFAULT_MASK,
    emails: readFlag(config, "emails"),
    cardNumbers: readFlag(config, "card_numbers"),
  };
  if (options.pointers.length === 0 && !options.emails && !options.cardNumbers) {
    throw new Error("nothing to redact: set config.paths, config.emails or config.card_numbers");
  }
  return options;
}

function readFlag(config, key) {
  const value = config[key] ?? false;
  if (typeof value !== "boolean") throw new Error(`config.${key} must be true or false`);
  return value;
}

/**
 * Parses a JSON pointer (RFC 6901) into its segments, unescaping `~1` to `/` and `~0` to `~`;
 * a segment that is exactly `*` becomes the wildcard. `""` is the whole document.
 */
export function parsePointer(pointer) {
  if (typeof pointer !== "string") {
    throw new Error(`a path must be a string, not ${JSON.stringify(pointer)}`);
  }
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`path "${pointer}" must start with "/"`);
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => {
      if (segment === "*") return WILDCARD;
      if (!segment.includes("~")) return segment;
      if (/~(?![01])/.test(segment)) {
        throw new Error(`path "${pointer}" has a "~" not followed by 0 or 1`);
      }
      // In this order, so that "~01" becomes "~1" and not "/".
      return segment.replaceAll("~1", "/").replaceAll("~0", "~");
    });
}

/**
 * Redacts `value` in place and returns it: the values at `options.pointers` replaced by
 * `options.mask`, then, when asked, e-mail addresses and card numbers masked in every string
 * left. Only the empty pointer (the whole document) makes the result another value.
 */
export function redact(value, options) {
  let result = value;
  for (const segments of options.pointers) result = replaceAt(result, segments, 0, options.mask);
  if (options.emails || options.cardNumbers) {
    result = maskStrings(result, options);
  }
  return result;
}

/**
 * Replaces the value at `segments[index..]` below `value` with `mask`, in place, and returns
 * `value` (or `mask`, at the end of the path). A path that leads nowhere (a missing member, an
 * index past the end, a member of a string) changes nothing: payloads of one event type
 * differ, and a field that is absent has nothing to hide.
 */
function replaceAt(value, segments, index, mask) {
  if (index === segments.length) return mask;
  const segment = segments[index];
  const below = (child) => replaceAt(child, segments, index + 1, mask);
  if (Array.isArray(value)) {
    if (segment === WILDCARD) return updateEach(value, below);
    const position = arrayIndex(segment);
    if (position !== undefined && position < value.length) {
      value[position] = below(value[position]);
    }
    return value;
  }
  if (isObject(value)) {
    if (segment === WILDCARD) return updateEach(value, below);
    if (Object.hasOwn(value, segment)) setMember(value, segment, below(value[segment]));
    return value;
  }
  return value;
}

/** The array index a segment names ("0", "17"; RFC 6901 allows no leading zeros), if any. */
function arrayIndex(segment) {
  return /^(?:0|[1-9]\d*)$/.test(segment) ? Number(segment) : undefined;
}

/**
 * Masks every string value (not member names) found in `value`, at any depth, in place;
 * returns `value`, or the masked string for a string. Strings too short to hold an address or
 * a card number, most of a payload, are skipped without a call to `maskText`.
 */
function maskStrings(value, options) {
  if (typeof value === "string") return maskText(value, options);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const member = value[i];
      if (typeof member === "string") {
        if (member.length >= SHORTEST_MATCH) value[i] = maskText(member, options);
      } else if (typeof member === "object" && member !== null) maskStrings(member, options);
    }
  } else if (isObject(value)) {
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const member = value[keys[i]];
      if (typeof member === "string") {
        if (member.length < SHORTEST_MATCH) continue;
        const masked = maskText(member, options);
        if (masked !== member) setMember(value, keys[i], masked);
      } else if (typeof member === "object" && member !== null) maskStrings(member, options);
    }
  }
  return value;
}

// Almost no string holds an `@` or a run of 13 digits: the cheap checks spare the others the
// replace.
function maskText(text, { emails, cardNumbers }) {
  let result = text;
  if (emails && result.includes("@")) {
    result = result.replace(EMAIL, (_, first, domain) => `${first}***@${domain}`);
  }
  if (cardNumbers && result.length >= 13 && THIRTEEN_DIGITS.test(result)) {
    result = result.replace(CARD_CANDIDATE, maskCardNumber);
  }
  return result;
}

// What every card number candidate contains. Without the `g` flag, so `test` keeps no state.
const THIRTEEN_DIGITS = /\d(?:[ -]?\d){12}/;

// The length of the shortest e-mail address the pattern takes, `a@b.co`; every card number is
// longer.
const SHORTEST_MATCH = 6;

/**
 * Masks every digit of a card number but the last four, keeping any spaces or hyphens between
 * groups. A candidate that fails the Luhn check is not a card number and is left alone.
 */
export function maskCardNumber(candidate) {
  const digits = candidate.replace(/\D/g, "");
  if (!passesLuhn(digits)) return candidate;
  let toMask = digits.length - 4;
  return candidate.replace(/\d/g, (digit) => (toMask-- > 0 ? "*" : digit));
}

/** The Luhn checksum that every payment card number satisfies. */
export function passesLuhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    // Every second digit from the right (the check digit is the first) is doubled.
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Replaces every element of an array, or every member of an object, with `f` of it. */
function updateEach(container, f) {
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) container[i] = f(container[i]);
  } else {
    const keys = Object.keys(container);
    for (let i = 0; i < keys.length; i++) setMember(container, keys[i], f(container[keys[i]]));
  }
  return container;
}

/**
 * `object[key] = member`, as an own property even for the key "__proto__" (which JSON.parse
 * makes an own member, but which an assignment would take for the prototype).
 */
function setMember(object, key, member) {
  if (key === "__proto__") {
    Object.defineProperty(object, key, { value: member, writable: true, enumerable: true, configurable: true });
  } else {
    object[key] = member;
  }
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
