#ifndef MOEH_COMPARE_H
#define MOEH_COMPARE_H
#include <stddef.h>
/* `harness compare by=KEY ...`: the verdicts view as a table; exit code */
int harness_compare(int argc, char **argv);

/* What compare (and plan) select the verdicts' rows by: by=, a=, b=, metric=, db=, csv= and
 * KEY=VALUE filters on the configurations */
#define COMPARE_MAX_FILTERS 32

/* SQL over a verdicts row: a side's label, and the compared key's value where the two labels
 * are the same (runs made before their label named that key) */
#define COMPARE_SHOWN_LABEL(label, value) \
    "CASE WHEN a_label IS b_label THEN " label " || ' ' || by_key || '=' || " value " ELSE " label " END"
/* the metrics a comparison shows unless metric= names one: per-language rows and the loss
 * beside ppl and bpb left out */
#define COMPARE_DEFAULT_METRICS "metric NOT LIKE '%/%/%' AND metric NOT LIKE '%/loss'"
typedef struct {
    const char *by, *a, *b, *metric, *db;
    int csv, nf;
    const char *filter_key[COMPARE_MAX_FILTERS], *filter_val[COMPARE_MAX_FILTERS];
    char keybuf[COMPARE_MAX_FILTERS][64];
} CompareArgs;
/* 0, or 2 after saying (as cmd) what is wrong */
int compare_args(const char *cmd, int argc, char **argv, CompareArgs *c);
/* "WITH both_ways AS (...), family AS (...)": the rows c selects, oriented as a= and b= say,
 * with the verdicts view's columns (a_runs and b_runs too) and p, the paired t test's */
void compare_family_sql(const CompareArgs *c, char *sql, size_t size);
/* the error for a selection that matched no rows */
void compare_none_found(const CompareArgs *c, const char *cmd);
#endif
