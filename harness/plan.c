/* `harness plan by=KEY target=DELTA [power=0.8] [sd_bound=P] [a=V b=W] [metric=M] [KEY=VALUE ...] [db=]`:
 * the power plan for the family of comparisons `harness compare` would show with the same words.
 * From each row's pilot seeds (their paired sd) it finds the seeds that detect a difference of
 * target with the given power at level 0.05 / m, m the family's rows (Holm's first step, so
 * every row keeps its power under the family's correction), prices the missing seeds in
 * core-hours from the pilot runs' own times, and stores the plan in results.db (plans,
 * plan_rows). A sweep over the same grid with seed=1,...,N then runs only what is missing. */
#include "plan.h"
#include "compare.h"
#include "results/results.h"
#include "results/stats.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_MAX_ROWS 1024
#define PLAN_MOST_SEEDS 1000

typedef struct {
    PlanRow row[PLAN_MAX_ROWS];
    char text[PLAN_MAX_ROWS][5][128]; /* task, metric, a, b, size_steps */
    double core_s[PLAN_MAX_ROWS][2];  /* a's and b's pilot runs: mean wall seconds times threads */
    int n, overflow;
} PlanRows;

/* columns: task, metric, a_label, b_label, size_steps, n, sd_diff, core seconds per run of a, of b */
static int take_row(void *ctx, int ncol, const char *const *v) {
    PlanRows *p = ctx;
    if (ncol != 9) return 1;
    if (p->n == PLAN_MAX_ROWS) { p->overflow = 1; return 0; }
    PlanRow *r = &p->row[p->n];
    for (int i = 0; i < 5; i++) snprintf(p->text[p->n][i], sizeof p->text[0][0], "%s", v[i]);
    *r = (PlanRow){p->text[p->n][0], p->text[p->n][1], p->text[p->n][2], p->text[p->n][3], p->text[p->n][4], atoi(v[5]),
                   *v[6] ? atof(v[6]) : NAN, 0, 0};
    p->core_s[p->n][0] = atof(v[7]);
    p->core_s[p->n][1] = atof(v[8]);
    p->n++;
    return 0;
}

/* A configuration (task, label and point: size and steps) in several rows runs once for the most
 * seeds any of them needs: the plan's total and its sweep per configuration. */
typedef struct { const char *task, *label, *size_steps; int pilot, seeds; double core_s; } PlanConfig;

static int plan_configs(const PlanRows *p, PlanConfig *out) {
    int n = 0;
    for (int i = 0; i < p->n; i++)
        for (int side = 0; side < 2; side++) {
            const PlanRow *r = &p->row[i];
            const char *label = side ? r->b : r->a;
            int k = 0;
            while (k < n && (strcmp(out[k].task, r->task) || strcmp(out[k].label, label) || strcmp(out[k].size_steps, r->size_steps)))
                k++;
            if (k == n) out[n++] = (PlanConfig){r->task, label, r->size_steps, 0, 0, p->core_s[i][side]};
            /* its seeds held: the most of its rows pair (a row pairs only the seeds both sides have) */
            if (r->pilot_n > out[k].pilot) out[k].pilot = r->pilot_n;
            if (r->seeds_needed > out[k].seeds) out[k].seeds = r->seeds_needed;
        }
    return n;
}

static int number_word(const char *word, const char *key, double lo, double hi, double *out) {
    size_t k = strlen(key);
    if (strncmp(word, key, k) || word[k] != '=') return 0;
    char *end;
    *out = strtod(word + k + 1, &end);
    if (end == word + k + 1 || *end || !(*out > lo && *out < hi)) {
        fprintf(stderr, "error: plan: %s: expected a number above %g and below %g\n", word, lo, hi);
        return -1;
    }
    return 1;
}

int harness_plan(int argc, char **argv) {
    double target = NAN, power = 0.8, sd_bound = 0; /* 0: the pilot's sd as it is */
    char **rest = calloc((size_t)argc + 1, sizeof *rest), selection[2048] = "";
    int nrest = 0, rc = 2;
    if (!rest) return 2;
    for (int i = 0; i < argc; i++) {
        int t = number_word(argv[i], "target", 0, 1e300, &target), w = t ? 0 : number_word(argv[i], "power", 0.5, 1, &power);
        int b = t || w ? 0 : number_word(argv[i], "sd_bound", 0, 1, &sd_bound);
        if (t < 0 || w < 0 || b < 0) goto out;
        if (b) { /* recorded with the plan's words: it changes every row's seeds */
            snprintf(selection + strlen(selection), sizeof selection - strlen(selection), "%s%s", *selection ? " " : "", argv[i]);
            continue;
        }
        if (t || w) continue;
        rest[nrest++] = argv[i];
        if (strncmp(argv[i], "db=", 3)) snprintf(selection + strlen(selection), sizeof selection - strlen(selection), "%s%s", *selection ? " " : "", argv[i]);
    }
    if (isnan(target)) { fprintf(stderr, "error: plan: target=DELTA is required: the difference to detect (e.g. target=0.01 for bpb)\n"); goto out; }
    CompareArgs c;
    if (compare_args("plan", nrest, rest, &c)) goto out;
    static char sql[20000];
    compare_family_sql(&c, sql, sizeof sql);
/* the mean core-seconds of a run among the ids in column RUNS (a comma list) */
#define CORE_SECONDS(RUNS) \
    "(SELECT avg(" RESULTS_CORE_SECONDS("r") ") FROM runs r" \
    " WHERE " RESULTS_ID_IN_LIST("r.id", RUNS) ")"
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
             " SELECT f.task, f.metric, f.a_label, f.b_label, coalesce(json_extract(f.a_key, '$.size') || ' ' ||"
             " json_extract(f.a_key, '$.steps'), ''), f.n, f.sd_diff, " CORE_SECONDS("f.a_runs") ", " CORE_SECONDS("f.b_runs")
             " FROM family f ORDER BY f.task, json_extract(f.a_key, '$.size') DESC, json_extract(f.a_key, '$.steps'), f.metric,"
             " f.a_label, f.b_label");
    if (strlen(sql) + 2 >= sizeof sql) { fprintf(stderr, "error: plan: too many filters\n"); goto out; }
    char err[1024];
    /* read as compare reads; written to only to store a plan (a mistyped db= creates nothing) */
    ResultsDb *db = results_open_read(c.db, err, sizeof err);
    if (!db) { fprintf(stderr, "error: db=%s\n", err); goto out; }
    static PlanRows p;
    memset(&p, 0, sizeof p);
    if (results_query(db, sql, take_row, &p, err, sizeof err)) {
        fprintf(stderr, "error: plan: %s\n", err);
    } else if (p.overflow) {
        fprintf(stderr, "error: plan: the family has more than %d rows: narrow it (metric=, task=, a= b=)\n", PLAN_MAX_ROWS);
    } else if (!p.n) {
        compare_none_found(&c, "plan");
        rc = 1;
    } else {
        int m = 0;
        for (int i = 0; i < p.n; i++) m += p.row[i].pilot_n >= 2; /* the rows Holm counts */
        double alpha = 0.05 / (m ? m : 1), hours = 0;
        printf("power plan: detect |b - a| = %g with power %g at level 0.05 / %d = %.3g per row (Holm over the %d row%s\n"
               "with two pilot seeds or more); sd: the pilot seeds' paired sd%s; core_h: the row's missing seeds of\n"
               "both configurations, from the pilot runs' own times\n\n", target, power, m, alpha, m, m == 1 ? "" : "s",
               sd_bound > 0 ? ", at its one-sided upper confidence bound (sd_bound=)" : "");
        printf("%-12s %-11s %-14s %-24s %-24s %6s %8s %6s %6s %10s\n", "task", "size_steps", "metric", "a", "b", "pilot", "sd",
               "seeds", "more", "core_h");
        for (int i = 0; i < p.n; i++) {
            PlanRow *r = &p.row[i];
            double sd = sd_bound > 0 && r->pilot_n >= 2 ? sd_upper_bound(r->sd_diff, r->pilot_n, sd_bound) : r->sd_diff;
            int need = r->pilot_n >= 2 ? seeds_for(sd, target, alpha, power, PLAN_MOST_SEEDS) : -1;
            r->seeds_needed = need > 0 ? need : 0;
            int more = need > r->pilot_n ? need - r->pilot_n : 0;
            r->core_hours = more * (p.core_s[i][0] + p.core_s[i][1]) / 3600;
            char seeds[16];
            snprintf(seeds, sizeof seeds, "%d", need);
            char sd_text[16];
            snprintf(sd_text, sizeof sd_text, "%.4f", sd);
            printf("%-12s %-11s %-14s %-24s %-24s %6d %8s %6s %6d %10.2f\n", r->task, r->size_steps, r->metric, r->a, r->b, r->pilot_n,
                   r->pilot_n >= 2 ? sd_text : "n<2", need > 0 ? seeds : r->pilot_n < 2 ? "?" : ">1000", more, r->core_hours);
        }
        static PlanConfig cfg[2 * PLAN_MAX_ROWS];
        int nc = plan_configs(&p, cfg);
        printf("\nper configuration, the most seeds a row of it needs (a sweep with seed=1,...,N over the pilot's\n"
               "grid runs only what db=%s lacks):\n", c.db);
        for (int k = 0; k < nc; k++) {
            int more = cfg[k].seeds > cfg[k].pilot ? cfg[k].seeds - cfg[k].pilot : 0;
            hours += more * cfg[k].core_s / 3600;
            printf("  %-12s %-11s %-24s seeds 1-%d: %d more, %.2f core-hours\n", cfg[k].task, cfg[k].size_steps, cfg[k].label,
                   cfg[k].seeds, more,
                   more * cfg[k].core_s / 3600);
        }
        results_close(db);
        int64_t id = -1;
        if ((db = results_open(c.db, err, sizeof err)))
            id = results_plan_store(db, &(PlanHead){c.by, selection, target, power, m}, p.row, p.n);
        if (id < 0) {
            fprintf(stderr, "error: db=%s: cannot store the plan: %s\n", c.db, db ? results_error(db) : err);
        } else {
            printf("\n%.2f core-hours in all; stored as plan %lld (tables plans, plan_rows).\n", hours, (long long)id);
            rc = 0;
        }
    }
    results_close(db);
out:
    free(rest);
    return rc;
}
