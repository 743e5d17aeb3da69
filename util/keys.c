#include "keys.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *key_choices(const KeyDef *k) { return k->choices_of ? k->choices_of() : k->choices; }

static int choice_ok(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        p += len + (bar != NULL);
    }
    return 0;
}

int key_check_value(const KeyDef *k, const char *v, char *err, size_t errlen) {
    char *end;
    errno = 0;
    switch (k->type) {
    case KEY_INT: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno || x < k->min || x > k->max) {
            snprintf(err, errlen, "%s=%s: expected a whole number from %.0f to %.0f", k->key, v, k->min, k->max);
            return -1;
        }
        return 0;
    }
    case KEY_FLOAT: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x) || x < k->min || x > k->max) {
            snprintf(err, errlen, "%s=%s: expected a number from %g to %g", k->key, v, k->min, k->max);
            return -1;
        }
        return 0;
    }
    case KEY_ENUM:
        if (!choice_ok(key_choices(k), v)) {
            snprintf(err, errlen, "%s=%s: expected one of %s", k->key, v, key_choices(k));
            return -1;
        }
        return 0;
    case KEY_STR:
    case KEY_RECORD:
        return 0;
    }
    return 0;
}

const char *key_join_names(char *buf, size_t n, const char *(*name)(int i), int count) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < count; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? "|" : "", name(i));
        if (w < 0 || (size_t)w >= n - used) {
            fprintf(stderr, "internal error: the names joined need more than %zu bytes\n", n);
            exit(70);
        }
        used += (size_t)w;
    }
    return buf;
}
