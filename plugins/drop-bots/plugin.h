/*
 * drop-bots: the decision, apart from reading stdin and writing stdout (main.c), so that it
 * can be unit-tested natively.
 */
#ifndef PLUGIN_H
#define PLUGIN_H

#include <stddef.h>

#include "json.h"

enum verdict {
    VERDICT_PASS,  /* the event goes on */
    VERDICT_DROP,  /* the event was sent by a bot or an ignored login */
    VERDICT_ERROR, /* the envelope or its config is unusable: a plugin error */
};

/*
 * Decides on one envelope (the parsed JSON the host sends). On VERDICT_ERROR, `message`
 * (`size` bytes) says why, for the operator.
 */
enum verdict filter(const struct json_value *envelope, char *message, size_t size);

/* How the plugin names itself in its error messages. */
#define PLUGIN_NAME "drop-bots"

#endif
