#include "plot.h"
#include "plot_lib.h"
#include "results/results.h"
#include "results/stats.h"
#include <math.h>
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

#define SIZED_LABEL PLOT_SIZED_LABEL("label", "group_key")

/* ---- ppl: validation perplexity against step, one panel per pretraining task (Fig. 4):
 * english, multilingual, and mmm's masked-token (multimodal) perplexity. One line per group of
 * runs that share their configuration but the seed (parity=params and parity=flops apart),
 * the mean over seeds with its 95% band (Student t); the filters' series, at most
 * PLOT_MAX_SERIES a panel (the most seeds first); the caption has each one's n and the
 * adjusted verdicts on the final valid perplexity between them ---- */
static int fig_ppl(Plot *p) {
    char sql[4096];
    snprintf(sql, sizeof sql,
             "WITH c AS (SELECT task, " SIZED_LABEL " AS series, step, mean, coalesce(ci95, 0) AS ci, n, group_key FROM curve_stats"
             " WHERE split = 'valid' AND metric = 'ppl' AND task IN ('english', 'multilingual', 'mmm') AND %s),"
             " w AS (SELECT task, series, step, mean, ci, n, max(n) OVER (PARTITION BY task, series, group_key) AS seeds, group_key FROM c)"
             " SELECT * FROM w WHERE " PLOT_EVERY_SEED("n", "seeds") " ORDER BY task, seeds DESC, series, group_key, step", p->where);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    if (!r->n) { plot_rows_free(r); return plot_missing(p, "ppl", "finished runs with validation perplexity of the chosen series (harness run ...; labels=)"); }
    FILE *f = plot_open_out(p, "ppl", "dat");
    if (!f) { plot_rows_free(r); return -1; }
    char body[32768] = "";
    int ntask = 0, block = -1, drawn = 0, rc = 0;
    size_t used = 0;
    Panel panel = {0};
    int seeds[PLOT_MAX_SERIES];
    char task[64] = "";
    /* one gnuplot data block (index) per (task, series): a band, then its line in the same colour */
    int k = -1;
    for (int i = 0; i <= r->n && !rc; i++) {
        if (i == r->n || strcmp(r->v[i][0], task)) { /* a panel ends */
            if (ntask) {
                plot_caption_panel(p, task, &panel, seeds);
                rc = plot_caption_verdicts(p, task, "valid/ppl", &panel);
            }
            if (i == r->n) break;
            snprintf(task, sizeof task, "%s", r->v[i][0]);
            panel = (Panel){0};
            drawn = 0;
            ntask++;
            used += (size_t)snprintf(body + used, sizeof body - used, "%sset title '%s: valid perplexity (mean, 95%% band)'\nplot ",
                                     ntask > 1 ? "\n" : "", plot_gp(task));
        }
        int new_group = i == 0 || strcmp(r->v[i][7], r->v[i - 1][7]) || strcmp(r->v[i][1], r->v[i - 1][1]) ||
                        strcmp(r->v[i][0], r->v[i - 1][0]);
        if (new_group) k = plot_panel_admit(&panel, r->v[i][1]);
        if (k < 0) continue;
        if (new_group) { /* its first row */
            seeds[k] = atoi(r->v[i][6]);
            if (block >= 0) fprintf(f, "\n\n");
            fprintf(f, "# task %s series %s\n# step\tppl_mean\tppl_ci95\tseeds\n", task, r->v[i][1]);
            block++;
            drawn++;
            used += (size_t)snprintf(body + used, sizeof body - used,
                                     "%s'ppl.dat' index %d using 1:($2-$3):($2+$3) with filledcurves lc %d fs transparent solid 0.15 notitle, "
                                     "'ppl.dat' index %d using 1:2 with lines lt %d lw 2 title '%s'",
                                     k ? ", " : "", block, k + 1, block, k + 1, plot_gp(r->v[i][1]));
            if (used >= sizeof body - 512) { rc = -1; snprintf(p->err, sizeof p->err, "fig=ppl: the script outgrew its buffer"); }
        }
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][2], r->v[i][3], r->v[i][4], r->v[i][5]);
    }
    fclose(f);
    plot_rows_free(r);
    if (rc) return -1;
    static char script[40000];
    snprintf(script, sizeof script, "set multiplot layout 1,%d\nset xlabel 'step'\nset ylabel 'perplexity per token'\n"
             "set key below\n%s\nunset multiplot", ntask, body);
    return plot_gnuplot(p, "ppl", script);
}

/* The runs of one configuration group (the seeds of it) for a model: English first, then
 * `experts` experts if there are such runs (else the most), the defaults (capacity 1.25,
 * parity=params, 4 heads), the most seeds, the latest. ids gets "1,2,3", label the group's. */
static int pick_group(Plot *p, const char *model, int experts, const char *need_split, char *ids, size_t nids,
                      char *label, size_t nlabel) {
    char sql[6000];
    snprintf(sql, sizeof sql,
             "SELECT group_concat(g.run_id), g.label FROM run_groups g WHERE g.model = '%s' AND g.status = 'done' AND %s"
             " AND EXISTS (SELECT 1 FROM activations a WHERE a.run_id = g.run_id AND a.split = '%s')"
             " GROUP BY g.task, g.experts, g.heads, g.group_key"
             " ORDER BY g.task = 'english' DESC, g.experts = %d DESC, g.experts DESC,"
             " coalesce(json_extract(g.group_key, '$.capacity'), 1.25) = 1.25 DESC,"
             " coalesce(json_extract(g.group_key, '$.parity'), 'params') = 'params' DESC,"
             " g.heads IN (0, 4) DESC, count(*) DESC, max(g.run_id) DESC LIMIT 1",
             model, p->where, need_split, experts);
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
    double cmax = 0, ratio_mean[2][2], ratio_half[2][2];
    int ratio_n[2];
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
                 "SELECT a.ratio, a.ratio_paper FROM activation_ratio a WHERE a.split = 'valid'"
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
            if (end && yu < sizeof ytics - 32) yu += snprintf(ytics + yu, sizeof ytics - yu, "%s'%s' %d", row ? ", " : "", plot_gp(s->v[i][0]), row), row++;
        }
        int nruns = ratio->n;
        for (int d = 0; d < 2; d++) { /* Fig. 1a: each definition's mean over the runs with its 95% interval */
            double sum = 0, ss = 0;
            for (int i = 0; i < nruns; i++) sum += atof(ratio->v[i][d]);
            double mean = nruns ? sum / nruns : 0;
            for (int i = 0; i < nruns; i++) ss += (atof(ratio->v[i][d]) - mean) * (atof(ratio->v[i][d]) - mean);
            ratio_mean[k][d] = mean;
            ratio_half[k][d] = nruns > 1 ? student_t_quantile(0.975, nruns - 1) * sqrt(ss / (nruns - 1) / nruns) : 0;
        }
        ratio_n[k] = nruns;
        used += snprintf(body + used, sizeof body - used,
                         "set title \"%s (%d run%s): load share\"\n"
                         "set ytics (%s)\nset yrange [-0.5:%d.5]\n"
                         "plot 'activation.dat' index %d matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle\n",
                         label[k], nruns, nruns == 1 ? "" : "s", ytics, row - 1, k);
        plot_caption(p, "%s%s: activation ratio %.3f ± %.3f, paper's definition %.3f ± %.3f (n=%d runs, 95%% interval)",
                     k ? "; " : "", label[k], ratio_mean[k][0], ratio_half[k][0], ratio_mean[k][1], ratio_half[k][1], nruns);
        plot_rows_free(s); plot_rows_free(ratio);
    }
    /* the third panel, Fig. 1a: both activation ratios per model with their intervals */
    fprintf(f, "\n\n# activation ratio (share of layer x expert cells active), mean and 95%% interval over the runs\n"
               "# k\tgroup\tratio\tratio_ci95\tratio_paper\tratio_paper_ci95\truns\n");
    for (int k = 0; k < 2; k++)
        fprintf(f, "%d\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%d\n", k, label[k], ratio_mean[k][0], ratio_half[k][0], ratio_mean[k][1],
                ratio_half[k][1], ratio_n[k]);
    plot_caption(p, ". One colour scale for both maps (0 to %.3f).", cmax > 0 ? cmax : 1);
    fclose(f);
    char script[8192];
    snprintf(script, sizeof script, "set multiplot layout 1,3\nset xlabel 'expert, busiest first'\nset ylabel 'MoE layer'\n"
             "set cblabel 'load share'\n" PLOT_SEQUENTIAL_PALETTE "set cbrange [0:%.6g]\nset xrange [-0.5:%d.5]\n"
             "%s\nunset colorbox\nset title 'activation ratio (Fig. 1a; 95%% interval)'\nset xrange [-0.6:1.6]\nset yrange [0:1.05]\n"
             "unset ytics\nset ytics\nset xlabel ''\nset ylabel 'share of (layer, expert) cells active'\nset style fill solid 0.8\n"
             "set key below\n"
             "plot 'activation.dat' index 2 using ($1-0.18):3:(0.34) with boxes lt 1 title 'harness', '' index 2 using ($1-0.18):3:4 with yerrorbars lt 7 pt 0 notitle,"
             " '' index 2 using ($1+0.18):5:(0.34):xtic(2) with boxes lt 2 title \"paper's\", '' index 2 using ($1+0.18):5:6 with yerrorbars lt 7 pt 0 notitle\n"
             "unset multiplot", cmax > 0 ? cmax * 1.001 : 1, nexp - 1, body);
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
    for (int k = 0; k < 2; k++) {
        int n = 1;
        for (const char *c = ids[k]; *c; c++) n += *c == ',';
        plot_caption(p, "%s%s (n=%d runs)", k ? ", " : "Load per expert rank: ", label[k], n);
    }
    /* the router curves at the first group's expert count and training length: a curve per
     * label and layer (the same label after 550 steps and after 1,200 would draw two curves of
     * one name) */
    snprintf(sql, sizeof sql, "SELECT r.experts, " PLOT_POINT("group_key") " FROM runs r JOIN run_groups g ON g.run_id = r.id WHERE r.id = %d",
             atoi(ids[0]));
    Rows *e = plot_query(p, sql);
    if (!e) return -1;
    int experts = e->n ? atoi(e->v[0][0]) : 8;
    char point[200];
    if (plot_sql_literal(e->n ? e->v[0][1] : "", point, sizeof point)) point[0] = 0;
    const char *at = e->n ? e->v[0][1] : "";
    plot_caption(p, "; the router metrics%s%s: mean over the seeds of each group, per MoE layer.", *at ? " at " : "", at);
    plot_rows_free(e);
    if (!point[0]) { snprintf(p->err, sizeof p->err, "fig=router: a size/steps too long to query"); return -1; }
    FILE *f = plot_open_out(p, "router", "dat");
    if (!f) return -1;
    int block = -1;
    for (int k = 0; k < 4; k++) {
        snprintf(sql, sizeof sql,
                 "SELECT series, step, mean FROM (SELECT label || ' l' || substr(metric, instr(metric, '/l') + 2) AS series,"
                 " group_key, step, mean, n, max(n) OVER (PARTITION BY label, metric, group_key) AS seeds FROM curve_stats"
                 " WHERE task = 'english' AND split = 'valid' AND experts = %d AND metric LIKE '%s/l%%' AND %s AND %s = %s)"
                 " WHERE " PLOT_EVERY_SEED("n", "seeds") " ORDER BY series, group_key, step", experts, ROUTER_PANELS[k][0], p->where,
                 PLOT_POINT("group_key"), point);
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
                                 first ? "" : ", ", block, plot_gp(r->v[i][0]));
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
                 " GROUP BY rank, step HAVING " PLOT_EVERY_SEED("count(*)", "(SELECT count(DISTINCT run_id) FROM ranked)")
                 " ORDER BY rank, step", ids[k]);
        Rows *r = plot_query(p, sql);
        if (!r) { fclose(f); return -1; }
        if (!r->n) { used += snprintf(body + used, sizeof body - used, "set multiplot next\n"); plot_rows_free(r); continue; }
        used += snprintf(body + used, sizeof body - used, "set title '%s: load per expert rank'\nplot ", plot_gp(label[k]));
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
             PLOT_SEQUENTIAL_PALETTE "unset colorbox\n%s\nunset multiplot", body);
    return plot_gnuplot(p, "router", script);
}

/* a final number against x (heads, experts): one line per group of runs that share every
 * configuration value but x and the seed, the mean over seeds with its 95% interval at every x
 * (a point of one seed has none: the caption gives each point's n); the line is named by the
 * group's label without x. scope: which groups (SQL over group_stats); reference: SQL naming
 * the groups drawn as a horizontal line with its band across the plot (X-MoE for heads), or
 * NULL ---- */
static int fig_final_vs(Plot *p, const char *fig, const char *xkey, const char *xcol, const char *strip, const char *scope,
                        const char *reference, const char *xlabel, const char *need) {
    char sql[6000];
    snprintf(sql, sizeof sql,
             "SELECT " PLOT_SIZED_LABEL("replace(label, %s, '')", "group_key") " AS series, %s, mean, coalesce(ci95, 0), n,"
             " json_remove(group_key, '$.%s') AS line FROM group_stats WHERE metric = 'valid/ppl' AND task = 'english' AND %s"
             " ORDER BY sum(n) OVER (PARTITION BY series) DESC, series,"
             " sum(n) OVER (PARTITION BY json_remove(group_key, '$.%s')) DESC, line, %s",
             strip, xcol, xkey, scope, xkey, xcol);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    int xs = 0; /* a line needs two values of x: one point per series is no figure */
    for (int i = 1; i < r->n; i++) xs |= strcmp(r->v[i][1], r->v[0][1]) != 0;
    if (!xs) { plot_rows_free(r); return plot_missing(p, fig, need); }
    Rows *ref = NULL;
    if (reference) {
        snprintf(sql, sizeof sql, "SELECT " SIZED_LABEL ", mean, coalesce(ci95, 0), n FROM group_stats WHERE metric = 'valid/ppl'"
                 " AND task = 'english' AND %s ORDER BY n DESC, label", reference);
        if (!(ref = plot_query(p, sql))) { plot_rows_free(r); return -1; }
    }
    FILE *f = plot_open_out(p, fig, "dat");
    if (!f) { plot_rows_free(r); plot_rows_free(ref); return -1; }
    char body[8192] = "plot ";
    size_t used = strlen(body);
    int block = -1;
    double xmin = 1e300, xmax = 0;
    Panel panel = {0};
    for (int i = 0; i < r->n; i++) {
        double x = atof(r->v[i][1]);
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
    }
    for (int i = 0; i < r->n && used < sizeof body - 256; i++) {
        int first = i == 0 || strcmp(r->v[i][0], r->v[i - 1][0]) || strcmp(r->v[i][5], r->v[i - 1][5]);
        if (first) {
            int k = plot_panel_admit(&panel, r->v[i][0]);
            while (k < 0 && i + 1 < r->n && !strcmp(r->v[i + 1][0], r->v[i][0]) && !strcmp(r->v[i + 1][5], r->v[i][5])) i++;
            if (k < 0) continue;
            if (block >= 0) fprintf(f, "\n\n");
            fprintf(f, "# series %s\n# %s\tppl_mean\tppl_ci95\tseeds\n", r->v[i][0], xkey);
            block++;
            used += snprintf(body + used, sizeof body - used, "%s'%s.dat' index %d using 1:2:3 with yerrorlines lt %d lw 2 title '%s'",
                             block ? ", " : "", fig, block, k + 1, plot_gp(r->v[i][0]));
            plot_caption(p, "%s%s: n per %s", p->caption_used ? "; " : "", r->v[i][0], xkey);
        }
        plot_caption(p, " %s:%s", r->v[i][1], r->v[i][4]);
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][1], r->v[i][2], r->v[i][3], r->v[i][4]);
    }
    plot_caption_left_out(p, &panel);
    /* the reference groups: a line at their mean and a band of their interval, across the x range */
    for (int i = 0; ref && i < ref->n && i < 2 && used < sizeof body - 512; i++) {
        char *const *v = ref->v[i];
        double m = atof(v[1]), h = atof(v[2]);
        fprintf(f, "\n\n# reference %s (n=%s): mean and 95%% interval\n# %s\tmean\tlow\thigh\n", v[0], v[3], xkey);
        fprintf(f, "%g\t%g\t%g\t%g\n%g\t%g\t%g\t%g\n", xmin / 1.3, m, m - h, m + h, xmax * 1.3, m, m - h, m + h);
        block++;
        used += snprintf(body + used, sizeof body - used,
                         ", '%s.dat' index %d using 1:3:4 with filledcurves lc rgb '#000000' fs transparent solid 0.08 notitle,"
                         " '' index %d using 1:2 with lines lt 7 dt %d lw 1.5 title '%s (reference)'", fig, block, block, 2 + i, plot_gp(v[0]));
        plot_caption(p, "; reference %s: %.3f ± %.3f (n=%s)", v[0], m, h, v[3]);
    }
    plot_caption(p, ". Valid perplexity, mean and 95%% interval over seeds.");
    fclose(f);
    plot_rows_free(r);
    plot_rows_free(ref);
    char script[10000];
    snprintf(script, sizeof script, "set title 'English: valid perplexity against %s (mean, 95%% interval over seeds)'\n"
             "set xlabel '%s'\nset ylabel 'perplexity per token'\nset logscale x 2\nset xrange [%g:%g]\nset key outside right\n%s",
             xlabel, xlabel, xmin / 1.3, xmax * 1.3, body);
    return plot_gnuplot(p, fig, script);
}

/* Table 5: MH-MoE (each parity a line, every other key at its default) against its heads, at the
 * expert counts of experts=, with X-MoE at the same counts as the reference line */
static int fig_heads(Plot *p) {
    char scope[2000], ref[2000];
    snprintf(scope, sizeof scope, "model = 'mhmoe' AND label = 'mhmoe-' || experts || 'h' || heads || '-' || json_extract(group_key, '$.parity') AND %s AND %s",
             p->where_task, p->where_experts);
    snprintf(ref, sizeof ref, "model = 'xmoe' AND label = 'xmoe-' || experts AND %s AND %s", p->where_task, p->where_experts);
    return fig_final_vs(p, "heads", "heads", "heads", "'h' || heads", scope, ref, "MH-MoE heads",
                        "finished English mhmoe runs at two or more head counts (harness sweep model=mhmoe heads=1,2,4,8)");
}

/* the series of the filters (without experts=, every expert count) against the expert count */
static int fig_scaling(Plot *p) {
    char scope[3000];
    snprintf(scope, sizeof scope, "experts > 0 AND %s AND %s AND %s", p->where_task, p->experts_given ? p->where_experts : "1",
             p->where_labels);
    return fig_final_vs(p, "scaling", "experts", "experts", "'-' || experts", scope, NULL, "experts",
                        "finished English MoE runs at two or more expert counts (harness sweep model=xmoe,mhmoe experts=8,16,32,64)");
}

/* ---- cost: parameters, FLOPs per token and measured tokens/s per model ---- */
static int fig_cost(Plot *p) {
    char sql[4096];
    /* a series per label and size / steps: a model's parameters and FLOPs differ by size */
    snprintf(sql, sizeof sql, "SELECT " PLOT_SIZED_LABEL("coalesce(r.label, " SERIES ")", "r.comparable") " AS series,"
             " avg(r.params) / 1e6, avg(r.flops_per_token) / 1e6,"
             " avg((SELECT value FROM final_metrics f WHERE f.run_id = r.id AND f.metric = 'train_tokens_per_s')), count(*)"
             " FROM runs r WHERE r.status = 'done' AND r.id IN (SELECT run_id FROM run_groups WHERE %s) GROUP BY series ORDER BY series",
             p->where);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    if (!r->n) { plot_rows_free(r); return plot_missing(p, "cost", "finished runs"); }
    FILE *f = plot_open_out(p, "cost", "dat");
    if (!f) { plot_rows_free(r); return -1; }
    fprintf(f, "# series\tparams_M\tmflop_per_token\ttrain_tokens_per_s\n");
    for (int i = 0; i < r->n; i++) {
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][0], r->v[i][1], r->v[i][2], r->v[i][3][0] ? r->v[i][3] : "0");
        plot_caption(p, "%s%s (n=%s runs)", i ? ", " : "Means over the runs: ", r->v[i][0], r->v[i][4]);
    }
    plot_caption(p, "; tokens/s as measured on the machines that ran them (see each run's host and blas).");
    fclose(f);
    plot_rows_free(r);
    return plot_gnuplot(p, "cost",
        "set multiplot layout 1,3\nset style data histograms\nset style fill solid 0.8\nset boxwidth 0.8\n"
        "set xtics rotate by -30\nunset key\nset title 'parameters (M)'\nplot 'cost.dat' using 2:xtic(1)\n"
        "set title 'forward MFLOP per token'\nplot 'cost.dat' using 3:xtic(1)\n"
        "set title 'training tokens/s'\nplot 'cost.dat' using 4:xtic(1)\nunset multiplot");
}

/* ---- downstream: one panel per task, benchmark and metric (Tables 2-4: zero-shot multiple
 * choice, VQA and reasoning accuracy, captioning BLEU-4, ROUGE-L and CIDEr-D), each on its own
 * axis: the filters' series as bars with their 95% interval over seeds, and the blind baselines
 * as lines: chance and the model before training (mc_step0) for multiple choice; the task's own
 * baselines (valid metrics named *_METRIC: majority_acc, question_only_acc, constant_bleu4, ...)
 * for the others. downstream.md has the numbers ---- */
#define MAX_PANELS 9
static int fig_downstream(Plot *p) {
    char sql[4096];
    snprintf(sql, sizeof sql,
             "SELECT task, benchmark, metric, " SIZED_LABEL ", mean, coalesce(ci95, 0), n FROM downstream"
             " WHERE metric IN ('acc', 'bleu4', 'rouge_l', 'cider') AND benchmark <> 'mc_step0' AND %s"
             " ORDER BY task, benchmark, metric, n DESC, label", p->where);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    if (!r->n) { plot_rows_free(r); return plot_missing(p, "downstream", "downstream results of the chosen series (evals rows)"); }
    FILE *f = plot_open_out(p, "downstream", "dat"), *md = f ? plot_open_out(p, "downstream", "md") : NULL;
    if (!md) { if (f) fclose(f); plot_rows_free(r); return -1; }
    fprintf(md, "mean ± 95%% interval over seeds (n); baselines: the lines of each panel\n\n"
                "| task | benchmark | metric | series | n | mean | 95%% interval |\n|---|---|---|---|---|---|---|\n");
    static char body[32768];
    size_t used = 0;
    int panels = 0, rc = 0;
    Panel panel = {0};
    int seeds[PLOT_MAX_SERIES];
    for (int lo = 0; lo < r->n && !rc;) {
        int hi = lo;
        while (hi < r->n && !strcmp(r->v[hi][0], r->v[lo][0]) && !strcmp(r->v[hi][1], r->v[lo][1]) &&
               !strcmp(r->v[hi][2], r->v[lo][2]))
            hi++;
        char *const *head = r->v[lo];
        if (panels == MAX_PANELS) { plot_caption(p, "\n%s %s %s: not drawn (at most %d panels; choose with task=).", head[0], head[1], head[2], MAX_PANELS); lo = hi; continue; }
        panel = (Panel){0};
        fprintf(f, "%s# %s %s %s\n# k\tseries\tmean\tci95\tn\n", panels ? "\n\n" : "", head[0], head[1], head[2]);
        for (int i = lo; i < hi; i++) {
            int k = plot_panel_admit(&panel, r->v[i][3]);
            if (k < 0) continue;
            seeds[k] = atoi(r->v[i][6]);
            fprintf(f, "%d\t%s\t%s\t%s\t%s\n", k, r->v[i][3], r->v[i][4], r->v[i][5], r->v[i][6]);
            fprintf(md, "| %s | %s | %s | %s | %s | %.4f | ± %.4f |\n", head[0], head[1], head[2], r->v[i][3], r->v[i][6],
                    atof(r->v[i][4]), atof(r->v[i][5]));
        }
        /* the baselines: each a mean over the task's finished runs (they depend on the data only) */
        char bsql[6000], tq[300], mq[300];
        if (plot_sql_literal(head[0], tq, sizeof tq) || plot_sql_literal(head[2], mq, sizeof mq)) {
            snprintf(p->err, sizeof p->err, "fig=downstream: db=%s: a task or metric name of over 140 characters: %.100s",
                     p->dbpath, head[0]);
            rc = -1;
            break;
        }
        if (!strcmp(head[1], "mc"))
            snprintf(bsql, sizeof bsql, "SELECT 'chance', 0.25 UNION ALL SELECT 'before training', avg(mean) FROM downstream"
                     " WHERE task = %s AND benchmark = 'mc_step0' AND metric = %s AND %s HAVING count(*) > 0", tq, mq, p->where);
        else
            snprintf(bsql, sizeof bsql, "SELECT replace(substr(f.metric, 1, length(f.metric) - length(%s) - 1), '_', ' ') || ' (valid)',"
                     " avg(f.value) FROM final_metrics f WHERE f.task = %s AND f.status = 'done' AND f.split = 'valid'"
                     " AND f.metric LIKE '%%!_' || %s ESCAPE '!' AND f.metric <> %s GROUP BY f.metric ORDER BY f.metric",
                     mq, tq, mq, mq);
        Rows *b = plot_query(p, bsql);
        if (!b) { rc = -1; break; }
        used += (size_t)snprintf(body + used, sizeof body - used,
                                 "set title '%s %s: %s'\nset xrange [-0.6:%d.6]\nplot 'downstream.dat' index %d using 1:3:(0.7):($1+1):xtic(2)"
                                 " with boxes lc variable notitle, '' index %d using 1:3:4 with yerrorbars lc rgb '#000000' pt 0 notitle",
                                 plot_gp(head[0]), plot_gp(head[1]), plot_gp(head[2]), panel.n - 1, panels, panels);
        plot_caption_panel(p, head[0], &panel, seeds);
        plot_caption(p, " %s %s baselines:", head[1], head[2]);
        for (int i = 0; i < b->n; i++) {
            used += (size_t)snprintf(body + used, sizeof body - used, ", %s with lines lt 7 dt %d lw 1.5 title '%s'",
                                     b->v[i][1], i + 2, plot_gp(b->v[i][0]));
            plot_caption(p, "%s %s %.3f", i ? "," : "", b->v[i][0], atof(b->v[i][1]));
            fprintf(md, "| %s | %s | %s | baseline: %s | | %.4f | |\n", head[0], head[1], head[2], b->v[i][0], atof(b->v[i][1]));
        }
        plot_caption(p, "%s.", b->n ? "" : " none stored");
        plot_rows_free(b);
        if (used < sizeof body) used += (size_t)snprintf(body + used, sizeof body - used, "\n");
        if (used >= sizeof body - 1024) { rc = -1; snprintf(p->err, sizeof p->err, "fig=downstream: the script outgrew its buffer"); }
        panels++;
        lo = hi;
    }
    fclose(f);
    fclose(md);
    plot_rows_free(r);
    if (rc) return -1;
    static char script[34000];
    int cols = panels < 3 ? panels : 3;
    snprintf(script, sizeof script, "set multiplot layout %d,%d\nset style fill solid 0.8 border -1\nset xtics rotate by -25\n"
             "set yrange [0:*]\nset key below\nset bars 2\n%sunset multiplot", (panels + cols - 1) / cols, cols, body);
    return plot_gnuplot(p, "downstream", script);
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
    {"ablations", fig_ablations, 1, "the paper's Tables 6 and 7: each ablated variant minus the full model, paired, with Holm's verdicts (sweep ablations)"},
    {"compute", fig_compute, 1, "the paired gaps MH-MoE - X-MoE and each - dense against training FLOPs, with trends (sweep compute)"},
};
#define NFIG ((int)(sizeof FIGURES / sizeof FIGURES[0]))

static const char *figure_name(int i) { return FIGURES[i].name; }

const char *plot_figure_names(void) {
    static char names[1024];
    return names[0] ? names : key_join_names(names, sizeof names, figure_name, NFIG);
}

void plot_print_help(FILE *f) {
    fprintf(f, "harness plot [fig=all|NAME] [db=results.db] [out=figures] [task=T,..] [experts=8,32] [labels=L,..]\n"
               "The figures (all: every one; those marked only when the db holds their runs), at most %d series a\n"
               "panel (the most seeds first): without labels=, dense, xmoe-E and mhmoe-Eh4-params; each with\n"
               "NAME.caption.md from the db: n per series, what was left out, the adjusted verdicts it shows.\n\n",
            PLOT_MAX_SERIES);
    for (int k = 0; k < NFIG; k++) fprintf(f, "  %-12s %s%s\n", FIGURES[k].name, FIGURES[k].help, FIGURES[k].optional ? " [optional]" : "");
}

/* what drawing needs before the first figure: gnuplot, the db (read-only), the out folder; 0, or
 * -1 with p->err (nothing left open) */
static int plot_begin(Plot *p, const char *dbpath, const char *out, const char *task, const char *experts,
                      const char *labels) {
    *p = (Plot){.dbpath = dbpath, .out = out};
    if (plot_set_filters(p, task, experts, labels)) return -1;
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

/* figure k, from a clean slate (no caption, error or missing-data flag of the one before) */
static int draw(Plot *p, int k) {
    p->no_data = 0;
    p->err[0] = 0;
    p->caption_used = 0, p->caption[0] = 0;
    return FIGURES[k].make(p);
}

int harness_plot(int argc, char **argv) {
    static const char *const names[] = {"fig", "db", "out", "task", "experts", "labels"};
    const char *v[] = {"all", "results.db", "figures", "", "", ""};
    if (key_take_words(argc, argv, names, v, 6)) return 2;
    const char *fig = v[0], *dbpath = v[1], *out = v[2];
    int want = -1;
    if (strcmp(fig, "all")) {
        for (int k = 0; k < NFIG; k++) if (!strcmp(FIGURES[k].name, fig)) want = k;
        if (want < 0) {
            fprintf(stderr, "error: fig=%s: expected all or one of %s\n", fig, plot_figure_names());
            return 2;
        }
    }
    static Plot p;
    if (plot_begin(&p, dbpath, out, v[3], v[4], v[5])) { fprintf(stderr, "error: %s\n", p.err); return 2; }
    int failed = 0;
    for (int k = 0; k < NFIG; k++) {
        if (want >= 0 && k != want) continue;
        if (draw(&p, k) == 0) continue;
        if (want < 0 && FIGURES[k].optional && p.no_data) printf("plot %s: skipped (%s)\n", FIGURES[k].name, p.err);
        else { fprintf(stderr, "error: %s\n", p.err); failed++; }
    }
    results_close(p.db);
    return failed ? 2 : 0;
}

int plot_each(const char *dbpath, const char *out, PlotDrawn drawn, void *ctx, char *err, size_t errlen) {
    static Plot p;
    if (plot_begin(&p, dbpath, out, NULL, NULL, NULL)) { snprintf(err, errlen, "%s", p.err); return -1; }
    for (int k = 0; k < NFIG; k++) {
        int ok = draw(&p, k) == 0;
        drawn(ctx, FIGURES[k].name, FIGURES[k].help, ok, ok ? NULL : p.err, ok ? p.caption : NULL);
    }
    results_close(p.db);
    return 0;
}
