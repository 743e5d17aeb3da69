#include "plot.h"
#include "plot_lib.h"
#include "results/results.h"
#include "util/keys.h"
#include "util/atomic_file.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* series label of a run: model, with its expert count for MoE models */
#define SERIES "r.model || CASE WHEN r.experts > 0 THEN '-' || r.experts ELSE '' END" \
               " || CASE WHEN r.heads > 0 THEN 'h' || r.heads ELSE '' END"

/* ---- ppl: validation perplexity against step, one panel per pretraining task (Fig. 4):
 * english, multilingual, and mmm's masked-token (multimodal) perplexity. One line per group of
 * runs that share their configuration but the seed (parity=params and parity=flops apart),
 * the mean over seeds with its 95% band (Student t) ---- */
static int fig_ppl(Plot *p) {
    Rows *r = plot_query(p, "SELECT task, label || coalesce(' ' || json_extract(group_key, '$.size') || '/' ||"
                       " json_extract(group_key, '$.steps'), '') AS series, step, mean, coalesce(ci95, 0), n"
                       " FROM curve_stats WHERE split = 'valid' AND metric = 'ppl'"
                       " AND task IN ('english', 'multilingual', 'mmm') ORDER BY task, series, group_key, step");
    if (!r) return -1;
    if (!r->n) { plot_rows_free(r); return plot_missing(p, "ppl", "finished runs with validation perplexity (harness run ...)"); }
    FILE *f = plot_open_out(p, "ppl", "dat");
    if (!f) { plot_rows_free(r); return -1; }
    char body[32768] = "", tasks[16][32];
    int ntask = 0, block = -1;
    size_t used = 0;
    /* one gnuplot data block (index) per (task, series): a band, then its line in the same colour */
    for (int i = 0; i < r->n; i++) {
        if (used > sizeof body - 512) { /* a series fewer would be a figure that hides runs */
            fclose(f);
            plot_rows_free(r);
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
                             "'ppl.dat' index %d using 1:2 with lines lt %d lw 2 title '%s'",
                             block, block % 8 + 1, block, block % 8 + 1, r->v[i][1]);
        }
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][2], r->v[i][3], r->v[i][4], r->v[i][5]);
    }
    fclose(f);
    char script[40000];
    snprintf(script, sizeof script, "set multiplot layout 1,%d\nset xlabel 'step'\nset ylabel 'perplexity per token'\n"
             "set key below\n%s\nunset multiplot", ntask, body);
    plot_rows_free(r);
    return plot_gnuplot(p, "ppl", script);
}

/* The runs of one configuration group (the seeds of it) for a model: English first, then
 * `experts` experts if there are such runs (else the most), the defaults (capacity 1.25,
 * parity=params, 4 heads), the most seeds, the latest. ids gets "1,2,3", label the group's. */
static int pick_group(Plot *p, const char *model, int experts, const char *need_split, char *ids, size_t nids,
                      char *label, size_t nlabel) {
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT group_concat(g.run_id), g.label FROM run_groups g WHERE g.model = '%s' AND g.status = 'done'"
             " AND EXISTS (SELECT 1 FROM activations a WHERE a.run_id = g.run_id AND a.split = '%s')"
             " GROUP BY g.task, g.experts, g.heads, g.group_key"
             " ORDER BY g.task = 'english' DESC, g.experts = %d DESC, g.experts DESC,"
             " coalesce(json_extract(g.group_key, '$.capacity'), 1.25) = 1.25 DESC,"
             " coalesce(json_extract(g.group_key, '$.parity'), 'params') = 'params' DESC,"
             " g.heads IN (0, 4) DESC, count(*) DESC, max(g.run_id) DESC LIMIT 1",
             model, need_split, experts);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    int found = r->n > 0;
    if (found) { snprintf(ids, nids, "%s", r->v[0][0]); snprintf(label, nlabel, "%s", r->v[0][1]); }
    plot_rows_free(r);
    return found;
}

/* ---- activation: layer x expert load share of X-MoE and MH-MoE (Fig. 1a, 5), 32 experts
 * where there are such runs, English first: experts ranked by load, the mean over the group's
 * seeds at each run's last evaluation; one colour scale for both panels, rows only for the
 * layers that have an MoE layer; both activation ratios in the titles ---- */
static int fig_activation(Plot *p) {
    const char *models[2] = {"xmoe", "mhmoe"};
    char sql[8192], body[4096] = "", miss[128] = "", ids[2][2048], label[2][96];
    size_t used = 0;
    double cmax = 0;
    int nexp = 0;
    for (int k = 0; k < 2; k++) {
        int found = pick_group(p, models[k], 32, "valid", ids[k], sizeof ids[k], label[k], sizeof label[k]);
        if (found < 0) return -1;
        if (!found) { strcat(miss, miss[0] ? " and " : ""); strcat(miss, models[k]); }
    }
    if (miss[0]) {
        char what[256];
        snprintf(what, sizeof what, "finished %s run with activation histograms (harness run model=xmoe / model=mhmoe)", miss);
        return plot_missing(p, "activation", what);
    }
    FILE *f = plot_open_out(p, "activation", "dat");
    if (!f) return -1;
    for (int k = 0; k < 2; k++) {
        snprintf(sql, sizeof sql,
                 "WITH last AS (SELECT run_id, max(step) AS step FROM activations WHERE split = 'valid' AND run_id IN (%s)"
                 " GROUP BY run_id), ranked AS (SELECT s.run_id, s.layer, s.share, ROW_NUMBER() OVER"
                 " (PARTITION BY s.run_id, s.layer ORDER BY s.share DESC) - 1 AS rank FROM activation_share s"
                 " JOIN last l ON l.run_id = s.run_id AND l.step = s.step WHERE s.split = 'valid')"
                 " SELECT layer, rank, avg(share) FROM ranked GROUP BY layer, rank ORDER BY layer, rank", ids[k]);
        Rows *s = plot_query(p, sql);
        snprintf(sql, sizeof sql,
                 "SELECT avg(a.ratio), avg(a.ratio_paper), count(*) FROM activation_ratio a WHERE a.split = 'valid'"
                 " AND a.run_id IN (%s) AND a.step = (SELECT max(step) FROM activations WHERE run_id = a.run_id"
                 " AND split = 'valid')", ids[k]);
        Rows *ratio = plot_query(p, sql);
        if (!s || !ratio) { plot_rows_free(s); plot_rows_free(ratio); fclose(f); return -1; }
        /* a matrix: one row per MoE layer, one column per expert rank */
        fprintf(f, "%s# %s (runs %s): mean load share over the runs, rows = MoE layers, columns = experts by load\n",
                k ? "\n\n" : "", label[k], ids[k]);
        char ytics[1024] = "";
        size_t yu = 0;
        int row = 0;
        for (int i = 0; i < s->n; i++) {
            int end = i + 1 == s->n || strcmp(s->v[i + 1][0], s->v[i][0]);
            double v = atof(s->v[i][2]);
            if (v > cmax) cmax = v;
            if (atoi(s->v[i][1]) + 1 > nexp) nexp = atoi(s->v[i][1]) + 1;
            fprintf(f, "%s%s", s->v[i][2], end ? "\n" : "\t");
            if (end && yu < sizeof ytics - 32) yu += snprintf(ytics + yu, sizeof ytics - yu, "%s\"%s\" %d", row ? ", " : "", s->v[i][0], row), row++;
        }
        int nruns = ratio->n ? atoi(ratio->v[0][2]) : 0;
        used += snprintf(body + used, sizeof body - used,
                         "set title \"%s (%d run%s): activation ratio %.3f, paper's definition %.3f\"\n"
                         "set ytics (%s)\nset yrange [-0.5:%d.5]\n"
                         "plot 'activation.dat' index %d matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle\n",
                         label[k], nruns, nruns == 1 ? "" : "s", ratio->n ? atof(ratio->v[0][0]) : 0.0,
                         ratio->n ? atof(ratio->v[0][1]) : 0.0, ytics, row - 1, k);
        plot_rows_free(s); plot_rows_free(ratio);
    }
    fclose(f);
    char script[8192];
    snprintf(script, sizeof script, "set multiplot layout 1,2\nset xlabel 'expert, busiest first'\nset ylabel 'MoE layer'\n"
             "set cblabel 'load share'\nset palette rgbformulae 30,31,32\nset cbrange [0:%g]\nset xrange [-0.5:%d.5]\n"
             "%s\nunset multiplot", cmax > 0 ? cmax : 1, nexp - 1, body);
    return plot_gnuplot(p, "activation", script);
}

/* ---- router: the router over training (English, 8 experts where there are such runs): the
 * per-layer router entropy, temperature, cosine spread and MoE output RMS of every group
 * (mean over seeds, validation passes), and the load of each expert rank against step for
 * the default X-MoE and MH-MoE groups (training windows, last MoE layer) ---- */
static const char *const ROUTER_PANELS[][2] = {
    {"router_entropy", "router entropy (1 = uniform)"}, {"router_tau", "router temperature tau"},
    {"router_cos_spread", "spread of the router cosines"}, {"moe_out_rms", "RMS of the MoE layer output"}};

static int fig_router(Plot *p) {
    char sql[8192], body[16384] = "", ids[2][2048], label[2][96];
    size_t used = 0;
    const char *models[2] = {"xmoe", "mhmoe"};
    for (int k = 0; k < 2; k++) {
        int found = pick_group(p, models[k], 8, "train", ids[k], sizeof ids[k], label[k], sizeof label[k]);
        if (found < 0) return -1;
        if (!found) return plot_missing(p, "router", "finished xmoe and mhmoe runs with training activation histograms");
    }
    snprintf(sql, sizeof sql, "SELECT experts FROM runs WHERE id = %d", atoi(ids[0]));
    Rows *e = plot_query(p, sql);
    if (!e) return -1;
    int experts = e->n ? atoi(e->v[0][0]) : 8;
    plot_rows_free(e);
    FILE *f = plot_open_out(p, "router", "dat");
    if (!f) return -1;
    int block = -1;
    for (int k = 0; k < 4; k++) {
        snprintf(sql, sizeof sql,
                 "SELECT label || ' l' || substr(metric, instr(metric, '/l') + 2) AS series, step, mean FROM curve_stats"
                 " WHERE task = 'english' AND split = 'valid' AND experts = %d AND metric LIKE '%s/l%%'"
                 " ORDER BY series, group_key, step", experts, ROUTER_PANELS[k][0]);
        Rows *r = plot_query(p, sql);
        if (!r) { fclose(f); return -1; }
        if (!r->n) { /* a metric the db does not hold (older runs): its panel stays empty */
            used += snprintf(body + used, sizeof body - used, "set multiplot next\n");
            plot_rows_free(r);
            continue;
        }
        used += snprintf(body + used, sizeof body - used, "set title '%s'\nplot ", ROUTER_PANELS[k][1]);
        int first = 1;
        for (int i = 0; i < r->n && used < sizeof body - 512; i++) {
            if (i == 0 || strcmp(r->v[i][0], r->v[i - 1][0]) || atof(r->v[i][1]) <= atof(r->v[i - 1][1])) {
                fprintf(f, "%s# %s: %s\n# step\tmean over seeds\n", block >= 0 ? "\n\n" : "", ROUTER_PANELS[k][0], r->v[i][0]);
                block++;
                used += snprintf(body + used, sizeof body - used, "%s'router.dat' index %d using 1:2 with lines lw 2 title '%s'",
                                 first ? "" : ", ", block, r->v[i][0]);
                first = 0;
            }
            fprintf(f, "%s\t%s\n", r->v[i][1], r->v[i][2]);
        }
        used += snprintf(body + used, sizeof body - used, "\n");
        plot_rows_free(r);
    }
    for (int k = 0; k < 2; k++) {
        /* experts ranked by load within each (run, step, layer), 0 = busiest: expert numbers
         * mean nothing across seeds, ranks do, so the seeds are averaged rank by rank (the
         * runs are filtered inside the window: SQLite does not push the filter into it) */
        snprintf(sql, sizeof sql,
                 "WITH ranked AS (SELECT s.run_id, s.step, s.layer, s.share, ROW_NUMBER() OVER"
                 " (PARTITION BY s.run_id, s.step, s.layer ORDER BY s.share DESC) - 1 AS rank FROM activation_share s"
                 " WHERE s.split = 'train' AND s.run_id IN (%s))"
                 " SELECT rank, step, avg(share) FROM ranked WHERE layer = (SELECT max(layer) FROM ranked)"
                 " GROUP BY rank, step ORDER BY rank, step", ids[k]);
        Rows *r = plot_query(p, sql);
        if (!r) { fclose(f); return -1; }
        if (!r->n) { used += snprintf(body + used, sizeof body - used, "set multiplot next\n"); plot_rows_free(r); continue; }
        used += snprintf(body + used, sizeof body - used, "set title '%s: load share of each expert, busiest first'\nplot ", label[k]);
        int first = 1;
        for (int i = 0; i < r->n && used < sizeof body - 512; i++) {
            if (i == 0 || strcmp(r->v[i][0], r->v[i - 1][0])) {
                fprintf(f, "\n\n# %s load share of expert rank %s (runs %s)\n# step\tmean over seeds\n", label[k], r->v[i][0], ids[k]);
                block++;
                used += snprintf(body + used, sizeof body - used, "%s'router.dat' index %d using 1:2 with lines lc palette frac %g notitle",
                                 first ? "" : ", ", block, experts > 1 ? atof(r->v[i][0]) / (experts - 1) : 0.0);
                first = 0;
            }
            fprintf(f, "%s\t%s\n", r->v[i][1], r->v[i][2]);
        }
        used += snprintf(body + used, sizeof body - used, "\n");
        plot_rows_free(r);
    }
    fclose(f);
    if (used >= sizeof body - 512) {
        snprintf(p->err, sizeof p->err, "fig=router: db=%s holds more series than one figure draws", p->dbpath);
        return -1;
    }
    char script[20000];
    snprintf(script, sizeof script, "set multiplot layout 2,3\nset xlabel 'step'\nset key below font ',8'\n"
             "set palette rgbformulae 33,13,10\nunset colorbox\n%s\nunset multiplot", body);
    return plot_gnuplot(p, "router", script);
}

/* a final number against x (heads, experts): one line per group of runs that share every
 * configuration value but x and the seed, the mean over seeds with its 95% interval; the
 * line is named by the group's label without x */
static int fig_final_vs(Plot *p, const char *fig, const char *xkey, const char *xcol, const char *strip, const char *where,
                        const char *xlabel, const char *need) {
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT replace(label, %s, '') || coalesce(' ' || json_extract(group_key, '$.size') || '/' ||"
             " json_extract(group_key, '$.steps'), '') AS series, %s, mean, coalesce(ci95, 0), n,"
             " json_remove(group_key, '$.%s') AS line FROM group_stats WHERE metric = 'valid/ppl' AND task = 'english' AND %s"
             " ORDER BY series, line, %s",
             strip, xcol, xkey, where, xcol);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    if (r->n < 2) { plot_rows_free(r); return plot_missing(p, fig, need); }
    FILE *f = plot_open_out(p, fig, "dat");
    if (!f) { plot_rows_free(r); return -1; }
    char body[8192] = "plot ";
    size_t used = strlen(body);
    int block = -1;
    for (int i = 0; i < r->n && used < sizeof body - 256; i++) {
        if (i == 0 || strcmp(r->v[i][0], r->v[i - 1][0]) || strcmp(r->v[i][5], r->v[i - 1][5])) {
            if (i) fprintf(f, "\n\n");
            fprintf(f, "# series %s\n# %s\tppl_mean\tppl_ci95\tseeds\n", r->v[i][0], xkey);
            block++;
            used += snprintf(body + used, sizeof body - used, "%s'%s.dat' index %d using 1:2:3 with yerrorlines title '%s'",
                             block ? ", " : "", fig, block, r->v[i][0]);
        }
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][1], r->v[i][2], r->v[i][3], r->v[i][4]);
    }
    fclose(f);
    plot_rows_free(r);
    char script[10000];
    snprintf(script, sizeof script, "set title 'English: valid perplexity against %s (mean, 95%% interval over seeds)'\n"
             "set xlabel '%s'\nset ylabel 'perplexity per token'\nset logscale x 2\nset key outside right\n%s",
             xlabel, xlabel, body);
    return plot_gnuplot(p, fig, script);
}

static int fig_heads(Plot *p) {
    return fig_final_vs(p, "heads", "heads", "heads", "'h' || heads", "model = 'mhmoe'", "MH-MoE heads",
                        "finished English mhmoe runs at two or more head counts (harness sweep model=mhmoe heads=1,2,4,8)");
}

static int fig_scaling(Plot *p) {
    return fig_final_vs(p, "scaling", "experts", "experts", "'-' || experts", "experts > 0", "experts",
                        "finished English MoE runs at two or more expert counts (harness sweep model=xmoe,mhmoe experts=8,16,32,64)");
}

/* ---- cost: parameters, FLOPs per token and measured tokens/s per model ---- */
static int fig_cost(Plot *p) {
    Rows *r = plot_query(p, "SELECT " SERIES " AS series, avg(r.params) / 1e6, avg(r.flops_per_token) / 1e6,"
                       " avg((SELECT value FROM final_metrics f WHERE f.run_id = r.id AND f.metric = 'train_tokens_per_s'))"
                       " FROM runs r WHERE r.status = 'done' GROUP BY series ORDER BY series");
    if (!r) return -1;
    if (!r->n) { plot_rows_free(r); return plot_missing(p, "cost", "finished runs"); }
    FILE *f = plot_open_out(p, "cost", "dat");
    if (!f) { plot_rows_free(r); return -1; }
    fprintf(f, "# series\tparams_M\tmflop_per_token\ttrain_tokens_per_s\n");
    for (int i = 0; i < r->n; i++) fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][0], r->v[i][1], r->v[i][2], r->v[i][3][0] ? r->v[i][3] : "0");
    fclose(f);
    plot_rows_free(r);
    return plot_gnuplot(p, "cost",
        "set multiplot layout 1,3\nset style data histograms\nset style fill solid 0.8\nset boxwidth 0.8\n"
        "set xtics rotate by -30\nunset key\nset title 'parameters (M)'\nplot 'cost.dat' using 2:xtic(1)\n"
        "set title 'forward MFLOP per token'\nplot 'cost.dat' using 3:xtic(1)\n"
        "set title 'training tokens/s'\nplot 'cost.dat' using 4:xtic(1)\nunset multiplot");
}

/* ---- downstream: zero-shot multiple choice (after training, and at step 0: the model the run
 * started from), VQA and reasoning accuracy, captioning BLEU-4 and ROUGE-L per group of runs
 * (Tables 2-4) as bars with their 95% interval over seeds; the Markdown table also has CIDEr-D
 * (not on the [0, 1] scale of the bars) and n ---- */
#define MAX_SERIES 48
#define MAX_BENCH 256
static int fig_downstream(Plot *p) {
    Rows *r = plot_query(p, "SELECT task || ' ' || benchmark || CASE metric WHEN 'acc' THEN '' ELSE ' ' || replace(metric, '_', '-') END AS bench,"
                       " label || coalesce(' ' || json_extract(group_key, '$.size') || '/' || json_extract(group_key, '$.steps'), '') AS series,"
                       " mean, coalesce(ci95, 0), n FROM downstream WHERE metric IN ('acc', 'bleu4', 'rouge_l', 'cider')"
                       " ORDER BY bench, series");
    if (!r) return -1;
    if (!r->n) { plot_rows_free(r); return plot_missing(p, "downstream", "downstream results (evals rows with metric acc)"); }
    /* columns: the series; rows: the benchmarks */
    static char series[MAX_SERIES][96], bench[MAX_BENCH][96];
    static double val[MAX_BENCH][MAX_SERIES], ci[MAX_BENCH][MAX_SERIES];
    static int nval[MAX_BENCH][MAX_SERIES];
    int ns = 0, nb = 0;
    for (int b = 0; b < MAX_BENCH; b++) for (int k = 0; k < MAX_SERIES; k++) val[b][k] = -1;
    for (int i = 0; i < r->n; i++) {
        int k = 0, b = 0;
        while (k < ns && strcmp(series[k], r->v[i][1])) k++;
        while (b < nb && strcmp(bench[b], r->v[i][0])) b++;
        if ((k == ns && ns == MAX_SERIES) || (b == nb && nb == MAX_BENCH)) {
            plot_rows_free(r);
            snprintf(p->err, sizeof p->err, "fig=downstream: db=%s holds more than %d groups or %d benchmarks; plot a db"
                     " with fewer configurations", p->dbpath, MAX_SERIES, MAX_BENCH);
            return -1;
        }
        if (k == ns) snprintf(series[ns++], sizeof series[0], "%s", r->v[i][1]);
        if (b == nb) snprintf(bench[nb++], sizeof bench[0], "%s", r->v[i][0]);
        val[b][k] = atof(r->v[i][2]);
        ci[b][k] = atof(r->v[i][3]);
        nval[b][k] = atoi(r->v[i][4]);
    }
    plot_rows_free(r);
    FILE *f = plot_open_out(p, "downstream", "dat"), *md = plot_open_out(p, "downstream", "md");
    if (!f || !md) { if (f) fclose(f); if (md) fclose(md); return -1; }
    fprintf(f, "# benchmark");
    fprintf(md, "mean ± 95%% interval over seeds (n); `mc_step0`: the model before training\n\n| benchmark |");
    for (int k = 0; k < ns; k++) { fprintf(f, "\t%s\t95%%", series[k]); fprintf(md, " %s |", series[k]); }
    fprintf(f, "\n");
    fprintf(md, "\n|---|");
    for (int k = 0; k < ns; k++) fprintf(md, "---|");
    fprintf(md, "\n");
    for (int b = 0; b < nb; b++) {
        int in_bars = !strstr(bench[b], " cider");
        if (in_bars) fprintf(f, "%s", bench[b]);
        fprintf(md, "| %s |", bench[b]);
        for (int k = 0; k < ns; k++) {
            if (val[b][k] < 0) { if (in_bars) fprintf(f, "\tNaN\tNaN"); fprintf(md, " - |"); continue; }
            if (in_bars) fprintf(f, "\t%.4f\t%.4f", val[b][k], ci[b][k]);
            if (nval[b][k] > 1) fprintf(md, " %.3f ± %.3f (%d) |", val[b][k], ci[b][k], nval[b][k]);
            else fprintf(md, " %.3f (1) |", val[b][k]);
        }
        if (in_bars) fprintf(f, "\n");
        fprintf(md, "\n");
    }
    fclose(f);
    fclose(md);
    char body[16384];
    size_t used = snprintf(body, sizeof body, "set style data histograms\nset style histogram errorbars gap 1 lw 1\n"
                           "set style fill solid 0.8\nset xtics rotate by -30 noenhanced\nset yrange [0:1]\nset ylabel 'accuracy'\n"
                           "set key outside right font ',8'\nset title 'downstream: mean and 95%% interval over seeds "
                           "(multiple choice: chance 0.25; mc-step0: before training)'\nplot ");
    for (int k = 0; k < ns && used < sizeof body - 256; k++)
        used += snprintf(body + used, sizeof body - used, "%s'downstream.dat' using %d:%d:xtic(1) title '%s'", k ? ", " : "",
                         2 * k + 2, 2 * k + 3, series[k]);
    return plot_gnuplot(p, "downstream", body);
}

/* optional: drawn by fig=all only when the db holds its runs (another sweep's figure) */
typedef struct { const char *name; int (*make)(Plot *); int optional; const char *help; } Figure;
static const Figure FIGURES[] = {
    {"ppl", fig_ppl, 0, "validation perplexity against step per pretraining task (paper Fig. 4)"},
    {"activation", fig_activation, 0, "expert load share per layer, X-MoE and MH-MoE at 32 experts (Fig. 1a, 5)"},
    {"downstream", fig_downstream, 0, "zero-shot multiple choice after training and at step 0"},
    {"heads", fig_heads, 0, "English valid perplexity against MH-MoE heads, mean and 95% interval over seeds"},
    {"scaling", fig_scaling, 0, "English valid perplexity against the number of experts, mean and 95% interval over seeds"},
    {"cost", fig_cost, 0, "parameters, FLOPs per token and measured tokens/s per model"},
    {"router", fig_router, 0, "the router over training: entropy, temperature, cosine spread, output RMS, load per expert rank"},
    {"routers", fig_routers, 1, "quality against max_violation per route and balance mode (sweep routers)"},
    {"gaps", fig_gaps, 1, "the paired gaps (MH-MoE - X-MoE, each - dense) at every evaluation step with their 95% bands"},
    {"compute", fig_compute, 1, "the paired gaps MH-MoE - X-MoE and each - dense against training FLOPs, with trends (sweep compute)"},
};
#define NFIG ((int)(sizeof FIGURES / sizeof FIGURES[0]))

static const char *figure_name(int i) { return FIGURES[i].name; }

const char *plot_figure_names(void) {
    static char names[1024];
    return names[0] ? names : key_join_names(names, sizeof names, figure_name, NFIG);
}

void plot_print_help(FILE *f) {
    fprintf(f, "harness plot [fig=all|NAME] [db=results.db] [out=figures]   the figures (all: every one; those marked only when the db holds their runs):\n\n");
    for (int k = 0; k < NFIG; k++) fprintf(f, "  %-12s %s%s\n", FIGURES[k].name, FIGURES[k].help, FIGURES[k].optional ? " [optional]" : "");
}

/* what drawing needs before the first figure: gnuplot, the db (read-only), the out folder; 0, or
 * -1 with p->err (nothing left open) */
static int plot_begin(Plot *p, const char *dbpath, const char *out) {
    *p = (Plot){.dbpath = dbpath, .out = out};
    if (!plot_gnuplot_found()) {
        snprintf(p->err, sizeof p->err, "gnuplot not found: the figures are drawn by gnuplot (apt-get install gnuplot-nox)");
        return -1;
    }
    char err[sizeof p->err - 8];
    if (!(p->db = results_open_read(dbpath, err, sizeof err))) {
        snprintf(p->err, sizeof p->err, "db=%s", err);
        return -1;
    }
    if (file_make_dir(out, err, sizeof err)) {
        snprintf(p->err, sizeof p->err, "out=%s", err);
        results_close(p->db);
        return -1;
    }
    return 0;
}

int harness_plot(int argc, char **argv) {
    static const char *const names[] = {"fig", "db", "out"};
    const char *v[] = {"all", "results.db", "figures"};
    if (key_take_words(argc, argv, names, v, 3)) return 2;
    const char *fig = v[0], *dbpath = v[1], *out = v[2];
    int want = -1;
    if (strcmp(fig, "all")) {
        for (int k = 0; k < NFIG; k++) if (!strcmp(FIGURES[k].name, fig)) want = k;
        if (want < 0) {
            fprintf(stderr, "error: fig=%s: expected all or one of %s\n", fig, plot_figure_names());
            return 2;
        }
    }
    Plot p;
    if (plot_begin(&p, dbpath, out)) { fprintf(stderr, "error: %s\n", p.err); return 2; }
    int failed = 0;
    for (int k = 0; k < NFIG; k++) {
        if (want >= 0 && k != want) continue;
        p.no_data = 0;
        if (FIGURES[k].make(&p) == 0) continue;
        if (want < 0 && FIGURES[k].optional && p.no_data) printf("plot %s: skipped (%s)\n", FIGURES[k].name, p.err);
        else { fprintf(stderr, "error: %s\n", p.err); failed++; }
    }
    results_close(p.db);
    return failed ? 2 : 0;
}

int plot_each(const char *dbpath, const char *out, PlotDrawn drawn, void *ctx, char *err, size_t errlen) {
    Plot p;
    if (plot_begin(&p, dbpath, out)) { snprintf(err, errlen, "%s", p.err); return -1; }
    for (int k = 0; k < NFIG; k++) {
        p.no_data = 0;
        p.err[0] = 0;
        int ok = FIGURES[k].make(&p) == 0;
        drawn(ctx, FIGURES[k].name, FIGURES[k].help, ok, ok ? NULL : p.err);
    }
    results_close(p.db);
    return 0;
}
