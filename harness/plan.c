/* `harness plan by=KEY target=DELTA [power=0.8] [a=V b=W] [metric=M] [KEY=VALUE ...] [db=]`:
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
    char text[PLAN_MAX_ROWS][4][128]; /* task, metric, a, b */
    double core_s[PLAN_MAX_ROWS];     /* the pilot runs' mean wall seconds times threads */
    int n, overflow;
} PlanRows;

/* columns: task, metric, a_label, b_label, n, sd_diff, core seconds per run */
static int take_row(void *ctx, int ncol, const char *const *v) {
    PlanRows *p = ctx;
    if (ncol != 7) return 1;
    if (p->n == PLAN_MAX_ROWS) { p->overflow = 1; return 0; }
    PlanRow *r = &p->row[p->n];
    for (int i = 0; i < 4; i++) snprintf(p->text[p->n][i], sizeof p->text[0][0], "%s", v[i] ? v[i] : "");
    *r = (PlanRow){p->text[p->n][0], p->text[p->n][1], p->text[p->n][2], p->text[p->n][3], atoi(v[4] ? v[4] : "0"),
                   v[5] ? atof(v[5]) : NAN, 0, 0};
    p->core_s[p->n++] = v[6] ? atof(v[6]) : 0;
    return 0;
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
    double target = NAN, power = 0.8;
    char **rest = calloc((size_t)argc + 1, sizeof *rest), selection[2048] = "";
    int nrest = 0, rc = 2;
    if (!rest) return 2;
    for (int i = 0; i < argc; i++) {
        int t = number_word(argv[i], "target", 0, 1e300, &target), w = t ? 0 : number_word(argv[i], "power", 0.5, 1, &power);
        if (t < 0 || w < 0) goto out;
        if (t || w) continue;
        rest[nrest++] = argv[i];
        if (strncmp(argv[i], "db=", 3)) snprintf(selection + strlen(selection), sizeof selection - strlen(selection), "%s%s", *selection ? " " : "", argv[i]);
    }
    if (isnan(target)) { fprintf(stderr, "error: plan: target=DELTA is required: the difference to detect (e.g. target=0.01 for bpb)\n"); goto out; }
    CompareArgs c;
    if (compare_args("plan", nrest, rest, &c)) goto out;
    static char sql[20000];
    compare_family_sql(&c, sql, sizeof sql);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
             " SELECT f.task, f.metric, f.a_label, f.b_label, f.n, f.sd_diff,"
             "  (SELECT avg(r.wall_s * coalesce(json_extract(r.config, '$.threads'), 1)) FROM runs r"
             "   WHERE ',' || f.a_runs || ',' || f.b_runs || ',' LIKE '%%,' || r.id || ',%%')"
             " FROM family f ORDER BY f.task, f.metric, f.a_label, f.b_label");
    char err[1024];
    ResultsDb *db = results_open(c.db, err, sizeof err);
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
        int m = p.n, most = 0;
        double alpha = 0.05 / m, hours = 0;
        printf("power plan: detect |b - a| = %g with power %g at level 0.05 / %d = %.3g per row (Holm over the %d row%s);\n"
               "sd: the pilot seeds' paired sd; cost: the missing seeds of both configurations, from the pilot runs' times\n\n",
               target, power, m, alpha, m, m == 1 ? "" : "s");
        printf("%-12s %-14s %-24s %-24s %6s %8s %6s %6s %10s\n", "task", "metric", "a", "b", "pilot", "sd", "seeds", "more", "core_h");
        for (int i = 0; i < m; i++) {
            PlanRow *r = &p.row[i];
            int need = r->pilot_n >= 2 ? seeds_for(r->sd_diff, target, alpha, power, PLAN_MOST_SEEDS) : -1;
            r->seeds_needed = need > 0 ? need : 0;
            int more = need > r->pilot_n ? need - r->pilot_n : 0;
            r->core_hours = more * 2 * p.core_s[i] / 3600;
            hours += r->core_hours;
            if (need > most) most = need;
            char seeds[16], sd[16];
            snprintf(seeds, sizeof seeds, "%d", need);
            snprintf(sd, sizeof sd, "%.4f", r->sd_diff);
            printf("%-12s %-14s %-24s %-24s %6d %8s %6s %6d %10.2f\n", r->task, r->metric, r->a, r->b, r->pilot_n,
                   r->pilot_n >= 2 ? sd : "n<2", need > 0 ? seeds : r->pilot_n < 2 ? "?" : ">1000", more, r->core_hours);
        }
        int64_t id = results_plan_store(db, &(PlanHead){c.by, selection, target, power}, p.row, m);
        if (id < 0) {
            fprintf(stderr, "error: db=%s: cannot store the plan: %s\n", c.db, results_error(db));
        } else {
            printf("\n%.2f core-hours for the missing seeds; stored as plan %lld (tables plans, plan_rows).\n", hours, (long long)id);
            if (most > 0)
                printf("Run them with the grid of the pilot and seed=1,...,%d: a sweep skips the runs db=%s holds.\n", most, c.db);
            rc = 0;
        }
    }
    results_close(db);
out:
    free(rest);
    return rc;
}
