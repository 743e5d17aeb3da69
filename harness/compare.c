/* `harness compare by=KEY [a=V b=W] [metric=M] [task=T] [KEY=VALUE ...] [db=] [csv=1]`: the
 * verdicts view as a table. Runs are paired by seed over configurations that differ only in
 * KEY; each row is one pair of configurations: means, the mean paired difference b - a, its
 * 95% interval, the smallest difference those seeds would detect, and the verdict in the
 * variants' names. a= and b= pick (and orient) the two values; other keys filter on the
 * configurations (a key one side does not have, like experts beside dense, passes). */
#include "compare.h"
#include "config.h"
#include "results/results.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* appends s to the SQL as a quoted literal */
static void put_literal(char *sql, size_t n, const char *s) {
    size_t used = strlen(sql);
    if (used + 3 >= n) return;
    sql[used++] = '\'';
    for (; *s && used + 3 < n; s++) {
        if (*s == '\'') sql[used++] = '\'';
        sql[used++] = *s;
    }
    sql[used++] = '\'';
    sql[used] = 0;
}

/* rows, and those with a p-value (column 12: two seeds or more, the family Holm counts) */
static int count_row(void *ctx, int ncol, const char *const *values) {
    long *n = ctx;
    n[0]++;
    n[1] += ncol > 12 && *values[12];
    return 0;
}

static void put(char *sql, size_t n, const char *s) {
    size_t used = strlen(sql);
    snprintf(sql + used, n - used, "%s", s);
}

/* compare's words, also plan's (cmd names the command in messages; plan takes its own words
 * out first); 0, or 2 after saying what is wrong */
int compare_args(const char *cmd, int argc, char **argv, CompareArgs *c) {
    memset(c, 0, sizeof *c);
    c->db = "results.db";
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        size_t klen = eq ? (size_t)(eq - argv[i]) : 0;
        if (!eq || !klen || klen >= sizeof c->keybuf[0] || strspn(argv[i], "abcdefghijklmnopqrstuvwxyz_0123456789") != klen) {
            fprintf(stderr, "error: %s: '%s': expected key=value (by=KEY is required)\n", cmd, argv[i]);
            return 2;
        }
        const char *v = eq + 1;
        if (!strncmp(argv[i], "by=", 3)) c->by = v;
        else if (!strncmp(argv[i], "a=", 2)) c->a = v;
        else if (!strncmp(argv[i], "b=", 2)) c->b = v;
        else if (!strncmp(argv[i], "metric=", 7)) c->metric = v;
        else if (!strncmp(argv[i], "db=", 3)) c->db = v;
        else if (!strncmp(argv[i], "csv=", 4)) {
            if (strcmp(v, "0") && strcmp(v, "1")) { fprintf(stderr, "error: %s: csv=%s: expected 0 or 1\n", cmd, v); return 2; }
            c->csv = *v == '1';
        }
        else {
            if (c->nf == COMPARE_MAX_FILTERS) { fprintf(stderr, "error: %s: more than %d filters\n", cmd, COMPARE_MAX_FILTERS); return 2; }
            memcpy(c->keybuf[c->nf], argv[i], klen);
            c->keybuf[c->nf][klen] = 0;
            /* a misspelt filter would match every run (a key neither side has passes) */
            const char *near = config_unknown_key(c->keybuf[c->nf]);
            if (near) {
                fprintf(stderr, "error: %s: unknown key '%s'; nearest known key: '%s'\n", cmd, c->keybuf[c->nf], near);
                return 2;
            }
            c->filter_key[c->nf] = c->keybuf[c->nf];
            c->filter_val[c->nf++] = v;
        }
    }
    if (!c->by || !*c->by) {
        fprintf(stderr, "error: %s: by=KEY is required (e.g. by=model, by=heads, by=parity, by=capacity)\n", cmd);
        return 2;
    }
    const char *near_by = config_unknown_key(c->by);
    if (near_by) {
        fprintf(stderr, "error: %s: by=%s: unknown key; nearest known key: '%s'\n", cmd, c->by, near_by);
        return 2;
    }
    return 0;
}

void compare_family_sql(const CompareArgs *c, char *sql, size_t size) {
    const char *a = c->a, *b = c->b, *metric = c->metric;
    sql[0] = 0;
    /* the rows of the view, and the same rows turned round, so that a= and b= may name either side */
    put(sql, size,
        "WITH both_ways AS ("
        " SELECT task, metric, by_key, a, b, " COMPARE_SHOWN_LABEL("a_label", "a") " AS a_label, " COMPARE_SHOWN_LABEL("b_label", "b")
        "        AS b_label, n, mean_a, mean_b, diff, ci_low, ci_high,"
        "        min_detectable, verdict, sd_diff, a_key, b_key, a_runs, b_runs, 0 AS turned FROM verdicts"
        " UNION ALL SELECT task, metric, by_key, b, a, " COMPARE_SHOWN_LABEL("b_label", "b") ", " COMPARE_SHOWN_LABEL("a_label", "a")
        ", n, mean_b, mean_a, -diff, -ci_high, -ci_low,"
        "        min_detectable, CASE verdict WHEN 'a better' THEN 'b better' WHEN 'b better' THEN 'a better'"
        "        ELSE verdict END, sd_diff, b_key, a_key, b_runs, a_runs, 1 FROM verdicts),"
        /* the family: the rows this call shows, each with its paired t test's p-value */
        " family AS (SELECT *, " RESULTS_PAIRED_P " AS p FROM both_ways WHERE by_key = ");
    put_literal(sql, size, c->by);
    if (a) { put(sql, size, " AND CAST(a AS TEXT) = "); put_literal(sql, size, a); }
    if (b) { put(sql, size, " AND CAST(b AS TEXT) = "); put_literal(sql, size, b); }
    /* without a= and b=, each pair once, in the view's order */
    if (!a && !b) put(sql, size, " AND turned = 0");
    if (metric) { put(sql, size, " AND metric = "); put_literal(sql, size, metric); }
    else /* per-language rows and the loss beside ppl and bpb only when asked */
        put(sql, size, " AND " COMPARE_DEFAULT_METRICS);
    for (int i = 0; i < c->nf; i++) {
        char path[80];
        snprintf(path, sizeof path, "$.%s", c->filter_key[i]);
        if (!strcmp(c->filter_key[i], "task")) { put(sql, size, " AND task = "); put_literal(sql, size, c->filter_val[i]); continue; }
        for (int side = 0; side < 2; side++) {
            const char *col = side ? "b_key" : "a_key";
            char part[256];
            snprintf(part, sizeof part, " AND (json_extract(%s, '%s') IS NULL OR CAST(json_extract(%s, '%s') AS TEXT) = ",
                     col, path, col, path);
            put(sql, size, part);
            put_literal(sql, size, c->filter_val[i]);
            put(sql, size, ")");
        }
    }
    put(sql, size, ")");
}

void compare_none_found(const CompareArgs *c, const char *cmd) {
    fprintf(stderr, "error: %s: db=%s holds no finished runs, paired by seed, whose configurations differ only in "
            "%s%s%s%s%s%s%s (harness list shows the runs; metric= names a final metric such as valid/bpb)\n", cmd, c->db, c->by,
            c->a ? ", a=" : "", c->a ? c->a : "", c->b ? ", b=" : "", c->b ? c->b : "", c->metric ? ", metric=" : "",
            c->metric ? c->metric : "");
}

typedef struct { FILE *out; int said; } KernelNote;

static int note_kernels(void *ctx, int ncol, const char *const *v) {
    KernelNote *k = ctx;
    if (ncol != 3) return 1;
    if (!k->said++)
        fprintf(k->out, "\nnote: rows whose runs came from more than one OpenBLAS kernel (blas_core): the same seed under "
                        "another kernel is another run, so these pair seeds across machines (docs/results.md: one machine kind "
                        "per comparison):\n");
    fprintf(k->out, "  %s vs %s: %s\n", v[0], v[1], v[2]);
    return 0;
}

int harness_compare(int argc, char **argv) {
    CompareArgs c;
    if (compare_args("compare", argc, argv, &c)) return 2;
    const char *by = c.by, *db = c.db;
    int csv = c.csv;
    static char sql[16384];
    compare_family_sql(&c, sql, sizeof sql);
    /* Holm's step-down over the family: the rows this call shows */
    put(sql, sizeof sql,
        "," RESULTS_HOLM_CTES("")
        " SELECT task, json_extract(a_key, '$.size') || ' ' || json_extract(a_key, '$.steps') AS size_steps,"
        " metric, a_label AS a, b_label AS b, n, printf('%.4f', mean_a) AS mean_a,"
        " printf('%.4f', mean_b) AS mean_b, printf('%+.4f', diff) AS diff_b_minus_a,"
        " CASE WHEN ci_low IS NULL THEN 'n<2' ELSE printf('[%+.4f, %+.4f]', ci_low, ci_high) END AS ci95,"
        " CASE WHEN min_detectable IS NULL THEN '' ELSE printf('%.4f', min_detectable) END AS min_detectable,"
        " CASE verdict WHEN 'a better' THEN a_label || ' better' WHEN 'b better' THEN b_label || ' better'"
        " ELSE verdict END AS verdict,"
        " CASE WHEN p IS NULL THEN '' ELSE printf('%.3g', p) END AS p,"
        " CASE WHEN p_holm IS NULL THEN '' ELSE printf('%.3g', p_holm) END AS p_holm,"
        /* never more than the raw verdict: an interval holding 0 stays no difference */
        " " RESULTS_VERDICT_HOLM " AS verdict_holm"
        " FROM adjusted ORDER BY task, metric, json_extract(a_key, '$.d_model'), json_extract(a_key, '$.steps'), a_label, b_label");
    if (strlen(sql) + 2 >= sizeof sql) { fprintf(stderr, "error: compare: too many filters\n"); return 2; }
    char err[1024];
    ResultsDb *rdb = results_open_read(db, err, sizeof err);
    if (!rdb) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    /* nothing to show is said as an error, not printed as an empty table */
    long counts[2] = {0, 0};
    if (results_query(rdb, sql, count_row, counts, err, sizeof err)) {
        fprintf(stderr, "error: compare: %s\n", err);
        results_close(rdb);
        return 2;
    }
    if (!counts[0]) {
        compare_none_found(&c, "compare");
        results_close(rdb);
        return 1;
    }
    printf("paired by seed: b - a over runs whose configurations differ only in %s; 95%% interval (Student t);\n"
           "min_detectable: the smallest difference these seeds would detect with 80%% power at this spread;\n"
           "p: the paired t test's; the family is the %ld row%s below with two seeds or more: p_holm and verdict_holm\n"
           "are Holm-adjusted over them (family-wise error 0.05), verdict is each row alone\n\n", by, counts[1],
           counts[1] == 1 ? "" : "s");
    int rc = results_print_query(rdb, sql, csv, err, sizeof err);
    if (rc) fprintf(stderr, "error: compare: %s\n", err);
    /* the same seed under another OpenBLAS kernel is another run (the kernels round differently
     * and training amplifies it): a row whose runs came from several is said, after the table
     * (on stderr under csv=1, so the CSV stays CSV) */
    compare_family_sql(&c, sql, sizeof sql);
    put(sql, sizeof sql,
        " SELECT a_label, b_label, group_concat(DISTINCT kernel) FROM (SELECT f.a_label, f.b_label,"
        "  coalesce(json_extract(r.config, '$.blas_core'), 'not recorded') AS kernel FROM family f"
        "  JOIN runs r ON " RESULTS_ID_IN_LIST("r.id", "f.a_runs || ',' || f.b_runs") ")"
        " GROUP BY a_label, b_label HAVING count(DISTINCT kernel) > 1");
    KernelNote note = {csv ? stderr : stdout, 0};
    if (!rc && strlen(sql) + 2 < sizeof sql && results_query(rdb, sql, note_kernels, &note, err, sizeof err)) {
        fprintf(stderr, "error: compare: %s\n", err);
        rc = 2;
    }
    results_close(rdb);
    return rc ? 2 : 0;
}
