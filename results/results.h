/* results.db: runs, metrics, activation histograms, downstream evals and checkpoints in one
 * SQLite file (WAL mode). Every write is one transaction; a crash leaves the last committed
 * state. This layer stores numbers and text; it knows no model and no task. */
#ifndef MOEH_RESULTS_H
#define MOEH_RESULTS_H
#include <stddef.h>
#include <stdint.h>

typedef struct ResultsDb ResultsDb;

typedef struct {
    const char *name, *task, *model;
    int experts, topk, heads;
    long long seed;
    const char *config;      /* resolved configuration, JSON */
    long long params;
    double flops_per_token;
    const char *host, *git_rev;
    /* what comparisons pair on: the config without the seed, the bookkeeping and the keys
     * that do not apply to this run (JSON; NULL: not comparable); and a short variant name */
    const char *comparable, *label;
} RunInfo;

typedef struct { const char *split, *name; double value; } MetricValue;

/* one cell of an expert-activation histogram: assignments of (layer, head) to expert, out of
 * total assignments of that (layer, head) */
typedef struct { int layer, head, expert; long long count, total; } ActivationCount;

/* Opens for writing (creating the schema if needed) the database at path. NULL on failure,
 * with the reason, naming the file, in err: a path that is not a regular file, an SQLite file
 * of another program (tables but no runs table) or of a newer schema is refused untouched. */
ResultsDb *results_open(const char *path, char *err, size_t errlen);
/* Read-only, for the commands that only read results (list, show, query, compare, plot):
 * nothing is written (no schema, no journal mode); a file that is not there, not a results
 * database, or of an older schema (upgraded by the next writing command) is an error. */
ResultsDb *results_open_read(const char *path, char *err, size_t errlen);
void results_close(ResultsDb *db);
/* The keys a stored configuration leaves out at their default, with the defaults, as a JSON
 * object (json outlives every later open): each writing open stores them in the file's
 * key_defaults table (a read-only open of a file older than that table keeps them in a TEMP
 * one), so the comparisons pair a run that leaves a key out with one that sets it. */
void results_set_key_defaults(const char *json);
const char *results_error(ResultsDb *db);

/* Inserts a run with status 'running'; returns its id, or -1. */
int64_t results_run_begin(ResultsDb *db, const RunInfo *info);
/* status: done, failed, interrupted or diverged; error may be NULL */
int results_run_finish(ResultsDb *db, int64_t run, const char *status, const char *error, double wall_s);
/* Several metrics of one step, in one transaction. */
int results_metrics(ResultsDb *db, int64_t run, long step, const MetricValue *values, int n);
/* A whole histogram of one step in one transaction. */
int results_activations(ResultsDb *db, int64_t run, long step, const char *split, const ActivationCount *rows, int n);
int results_eval(ResultsDb *db, int64_t run, const char *benchmark, const char *metric, double value);
int results_checkpoint(ResultsDb *db, int64_t run, long step, const char *path, const char *sha256);
/* A power plan (harness plan): the family it was made for (the grouping key, the words that
 * selected the rows, the target difference, power and the rows Holm counted) and per comparison its pilot seeds, the
 * paired sd, the seeds it needs (0: not plannable, fewer than 2 pilot seeds or too many) and the
 * core-hours of the seeds it lacks. Stored in one transaction; the plan's id, or -1. */
typedef struct { const char *by_key, *selection; double target, power; int family; } PlanHead;
typedef struct {
    const char *task, *metric, *a, *b, *size_steps; /* size_steps: the point (tiny 600): a label is one configuration per point */
    int pilot_n;
    double sd_diff;
    int seeds_needed;
    double core_hours;
} PlanRow;
int64_t results_plan_store(ResultsDb *db, const PlanHead *head, const PlanRow *rows, int n);
/* The path of run's checkpoint with the highest step into path, and the sha256 recorded for it
 * into sha256 ("" when none was, as before schema 5); 0, or -1 if it has none. */
int results_last_checkpoint(ResultsDb *db, int64_t run, char *path, size_t n, char sha256[65]);
/* The run of this db that last wrote the checkpoint file at path (the same file, however the
 * path is spelled): its id, with the step and sha256 recorded; 0 if none, -1 on error. */
int64_t results_checkpoint_owner(ResultsDb *db, const char *path, long *step, char sha256[65]);
/* 1 if run recorded a checkpoint with this sha256 (any step), 0 if not, -1 on error */
int results_checkpoint_recorded(ResultsDb *db, int64_t run, const char *sha256);
/* The process running run, for telling a live run from a dead one (pid, this host). */
int results_run_alive(ResultsDb *db, int64_t run, long pid, const char *host);
/* Continues run (not done) from a checkpoint at step: status running again, this process
 * recorded, and the rows it logged after step (metrics, activations, final evals) removed with
 * step's evaluation rows (everything of step but the training step's; all of step 0), so the
 * resumed steps and the evaluation the resumed run does again are not stored twice. One
 * transaction. 0, or -1. */
int results_run_reopen(ResultsDb *db, int64_t run, long step, long pid, const char *host);
/* The run's status (as list shows it: a running row whose process is gone is "dead"), and its
 * comparable configuration (malloc'd, may be NULL) */
int results_run_status(ResultsDb *db, int64_t run, char *status, size_t n, char **comparable);

/* The newest finished run of seed whose comparable configuration is comparable (both without
 * their init: a finetune's is left out of its own, so init counts only among keys) and whose
 * config agrees with config_json (a JSON object) on every one of keys; a run stored before the
 * comparable column, or any run when comparable is NULL, is matched on keys alone. Its id, 0 if
 * none, -1 on error. */
int64_t results_find_done_run(ResultsDb *db, long seed, const char *comparable, const char *config_json,
                              const char *const *keys, int nkeys);
/* ... seed < 0: of any seed. */
#define RESULTS_ANY_SEED (-1L)
/* A finished run's core-seconds (wall seconds times its threads): what harness plan prices a
 * seed at, R the runs table's alias */
#define RESULTS_CORE_SECONDS(R) R ".wall_s * coalesce(json_extract(" R ".config, '$.threads'), 1)"
/* How many finished runs of any seed have the comparable configuration comparable (matched as
 * results_find_done_run matches it), and their mean core-seconds into *core_s; -1 on error */
int results_timed_runs(ResultsDb *db, const char *comparable, double *core_s);

/* The seeds the newest stored power plan gives the configuration of run (its task, label and
 * point -- size and steps -- in that plan's rows): the most seeds any of those rows needs, as
 * `harness plan` prices a configuration, into *seeds (0: none of them plannable), the plan's id
 * into *plan; the run's label and point into label and point. 0, 1 when no plan has such a row,
 * -1 on error. */
int results_planned_seeds(ResultsDb *db, int64_t run, int *seeds, int64_t *plan, char *label, size_t nlabel,
                          char *point, size_t npoint);

/* The resolved config (JSON text) of a stored run; malloc'd, NULL if there is no such run. */
char *results_run_config(ResultsDb *db, int64_t run);

/* A consistent copy of the whole database at path (VACUUM INTO; path must not exist): what a
 * process elsewhere starts from. 0, or -1 with err. */
int results_snapshot(ResultsDb *db, const char *path, char *err, size_t errlen);

/* what results_merge did: runs added (ids first .. last here), runs merged before and replaced,
 * runs left out because they are still running there */
typedef struct { int merged, replaced, kept, running; long long first, last; } MergeCount;
/* Brings every run of the results database at other_path into db, each under a new id (a run
 * merged before -- the same host, start time and configuration -- replaces that copy under its
 * id when the other copy is newer: finished where this one is not, or further on; else this
 * db's copy is kept and counted in kept), with its metrics, activations, evals and checkpoint rows (checkpoint paths as they were
 * stored: they name files of the machine that wrote them). The keys id_keys of the stored
 * configurations that name another run by id (init=, pretrain_run) are remapped. One
 * transaction: on failure nothing is merged. 0, or -1 with err naming the file. */
int results_merge(ResultsDb *db, const char *other_path, const char *const *id_keys, int n_keys, MergeCount *count,
                  char *err, size_t errlen);

/* SQL: ID is one of the run ids of the comma list LIST (verdicts' a_runs, b_runs) */
#define RESULTS_ID_IN_LIST(ID, LIST) "instr(',' || " LIST " || ',', ',' || " ID " || ',') > 0"

/* Multiplicity, as SQL pieces over rows of the verdicts view (compare's families and the
 * verdicts_holm view): RESULTS_PAIRED_P is a row's two-sided paired t test p-value (student_p,
 * a function of the harness's connections); RESULTS_HOLM_CTES(PARTITION) are two CTEs after a
 * CTE `family` with that p, adding Holm's step-down p_holm within each PARTITION BY group (""
 * for one family of all rows): the i-th smallest of m p-values times m - i + 1, no smaller than
 * the ones before, at most 1; m counts the rows with a p (two seeds or more), a row without one
 * is no test and gets no p_holm; RESULTS_VERDICT_HOLM names the
 * winner only when p_holm < 0.05 and the row's own interval names it. */
#define RESULTS_PAIRED_P \
    "CASE WHEN n < 2 THEN NULL WHEN sd_diff > 0 THEN student_p(diff / (sd_diff / sqrt(n)), n - 1)" \
    " WHEN diff = 0 THEN 1.0 ELSE 0.0 END"
#define RESULTS_HOLM_CTES(PARTITION) \
    " ranked AS (SELECT *, row_number() OVER (" PARTITION " ORDER BY coalesce(p, 2), task, metric, a_label, b_label) AS i," \
    "  count(p) OVER (" PARTITION ") AS m FROM family)," \
    " adjusted AS (SELECT *, CASE WHEN p IS NULL THEN NULL ELSE min(1.0, max((m - i + 1) * p) OVER (" PARTITION \
    "  ORDER BY i ROWS UNBOUNDED PRECEDING)) END AS p_holm FROM ranked)"
#define RESULTS_VERDICT_HOLM \
    "CASE WHEN p_holm < 0.05 AND verdict = 'a better' THEN a_label || ' better'" \
    " WHEN p_holm < 0.05 AND verdict = 'b better' THEN b_label || ' better' ELSE 'no difference detected' END"

/* Runs a read-only query and calls row(ctx, ncol, values) for each row (NULL values as "");
 * row returns non-zero to stop. 0, or -1 with the SQLite message in err. */
int results_query(ResultsDb *db, const char *sql, int (*row)(void *ctx, int ncol, const char *const *values),
                  void *ctx, char *err, size_t errlen);

/* harness export: the tables runs, configs (one row per run and key), metrics and evals as
 * OUT/NAME.csv and OUT/NAME.jsonl, and each run's metrics as a TensorBoard event file in
 * OUT/tensorboard/run-ID-LABEL/; each file written whole or not at all. 0, or -1 with err
 * naming the file or table. */
enum { EXPORT_TABLES_CSV_JSONL = 1, EXPORT_TENSORBOARD = 2 };
typedef struct { long tables, rows, runs, events; } ExportCount;
int results_export(ResultsDb *db, const char *out, unsigned formats, ExportCount *count, char *err, size_t errlen);
/* CRC-32C (Castagnoli), as TFRecord frames its records with */
uint32_t results_crc32c(const void *data, size_t n);

/* Runs a read-only query and prints the rows: aligned columns, or CSV when csv != 0.
 * 0 on success; otherwise -1 with the SQLite message in err. */
int results_print_query(ResultsDb *db, const char *sql, int csv, char *err, size_t errlen);

#endif
