/*
 * Unit tests of {{name}}, run natively by `make check`: the decision on hand-written
 * envelopes, and on example.json exactly as the host would run it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "plugin.h"

static int failures;

/* Reports a failed condition and carries on, so that one run shows every failure. */
#define CHECK(condition) check((condition), #condition, __LINE__)

static bool check(bool ok, const char *condition, int line) {
    if (!ok) {
        fprintf(stderr, "test_plugin.c:%d: check failed: %s\n", line, condition);
        failures++;
    }
    return ok;
}

/* The verdict on an envelope given as JSON text; an error must come with a message. */
static enum verdict verdict_on(const char *envelope, size_t length) {
    struct json_doc doc;
    if (!json_parse(&doc, envelope, length)) {
        fprintf(stderr, "invalid test envelope: %s\n", doc.error);
        return VERDICT_ERROR;
    }
    char message[160] = "";
    enum verdict verdict = filter(json_root(&doc), message, sizeof message);
    json_free(&doc);
    CHECK((verdict == VERDICT_ERROR) == (message[0] != '\0'));
    return verdict;
}

#define VERDICT_ON(text) verdict_on(text, strlen(text))

static void test_passes_the_configured_types(void) {
    CHECK(VERDICT_ON("{\"type\": \"push\", \"config\": {\"types\": [\"push\"]}}") == VERDICT_PASS);
    CHECK(VERDICT_ON("{\"type\": \"issues\", \"config\": {\"types\": [\"release\", \"issues\"]}}") ==
          VERDICT_PASS);
    CHECK(VERDICT_ON("{\"type\": \"push\", \"config\": {\"types\": [\"release\", \"issues\"]}}") ==
          VERDICT_DROP);
    CHECK(VERDICT_ON("{\"type\": \"pushed\", \"config\": {\"types\": [\"push\"]}}") == VERDICT_DROP);
}

static void test_drops_events_without_a_type(void) {
    CHECK(VERDICT_ON("{\"type\": null, \"config\": {\"types\": [\"push\"]}}") == VERDICT_DROP);
    CHECK(VERDICT_ON("{\"config\": {\"types\": [\"push\"]}}") == VERDICT_DROP);
}

static void test_a_bad_config_is_a_plugin_error(void) {
    CHECK(VERDICT_ON("{\"type\": \"push\", \"config\": {}}") == VERDICT_ERROR);
    CHECK(VERDICT_ON("{\"type\": \"push\", \"config\": {\"types\": []}}") == VERDICT_ERROR);
    CHECK(VERDICT_ON("{\"type\": \"push\", \"config\": {\"types\": \"push\"}}") == VERDICT_ERROR);
    CHECK(VERDICT_ON("{\"type\": \"push\", \"config\": {\"types\": [\"push\", 1]}}") == VERDICT_ERROR);
    CHECK(VERDICT_ON("[]") == VERDICT_ERROR);
}

/* The example envelope, byte for byte as `wasmhook plugin run` would send it. */
static void test_runs_the_example_like_the_host(void) {
    FILE *file = fopen("example.json", "rb");
    if (!CHECK(file != NULL)) return;
    char text[8192];
    size_t length = fread(text, 1, sizeof text, file);
    fclose(file);
    CHECK(length < sizeof text);
    CHECK(verdict_on(text, length) == VERDICT_PASS);
}

int main(void) {
    test_passes_the_configured_types();
    test_drops_events_without_a_type();
    test_a_bad_config_is_a_plugin_error();
    test_runs_the_example_like_the_host();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    puts("check: ok");
    return 0;
}
