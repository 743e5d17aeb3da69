#include "gemm_plan.h"
#include "gemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int default_backend;
static GemmChoice exceptions[GEMM_PLAN_MAX];
static int n_exceptions;

int gemm_plan_set(int def, const GemmChoice *ex, int n) {
    if (n < 0 || n > GEMM_PLAN_MAX || def < 0 || def >= gemm_backend_count()) return -1;
    for (int i = 0; i < n; i++)
        if (ex[i].backend >= gemm_backend_count()) return -1;
    default_backend = def;
    if (n) memcpy(exceptions, ex, sizeof *ex * (size_t)n);
    n_exceptions = n;
    return 0;
}

GemmChoice gemm_class(int trans_a, int trans_b, int M, int N, int K, int accumulate, int side_by_side) {
    GemmChoice c = {trans_a != 0, trans_b != 0, accumulate != 0, 0, M, N, K};
    if (side_by_side) *(trans_a ? &c.K : &c.M) = -1;
    return c;
}

int gemm_plan_backend(int trans_a, int trans_b, int M, int N, int K, int accumulate, int side_by_side) {
    if (!n_exceptions) return default_backend;
    GemmChoice k = gemm_class(trans_a, trans_b, M, N, K, accumulate, side_by_side);
    for (int i = 0; i < n_exceptions; i++) {
        const GemmChoice *c = &exceptions[i];
        if (c->M == k.M && c->N == k.N && c->K == k.K && c->trans_a == k.trans_a && c->trans_b == k.trans_b &&
            c->accumulate == k.accumulate)
            return c->backend;
    }
    return default_backend;
}

size_t gemm_plan_text(char *out, size_t n) {
    size_t used = (size_t)snprintf(out, n, "%s", gemm_backend_name(default_backend));
    for (int i = 0; i < n_exceptions; i++) {
        const GemmChoice *c = &exceptions[i];
        char m[16], k[16];
        snprintf(m, sizeof m, c->M < 0 ? "*" : "%d", c->M);
        snprintf(k, sizeof k, c->K < 0 ? "*" : "%d", c->K);
        used += (size_t)snprintf(out + (used < n ? used : n), used < n ? n - used : 0, ",%s@%c%c%sx%dx%s%s",
                                 gemm_backend_name(c->backend), c->trans_a ? 'T' : 'N', c->trans_b ? 'T' : 'N', m, c->N,
                                 k, c->accumulate ? "+" : "");
    }
    return used;
}

/* a positive whole number at *p (no sign, no leading zero); -1 if none */
static long whole(const char **p) {
    const char *s = *p;
    if (*s < '1' || *s > '9') return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (v > 1 << 30) return -1;
    *p = end;
    return v;
}

int gemm_plan_parse(const char *text, char *err, size_t errlen) {
    GemmChoice ex[GEMM_PLAN_MAX];
    int n = 0, def = -1;
    const char *p = text;
    for (int item = 0;; item++) {
        const char *end = strchr(p, ','), *at = NULL;
        size_t len = end ? (size_t)(end - p) : strlen(p);
        for (const char *q = p; q < p + len; q++)
            if (*q == '@') { at = q; break; }
        char name[32];
        size_t name_len = at ? (size_t)(at - p) : len;
        if (name_len == 0 || name_len >= sizeof name) goto bad;
        memcpy(name, p, name_len);
        name[name_len] = 0;
        int backend = gemm_backend_find(name);
        if (backend < 0) { /* the backends this build has, named from the table */
            char have[128] = "";
            for (int b = 0; b < gemm_backend_count(); b++)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", b ? ", " : "", gemm_backend_name(b));
            snprintf(err, errlen, "gemm=%.200s: item %d: backend \"%s\" is not in this build (it has %s)", text, item + 1,
                     name, have);
            return -1;
        }
        if (item == 0) {
            if (at) goto bad; /* the first item is the default: a backend alone */
            def = backend;
        } else {
            if (!at || n == GEMM_PLAN_MAX) goto bad;
            const char *s = at + 1;
            GemmChoice c = {0};
            if ((s[0] != 'N' && s[0] != 'T') || (s[1] != 'N' && s[1] != 'T')) goto bad;
            c.trans_a = s[0] == 'T';
            c.trans_b = s[1] == 'T';
            s += 2;
            long M = -1, N, K = -1;
            if (*s == '*') s++;
            else if ((M = whole(&s)) < 0) goto bad;
            if (*s++ != 'x' || (N = whole(&s)) < 0 || *s++ != 'x') goto bad;
            if (*s == '*') s++;
            else if ((K = whole(&s)) < 0) goto bad;
            /* '*' stands for the rows only: M, or K of a transposed A; never both */
            if ((M < 0 && K < 0) || (M < 0 && c.trans_a) || (K < 0 && !c.trans_a)) goto bad;
            c.accumulate = *s == '+';
            if (*s == '+') s++;
            if (s != p + len) goto bad;
            c.M = (int)M;
            c.N = (int)N;
            c.K = (int)K;
            c.backend = (unsigned char)backend;
            ex[n++] = c;
        }
        if (!end) break;
        p = end + 1;
    }
    return gemm_plan_set(def, ex, n);
bad:
    snprintf(err, errlen, "gemm=%.300s: expected openblas, onednn, auto, or a plan: a backend, then BACKEND@SHAPE items "
             "(SHAPE as NT2048x384x128, '+' after when the product adds to C, '*' for M of the products run side by side), "
             "comma-separated", text);
    return -1;
}
