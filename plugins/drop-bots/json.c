/*
 * A small, strict JSON reader: a recursive-descent parser that validates the whole document
 * and records every value in one flat array (see json.h for the layout).
 */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state of one json_parse() call. */
struct parser {
    const char *start; /* the input */
    const char *at;    /* the next byte to read */
    const char *end;
    struct json_doc *doc;
    size_t capacity; /* values allocated in doc->values */
    char *text_end;  /* the next free byte of doc->text */
    int depth;       /* containers open around the current position */
};

/* Records why parsing failed and where; always returns false, so `return fail(...)` reads well. */
static bool fail(struct parser *p, const char *what) {
    snprintf(p->doc->error, sizeof p->doc->error, "%s at byte %zu", what, (size_t)(p->at - p->start));
    return false;
}

static bool out_of_memory(struct parser *p) {
    snprintf(p->doc->error, sizeof p->doc->error, "out of memory");
    return false;
}

static void skip_space(struct parser *p) {
    while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r'))
        p->at++;
}

/* Consumes `c` if it is the next byte. */
static bool consume(struct parser *p, char c) {
    if (p->at < p->end && *p->at == c) {
        p->at++;
        return true;
    }
    return false;
}

static bool is_digit(struct parser *p) {
    return p->at < p->end && *p->at >= '0' && *p->at <= '9';
}

/* Appends a value of `type` and returns its index: indexes, unlike pointers, survive realloc. */
static bool add_value(struct parser *p, enum json_type type, size_t *index) {
    struct json_doc *doc = p->doc;
    if (doc->count == p->capacity) {
        size_t capacity = p->capacity ? 2 * p->capacity : 64;
        struct json_value *values = realloc(doc->values, capacity * sizeof *values);
        if (!values) return out_of_memory(p);
        doc->values = values;
        p->capacity = capacity;
    }
    *index = doc->count++;
    doc->values[*index] = (struct json_value){.type = type, .size = 1};
    return true;
}

/* Ends the text of value `index`, which was written from `text` up to p->text_end. */
static void finish_text(struct parser *p, size_t index, char *text) {
    struct json_value *value = &p->doc->values[index];
    value->text = text;
    value->length = (size_t)(p->text_end - text);
    *p->text_end++ = '\0';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the four hex digits after "\u". */
static bool read_hex4(struct parser *p, uint32_t *unit) {
    if (p->end - p->at < 4) return fail(p, "truncated \\u escape");
    *unit = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(p->at[i]);
        if (digit < 0) return fail(p, "invalid \\u escape");
        *unit = *unit * 16 + (uint32_t)digit;
    }
    p->at += 4;
    return true;
}

/* Reads a code point after "\u": one unit, or a surrogate pair written as two escapes. */
static bool read_code_point(struct parser *p, uint32_t *code_point) {
    uint32_t high;
    if (!read_hex4(p, &high)) return false;
    if (high >= 0xDC00 && high <= 0xDFFF) return fail(p, "unpaired surrogate in \\u escape");
    if (high < 0xD800 || high > 0xDBFF) {
        *code_point = high;
        return true;
    }
    uint32_t low;
    if (!consume(p, '\\') || !consume(p, 'u')) return fail(p, "unpaired surrogate in \\u escape");
    if (!read_hex4(p, &low)) return false;
    if (low < 0xDC00 || low > 0xDFFF) return fail(p, "unpaired surrogate in \\u escape");
    *code_point = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    return true;
}

/* Writes `cp` as UTF-8 at p->text_end. */
static void put_utf8(struct parser *p, uint32_t cp) {
    unsigned char *out = (unsigned char *)p->text_end;
    if (cp < 0x80) {
        *out++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *out++ = (unsigned char)(0xC0 | cp >> 6);
        *out++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *out++ = (unsigned char)(0xE0 | cp >> 12);
        *out++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *out++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *out++ = (unsigned char)(0xF0 | cp >> 18);
        *out++ = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        *out++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *out++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    p->text_end = (char *)out;
}

/* Decodes the escape sequence at p->at (a backslash) into p->text_end. */
static bool parse_escape(struct parser *p) {
    p->at++;
    if (p->at == p->end) return fail(p, "unterminated string");
    char c = *p->at++;
    switch (c) {
    case '"':
    case '\\':
    case '/': *p->text_end++ = c; return true;
    case 'b': *p->text_end++ = '\b'; return true;
    case 'f': *p->text_end++ = '\f'; return true;
    case 'n': *p->text_end++ = '\n'; return true;
    case 'r': *p->text_end++ = '\r'; return true;
    case 't': *p->text_end++ = '\t'; return true;
    case 'u': {
        uint32_t code_point = 0; /* set by read_code_point(); 0 quiets a compiler warning */
        if (!read_code_point(p, &code_point)) return false;
        put_utf8(p, code_point);
        return true;
    }
    default:
        p->at--;
        return fail(p, "invalid escape in a string");
    }
}

/* A string, decoded. Bytes other than quotes, backslashes and control characters are copied
 * as they are: the reader does not check that the input is valid UTF-8. */
static bool parse_string(struct parser *p) {
    size_t index;
    if (!add_value(p, JSON_STRING, &index)) return false;
    char *text = p->text_end;
    p->at++; /* the opening quote */
    for (;;) {
        if (p->at == p->end) return fail(p, "unterminated string");
        unsigned char c = (unsigned char)*p->at;
        if (c == '"') break;
        if (c < 0x20) return fail(p, "control character in a string");
        if (c == '\\') {
            if (!parse_escape(p)) return false;
        } else {
            *p->text_end++ = (char)c;
            p->at++;
        }
    }
    p->at++; /* the closing quote */
    finish_text(p, index, text);
    return true;
}

/* Consumes a run of digits; false when there is none. */
static bool digits(struct parser *p) {
    if (!is_digit(p)) return false;
    while (is_digit(p)) p->at++;
    return true;
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? kept as text. */
static bool parse_number(struct parser *p) {
    const char *start = p->at;
    consume(p, '-');
    if (!is_digit(p)) return fail(p, p->at == start ? "unexpected character" : "expected a digit");
    if (!consume(p, '0')) digits(p);
    if (consume(p, '.') && !digits(p)) return fail(p, "expected a digit after '.'");
    if (consume(p, 'e') || consume(p, 'E')) {
        if (!consume(p, '+')) consume(p, '-');
        if (!digits(p)) return fail(p, "expected a digit in the exponent");
    }
    size_t index;
    if (!add_value(p, JSON_NUMBER, &index)) return false;
    char *text = p->text_end;
    memcpy(text, start, (size_t)(p->at - start));
    p->text_end += p->at - start;
    finish_text(p, index, text);
    return true;
}

static bool parse_literal(struct parser *p, const char *word, enum json_type type) {
    size_t length = strlen(word);
    if ((size_t)(p->end - p->at) < length || memcmp(p->at, word, length) != 0)
        return fail(p, "unexpected character");
    p->at += length;
    size_t index;
    return add_value(p, type, &index);
}

static bool parse_value(struct parser *p);

/* The elements of an array, after the '['. */
static bool parse_elements(struct parser *p, size_t index) {
    skip_space(p);
    if (consume(p, ']')) return true;
    for (;;) {
        if (!parse_value(p)) return false;
        p->doc->values[index].count++;
        skip_space(p);
        if (consume(p, ']')) return true;
        if (!consume(p, ',')) return fail(p, "expected ',' or ']'");
    }
}

/* The members of an object, after the '{'. */
static bool parse_members(struct parser *p, size_t index) {
    skip_space(p);
    if (consume(p, '}')) return true;
    for (;;) {
        skip_space(p);
        if (p->at == p->end || *p->at != '"') return fail(p, "expected a string key");
        if (!parse_string(p)) return false;
        skip_space(p);
        if (!consume(p, ':')) return fail(p, "expected ':'");
        if (!parse_value(p)) return false;
        p->doc->values[index].count++;
        skip_space(p);
        if (consume(p, '}')) return true;
        if (!consume(p, ',')) return fail(p, "expected ',' or '}'");
    }
}

static bool parse_container(struct parser *p, enum json_type type) {
    if (p->depth == JSON_MAX_DEPTH) return fail(p, "nested too deeply");
    size_t index;
    if (!add_value(p, type, &index)) return false;
    p->at++; /* the '[' or '{' */
    p->depth++;
    bool ok = type == JSON_ARRAY ? parse_elements(p, index) : parse_members(p, index);
    p->depth--;
    p->doc->values[index].size = p->doc->count - index;
    return ok;
}

static bool parse_value(struct parser *p) {
    skip_space(p);
    if (p->at == p->end) return fail(p, "unexpected end of input");
    switch (*p->at) {
    case '{': return parse_container(p, JSON_OBJECT);
    case '[': return parse_container(p, JSON_ARRAY);
    case '"': return parse_string(p);
    case 't': return parse_literal(p, "true", JSON_TRUE);
    case 'f': return parse_literal(p, "false", JSON_FALSE);
    case 'n': return parse_literal(p, "null", JSON_NULL);
    default: return parse_number(p);
    }
}

bool json_parse(struct json_doc *doc, const char *input, size_t length) {
    *doc = (struct json_doc){0};
    struct parser p = {.start = input, .at = input, .end = input + length, .doc = doc};
    /*
     * One buffer holds all strings and numbers, each with a NUL. A decoded string is shorter
     * than its quoted text, and a number is followed by a byte that is not part of any token
     * (or by the end of input), so length + 1 bytes are always enough.
     */
    doc->text = malloc(length + 1);
    if (!doc->text) return out_of_memory(&p);
    p.text_end = doc->text;

    bool ok = parse_value(&p);
    if (ok) {
        skip_space(&p);
        if (p.at != p.end) ok = fail(&p, "unexpected data after the JSON value");
    }
    if (!ok) {
        char error[sizeof doc->error];
        memcpy(error, doc->error, sizeof error);
        json_free(doc);
        memcpy(doc->error, error, sizeof error);
    }
    return ok;
}

void json_free(struct json_doc *doc) {
    free(doc->values);
    free(doc->text);
    *doc = (struct json_doc){0};
}

const struct json_value *json_root(const struct json_doc *doc) {
    return doc->count ? &doc->values[0] : NULL;
}

const struct json_value *json_first(const struct json_value *container) {
    bool has_children = container && (container->type == JSON_ARRAY || container->type == JSON_OBJECT) &&
                        container->count > 0;
    return has_children ? container + 1 : NULL;
}

const struct json_value *json_next(const struct json_value *container,
                                   const struct json_value *child) {
    const struct json_value *next = child + child->size;
    return next < container + container->size ? next : NULL;
}

/* json_get() with a key given by pointer and length, which json_path() needs. */
static const struct json_value *get(const struct json_value *object, const char *key, size_t length) {
    if (!object || object->type != JSON_OBJECT) return NULL;
    const struct json_value *found = NULL;
    for (const struct json_value *name = json_first(object); name;) {
        const struct json_value *value = json_next(object, name);
        if (name->length == length && memcmp(name->text, key, length) == 0) found = value;
        name = json_next(object, value);
    }
    return found;
}

const struct json_value *json_get(const struct json_value *object, const char *key) {
    return get(object, key, strlen(key));
}

const struct json_value *json_path(const struct json_value *value, const char *path) {
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t length = dot ? (size_t)(dot - path) : strlen(path);
        value = get(value, path, length);
        if (!dot || !value) return value;
        path = dot + 1;
    }
}

bool json_is_string(const struct json_value *value, const char *s) {
    size_t length = strlen(s);
    return value && value->type == JSON_STRING && value->length == length &&
           memcmp(value->text, s, length) == 0;
}
