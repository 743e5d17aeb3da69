#include "plot.h"
#include "results/results.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    ResultsDb *db;
    const char *dbpath, *out;
    char err[8192];
} Plot;

/* ---- query helpers: rows gathered into a small table of strings ---- */
#define MAX_ROWS 20000
#define MAX_COLS 8
typedef struct { int n, ncol; char *v[MAX_ROWS][MAX_COLS]; } Rows;

static int collect(void *ctx, int ncol, const char *const *vals) {
    Rows *r = ctx;
    if (r->n >= MAX_ROWS) return 1;
    r->ncol = ncol < MAX_COLS ? ncol : MAX_COLS;
    for (int c = 0; c < r->ncol; c++) r->v[r->n][c] = strdup(vals[c]);
    r->n++;
    return 0;
}

static Rows *query(Plot *p, const char *sql) {
    Rows *r = calloc(1, sizeof *r);
    if (results_query(p->db, sql, collect, r, p->err, sizeof p->err)) { free(r); return NULL; }
    return r;
}

static void rows_free(Rows *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++)
        for (int c = 0; c < r->ncol; c++) free(r->v[i][c]);
    free(r);
}

static FILE *open_out(Plot *p, const char *name, const char *ext) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s", p->out, name, ext);
    FILE *f = fopen(path, "w");
    if (!f) snprintf(p->err, sizeof p->err, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

/* the script is written once per terminal: PNG then SVG */
static int run_gnuplot(Plot *p, const char *name, const char *body) {
    FILE *f = open_out(p, name, "gp");
    if (!f) return -1;
    fprintf(f, "# %s: regenerate with  gnuplot %s.gp  (run in this folder)\n", name, name);
    fprintf(f, "set datafile separator '\\t'\n");
    fprintf(f, "set terminal pngcairo size 1200,500 font ',10'\nset output '%s.png'\n%s\n", name, body);
    fprintf(f, "set terminal svg size 1200,500 font ',10'\nset output '%s.svg'\n%s\n", name, body);
    fclose(f);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2> '%s.gp.log'", p->out, name, name);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(p->err, sizeof p->err, "gnuplot failed on %s/%s.gp (exit %d); its messages are in %s/%s.gp.log",
                 p->out, name, rc, p->out, name);
        return -1;
    }
    char log[4300];
    snprintf(log, sizeof log, "%s/%s.gp.log", p->out, name);
    remove(log);
    printf("plot %s: %s/%s.png, .svg (data %s.dat, script %s.gp)\n", name, p->out, name, name, name);
    return 0;
}

static int missing(Plot *p, const char *fig, const char *what) {
    snprintf(p->err, sizeof p->err, "fig=%s: db=%s has no %s", fig, p->dbpath, what);
    return -1;
}

/* series label of a run: model, with its expert count for MoE models */
#define SERIES "r.model || CASE WHEN r.experts > 0 THEN '-' || r.experts ELSE '' END" \
               " || CASE WHEN r.heads > 0 THEN 'h' || r.heads ELSE '' END"

/* ---- ppl: validation perplexity against step, one panel per pretraining task (Fig. 4):
 * english, multilingual, and mmm's masked-token (multimodal) perplexity. One line per group of
 * runs that share their configuration but the seed (parity=params and parity=flops apart),
 * the mean over seeds with its 95% band (Student t) ---- */
static int fig_ppl(Plot *p) {
    Rows *r = query(p, "SELECT task, label || coalesce(' ' || json_extract(group_key, '$.size') || '/' ||"
                       " json_extract(group_key, '$.steps'), '') AS series, step, mean, coalesce(ci95, 0), n"
                       " FROM curve_stats WHERE split = 'valid' AND metric = 'ppl'"
                       " AND task IN ('english', 'multilingual', 'mmm') ORDER BY task, series, group_key, step");
    if (!r) return -1;
    if (!r->n) { rows_free(r); return missing(p, "ppl", "finished runs with validation perplexity (harness run ...)"); }
    FILE *f = open_out(p, "ppl", "dat");
    if (!f) { rows_free(r); return -1; }
    char body[32768] = "", tasks[16][32];
    int ntask = 0, block = -1;
    size_t used = 0;
    /* one gnuplot data block (index) per (task, series): a band, then its line in the same colour */
    for (int i = 0; i < r->n; i++) {
        if (used > sizeof body - 512) { /* a series fewer would be a figure that hides runs */
            fclose(f);
            rows_free(r);
            snprintf(p->err, sizeof p->err, "fig=ppl: db=%s holds more series than one figure draws; plot a db "
                     "with fewer configurations", p->dbpath);
            return -1;
        }
        int new_series = i == 0 || strcmp(r->v[i][0], r->v[i - 1][0]) || strcmp(r->v[i][1], r->v[i - 1][1]) ||
                         atof(r->v[i][2]) <= atof(r->v[i - 1][2]);
        if (new_series) {
            if (i) fprintf(f, "\n\n");
            fprintf(f, "# task %s series %s\n# step\tppl_mean\tppl_ci95\tseeds\n", r->v[i][0], r->v[i][1]);
            block++;
            if (i == 0 || strcmp(r->v[i][0], r->v[i - 1][0])) {
                if (ntask < 16) snprintf(tasks[ntask++], 32, "%s", r->v[i][0]);
                used += snprintf(body + used, sizeof body - used,
                                 "%sset title 'valid perplexity: %s (mean, 95%% band over seeds)'\nplot ",
                                 ntask > 1 ? "\n" : "", r->v[i][0]);
            } else used += snprintf(body + used, sizeof body - used, ", ");
            used += snprintf(body + used, sizeof body - used,
                             "'ppl.dat' index %d using 1:($2-$3):($2+$3) with filledcurves lc %d fs transparent solid 0.2 notitle, "
                             "'ppl.dat' index %d using 1:2 with lines lc %d lw 2 title '%s'",
                             block, block % 8 + 1, block, block % 8 + 1, r->v[i][1]);
        }
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][2], r->v[i][3], r->v[i][4], r->v[i][5]);
    }
    fclose(f);
    char script[40000];
    snprintf(script, sizeof script, "set multiplot layout 1,%d\nset xlabel 'step'\nset ylabel 'perplexity per token'\n"
             "set key top right\n%s\nunset multiplot", ntask, body);
    rows_free(r);
    return run_gnuplot(p, "ppl", script);
}

/* ---- activation: layer x expert load share of an X-MoE and an MH-MoE run (Fig. 1a, 5): English
 * runs first, then the most experts, then the latest ---- */
static int fig_activation(Plot *p) {
    const char *models[2] = {"xmoe", "mhmoe"};
    int runs[2];
    char sql[1024], body[4096] = "", miss[128] = "";
    size_t used = 0;
    FILE *f = open_out(p, "activation", "dat");
    if (!f) return -1;
    for (int k = 0; k < 2; k++) {
        snprintf(sql, sizeof sql, "SELECT r.id, (SELECT max(step) FROM activations a WHERE a.run_id = r.id AND a.split = 'valid'),"
                 " r.experts FROM runs r WHERE r.model = '%s' AND r.status = 'done' AND EXISTS (SELECT 1 FROM activations a"
                 " WHERE a.run_id = r.id AND a.split = 'valid') ORDER BY r.task = 'english' DESC, r.experts DESC, r.id DESC LIMIT 1",
                 models[k]);
        Rows *r = query(p, sql);
        if (!r) { fclose(f); return -1; }
        if (!r->n) { strcat(miss, miss[0] ? " and " : ""); strcat(miss, models[k]); rows_free(r); runs[k] = -1; continue; }
        runs[k] = atoi(r->v[0][0]);
        const char *step = r->v[0][1];
        snprintf(sql, sizeof sql, "SELECT layer, expert, share FROM activation_share WHERE run_id = %d AND split = 'valid'"
                 " AND step = %s ORDER BY layer, expert", runs[k], step);
        Rows *s = query(p, sql);
        snprintf(sql, sizeof sql, "SELECT ratio FROM activation_ratio WHERE run_id = %d AND split = 'valid' AND step = %s", runs[k], step);
        Rows *ratio = query(p, sql);
        if (!s || !ratio) { rows_free(r); rows_free(s); rows_free(ratio); fclose(f); return -1; }
        /* a matrix: one row per MoE layer, one column per expert */
        fprintf(f, "%s# run %d (%s), step %s: load share, rows = MoE layers, columns = experts\n", k ? "\n\n" : "", runs[k], models[k], step);
        for (int i = 0; i < s->n; i++) {
            int end = i + 1 == s->n || strcmp(s->v[i + 1][0], s->v[i][0]);
            fprintf(f, "%s%s", s->v[i][2], end ? "\n" : "\t");
        }
        used += snprintf(body + used, sizeof body - used,
                         "set title '%s (run %d): activation ratio %.3f'\n"
                         "plot 'activation.dat' index %d matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle\n",
                         models[k], runs[k], ratio->n ? atof(ratio->v[0][0]) : 0.0, k);
        rows_free(r); rows_free(s); rows_free(ratio);
    }
    fclose(f);
    if (miss[0]) {
        char what[256];
        snprintf(what, sizeof what, "finished %s run with activation histograms (harness run model=xmoe / model=mhmoe)", miss);
        return missing(p, "activation", what);
    }
    char script[8192];
    snprintf(script, sizeof script, "set multiplot layout 1,2\nset xlabel 'expert'\nset ylabel 'MoE layer'\n"
             "set cblabel 'load share'\nset palette rgbformulae 30,31,32\nset offsets 0.5, 0.5, 0.5, 0.5\n"
             "set ytics 1\n%s\nunset multiplot", body);
    return run_gnuplot(p, "activation", script);
}

/* a final-metric curve: x against final valid ppl, one line per series (heads, scaling);
 * the series expression keeps apart what x does not vary (experts for heads, heads for scaling) */
static int fig_final_vs(Plot *p, const char *fig, const char *xcol, const char *series, const char *where,
                        const char *xlabel, const char *need) {
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT %s AS series, r.%s, avg(f.value), sqrt(max(avg(f.value * f.value) - avg(f.value) * avg(f.value), 0)),"
             " count(*) FROM final_metrics f JOIN runs r ON r.id = f.run_id WHERE f.split = 'valid' AND f.metric = 'ppl'"
             " AND r.status = 'done' AND r.task = 'english' AND %s GROUP BY series, r.%s ORDER BY series, r.%s",
             series, xcol, where, xcol, xcol);
    Rows *r = query(p, sql);
    if (!r) return -1;
    int distinct = 0;
    for (int i = 0; i < r->n; i++) distinct += i == 0 || strcmp(r->v[i][1], r->v[i - 1][1]) || strcmp(r->v[i][0], r->v[i - 1][0]);
    if (r->n < 2) { rows_free(r); return missing(p, fig, need); }
    FILE *f = open_out(p, fig, "dat");
    if (!f) { rows_free(r); return -1; }
    char body[4096] = "plot ";
    size_t used = strlen(body);
    int block = -1;
    for (int i = 0; i < r->n; i++) {
        if (i == 0 || strcmp(r->v[i][0], r->v[i - 1][0])) {
            if (i) fprintf(f, "\n\n");
            fprintf(f, "# series %s\n# %s\tppl_mean\tppl_std\tseeds\n", r->v[i][0], xcol);
            block++;
            used += snprintf(body + used, sizeof body - used, "%s'%s.dat' index %d using 1:2:3 with yerrorlines title '%s'",
                             block ? ", " : "", fig, block, r->v[i][0]);
        }
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][1], r->v[i][2], r->v[i][3], r->v[i][4]);
    }
    fclose(f);
    rows_free(r);
    char script[8192];
    snprintf(script, sizeof script, "set title 'English: valid perplexity against %s'\nset xlabel '%s'\n"
             "set ylabel 'perplexity per token'\nset logscale x 2\n%s", xlabel, xlabel, body);
    return run_gnuplot(p, fig, script);
}

static int fig_heads(Plot *p) {
    return fig_final_vs(p, "heads", "heads", "r.model || '-' || r.experts", "r.model = 'mhmoe'", "MH-MoE heads",
                        "finished English mhmoe runs at two or more head counts (harness sweep model=mhmoe heads=1,2,4,8)");
}

static int fig_scaling(Plot *p) {
    return fig_final_vs(p, "scaling", "experts", "r.model || CASE WHEN r.heads > 0 THEN '-h' || r.heads ELSE '' END",
                        "r.experts > 0", "experts",
                        "finished English MoE runs at two or more expert counts (harness sweep model=xmoe,mhmoe experts=8,16,32,64)");
}

/* ---- cost: parameters, FLOPs per token and measured tokens/s per model ---- */
static int fig_cost(Plot *p) {
    Rows *r = query(p, "SELECT " SERIES " AS series, avg(r.params) / 1e6, avg(r.flops_per_token) / 1e6,"
                       " avg((SELECT value FROM final_metrics f WHERE f.run_id = r.id AND f.metric = 'train_tokens_per_s'))"
                       " FROM runs r WHERE r.status = 'done' GROUP BY series ORDER BY series");
    if (!r) return -1;
    if (!r->n) { rows_free(r); return missing(p, "cost", "finished runs"); }
    FILE *f = open_out(p, "cost", "dat");
    if (!f) { rows_free(r); return -1; }
    fprintf(f, "# series\tparams_M\tmflop_per_token\ttrain_tokens_per_s\n");
    for (int i = 0; i < r->n; i++) fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][0], r->v[i][1], r->v[i][2], r->v[i][3][0] ? r->v[i][3] : "0");
    fclose(f);
    rows_free(r);
    return run_gnuplot(p, "cost",
        "set multiplot layout 1,3\nset style data histograms\nset style fill solid 0.8\nset boxwidth 0.8\n"
        "set xtics rotate by -30\nunset key\nset title 'parameters (M)'\nplot 'cost.dat' using 2:xtic(1)\n"
        "set title 'forward MFLOP per token'\nplot 'cost.dat' using 3:xtic(1)\n"
        "set title 'training tokens/s'\nplot 'cost.dat' using 4:xtic(1)\nunset multiplot");
}

/* ---- downstream: zero-shot multiple-choice, VQA and reasoning accuracy, captioning BLEU-4 and
 * ROUGE-L per model (Tables 2-4) as bars; the Markdown table also has CIDEr-D (not on the
 * [0, 1] scale of the bars) ---- */
static int fig_downstream(Plot *p) {
    Rows *r = query(p, "SELECT r.task || ' ' || e.benchmark || CASE e.metric WHEN 'acc' THEN '' ELSE ' ' || replace(e.metric, '_', '-') END AS bench, "
                       SERIES " AS series, avg(e.value), count(*)"
                       " FROM evals e JOIN runs r ON r.id = e.run_id WHERE e.metric IN ('acc', 'bleu4', 'rouge_l', 'cider')"
                       " AND r.status = 'done' GROUP BY bench, series ORDER BY bench, series");
    if (!r) return -1;
    if (!r->n) { rows_free(r); return missing(p, "downstream", "downstream results (evals rows with metric acc)"); }
    /* columns: the series; rows: the benchmarks */
    char series[32][48], bench[256][64];
    int ns = 0, nb = 0;
    double val[256][32];
    for (int b = 0; b < 256; b++) for (int s = 0; s < 32; s++) val[b][s] = -1;
    for (int i = 0; i < r->n; i++) {
        int s = 0, b = 0;
        while (s < ns && strcmp(series[s], r->v[i][1])) s++;
        if (s == ns && ns < 32) snprintf(series[ns++], 48, "%s", r->v[i][1]);
        while (b < nb && strcmp(bench[b], r->v[i][0])) b++;
        if (b == nb && nb < 256) snprintf(bench[nb++], 64, "%s", r->v[i][0]);
        if (s < 32 && b < 256) val[b][s] = atof(r->v[i][2]);
    }
    rows_free(r);
    FILE *f = open_out(p, "downstream", "dat"), *md = open_out(p, "downstream", "md");
    if (!f || !md) { if (f) fclose(f); if (md) fclose(md); return -1; }
    fprintf(f, "# benchmark");
    fprintf(md, "| benchmark |");
    for (int s = 0; s < ns; s++) { fprintf(f, "\t%s", series[s]); fprintf(md, " %s |", series[s]); }
    fprintf(f, "\n");
    fprintf(md, "\n|---|");
    for (int s = 0; s < ns; s++) fprintf(md, "---|");
    fprintf(md, "\n");
    for (int b = 0; b < nb; b++) {
        int in_bars = !strstr(bench[b], " cider");
        if (in_bars) fprintf(f, "%s", bench[b]);
        fprintf(md, "| %s |", bench[b]);
        for (int s = 0; s < ns; s++) {
            if (val[b][s] < 0) { if (in_bars) fprintf(f, "\tNaN"); fprintf(md, " - |"); }
            else { if (in_bars) fprintf(f, "\t%.4f", val[b][s]); fprintf(md, " %.3f |", val[b][s]); }
        }
        if (in_bars) fprintf(f, "\n");
        fprintf(md, "\n");
    }
    fclose(f);
    fclose(md);
    char body[4096];
    size_t used = snprintf(body, sizeof body, "set style data histograms\nset style histogram clustered\nset style fill solid 0.8\n"
                           "set xtics rotate by -30\nset yrange [0:1]\nset ylabel 'accuracy'\nset title 'downstream: accuracy (multiple choice: chance 0.25), captioning BLEU-4 / ROUGE-L'\nplot ");
    for (int s = 0; s < ns; s++)
        used += snprintf(body + used, sizeof body - used, "%s'downstream.dat' using %d:xtic(1) title '%s'", s ? ", " : "", s + 2, series[s]);
    return run_gnuplot(p, "downstream", body);
}

typedef struct { const char *name; int (*make)(Plot *); } Figure;
static const Figure FIGURES[] = {
    {"ppl", fig_ppl}, {"activation", fig_activation}, {"downstream", fig_downstream},
    {"heads", fig_heads}, {"scaling", fig_scaling}, {"cost", fig_cost},
};
#define NFIG ((int)(sizeof FIGURES / sizeof FIGURES[0]))

int harness_plot(int argc, char **argv) {
    const char *fig = "all", *dbpath = "results.db", *out = "figures";
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "fig=", 4)) fig = argv[i] + 4;
        else if (!strncmp(argv[i], "db=", 3)) dbpath = argv[i] + 3;
        else if (!strncmp(argv[i], "out=", 4)) out = argv[i] + 4;
        else { fprintf(stderr, "error: '%s': expected fig=, db= or out=\n", argv[i]); return 2; }
    }
    int want = -1;
    if (strcmp(fig, "all")) {
        for (int k = 0; k < NFIG; k++) if (!strcmp(FIGURES[k].name, fig)) want = k;
        if (want < 0) {
            fprintf(stderr, "error: fig=%s: expected all, ppl, activation, downstream, heads, scaling or cost\n", fig);
            return 2;
        }
    }
    if (system("gnuplot --version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "error: gnuplot not found: the figures are drawn by gnuplot (apt-get install gnuplot-nox)\n");
        return 2;
    }
    struct stat st;
    if (stat(dbpath, &st) != 0) { fprintf(stderr, "error: db=%s: no such file\n", dbpath); return 2; }
    Plot p = {.dbpath = dbpath, .out = out};
    p.db = results_open(dbpath, p.err, sizeof p.err);
    if (!p.db) { fprintf(stderr, "error: db=%s\n", p.err); return 2; }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "error: out=%s: cannot create folder: %s\n", out, strerror(errno));
        results_close(p.db);
        return 2;
    }
    int failed = 0;
    for (int k = 0; k < NFIG; k++) {
        if (want >= 0 && k != want) continue;
        if (FIGURES[k].make(&p)) { fprintf(stderr, "error: %s\n", p.err); failed++; }
    }
    results_close(p.db);
    return failed ? 2 : 0;
}
