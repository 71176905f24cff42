/*
 * The smallest test harness: CHECK(condition) reports a failed condition with its line and
 * carries on, so that one run shows every failure; a test program returns check_status().
 */
#ifndef TESTING_H
#define TESTING_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures;

#define CHECK(condition) check((condition), #condition, __FILE__, __LINE__)

static inline bool check(bool ok, const char *condition, const char *file, int line) {
    if (!ok) {
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, condition);
        check_failures++;
    }
    return ok;
}

/* The exit status of a test program: 0 when every check held. */
static inline int check_status(const char *program) {
    if (check_failures) fprintf(stderr, "%s: %d check(s) failed\n", program, check_failures);
    else printf("%s: ok\n", program);
    return check_failures ? 1 : 0;
}

/* The contents of a file, NUL-terminated, from malloc; NULL (and a message) when unreadable. */
static inline char *read_file(const char *path, size_t *length) {
    FILE *file = fopen(path, "rb");
    char *data = NULL;
    long size = -1;
    if (file && fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0)
        data = malloc((size_t)size + 1);
    if (data && fread(data, 1, (size_t)size, file) == (size_t)size) {
        data[size] = '\0';
        *length = (size_t)size;
    } else {
        fprintf(stderr, "cannot read %s\n", path);
        free(data);
        data = NULL;
    }
    if (file) fclose(file);
    return data;
}

#endif
