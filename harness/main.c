/* harness: the command line. Each command is a small function; `run` lives in run.c. */
#include "blas_core.h"
#include "compare.h"
#include "plan.h"
#include "config.h"
#include "run.h"
#include "run_identity.h"
#include "data/prepare.h"
#include "tasks/task.h"
#include "plots/plot.h"
#include "parallel.h"
#include "sweep.h"
#include "report.h"
#include "sweep_ranks.h"
#include "results/results.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: harness COMMAND [key=value ...]\n\n"
            "  run key=value ...          train and evaluate one configuration\n"
            "  list [db=results.db]       runs, one line each\n"
            "  merge OTHER.db ... [db=results.db]  bring runs made elsewhere into db (ids remapped)\n"
            "  show RUN [db=...]          a run's config and final metrics\n"
            "  query 'SQL' [csv=1] [db=]  read-only query of results.db\n"
            "  compare by=KEY [a=V b=W] [metric=valid/bpb] [KEY=VALUE ...] [db=] [csv=1]\n"
            "                             paired-by-seed verdicts between runs that differ only in KEY:\n"
            "                             means, b - a with its 95%% interval, the detectable difference\n"
            "  plan by=KEY target=DELTA [power=0.8] [sd_bound=P] [compare's words]\n"
            "                             seeds each of those comparisons needs to detect DELTA after\n"
            "                             Holm's correction, their cost in core-hours; stored in db\n"
            "  data prepare english|multilingual|scenes|emoji [data_dir=data] [source=DIR]\n"
            "                             build a default data set from installed packages\n"
            "  bench [size=small] [experts=8,32] [steps=10] [model=LIST] [parity=LIST] [key=value ...]\n"
            "                             training and evaluation throughput of every variant (or\n"
            "                             those model= and parity= keep), each key=value given to all\n"
            "  sweep key=a,b ... [force=1] [jobs=N] [logs=sweep_logs] [seeds=plan] [dry=1]\n"
            "                             the cartesian product of the lists, one run each, N at once\n"
            "                             (under mpirun -np P: handed to processes 1 .. P-1); seeds=plan:\n"
            "                             each configuration's seeds 1..N from the newest stored plan\n"
            "                             (harness plan), all configurations' seed 1 first, then 2, ...;\n"
            "                             dry=1: what it would run, timed by finished seeds, run nothing\n"
            "  plot [fig=all|%s] [db=results.db] [out=figures]\n"
            "                             the paper's figures from results.db, through gnuplot\n"
            "  report [db=results.db] [out=report]\n"
            "                             one self-contained HTML page: verdicts, figures (inline SVG), runs\n"
            "  export [db=results.db] [out=export] [format=csv,jsonl,tensorboard]\n"
            "                             runs, configs, metrics, evals as CSV and JSONL; metrics as\n"
            "                             TensorBoard event files, one folder per run\n"
            "  help [run|plot]            this text; every run key (by task) with its default; every figure\n"
            "\nnamed grids (a sweep of the paper's questions at this machine's scale; a word whose key\n"
            "a row sets narrows the grid to its values: sweep compute size=small steps=1400; a watch\n"
            "key replaces the rows' value: sweep compute eval_every=60):\n",
            plot_figure_names());
    sweep_print_named(f);
}

/* db=, csv=, data_dir=, source= for the commands other than run */
typedef struct { const char *db, *data_dir, *source; int csv; } MiscArgs;

/* 1 if the word is KEY=... for one of the space-separated "KEY=" words of allowed */
static int word_allowed(const char *word, const char *allowed) {
    size_t klen = strcspn(word, "=");
    if (!word[klen] || !klen) return 0;
    for (const char *p = allowed; *p; p += strspn(p, " ")) {
        size_t n = strcspn(p, " ");
        if (n == klen + 1 && !strncmp(p, word, klen + 1)) return 1;
        p += n;
    }
    return 0;
}

static int parse_misc(int argc, char **argv, MiscArgs *a, const char *allowed) {
    *a = (MiscArgs){"results.db", "data", NULL, 0};
    for (int i = 0; i < argc; i++) {
        if (!word_allowed(argv[i], allowed)) {
            fprintf(stderr, "error: '%s': expected one of %s\n", argv[i], allowed);
            return -1;
        }
        char *eq = strchr(argv[i], '=');
        if (!strncmp(argv[i], "db=", 3)) a->db = eq + 1;
        else if (!strncmp(argv[i], "csv=", 4)) {
            if (strcmp(eq + 1, "0") && strcmp(eq + 1, "1")) {
                fprintf(stderr, "error: '%s': expected csv=1 (comma-separated) or csv=0 (columns)\n", argv[i]);
                return -1;
            }
            a->csv = eq[1] == '1';
        }
        else if (!strncmp(argv[i], "data_dir=", 9)) a->data_dir = eq + 1;
        else if (!strncmp(argv[i], "source=", 7)) a->source = eq + 1;
    }
    return 0;
}

static int with_db_query(const MiscArgs *a, const char *sql) {
    char err[1024];
    ResultsDb *db = results_open_read(a->db, err, sizeof err);
    if (!db) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    int rc = results_print_query(db, sql, a->csv, err, sizeof err);
    if (rc) fprintf(stderr, "error: query: %s\n", err);
    results_close(db);
    return rc ? 2 : 0;
}

/* the run keys of a command line, each given once; NULL after saying what is wrong */
static Config *config_from_words(int argc, char **argv) {
    char err[1024];
    if (config_duplicate_word(argc, (const char *const *)argv, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); return NULL; }
    Config *cfg = config_new();
    for (int i = 0; i < argc; i++)
        if (config_set(cfg, argv[i], err, sizeof err)) {
            fprintf(stderr, "error: %s\n", err);
            config_free(cfg);
            return NULL;
        }
    return cfg;
}

static int cmd_run(int argc, char **argv) {
    Config *cfg = config_from_words(argc, argv);
    if (!cfg) return 2;
    int rc = harness_run(cfg);
    config_free(cfg);
    return rc;
}

/* harness merge OTHER.db ... [db=results.db]: runs made elsewhere, into this db */
static int cmd_merge(int argc, char **argv) {
    const char *dbpath = "results.db";
    int files = 0;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "db=", 3)) dbpath = argv[i] + 3;
        else if (strchr(argv[i], '=')) { fprintf(stderr, "error: '%s': expected a results database file or db=\n", argv[i]); return 2; }
        else files++;
    }
    if (!files) { fprintf(stderr, "error: merge needs the results database(s) to bring in: harness merge OTHER.db [db=results.db]\n"); return 2; }
    char err[4400];
    ResultsDb *db = results_open(dbpath, err, sizeof err);
    if (!db) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    int failed = 0;
    const char *ids[16];
    int nids = run_id_keys(ids, 16);
    for (int i = 0; i < argc; i++) {
        if (strchr(argv[i], '=')) continue;
        MergeCount c;
        if (results_merge(db, argv[i], ids, nids, &c, err, sizeof err)) {
            fprintf(stderr, "error: merge %s\n", err);
            failed = 1;
            continue;
        }
        printf("merge %s into %s: %d runs added", argv[i], dbpath, c.merged);
        if (c.merged) printf(" (ids %lld-%lld here)", c.first, c.last);
        if (c.replaced) printf(", %d merged before and replaced by their newer copy", c.replaced);
        if (c.kept) printf(", %d older than the copy here (by status, then last step) and left out", c.kept);
        if (c.running) printf(", %d still running there and left out", c.running);
        printf("\n");
    }
    results_close(db);
    return failed ? 2 : 0;
}

static int cmd_list(int argc, char **argv) {
    MiscArgs a;
    if (parse_misc(argc, argv, &a, "db= csv=")) return 2;
    return with_db_query(&a,
        "SELECT r.id, r.name, r.task, r.model, r.experts, r.seed,"
        " run_state(r.status, r.host, r.pid, r.heartbeat) AS status, r.params,"
        " round(r.wall_s, 1) AS wall_s,"
        " (SELECT round(value, 4) FROM final_metrics f WHERE f.run_id = r.id AND f.split = 'valid' AND f.metric = 'bpb') AS valid_bpb,"
        " r.started_at FROM runs r ORDER BY r.id");
}

static int cmd_show(int argc, char **argv) {
    if (argc < 1 || !*argv[0] || argv[0][strspn(argv[0], "0123456789")] || atoll(argv[0]) <= 0) {
        fprintf(stderr, "error: show%s%s: expected a run id, a whole number (harness list shows them)\n",
                argc ? " " : "", argc ? argv[0] : "");
        return 2;
    }
    MiscArgs a;
    if (parse_misc(argc - 1, argv + 1, &a, "db= csv=")) return 2;
    long long id = atoll(argv[0]);
    char sql[1024], err[1024];
    ResultsDb *db = results_open_read(a.db, err, sizeof err);
    if (!db) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    char *config = results_run_config(db, id);
    results_close(db);
    if (!config) { fprintf(stderr, "error: db=%s holds no run %lld (harness list shows the runs)\n", a.db, id); return 2; }
    free(config);
    snprintf(sql, sizeof sql, "SELECT id, name, task, model,"
             " run_state(status, host, pid, heartbeat) AS status, error, params,"
             " flops_per_token, wall_s, host, pid, heartbeat, config"
             " FROM runs WHERE id = %lld", id);
    int rc = with_db_query(&a, sql);
    if (rc) return rc;
    printf("\n");
    snprintf(sql, sizeof sql, "SELECT split, metric, value, step FROM final_metrics WHERE run_id = %lld"
             " ORDER BY split, metric", id);
    if ((rc = with_db_query(&a, sql))) return rc;
    printf("\n");
    snprintf(sql, sizeof sql, "SELECT benchmark, metric, value FROM evals WHERE run_id = %lld ORDER BY benchmark, metric", id);
    if ((rc = with_db_query(&a, sql))) return rc;
    printf("\n");
    snprintf(sql, sizeof sql, "SELECT split, layer, round(share, 4) AS max_share, expert AS busiest_expert,"
             " (SELECT round(ratio, 3) FROM activation_ratio ar WHERE ar.run_id = s.run_id AND ar.split = s.split"
             "  AND ar.step = s.step) AS activation_ratio FROM activation_share s WHERE run_id = %lld"
             " AND split IN ('valid', 'test') AND step = (SELECT max(step) FROM activations WHERE run_id = %lld)"
             " AND share = (SELECT max(share) FROM activation_share s2 WHERE s2.run_id = s.run_id AND s2.split = s.split"
             "  AND s2.step = s.step AND s2.layer = s.layer) ORDER BY split, layer", id, id);
    return with_db_query(&a, sql);
}

static int cmd_query(int argc, char **argv) {
    if (argc < 1) { fprintf(stderr, "error: query needs an SQL statement\n"); return 2; }
    MiscArgs a;
    if (parse_misc(argc - 1, argv + 1, &a, "db= csv=")) return 2;
    return with_db_query(&a, argv[0]);
}

/* harness export [db=] [out=export] [format=csv,jsonl,tensorboard]: csv and jsonl go together
 * (one pass writes both) */
static int cmd_export(int argc, char **argv) {
    static const char *const names[] = {"db", "out", "format"};
    const char *v[] = {"results.db", "export", "csv,jsonl,tensorboard"};
    if (key_take_words(argc, argv, names, v, 3)) return 2;
    const char *db = v[0], *out = v[1], *format = v[2];
    unsigned formats = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", format);
    for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, "csv") || !strcmp(w, "jsonl")) formats |= EXPORT_TABLES_CSV_JSONL;
        else if (!strcmp(w, "tensorboard")) formats |= EXPORT_TENSORBOARD;
        else { fprintf(stderr, "error: format=%s: '%s' is not one of csv, jsonl, tensorboard\n", format, w); return 2; }
    }
    if (!formats) { fprintf(stderr, "error: format=%s: expected csv, jsonl, tensorboard or a list of them\n", format); return 2; }
    char err[1024];
    ResultsDb *rdb = results_open_read(db, err, sizeof err);
    if (!rdb) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    ExportCount n;
    int rc = results_export(rdb, out, formats, &n, err, sizeof err);
    results_close(rdb);
    if (rc) { fprintf(stderr, "error: export to %s: %s\n", out, err); return 1; }
    if (formats & EXPORT_TABLES_CSV_JSONL) printf("export: %ld tables, %ld rows, as CSV and JSONL in %s/\n", n.tables, n.rows, out);
    if (formats & EXPORT_TENSORBOARD) printf("export: %ld runs, %ld scalars, as TensorBoard event files in %s/tensorboard/\n", n.runs, n.events, out);
    return 0;
}

/* harness data check: prints what describe reports, counting the problems it finds */
typedef struct { int problems; } CheckCounts;

static void check_put(MetricSink *s, const char *split, const char *name, double value) {
    CheckCounts *c = s->ctx;
    int problem = value > 0 && (!strcmp(name, "missing_images") || !strcmp(name, "unknown_answers"));
    c->problems += problem && !strcmp(name, "missing_images");
    printf("%-6s %-22s %.6g%s\n", split, name, value, problem ? "  <-" : "");
}
static void check_eval(MetricSink *s, const char *benchmark, const char *metric, double value) {}
static void check_section(MetricSink *s, const char *label) {}

static int cmd_data_check(int argc, char **argv) {
    char err[1024];
    Config *cfg = config_from_words(argc, argv);
    if (!cfg) return 2;
    config_resolve(cfg);
    TaskOptions opt = run_task_options(cfg);
    opt.check = 1;
    Task *t = task_open(config_str(cfg, "task"), &opt, err, sizeof err);
    if (!t) { fprintf(stderr, "error: %s\n", err); config_free(cfg); return 2; }
    CheckCounts counts = {0};
    MetricSink sink = {check_put, check_eval, check_section, &counts};
    printf("task=%s data=%s\n", config_str(cfg, "task"), *config_str(cfg, "data") ? config_str(cfg, "data") : "(default)");
    if (t->describe) t->describe(t, &sink);
    t->close(t);
    config_free(cfg);
    if (counts.problems) { fprintf(stderr, "error: images are missing or unreadable (named above)\n"); return 1; }
    return 0;
}

/* the visual tokens of masked multimodal modelling at the default image_size, patch and
 * codebook keys, built now by opening the task once (other settings build theirs on first use;
 * here, not in data/, which tasks call and which so calls no task) */
static int default_codebook(const char *data_dir, const char *set, char *err, size_t errlen) {
    Config *cfg = config_new(); /* every key at its default, but where the data are */
    char word[4200];
    snprintf(word, sizeof word, "data=%s", set);
    int rc = config_set(cfg, word, err, errlen);
    snprintf(word, sizeof word, "data_dir=%s", data_dir);
    if (!rc) rc = config_set(cfg, word, err, errlen);
    if (!rc) {
        config_resolve(cfg);
        TaskOptions o = run_task_options(cfg);
        Task *t = task_open("mmm", &o, err, errlen);
        if (!t) rc = -1;
        else {
            t->close(t);
            long k = task_option_int(&o, "codebook");
            printf("data prepare %s: visual-token codebook (k-means, %ld centres of %dx%d patches at %dx%d) -> "
                   "%s/%s/codebook-s%d-p%d-k%ld.bin\n", set, k, o.patch, o.patch, o.image_size, o.image_size, data_dir,
                   set, o.image_size, o.patch, k);
        }
    }
    config_free(cfg);
    return rc;
}

static int cmd_data(int argc, char **argv) {
    if (argc >= 1 && !strcmp(argv[0], "check")) return cmd_data_check(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[0], "prepare")) {
        fprintf(stderr, "error: usage: harness data prepare NAME [data_dir=data] [source=DIR]\n"
                        "       harness data check task=T data=PATH [image_size= patch= answers=]\n");
        return 2;
    }
    MiscArgs a;
    if (parse_misc(argc - 2, argv + 2, &a, "data_dir= source=")) return 2;
    char err[1024];
    int images = !strcmp(argv[1], "scenes") || !strcmp(argv[1], "emoji");
    if (data_prepare(argv[1], a.data_dir, a.source, err, sizeof err) ||
        (images && default_codebook(a.data_dir, argv[1], err, sizeof err))) {
        fprintf(stderr, "error: %s\n", err);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    /* past a file-size limit (ulimit -f) a write fails with EFBIG and is reported like any
     * failed write, instead of the process dying of SIGXFSZ with a half-written .tmp */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    results_set_key_defaults(config_omitted_defaults_json()); /* kept for the process's life */
    if (!strcmp(cmd, "blas-check")) return argc == 3 ? blas_core_check_command(argv[2]) : 2;
    /* the commands that compute: before any BLAS call, make sure a generic kernel is not running */
    if (!strcmp(cmd, "run") || !strcmp(cmd, "sweep") || !strcmp(cmd, "bench") || !strcmp(cmd, "data"))
        blas_core_startup(argv, argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) {
        /* after blas_core_startup, which may start the program again with another kernel */
        parallel_init(&argc, &argv);
        int rc = cmd_run(argc - 2, argv + 2);
        parallel_finalize();
        return rc;
    }
    if (!strcmp(cmd, "list")) return cmd_list(argc - 2, argv + 2);
    if (!strcmp(cmd, "merge")) return cmd_merge(argc - 2, argv + 2);
    if (!strcmp(cmd, "show")) return cmd_show(argc - 2, argv + 2);
    if (!strcmp(cmd, "query")) return cmd_query(argc - 2, argv + 2);
    if (!strcmp(cmd, "compare")) return harness_compare(argc - 2, argv + 2);
    if (!strcmp(cmd, "plan")) return harness_plan(argc - 2, argv + 2);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(cmd, "report")) return harness_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "data")) return cmd_data(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return harness_bench(argc - 2, argv + 2);
    if (!strcmp(cmd, "plot")) return harness_plot(argc - 2, argv + 2);
    if (!strcmp(cmd, "sweep")) {
        parallel_init(&argc, &argv); /* under mpirun: process 0 hands the runs to the others */
        int rc = harness_sweep(argc - 2, argv + 2);
        sweep_ranks_release();
        parallel_finalize();
        return rc;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2 && !strcmp(argv[2], "run")) config_print_help(stdout);
        else if (argc > 2 && !strcmp(argv[2], "plot")) plot_print_help(stdout);
        else usage(stdout);
        return 0;
    }
    fprintf(stderr, "error: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
