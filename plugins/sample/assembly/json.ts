// A small reader for one JSON document in linear memory, such as the envelope the host writes
// through cabi_realloc. It never builds the document: it finds values by JSON pointer,
// skipping everything else byte by byte, and decodes only the strings and numbers it is
// asked for. The host always sends valid JSON, so the reader checks no more than it needs to
// find its way; text that is not JSON makes it `throw`, which in this plugin is a trap.
//
//   const envelope = Value.parse(ptr, length);
//   const config = envelope.member("config");             // Value | null
//   const name = envelope.find("/body/repository/full_name"); // a JSON pointer (RFC 6901)
//   if (name !== null) name.asString();                    // string | null

const TAB: u8 = 0x09;
const LF: u8 = 0x0a;
const CR: u8 = 0x0d;
const SPACE: u8 = 0x20;
const QUOTE: u8 = 0x22; // "
const PLUS: u8 = 0x2b; // +
const COMMA: u8 = 0x2c; // ,
const MINUS: u8 = 0x2d; // -
const DOT: u8 = 0x2e; // .
const DIGIT_0: u8 = 0x30;
const DIGIT_9: u8 = 0x39;
const COLON: u8 = 0x3a; // :
const OPEN_BRACKET: u8 = 0x5b; // [
const BACKSLASH: u8 = 0x5c; // \
const CLOSE_BRACKET: u8 = 0x5d; // ]
const OPEN_BRACE: u8 = 0x7b; // {
const CLOSE_BRACE: u8 = 0x7d; // }

/** What a JSON value is, told by its first byte. */
export enum Kind {
  Object,
  Array,
  String,
  Number,
  Boolean,
  Null,
}

/** One JSON value of a document: where its text starts, and where the document ends. */
export class Value {
  constructor(
    readonly start: usize,
    readonly end: usize,
  ) {}

  /** The root value of the `length` bytes of JSON at `ptr`. */
  static parse(ptr: usize, length: usize): Value {
    const cursor = new Cursor(ptr, ptr + length);
    if (cursor.peek() == 0) throw new Error("empty JSON document");
    return cursor.value();
  }

  get kind(): Kind {
    const c = load<u8>(this.start);
    if (c == OPEN_BRACE) return Kind.Object;
    if (c == OPEN_BRACKET) return Kind.Array;
    if (c == QUOTE) return Kind.String;
    if (c == MINUS || isDigit(c)) return Kind.Number;
    if (c == 0x74 || c == 0x66) return Kind.Boolean; // t, f
    if (c == 0x6e) return Kind.Null; // n
    throw new Error("invalid JSON");
  }

  /** The member `name` of this object; null when this is not an object or has no such member. */
  member(name: string): Value | null {
    if (this.kind != Kind.Object) return null;
    const cursor = this.inside();
    if (cursor.accept(CLOSE_BRACE)) return null;
    do {
      const key = cursor.string();
      cursor.expect(COLON);
      if (key == name) return cursor.value(); // the first of duplicate names wins
      cursor.skip();
    } while (cursor.accept(COMMA));
    cursor.expect(CLOSE_BRACE);
    return null;
  }

  /** The elements of this array; none when this is not an array. */
  elements(): Value[] {
    const values: Value[] = [];
    if (this.kind != Kind.Array) return values;
    const cursor = this.inside();
    if (cursor.accept(CLOSE_BRACKET)) return values;
    do {
      values.push(cursor.value());
      cursor.skip();
    } while (cursor.accept(COMMA));
    cursor.expect(CLOSE_BRACKET);
    return values;
  }

  /** The element at `index` of this array; null when this is not an array or is shorter. */
  element(index: i32): Value | null {
    if (this.kind != Kind.Array) return null;
    const cursor = this.inside();
    if (cursor.accept(CLOSE_BRACKET)) return null;
    for (let i = 0; i < index; i++) {
      cursor.skip();
      if (!cursor.accept(COMMA)) return null;
    }
    return cursor.value();
  }

  /**
   * The value that the JSON pointer `pointer` (RFC 6901, e.g. `/body/items/0/id`) names,
   * starting here; null when there is none.
   */
  find(pointer: string): Value | null {
    if (pointer.length == 0) return this;
    if (!pointer.startsWith("/")) return null;
    const tokens = pointer.substring(1).split("/");
    let value: Value | null = this;
    for (let i = 0; i < tokens.length && value !== null; i++) {
      value = value.child(unescapeToken(unchecked(tokens[i])));
    }
    return value;
  }

  /** The string this value holds, decoded; null when it is not a string. */
  asString(): string | null {
    if (this.kind != Kind.String) return null;
    return new Cursor(this.start, this.end).string();
  }

  /** The number this value holds; NaN when it is not a number. */
  asNumber(): f64 {
    if (this.kind != Kind.Number) return NaN;
    return parseFloat(this.text());
  }

  /** This value's JSON text, exactly as written (for a number: `42`, `1.5e3`). */
  text(): string {
    const cursor = new Cursor(this.start, this.end);
    cursor.skip();
    return String.UTF8.decodeUnsafe(this.start, cursor.pos - this.start);
  }

  /** The member or element a pointer token names: an object's member, an array's index. */
  private child(token: string): Value | null {
    if (this.kind == Kind.Array) {
      const index = arrayIndex(token);
      return index < 0 ? null : this.element(index);
    }
    return this.member(token);
  }

  /** A cursor just after this object's or array's opening bracket. */
  private inside(): Cursor {
    return new Cursor(this.start + 1, this.end);
  }
}

/** A position in a JSON document, moving forward through its text. */
class Cursor {
  constructor(
    public pos: usize,
    readonly end: usize,
  ) {}

  /** The next byte that is not whitespace, without consuming it; 0 at the end. */
  peek(): u8 {
    while (this.pos < this.end && isSpace(load<u8>(this.pos))) this.pos++;
    return this.pos < this.end ? load<u8>(this.pos) : 0;
  }

  /** Consumes `c` if it comes next (after whitespace). */
  accept(c: u8): bool {
    if (this.peek() != c) return false;
    this.pos++;
    return true;
  }

  /** Consumes `c`, which must come next (after whitespace). */
  expect(c: u8): void {
    if (!this.accept(c)) throw new Error("invalid JSON");
  }

  /** The value that starts here, which is left unread. */
  value(): Value {
    this.peek();
    return new Value(this.pos, this.end);
  }

  /**
   * Skips one value, however deeply nested. It counts brackets instead of recursing, so
   * no document is too deep for the call stack.
   */
  skip(): void {
    let depth = 0;
    do {
      const c = this.peek();
      if (c == QUOTE) {
        this.skipString();
      } else if (c == OPEN_BRACE || c == OPEN_BRACKET) {
        depth++;
        this.pos++;
      } else if ((c == CLOSE_BRACE || c == CLOSE_BRACKET) && depth > 0) {
        depth--;
        this.pos++;
      } else if ((c == COMMA || c == COLON) && depth > 0) {
        this.pos++;
      } else if (isScalarByte(c)) {
        // a number, true, false or null: up to the next delimiter
        while (this.pos < this.end && isScalarByte(load<u8>(this.pos))) this.pos++;
      } else {
        throw new Error("invalid JSON");
      }
    } while (depth > 0);
  }

  /** Skips the string that starts here. */
  skipString(): void {
    this.expect(QUOTE);
    while (this.pos < this.end) {
      const c = load<u8>(this.pos++);
      if (c == QUOTE) return;
      if (c == BACKSLASH) this.pos++; // the escaped byte cannot end the string
    }
    throw new Error("unterminated JSON string");
  }

  /**
   * Reads the string that starts here. Runs without escapes are decoded from UTF-8 in one
   * go; a `\u` escape is a UTF-16 code unit, which is just what an AssemblyScript string is
   * made of, so a surrogate pair needs no special care.
   */
  string(): string {
    this.expect(QUOTE);
    let text = "";
    let run = this.pos; // the start of the bytes not yet decoded
    while (this.pos < this.end) {
      const c = load<u8>(this.pos);
      if (c == QUOTE) {
        text += String.UTF8.decodeUnsafe(run, this.pos - run);
        this.pos++;
        return text;
      }
      if (c == BACKSLASH) {
        text += String.UTF8.decodeUnsafe(run, this.pos - run);
        this.pos++;
        text += String.fromCharCode(this.escape());
        run = this.pos;
      } else {
        this.pos++;
      }
    }
    throw new Error("unterminated JSON string");
  }

  /** The code unit of the escape after a backslash: `n` for a newline, `u00e9` for é. */
  private escape(): i32 {
    if (this.pos >= this.end) throw new Error("unterminated JSON string");
    const c = load<u8>(this.pos++);
    if (c == 0x6e) return LF; // \n
    if (c == 0x74) return TAB; // \t
    if (c == 0x72) return CR; // \r
    if (c == 0x62) return 0x08; // \b
    if (c == 0x66) return 0x0c; // \f
    if (c == 0x75) return this.hex4(); // \uXXXX
    return c; // \" \\ \/
  }

  /** The four hex digits of a `\u` escape. */
  private hex4(): i32 {
    if (this.end - this.pos < 4) throw new Error("invalid JSON \\u escape");
    let unit = 0;
    for (let i = 0; i < 4; i++) {
      const digit = hexValue(load<u8>(this.pos++));
      if (digit < 0) throw new Error("invalid JSON \\u escape");
      unit = (unit << 4) | digit;
    }
    return unit;
  }
}

/** A pointer token with `~1` and `~0` turned back into `/` and `~` (in that order, per RFC 6901). */
function unescapeToken(token: string): string {
  return token.replaceAll("~1", "/").replaceAll("~0", "~");
}

/** The array index a pointer token names: decimal digits, no leading zero; -1 otherwise. */
function arrayIndex(token: string): i32 {
  const length = token.length;
  if (length == 0 || length > 9 || (length > 1 && token.startsWith("0"))) return -1;
  let index = 0;
  for (let i = 0; i < length; i++) {
    const digit = token.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    index = index * 10 + digit;
  }
  return index;
}

// @ts-ignore: decorator
@inline function isSpace(c: u8): bool {
  return c == SPACE || c == LF || c == CR || c == TAB;
}

// @ts-ignore: decorator
@inline function isDigit(c: u8): bool {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/** A byte of a number or of `true`, `false`, `null`. */
// @ts-ignore: decorator
@inline function isScalarByte(c: u8): bool {
  const letter = c | 0x20; // lower case, for the exponent's `E`
  return isDigit(c) || (letter >= 0x61 && letter <= 0x7a) || c == MINUS || c == PLUS || c == DOT;
}

function hexValue(c: u8): i32 {
  if (isDigit(c)) return c - DIGIT_0;
  const letter = c | 0x20;
  if (letter >= 0x61 && letter <= 0x66) return letter - 0x61 + 10;
  return -1;
}
