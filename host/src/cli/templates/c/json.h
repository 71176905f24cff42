/*
 * A small, strict JSON reader (RFC 8259) for plugins that read a few fields of an envelope.
 *
 * json_parse() checks the whole document and turns it into a flat array of values in document
 * order. A container comes first, followed by its children, so every subtree is contiguous:
 * `v + v->size` is the value after `v` and all of its descendants. An object's children are
 * its keys and values in turn. Strings are decoded (escapes, \uXXXX, surrogate pairs, all to
 * UTF-8) and compared as bytes. The document owns a copy of all the text it needs, so the
 * input may be freed once it is parsed.
 *
 * Lookups take and return `const struct json_value *`, with NULL for "not there": a missing
 * key, a value of another type, or a NULL argument. Lookups can therefore be chained without
 * checking each step.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Deeper nesting is rejected, so that a hostile document cannot exhaust the stack. */
#define JSON_MAX_DEPTH 128

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value {
    enum json_type type;
    size_t size;      /* values in this subtree, this one included */
    size_t count;     /* an array's elements; an object's members (key-value pairs) */
    const char *text; /* a string's decoded bytes or a number's text, NUL-terminated; else NULL */
    size_t length;    /* bytes in text without the NUL (a string may hold "\u0000" itself) */
};

struct json_doc {
    struct json_value *values; /* values[0] is the root */
    size_t count;
    char *text;      /* the storage for all strings and numbers */
    char error[96];  /* why json_parse() failed, with the byte offset */
};

/*
 * Parses `length` bytes at `input` into `doc`. Returns true on success (release the document
 * with json_free()), or false with `doc->error` set and nothing to free.
 */
bool json_parse(struct json_doc *doc, const char *input, size_t length);

/* Releases what json_parse() allocated. Safe to call twice. */
void json_free(struct json_doc *doc);

/* The top-level value of a parsed document. */
const struct json_value *json_root(const struct json_doc *doc);

/* The value of `key` in `object`. With duplicate keys the last one wins, as in most parsers. */
const struct json_value *json_get(const struct json_value *object, const char *key);

/* Follows dot-separated keys from `value`: json_path(envelope, "body.sender.login"). */
const struct json_value *json_path(const struct json_value *value, const char *path);

/* The first child of an array or object, and the child after `child`:
 *
 *     for (const struct json_value *item = json_first(array); item; item = json_next(array, item))
 */
const struct json_value *json_first(const struct json_value *container);
const struct json_value *json_next(const struct json_value *container,
                                   const struct json_value *child);

/* Whether `value` is a string whose bytes are those of `s`. */
bool json_is_string(const struct json_value *value, const char *s);

#endif
