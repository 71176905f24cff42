/*
 * {{name}}: a wasmhook filter. It passes the events whose `type` is one of `config.types`
 * and drops every other event, including events whose type the source does not know.
 *
 *     [plugins.{{name}}]
 *     wasm = "{{name}}.wasm"
 *     config = { types = ["push", "release"] }
 */
#include "plugin.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_array_of_strings(const struct json_value *value) {
    if (!value || value->type != JSON_ARRAY) return false;
    for (const struct json_value *item = json_first(value); item; item = json_next(value, item))
        if (item->type != JSON_STRING) return false;
    return true;
}

static bool same_string(const struct json_value *a, const struct json_value *b) {
    return a->length == b->length && memcmp(a->text, b->text, a->length) == 0;
}

static bool contains(const struct json_value *strings, const struct json_value *string) {
    for (const struct json_value *item = json_first(strings); item; item = json_next(strings, item))
        if (same_string(item, string)) return true;
    return false;
}

enum verdict filter(const struct json_value *envelope, char *message, size_t size) {
    /* A config that can pass nothing is a mistake: say so on every event, in the host's log. */
    const struct json_value *types = json_path(envelope, "config.types");
    if (!is_array_of_strings(types) || types->count == 0) {
        snprintf(message, size, "config.types is required: a non-empty array of event types, "
                                "e.g. {\"types\": [\"push\"]}");
        return VERDICT_ERROR;
    }
    /* `type` is null when the source does not know the event's type. */
    const struct json_value *type = json_get(envelope, "type");
    if (type && type->type == JSON_STRING && contains(types, type)) return VERDICT_PASS;
    return VERDICT_DROP;
}
