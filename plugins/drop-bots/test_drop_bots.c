/*
 * Unit tests of drop-bots: every real GitHub payload in the fixtures, the same payloads sent
 * by bots, hand-written senders, and bad configs. Usage: test_drop_bots [FIXTURES_DIR]
 */
#define _POSIX_C_SOURCE 200809L /* opendir() */

#include <dirent.h>
#include <string.h>

#include "plugin.h"
#include "json.h"
#include "testing.h"

/* The verdict on an envelope given as JSON text; an error must come with a message. */
static enum verdict verdict_on(const char *envelope) {
    struct json_doc doc;
    if (!json_parse(&doc, envelope, strlen(envelope))) {
        fprintf(stderr, "  invalid test envelope: %s\n", doc.error);
        return VERDICT_ERROR;
    }
    char message[160] = "";
    enum verdict verdict = filter(json_root(&doc), message, sizeof message);
    json_free(&doc);
    CHECK((verdict == VERDICT_ERROR) == (message[0] != '\0'));
    return verdict;
}

/* An envelope as the host builds it around a GitHub body, in memory from malloc. */
static char *envelope_of(const char *type, const char *body, const char *config) {
    const char *format = "{\"source\": \"github\", \"type\": \"%s\", \"headers\": {}, "
                         "\"body\": %s, \"config\": %s}";
    size_t size = strlen(format) + strlen(type) + strlen(body) + strlen(config);
    char *envelope = malloc(size);
    if (envelope) snprintf(envelope, size, format, type, body, config);
    return envelope;
}

/* `text` with every `from` replaced by `to`, in memory from malloc. */
static char *replace_all(const char *text, const char *from, const char *to) {
    size_t from_length = strlen(from), to_length = strlen(to), count = 0;
    for (const char *at = strstr(text, from); at; at = strstr(at + from_length, from)) count++;
    char *out = malloc(strlen(text) + count * to_length + 1);
    if (!out) return NULL;
    char *end = out;
    for (const char *at; (at = strstr(text, from)) != NULL; text = at + from_length) {
        memcpy(end, text, (size_t)(at - text));
        end += at - text;
        memcpy(end, to, to_length);
        end += to_length;
    }
    strcpy(end, text);
    return out;
}

/* The verdict on a fixture payload, edited by replacing `from` with `to` (both NULL: as is). */
static enum verdict verdict_on_fixture(const char *path, const char *from, const char *to,
                                       const char *config) {
    size_t length;
    char *payload = read_file(path, &length);
    char *body = payload && from ? replace_all(payload, from, to) : payload;
    char *envelope = body ? envelope_of("push", body, config) : NULL;
    enum verdict verdict = envelope ? verdict_on(envelope) : VERDICT_ERROR;
    if (body != payload) free(body);
    free(payload);
    free(envelope);
    return verdict;
}

static bool is_payload(const char *name) {
    const char *suffix = ".payload.json";
    size_t length = strlen(name), suffix_length = strlen(suffix);
    return length > suffix_length && strcmp(name + length - suffix_length, suffix) == 0;
}

/* Every fixture is sent by the user Codertocat: it passes unless that login is ignored. */
static void test_every_fixture(const char *fixtures) {
    DIR *dir = opendir(fixtures);
    if (!CHECK(dir != NULL)) return;
    int payloads = 0;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        if (!is_payload(entry->d_name)) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fixtures, entry->d_name);
        payloads++;
        if (!CHECK(verdict_on_fixture(path, NULL, NULL, "{}") == VERDICT_PASS))
            fprintf(stderr, "  %s\n", path);
        CHECK(verdict_on_fixture(path, NULL, NULL, "{\"ignore_logins\": [\"octocat\"]}") == VERDICT_PASS);
        /* Logins are case-insensitive: "codertocat" is Codertocat. */
        CHECK(verdict_on_fixture(path, NULL, NULL, "{\"ignore_logins\": [\"ci\", \"codertocat\"]}") ==
              VERDICT_DROP);
    }
    closedir(dir);
    CHECK(payloads >= 20);
}

/* The same real payloads, sent by bots. */
static void test_fixtures_sent_by_bots(const char *fixtures) {
    char push[1024], pull_request[1024];
    snprintf(push, sizeof push, "%s/push.payload.json", fixtures);
    snprintf(pull_request, sizeof pull_request, "%s/pull_request.opened.payload.json", fixtures);
    CHECK(verdict_on_fixture(push, "\"login\": \"Codertocat\"", "\"login\": \"dependabot[bot]\"", "{}") ==
          VERDICT_DROP);
    CHECK(verdict_on_fixture(pull_request, "\"type\": \"User\"", "\"type\": \"Bot\"", "{}") ==
          VERDICT_DROP);
    /* A "[bot]" login elsewhere in the payload is not the sender. */
    CHECK(verdict_on_fixture(pull_request, "\"name\": \"Hello-World\"", "\"name\": \"renovate[bot]\"",
                             "{}") == VERDICT_PASS);
}

static void test_senders(void) {
    struct {
        const char *body;
        enum verdict expected;
    } cases[] = {
        {"{\"sender\": {\"login\": \"alice\", \"type\": \"User\"}}", VERDICT_PASS},
        {"{\"sender\": {\"login\": \"dependabot[bot]\", \"type\": \"Bot\"}}", VERDICT_DROP},
        {"{\"sender\": {\"login\": \"github-actions[bot]\", \"type\": \"Bot\"}}", VERDICT_DROP},
        {"{\"sender\": {\"login\": \"renovate[bot]\"}}", VERDICT_DROP},   /* no type: the login says it */
        {"{\"sender\": {\"login\": \"deploy-app\", \"type\": \"Bot\"}}", VERDICT_DROP}, /* the type says it */
        {"{\"sender\": {\"login\": \"dependabot\\u005bbot\\u005d\"}}", VERDICT_DROP},   /* escaped */
        {"{\"sender\": {\"login\": \"robot\", \"type\": \"User\"}}", VERDICT_PASS},
        {"{\"sender\": {\"login\": \"[bot]-fan\", \"type\": \"User\"}}", VERDICT_PASS},
        {"{\"sender\": {\"login\": \"alice\", \"type\": \"Organization\"}}", VERDICT_PASS},
        {"{\"sender\": {\"login\": \"alice\"}, \"pull_request\": "
         "{\"user\": {\"login\": \"dependabot[bot]\", \"type\": \"Bot\"}}}", VERDICT_PASS},
        /* No sender at all: other providers' bodies, pings from some integrations. */
        {"{\"ref\": \"refs/heads/main\"}", VERDICT_PASS},
        {"{\"sender\": null}", VERDICT_PASS},
        {"{\"sender\": {}}", VERDICT_PASS},
        {"{\"sender\": {\"login\": 42}}", VERDICT_PASS},
        {"\"a body that is a string\"", VERDICT_PASS},
        {"[{\"sender\": {\"type\": \"Bot\"}}]", VERDICT_PASS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *envelope = envelope_of("push", cases[i].body, "{}");
        if (!CHECK(verdict_on(envelope) == cases[i].expected)) fprintf(stderr, "  body: %s\n", cases[i].body);
        free(envelope);
    }
    CHECK(verdict_on("{\"type\": \"push\", \"config\": {}}") == VERDICT_PASS); /* no body */
    CHECK(verdict_on("{\"body\": {\"sender\": {\"type\": \"Bot\"}}}") == VERDICT_DROP); /* no config */
}

static void test_ignore_logins(void) {
    const char *alice = "{\"sender\": {\"login\": \"Alice\", \"type\": \"User\"}}";
    struct {
        const char *config;
        enum verdict expected;
    } cases[] = {
        {"{\"ignore_logins\": [\"alice\"]}", VERDICT_DROP},
        {"{\"ignore_logins\": [\"bob\", \"ALICE\"]}", VERDICT_DROP},
        {"{\"ignore_logins\": [\"\\u0061lice\"]}", VERDICT_DROP},
        {"{\"ignore_logins\": [\"alic\", \"alice2\", \"\"]}", VERDICT_PASS},
        {"{\"ignore_logins\": []}", VERDICT_PASS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *envelope = envelope_of("push", alice, cases[i].config);
        if (!CHECK(verdict_on(envelope) == cases[i].expected)) fprintf(stderr, "  config: %s\n", cases[i].config);
        free(envelope);
    }
}

/* A bad config is an error on every event, with or without a bot. */
static void test_bad_config(void) {
    const char *configs[] = {
        "{\"ignore_logins\": \"alice\"}",
        "{\"ignore_logins\": [\"alice\", 7]}",
        "{\"ignore_logins\": null}",
        "{\"ignore_login\": [\"alice\"]}",
        "[\"alice\"]",
        "\"alice\"",
    };
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
        char *envelope = envelope_of("push", "{\"ref\": \"refs/heads/main\"}", configs[i]);
        if (!CHECK(verdict_on(envelope) == VERDICT_ERROR)) fprintf(stderr, "  config: %s\n", configs[i]);
        free(envelope);
    }

    struct json_doc doc;
    const char *typo = "{\"config\": {\"ignore_login\": []}}";
    char message[160];
    if (CHECK(json_parse(&doc, typo, strlen(typo)))) {
        CHECK(filter(json_root(&doc), message, sizeof message) == VERDICT_ERROR);
        CHECK(strcmp(message, "unknown config key \"ignore_login\" (the only key is ignore_logins)") == 0);
        json_free(&doc);
    }
    CHECK(verdict_on("[]") == VERDICT_ERROR);
    CHECK(verdict_on("null") == VERDICT_ERROR);
}

int main(int argc, char **argv) {
    const char *fixtures = argc > 1 ? argv[1] : "../../../shared/fixtures/github";
    test_every_fixture(fixtures);
    test_fixtures_sent_by_bots(fixtures);
    test_senders();
    test_ignore_logins();
    test_bad_config();
    return check_status("test_drop_bots");
}
