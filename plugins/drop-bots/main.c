/*
 * A filter as a WASI command plugin: the envelope (JSON) on stdin, the verdict (`true` to
 * pass the event on, `false` to drop it) on stdout. A plugin error is a message on stderr and
 * exit status 1; the host logs the message and applies the route's `on_error`. The decision,
 * `filter`, and the name the messages carry, PLUGIN_NAME, come from plugin.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "plugin.h"

/* Reads all of `stream` into memory from malloc; NULL on a read error or out of memory. */
static char *read_all(FILE *stream, size_t *length) {
    size_t size = 0, capacity = 16384;
    char *data = malloc(capacity);
    while (data) {
        size += fread(data + size, 1, capacity - size, stream);
        if (size < capacity) break; /* end of input, or an error (checked below) */
        capacity *= 2;
        char *bigger = realloc(data, capacity);
        if (!bigger) free(data);
        data = bigger;
    }
    if (data && ferror(stream)) {
        free(data);
        return NULL;
    }
    *length = size;
    return data;
}

int main(void) {
    size_t length;
    char *input = read_all(stdin, &length);
    if (!input) {
        fputs(PLUGIN_NAME ": cannot read the envelope from stdin\n", stderr);
        return 1;
    }
    struct json_doc doc;
    bool parsed = json_parse(&doc, input, length);
    free(input);
    if (!parsed) {
        fprintf(stderr, PLUGIN_NAME ": invalid envelope: %s\n", doc.error);
        return 1;
    }

    char message[160];
    enum verdict verdict = filter(json_root(&doc), message, sizeof message);
    json_free(&doc);
    if (verdict == VERDICT_ERROR) {
        fprintf(stderr, PLUGIN_NAME ": %s\n", message);
        return 1;
    }
    /* A verdict the host did not get in full is no verdict: say so rather than exit 0. */
    if (puts(verdict == VERDICT_PASS ? "true" : "false") == EOF || fflush(stdout) != 0) {
        fputs(PLUGIN_NAME ": cannot write the verdict to stdout\n", stderr);
        return 1;
    }
    return 0;
}
