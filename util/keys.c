#include "keys.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *key_choices(const KeyDef *k) { return k->choices_of ? k->choices_of() : k->choices; }

int list_has(const char *list, char sep, const char *v, size_t n) {
    for (const char *p = list; *p;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        p += len + (end != NULL);
    }
    return 0;
}

int key_check_value(const KeyDef *k, const char *v, char *err, size_t errlen) {
    char *end;
    errno = 0;
    switch (k->type) {
    case KEY_INT: {
        /* JSON's integer syntax, as it is stored: no sign but '-', no leading zeros, no spaces */
        const char *d = v + (*v == '-');
        int canonical = *d >= '0' && *d <= '9' && (d[0] != '0' || d[1] == 0);
        long long x = strtoll(v, &end, 10);
        if (!canonical || *end || errno || x < k->min || x > k->max) {
            snprintf(err, errlen, "%s=%s: expected a whole number from %.0f to %.0f", k->key, v, k->min, k->max);
            return -1;
        }
        return 0;
    }
    case KEY_FLOAT: {
        /* decimal digits, point, sign and exponent only (no hex, inf or nan, no spaces) */
        double x = strtod(v, &end);
        if (!*v || v[strspn(v, "0123456789.-+eE")] || *end || errno || !isfinite(x) || x < k->min || x > k->max) {
            snprintf(err, errlen, "%s=%s: expected a number from %g to %g", k->key, v, k->min, k->max);
            return -1;
        }
        return 0;
    }
    case KEY_ENUM:
        if (!list_has(key_choices(k), '|', v, strlen(v))) {
            snprintf(err, errlen, "%s=%s: expected one of %s", k->key, v, key_choices(k));
            return -1;
        }
        return 0;
    case KEY_STR:
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

int key_role_is_experiment(KeyRole r) {
    return r == KEY_ROLE_TRAINING || r == KEY_ROLE_FINETUNE || r == KEY_ROLE_EVALUATION;
}

int key_role_is_pretraining(KeyRole r) {
    return r == KEY_ROLE_TRAINING || r == KEY_ROLE_REPLICATE || r == KEY_ROLE_SOURCE;
}

int key_role_is_sweep_identity(KeyRole r) {
    return r != KEY_ROLE_WATCH && r != KEY_ROLE_PLACE && r != KEY_ROLE_REQUEST && r != KEY_ROLE_RECORDED &&
           r != KEY_ROLE_NONE;
}

const char *key_role_name(KeyRole r) {
    static const char *const names[KEY_ROLE_COUNT] = {"none", "training", "finetune", "evaluation", "replicate",
                                                      "source", "bookkeeping", "watch", "place", "request", "recorded"};
    return r >= 0 && r < KEY_ROLE_COUNT ? names[r] : "none";
}

int key_take_words(int argc, char **argv, const char *const *names, const char **values, int n) {
    for (int i = 0; i < argc; i++) {
        int k = 0;
        for (; k < n; k++) {
            size_t len = strlen(names[k]);
            if (!strncmp(argv[i], names[k], len) && argv[i][len] == '=') { values[k] = argv[i] + len + 1; break; }
        }
        if (k < n) continue;
        fprintf(stderr, "error: '%s': expected ", argv[i]);
        for (k = 0; k < n; k++) fprintf(stderr, "%s%s=", k ? (k == n - 1 ? " or " : ", ") : "", names[k]);
        fputc('\n', stderr);
        return -1;
    }
    return 0;
}
