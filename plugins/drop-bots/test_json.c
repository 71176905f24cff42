/*
 * Unit tests of the JSON reader: values and their layout, escapes, lookups, malformed input,
 * and a real GitHub payload. Usage: test_json [FIXTURES_DIR]
 */
#include <string.h>

#include "json.h"
#include "testing.h"

static bool parse(struct json_doc *doc, const char *text) {
    bool ok = json_parse(doc, text, strlen(text));
    if (!ok) fprintf(stderr, "  unexpected error: %s\n  in: %s\n", doc->error, text);
    return ok;
}

/* Whether the only value of `text` is a string holding the `length` bytes of `expected`. */
static bool decodes_to(const char *text, const char *expected, size_t length) {
    struct json_doc doc;
    if (!parse(&doc, text)) return false;
    const struct json_value *root = json_root(&doc);
    bool ok = root->type == JSON_STRING && root->length == length &&
              memcmp(root->text, expected, length) == 0 && root->text[length] == '\0';
    json_free(&doc);
    return ok;
}

/* Whether `text` is rejected with a message that says where. */
static bool rejects(const char *text, size_t length) {
    struct json_doc doc;
    if (json_parse(&doc, text, length)) {
        fprintf(stderr, "  accepted: %.*s\n", (int)length, text);
        json_free(&doc);
        return false;
    }
    return strstr(doc.error, " at byte ") != NULL && doc.values == NULL && doc.text == NULL;
}

#define REJECTS(text) CHECK(rejects(text, sizeof text - 1))

static void test_scalars(void) {
    struct json_doc doc;
    if (CHECK(parse(&doc, " true\n"))) {
        CHECK(json_root(&doc)->type == JSON_TRUE && doc.count == 1);
        json_free(&doc);
    }
    if (CHECK(parse(&doc, "null"))) {
        CHECK(json_root(&doc)->type == JSON_NULL);
        json_free(&doc);
    }
    const char *numbers[] = {"0", "-0", "7", "-12.5e+3", "1E-9", "0.25", "123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        if (!CHECK(parse(&doc, numbers[i]))) continue;
        const struct json_value *root = json_root(&doc);
        CHECK(root->type == JSON_NUMBER && strcmp(root->text, numbers[i]) == 0);
        json_free(&doc);
    }
    json_free(&doc); /* a second json_free() is harmless */
}

static void test_escapes(void) {
    CHECK(decodes_to("\"\"", "", 0));
    CHECK(decodes_to("\"plain\"", "plain", 5));
    CHECK(decodes_to("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"", "q\" b\\ s/ \b\f\n\r\t", 14));
    CHECK(decodes_to("\"caf\\u00e9\"", "caf\xc3\xa9", 5));         /* two UTF-8 bytes */
    CHECK(decodes_to("\"\\u20AC\"", "\xe2\x82\xac", 3));             /* three, upper-case hex */
    CHECK(decodes_to("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4)); /* a surrogate pair */
    CHECK(decodes_to("\"a\\u0000b\"", "a\0b", 3));                   /* NUL inside a string */
    CHECK(decodes_to("\"caf\xc3\xa9\"", "caf\xc3\xa9", 5));          /* raw UTF-8 as is */
}

static void test_nested(void) {
    struct json_doc doc;
    if (!CHECK(parse(&doc, "[[1, [2, []]], {\"a\": [true, {}]}, \"x\"]"))) return;
    const struct json_value *root = json_root(&doc);
    CHECK(root->type == JSON_ARRAY && root->count == 3 && root->size == doc.count);

    const struct json_value *first = json_first(root);
    CHECK(first->type == JSON_ARRAY && first->count == 2 && first->size == 5);
    const struct json_value *inner = json_next(first, json_first(first));
    CHECK(inner->type == JSON_ARRAY && inner->count == 2);
    const struct json_value *empty = json_next(inner, json_first(inner));
    CHECK(empty->type == JSON_ARRAY && empty->count == 0 && json_first(empty) == NULL);

    const struct json_value *object = json_next(root, first);
    CHECK(object->type == JSON_OBJECT && object->count == 1);
    CHECK(json_get(object, "a")->count == 2);
    const struct json_value *last = json_next(root, object);
    CHECK(json_is_string(last, "x") && json_next(root, last) == NULL);

    size_t items = 0;
    for (const struct json_value *item = json_first(root); item; item = json_next(root, item))
        items++;
    CHECK(items == 3);
    json_free(&doc);
}

static void test_lookup(void) {
    struct json_doc doc;
    const char *text = "{\"body\": {\"sender\": {\"login\": \"alice\", \"type\": \"User\"}, \"n\": [1]},"
                       " \"k\\u0065y\": 1, \"dup\": 1, \"dup\": 2, \"a.b\": 3}";
    if (!CHECK(parse(&doc, text))) return;
    const struct json_value *root = json_root(&doc);
    CHECK(json_is_string(json_path(root, "body.sender.login"), "alice"));
    CHECK(json_is_string(json_get(json_get(json_get(root, "body"), "sender"), "type"), "User"));
    CHECK(json_path(root, "body.sender.missing") == NULL);
    CHECK(json_path(root, "body.n.0") == NULL); /* paths name keys, not indexes */
    CHECK(json_path(root, "body.sender.login.more") == NULL);
    CHECK(json_get(root, "key") != NULL);       /* keys are compared decoded */
    CHECK(strcmp(json_get(root, "dup")->text, "2") == 0);
    CHECK(json_get(root, "a.b") != NULL && json_path(root, "a.b") == NULL);
    CHECK(json_get(NULL, "x") == NULL && json_path(NULL, "x.y") == NULL);
    CHECK(!json_is_string(NULL, "") && !json_is_string(json_get(root, "dup"), "2"));
    json_free(&doc);
}

static void test_rejects_malformed(void) {
    REJECTS("");
    REJECTS("   ");
    REJECTS("{");
    REJECTS("[1, 2");
    REJECTS("[1,]");
    REJECTS("[,1]");
    REJECTS("{\"a\" 1}");
    REJECTS("{\"a\": 1,}");
    REJECTS("{\"a\": 1 \"b\": 2}");
    REJECTS("{a: 1}");
    REJECTS("{1: 2}");
    REJECTS("[1] 2");
    REJECTS("01");
    REJECTS("1.");
    REJECTS(".5");
    REJECTS("-");
    REJECTS("+1");
    REJECTS("1e");
    REJECTS("1e+");
    REJECTS("tru");
    REJECTS("nul");
    REJECTS("True");
    REJECTS("\"abc");
    REJECTS("\"a\\\"");
    REJECTS("\"\\x\"");
    REJECTS("\"\\u12\"");
    REJECTS("\"\\u12g4\"");
    REJECTS("\"\\ud800\"");        /* a high surrogate alone */
    REJECTS("\"\\ud800\\u0041\""); /* followed by something else */
    REJECTS("\"\\udc00\"");        /* a low surrogate first */
    REJECTS("\"line\nbreak\"");    /* control characters must be escaped */
    REJECTS("\"tab\there\"");
    REJECTS("[1]\0");
    REJECTS("'single'");

    struct json_doc doc;
    CHECK(!json_parse(&doc, "[1, x]", 6) && strcmp(doc.error, "unexpected character at byte 4") == 0);
}

/* Nesting up to JSON_MAX_DEPTH parses; one level more is an error, not a stack overflow. */
static void test_depth(void) {
    char text[2 * (JSON_MAX_DEPTH + 1)];
    for (size_t depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
        memset(text, '[', depth);
        memset(text + depth, ']', depth);
        struct json_doc doc;
        bool ok = json_parse(&doc, text, 2 * depth);
        CHECK(ok == (depth == JSON_MAX_DEPTH));
        if (ok) json_free(&doc);
        else CHECK(strstr(doc.error, "nested too deeply") != NULL);
    }
}

/* A real GitHub payload, byte for byte as GitHub sends it. */
static void test_github_payload(const char *fixtures) {
    char path[512];
    snprintf(path, sizeof path, "%s/push.payload.json", fixtures);
    size_t length;
    char *text = read_file(path, &length);
    if (!CHECK(text != NULL)) return;
    struct json_doc doc;
    bool ok = json_parse(&doc, text, length);
    free(text); /* the document keeps its own copy of the text */
    if (!CHECK(ok)) return;
    const struct json_value *root = json_root(&doc);
    CHECK(json_is_string(json_get(root, "ref"), "refs/tags/simple-tag"));
    CHECK(json_is_string(json_path(root, "sender.login"), "Codertocat"));
    CHECK(json_is_string(json_path(root, "sender.type"), "User"));
    CHECK(json_is_string(json_path(root, "repository.owner.login"), "Codertocat"));
    CHECK(json_get(root, "commits")->type == JSON_ARRAY && json_get(root, "commits")->count == 0);
    CHECK(json_get(root, "created")->type == JSON_FALSE);
    CHECK(json_get(root, "head_commit")->type == JSON_NULL);
    json_free(&doc);
}

int main(int argc, char **argv) {
    const char *fixtures = argc > 1 ? argv[1] : "../../../shared/fixtures/github";
    test_scalars();
    test_escapes();
    test_nested();
    test_lookup();
    test_rejects_malformed();
    test_depth();
    test_github_payload(fixtures);
    return check_status("test_json");
}
