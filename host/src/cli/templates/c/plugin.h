/*
 * {{name}}: the filter's decision, apart from reading stdin and writing stdout (main.c), so
 * that the unit tests (test_plugin.c) can call it directly.
 */
#ifndef PLUGIN_H
#define PLUGIN_H

#include <stddef.h>

#include "json.h"

enum verdict {
    VERDICT_PASS,  /* the event goes on: the plugin writes `true` */
    VERDICT_DROP,  /* the event is dropped: `false` */
    VERDICT_ERROR, /* a plugin error: a message on stderr, exit status 1 */
};

/*
 * Decides on one envelope (the JSON the host sends, parsed). On VERDICT_ERROR, `message`
 * (`size` bytes) says why, for the operator.
 */
enum verdict filter(const struct json_value *envelope, char *message, size_t size);

/* How the plugin names itself in its error messages. */
#define PLUGIN_NAME "{{name}}"

#endif
