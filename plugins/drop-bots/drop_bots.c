/*
 * drop-bots: a filter that drops GitHub events sent by bots.
 *
 * A sender is a bot when GitHub says so (`sender.type` is "Bot") or when its login ends with
 * "[bot]", the suffix of GitHub Apps acting on their own (dependabot[bot], renovate[bot],
 * github-actions[bot]). `config.ignore_logins` adds accounts to drop, such as a machine user
 * that GitHub counts as a "User". An event without a sender passes.
 */
#include "plugin.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Writes the message of a plugin error; returns false, for `return complain(...)`. */
static bool complain(char *message, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(message, size, format, args);
    va_end(args);
    return false;
}

static char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* GitHub logins are case-insensitive: "Alice" and "alice" are the same account. */
static bool same_login(const struct json_value *a, const struct json_value *b) {
    if (a->length != b->length) return false;
    for (size_t i = 0; i < a->length; i++)
        if (ascii_lower(a->text[i]) != ascii_lower(b->text[i])) return false;
    return true;
}

static bool ends_with(const struct json_value *string, const char *suffix) {
    size_t length = strlen(suffix);
    return string->length >= length &&
           memcmp(string->text + string->length - length, suffix, length) == 0;
}

static bool is_array_of_strings(const struct json_value *value) {
    if (value->type != JSON_ARRAY) return false;
    for (const struct json_value *item = json_first(value); item; item = json_next(value, item))
        if (item->type != JSON_STRING) return false;
    return true;
}

/*
 * Checks the config on every event, bot or not, so that a mistake shows up in the logs at
 * once rather than as bots that keep getting through. An unknown key is most likely a typo.
 */
static bool check_config(const struct json_value *config, char *message, size_t size) {
    if (!config) return true; /* the host always sends one; a hand-made envelope may not */
    if (config->type != JSON_OBJECT) return complain(message, size, "config must be an object");
    for (const struct json_value *key = json_first(config); key;) {
        const struct json_value *value = json_next(config, key);
        if (!json_is_string(key, "ignore_logins"))
            return complain(message, size,
                            "unknown config key \"%.40s\" (the only key is ignore_logins)", key->text);
        if (!is_array_of_strings(value))
            return complain(message, size, "config.ignore_logins must be an array of strings");
        key = json_next(config, value);
    }
    return true;
}

static bool is_bot(const struct json_value *sender) {
    const struct json_value *login = json_get(sender, "login");
    return json_is_string(json_get(sender, "type"), "Bot") ||
           (login && login->type == JSON_STRING && ends_with(login, "[bot]"));
}

static bool is_ignored(const struct json_value *sender, const struct json_value *ignore_logins) {
    const struct json_value *login = json_get(sender, "login");
    if (!login || login->type != JSON_STRING) return false;
    for (const struct json_value *item = json_first(ignore_logins); item;
         item = json_next(ignore_logins, item))
        if (same_login(login, item)) return true;
    return false;
}

enum verdict filter(const struct json_value *envelope, char *message, size_t size) {
    if (!envelope || envelope->type != JSON_OBJECT) {
        complain(message, size, "the envelope is not a JSON object");
        return VERDICT_ERROR;
    }
    const struct json_value *config = json_get(envelope, "config");
    if (!check_config(config, message, size)) return VERDICT_ERROR;

    /* Not every event has a sender, and a body need not even be an object. */
    const struct json_value *sender = json_path(envelope, "body.sender");
    if (!sender || sender->type != JSON_OBJECT) return VERDICT_PASS;
    if (is_bot(sender) || is_ignored(sender, json_get(config, "ignore_logins")))
        return VERDICT_DROP;
    return VERDICT_PASS;
}
