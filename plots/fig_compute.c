/* The paired gaps of the paper's claim, two ways: against training compute (compute) and
 * against the step (gaps).
 * ---- compute: the paired gaps of the paper's claim against training compute (`harness sweep
 * compute`): MH-MoE - X-MoE, MH-MoE - dense and X-MoE - dense in English valid bits per byte
 * (negative: the first is better), each with its 95% interval over the seeds, at every (size,
 * steps) point, one panel per expert count; and per series a trend: the gap's change per
 * doubling of the training FLOPs, a weighted least-squares line through the points (weights 1 /
 * se^2, se from each point's own interval), with its 95% interval (normal: the points' variances
 * are taken as known). compute.md has the table. ---- */
#include "plot_lib.h"
#include "results/stats.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the first run id of a comma list (a side's runs in verdicts) */
#define FIRST_RUN(list) "CAST(substr(" list ", 1, instr(" list " || ',', ',') - 1) AS INTEGER)"
/* the training FLOPs of a side: its runs' forward FLOPs per token x 3 (forward, and backward
 * at twice the forward) x the tokens trained */
#define TRAIN_FLOPS(runs, key)                                                                   \
    "3.0 * (SELECT flops_per_token FROM runs WHERE id = " FIRST_RUN(runs) ") * json_extract(" key \
    ", '$.steps') * json_extract(" key ", '$.batch') * json_extract(" key ", '$.seq_len')"

/* The three comparisons of the claim, over a pair of runs or groups whose models, joined a then
 * b (SQL MODELS), are mhmoe xmoe, dense mhmoe or dense xmoe: PAIR_KEPT keeps them, PAIR_SERIES
 * names one "MH-MoE - X-MoE" or "MoE - dense" by the two labels, PAIR_SIGN turns b - a into that
 * gap (+1 or -1) */
#define PAIR_KEPT(MODELS) MODELS " IN ('mhmoexmoe', 'densemhmoe', 'densexmoe')"
#define PAIR_SERIES(MODELS, A, B) "CASE WHEN " MODELS " = 'mhmoexmoe' THEN " A " || ' - ' || " B " ELSE " B " || ' - ' || " A " END"
#define PAIR_SIGN(MODELS) "(CASE WHEN " MODELS " = 'mhmoexmoe' THEN -1 ELSE 1 END)"
/* both sides among the filters' series (two %s for p->where) */
#define PAIR_DRAWN(A, B) A " IN (SELECT label FROM run_groups WHERE %s) AND " B " IN (SELECT label FROM run_groups WHERE %s)"

/* series: the three comparisons (named by the two labels: parity, heads), per expert count,
 * each oriented MH-MoE - X-MoE or MoE - dense; dense has no expert key, so a row's experts are
 * the MoE side's. The rows at one point (size, steps) are one family: Holm's p over them, the
 * verdict it allows (%s twice: the series kept) */
static const char *const COMPUTE_SQL =
    "WITH family AS (SELECT *, coalesce(json_extract(a_key, '$.experts'), json_extract(b_key, '$.experts')) AS experts,"
    "   " PLOT_SIZE_STEPS("a_key") " AS point,"
    "   (" TRAIN_FLOPS("a_runs", "a_key") " + " TRAIN_FLOPS("b_runs", "b_key") ") / 2 AS flops,"
    "   json_extract(a_key, '$.steps') * json_extract(a_key, '$.batch') * json_extract(a_key, '$.seq_len') /"
    "   (SELECT value FROM metrics WHERE run_id = " FIRST_RUN("a_runs") " AND split = 'train' AND name = 'tokens'"
    "    ORDER BY step LIMIT 1) AS epochs, " RESULTS_PAIRED_P " AS p"
    "   FROM verdicts WHERE task = 'english' AND metric = 'valid/bpb' AND by_key = 'model' AND n >= 2"
    "   AND " PAIR_KEPT("a || b") " AND " PAIR_DRAWN("a_label", "b_label") "),"
    RESULTS_HOLM_CTES("PARTITION BY point")
    " SELECT " PAIR_SERIES("a || b", "a_label", "b_label") " AS series,"
    "   experts, point, flops, epochs, n, " PAIR_SIGN("a || b") " * diff AS gap, ci_high - diff AS half, min_detectable,"
    "   p_holm, " RESULTS_VERDICT_HOLM ", m"
    " FROM adjusted ORDER BY experts, series, flops";

/* without labels=, the grid's series: the filters' defaults and MH-MoE at FLOP parity */
#define COMPUTE_LABELS "label IN (" PLOT_PAPER_LABELS ", 'mhmoe-' || experts || 'h4-flops')"

/* the trend of one series over rows [lo, hi): slope of gap on log2(flops), its 95% half-width */
typedef struct { double slope, half; int points; } Trend;

static Trend trend_of(Rows *r, int lo, int hi) {
    double sw = 0, swx = 0, swy = 0;
    Trend t = {NAN, NAN, hi - lo};
    double *x = malloc(sizeof(double) * (size_t)(hi - lo)), *y = malloc(sizeof(double) * (size_t)(hi - lo));
    double *w = malloc(sizeof(double) * (size_t)(hi - lo));
    if (!x || !y || !w) { free(x); free(y); free(w); return t; }
    for (int i = lo; i < hi; i++) {
        int n = atoi(r->v[i][5]);
        double se = atof(r->v[i][7]) / student_t_quantile(0.975, n - 1);
        x[i - lo] = log2(atof(r->v[i][3]));
        y[i - lo] = atof(r->v[i][6]);
        w[i - lo] = se > 0 ? 1 / (se * se) : 0;
        sw += w[i - lo], swx += w[i - lo] * x[i - lo], swy += w[i - lo] * y[i - lo];
    }
    double sxx = 0, sxy = 0;
    for (int i = 0; sw > 0 && i < hi - lo; i++) {
        sxx += w[i] * (x[i] - swx / sw) * (x[i] - swx / sw);
        sxy += w[i] * (x[i] - swx / sw) * (y[i] - swy / sw);
    }
    if (hi - lo >= 2 && sxx > 0) {
        t.slope = sxy / sxx;
        t.half = 1.959964 / sqrt(sxx);
    }
    free(x); free(y); free(w);
    return t;
}

int fig_compute(Plot *p) {
    static char sql[16384], where[sizeof p->where + 200]; /* the grid's series, unless labels= says others */
    if (p->labels_given) snprintf(where, sizeof where, "%s", p->where);
    else snprintf(where, sizeof where, "(%s AND %s AND " COMPUTE_LABELS ")", p->where_task, p->where_experts);
    snprintf(sql, sizeof sql, COMPUTE_SQL, where, where);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    if (!r->n) {
        plot_rows_free(r);
        return plot_missing(p, "compute", "English dense / X-MoE / MH-MoE runs paired by seed (two seeds or more) at "
                                          "some (size, steps) (harness sweep compute)");
    }
    FILE *f = plot_open_out(p, "compute", "dat"), *md = f ? plot_open_out(p, "compute", "md") : NULL;
    if (!md) { if (f) fclose(f); plot_rows_free(r); return -1; }
    fprintf(md, "Paired gaps in English valid bits per byte (first - second; negative: the first is better), mean over "
                "the seeds with its 95%% interval; training FLOPs: 3 x forward FLOPs per token x tokens "
                "trained, the mean of the two sides. Trend: the gap's change per doubling of the FLOPs (weighted least squares, "
                "95%% interval). Detectable: the difference these seeds detect with 80%% power; the rows at one size/steps are "
                "one family (m rows), and verdict is Holm's over it.\n\n| comparison | experts | size/steps | epochs | training FLOPs | n | gap | "
                "95%% interval | detectable | p_holm (m) | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    char plots[2][8192] = {"", ""};
    char trends[4096] = "";
    size_t tused = 0;
    int panel_of[2] = {8, 32}, index = 0;
    for (int lo = 0; lo < r->n;) {
        int hi = lo;
        while (hi < r->n && !strcmp(r->v[hi][0], r->v[lo][0]) && !strcmp(r->v[hi][1], r->v[lo][1])) hi++;
        fprintf(f, "%s# %s, %s experts\n# flops\tgap\thalf\n", index ? "\n\n" : "", r->v[lo][0], r->v[lo][1]);
        for (int i = lo; i < hi; i++) {
            char *const *v = r->v[i];
            double gap = atof(v[6]), half = atof(v[7]);
            fprintf(f, "%s\t%.6f\t%.6f\n", v[3], gap, half);
            plot_caption(p, "%s%s (%s experts) at %s: %+.4f [%+.4f, %+.4f] (n=%s)", p->caption_used ? "; " : "", v[0], v[1], v[2],
                         gap, gap - half, gap + half, v[5]);
            fprintf(md, "| %s | %s | %s | %.2f | %.3g | %s | %+.4f | [%+.4f, %+.4f] | %.4f | %.3g (%s) | %s |\n", v[0], v[1], v[2],
                    atof(v[4]), atof(v[3]), v[5], gap, gap - half, gap + half, atof(v[8]), atof(v[9]), v[11], v[10]);
        }
        Trend t = trend_of(r, lo, hi);
        if (tused < sizeof trends)
            tused += isnan(t.slope)
                         ? (size_t)snprintf(trends + tused, sizeof trends - tused, "| %s | %s | %d | %s |\n",
                                            r->v[lo][0], r->v[lo][1], t.points,
                                            t.points < 2 ? "(one point)" : "(none: a point without spread has no weight)")
                         : (size_t)snprintf(trends + tused, sizeof trends - tused, "| %s | %s | %d | %+.4f [%+.4f, %+.4f] |\n",
                                            r->v[lo][0], r->v[lo][1], t.points, t.slope, t.slope - t.half, t.slope + t.half);
        int panel = atoi(r->v[lo][1]) == panel_of[1];
        size_t used = strlen(plots[panel]);
        if (used < sizeof plots[panel] - 256)
            snprintf(plots[panel] + used, sizeof plots[panel] - used,
                     "%s'compute.dat' index %d using 1:2:3 with yerrorlines lw 2 pt %d title '%s'", used ? ", " : "",
                     index, 5 + 2 * (index % 4), plot_gp(r->v[lo][0]));
        index++;
        lo = hi;
    }
    fprintf(md, "\n| trend | experts | points | change per doubling of FLOPs |\n|---|---|---|---|\n%s", trends);
    plot_caption(p, ". Paired gaps in English valid bits per byte (95%% intervals over the seeds); the trends per doubling "
                    "of the training FLOPs are in compute.md.");
    fclose(f);
    fclose(md);
    plot_rows_free(r);
    char script[20000];
    /* one panel per expert count that has a series (another count than 32 is drawn with 8) */
    size_t used = (size_t)snprintf(script, sizeof script,
        "set multiplot layout 1,%d title 'English: paired gaps against training compute (mean and 95%% interval over "
        "seeds; below 0: the first is better)'\nset logscale x 2\nset format x '%%.1s%%c'\nset xlabel 'training FLOPs (G: 1e9, T: 1e12)'\n"
        "set ylabel 'gap in valid bits per byte'\nset key below\nset xzeroaxis\n",
        (plots[0][0] != 0) + (plots[1][0] != 0));
    for (int k = 0; k < 2; k++)
        if (plots[k][0] && used < sizeof script)
            used += (size_t)snprintf(script + used, sizeof script - used, "set title '%d experts'\nplot %s\n", panel_of[k], plots[k]);
    if (used < sizeof script) snprintf(script + used, sizeof script - used, "unset multiplot\n");
    return plot_gnuplot(p, "compute", script);
}

/* ---- gaps: the paired gap at every evaluation step (valid bits per byte; MH-MoE - X-MoE, MoE -
 * dense), the mean over seeds with its 95% band, one panel per task: where the curves of `ppl`
 * overlap, this is the panel in which a real difference shows (or does not) ---- */
static const char *const GAPS_SQL =
    "WITH d AS (SELECT p.task, " PAIR_SERIES("m", "p.a_label", "p.b_label") " || ' ' || json_extract(p.a_key, '$.size')"
    "   || '/' || json_extract(p.a_key, '$.steps') AS series, ma.step AS step, " PAIR_SIGN("m") " * (mb.value - ma.value) AS gap"
    "  FROM (SELECT *, json_extract(a_key, '$.model') || json_extract(b_key, '$.model') AS m FROM run_pairs"
    "        WHERE by_key = 'model') p"
    "  JOIN metrics ma ON ma.run_id = p.a_id AND ma.split = 'valid' AND ma.name = 'bpb'"
    "  JOIN metrics mb ON mb.run_id = p.b_id AND mb.split = 'valid' AND mb.name = 'bpb' AND mb.step = ma.step"
    "  WHERE " PAIR_KEPT("p.m") " AND " PAIR_DRAWN("p.a_label", "p.b_label") "),"
    " s AS (SELECT task, series, step, count(*) AS n, avg(gap) AS mean, CASE WHEN count(*) > 1 THEN"
    "   sqrt(max(sum(gap * gap) - count(*) * avg(gap) * avg(gap), 0) / (count(*) - 1)) END AS sd"
    "  FROM d GROUP BY task, series, step),"
    " w AS (SELECT *, max(n) OVER (PARTITION BY task, series) AS seeds FROM s)"
    " SELECT w.task, w.series, w.step, w.mean, coalesce(t.t975 * w.sd / sqrt(w.n), 0), w.n FROM w"
    " LEFT JOIN student_t t ON t.df = (SELECT max(df) FROM student_t WHERE df <= w.n - 1)"
    " WHERE " PLOT_EVERY_SEED("w.n", "w.seeds")
    " ORDER BY w.task, w.series, w.step";

int fig_gaps(Plot *p) {
    static char sql[16384];
    snprintf(sql, sizeof sql, GAPS_SQL, p->where, p->where);
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    if (!r->n) {
        plot_rows_free(r);
        return plot_missing(p, "gaps", "dense / X-MoE / MH-MoE runs paired by seed with valid bits per byte");
    }
    FILE *f = plot_open_out(p, "gaps", "dat");
    if (!f) { plot_rows_free(r); return -1; }
    char body[32768] = "";
    size_t used = 0;
    int block = -1, panels = 0, k = 0, seeds[PLOT_MAX_SERIES];
    Panel panel = {0};
    for (int i = 0; i <= r->n && used < sizeof body - 512; i++) {
        int new_task = i == r->n || i == 0 || strcmp(r->v[i][0], r->v[i - 1][0]);
        if (new_task && i) plot_caption_panel(p, r->v[i - 1][0], &panel, seeds); /* n: the seeds at the last step */
        if (i == r->n) break;
        if (new_task) panel = (Panel){0};
        if (new_task || strcmp(r->v[i][1], r->v[i - 1][1])) {
            k = plot_panel_admit(&panel, r->v[i][1]) + 1;
            if (k == 0) {
                while (i + 1 < r->n && !strcmp(r->v[i + 1][0], r->v[i][0]) && !strcmp(r->v[i + 1][1], r->v[i][1])) i++;
                continue;
            }
            fprintf(f, "%s# task %s series %s\n# step\tgap_mean\tgap_ci95\tseeds\n", block >= 0 ? "\n\n" : "", r->v[i][0], r->v[i][1]);
            block++;
            if (k == 1) {
                panels++;
                used += (size_t)snprintf(body + used, sizeof body - used,
                                         "%sset title '%s: paired gap in valid bits per byte (mean, 95%% band over seeds; "
                                         "below 0: the first is better)'\nplot ", i ? "\n" : "", plot_gp(r->v[i][0]));
            } else used += (size_t)snprintf(body + used, sizeof body - used, ", ");
            used += (size_t)snprintf(body + used, sizeof body - used,
                                     "'gaps.dat' index %d using 1:($2-$3):($2+$3) with filledcurves lc %d fs transparent "
                                     "solid 0.15 notitle, 'gaps.dat' index %d using 1:2 with linespoints lt %d lw 2 title '%s'",
                                     block, k, block, k, plot_gp(r->v[i][1]));
        }
        seeds[k - 1] = atoi(r->v[i][5]);
        fprintf(f, "%s\t%s\t%s\t%s\n", r->v[i][2], r->v[i][3], r->v[i][4], r->v[i][5]);
    }
    plot_caption(p, " Gaps in valid bits per byte, paired by seed, mean and 95%% band over the seeds.");
    fclose(f);
    plot_rows_free(r);
    char script[36000];
    snprintf(script, sizeof script, "set multiplot layout 1,%d\nset xlabel 'step'\nset ylabel 'gap (bits per byte)'\n"
             "set key below\nset xzeroaxis lt 7 lw 1\n%s\nunset multiplot", panels, body);
    return plot_gnuplot(p, "gaps", script);
}
