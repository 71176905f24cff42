/*
 * {{name}}: a wasmhook filter written in C, as a WASI command plugin.
 *
 * It reads the event envelope (JSON) on stdin and writes `true` to stdout when the event's
 * `type` equals `config.type`, `false` otherwise. A missing `config.type` or input that is
 * not a JSON object is a plugin error: a message on stderr and exit status 1.
 *
 * The JSON reader below is deliberately small: it walks the envelope's top level, reads the
 * two strings it needs (`type` and `config.type`) and skips every other value, nested ones
 * included. It accepts all valid JSON; it does not diagnose every kind of invalid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The input and a position in it. */
struct reader {
    const char *at;
    const char *end;
};

static void fail(const char *message) {
    fprintf(stderr, "{{name}}: %s\n", message);
    exit(1);
}

static void skip_space(struct reader *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r'))
        r->at++;
}

/* Consumes `c` (after whitespace) or fails. */
static void expect(struct reader *r, char c) {
    skip_space(r);
    if (r->at >= r->end || *r->at != c) {
        char message[64];
        snprintf(message, sizeof message, "invalid envelope: expected '%c'", c);
        fail(message);
    }
    r->at++;
}

/* Whether the next character (after whitespace) is `c`; consumes it if so. */
static int accept(struct reader *r, char c) {
    skip_space(r);
    if (r->at < r->end && *r->at == c) {
        r->at++;
        return 1;
    }
    return 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    fail("invalid envelope: bad \\u escape");
    return 0;
}

static unsigned read_hex4(struct reader *r) {
    if (r->end - r->at < 4) fail("invalid envelope: bad \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; i++) value = value * 16 + (unsigned)hex_digit(*r->at++);
    return value;
}

/* Appends code point `cp` as UTF-8 to `out` (which has room for at least 4 more bytes). */
static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Reads a JSON string (after whitespace) and returns it decoded, NUL-terminated, in memory
 * from malloc. A decoded string is never longer than its JSON text, so one allocation of
 * that size is enough.
 */
static char *read_string(struct reader *r) {
    expect(r, '"');
    char *out = malloc((size_t)(r->end - r->at) + 1);
    if (!out) fail("out of memory");
    size_t n = 0;
    for (;;) {
        if (r->at >= r->end) fail("invalid envelope: unterminated string");
        char c = *r->at++;
        if (c == '"') break;
        if (c != '\\') { out[n++] = c; continue; }
        if (r->at >= r->end) fail("invalid envelope: unterminated string");
        char e = *r->at++;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp = read_hex4(r);
            /* A surrogate pair: \uD83D\uDE00 is one code point. */
            if (cp >= 0xD800 && cp <= 0xDBFF && r->end - r->at >= 6 && r->at[0] == '\\' &&
                r->at[1] == 'u') {
                const char *pair = r->at;
                r->at += 2;
                unsigned low = read_hex4(r);
                if (low >= 0xDC00 && low <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                else
                    r->at = pair; /* not a pair: decode the next escape on its own */
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default: fail("invalid envelope: bad escape in a string");
        }
    }
    out[n] = '\0';
    return out;
}

static void skip_value(struct reader *r);

/* Skips an object or array whose opening bracket was consumed. */
static void skip_container(struct reader *r, char close, int is_object) {
    if (accept(r, close)) return;
    do {
        if (is_object) {
            free(read_string(r));
            expect(r, ':');
        }
        skip_value(r);
    } while (accept(r, ','));
    expect(r, close);
}

/* Skips one JSON value of any kind. */
static void skip_value(struct reader *r) {
    skip_space(r);
    if (r->at >= r->end) fail("invalid envelope: unexpected end");
    char c = *r->at;
    if (c == '"') {
        free(read_string(r));
    } else if (c == '{') {
        r->at++;
        skip_container(r, '}', 1);
    } else if (c == '[') {
        r->at++;
        skip_container(r, ']', 0);
    } else {
        /* A number, true, false or null: up to the next delimiter. */
        const char *start = r->at;
        while (r->at < r->end && !strchr(",}] \t\r\n", *r->at)) r->at++;
        if (r->at == start) fail("invalid envelope: unexpected character");
    }
}

/* Reads a string, or `null` (returned as NULL); skips anything else (also NULL). */
static char *read_string_or_skip(struct reader *r) {
    skip_space(r);
    if (r->at < r->end && *r->at == '"') return read_string(r);
    skip_value(r);
    return NULL;
}

/* The value of `key` in the object that starts here, if it is a string. */
static char *find_string_member(struct reader *r, const char *key) {
    char *found = NULL;
    expect(r, '{');
    if (accept(r, '}')) return NULL;
    do {
        char *name = read_string(r);
        expect(r, ':');
        if (strcmp(name, key) == 0 && !found)
            found = read_string_or_skip(r);
        else
            skip_value(r);
        free(name);
    } while (accept(r, ','));
    expect(r, '}');
    return found;
}

/* Reads all of stdin into memory. */
static char *read_stdin(size_t *length) {
    size_t size = 0, capacity = 4096;
    char *data = malloc(capacity);
    if (!data) fail("out of memory");
    size_t n;
    while ((n = fread(data + size, 1, capacity - size, stdin)) > 0) {
        size += n;
        if (size == capacity) {
            capacity *= 2;
            data = realloc(data, capacity);
            if (!data) fail("out of memory");
        }
    }
    *length = size;
    return data;
}

int main(void) {
    size_t length;
    char *input = read_stdin(&length);
    struct reader r = {input, input + length};

    char *event_type = NULL;  /* the envelope's "type"; NULL when null */
    char *wanted = NULL;      /* config.type */
    expect(&r, '{');
    if (!accept(&r, '}')) {
        do {
            char *name = read_string(&r);
            expect(&r, ':');
            if (strcmp(name, "type") == 0) {
                free(event_type);
                event_type = read_string_or_skip(&r);
            } else if (strcmp(name, "config") == 0) {
                skip_space(&r);
                free(wanted);
                wanted = NULL;
                if (r.at < r.end && *r.at == '{')
                    wanted = find_string_member(&r, "type");
                else
                    skip_value(&r);
            } else {
                skip_value(&r);
            }
            free(name);
        } while (accept(&r, ','));
        expect(&r, '}');
    }

    if (!wanted) fail("config.type is required, e.g. --config '{\"type\": \"push\"}'");
    int pass = event_type && strcmp(event_type, wanted) == 0;
    fputs(pass ? "true\n" : "false\n", stdout);
    free(event_type);
    free(wanted);
    free(input);
    return 0;
}
