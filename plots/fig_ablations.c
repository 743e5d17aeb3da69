/* ---- ablations: the paper's Tables 6 and 7 as paired differences (`harness sweep ablations`):
 * each ablated variant minus the full model it is cut from, in English valid bits per byte, the
 * mean over the paired seeds with its 95% interval; a panel for Table 6 (MH-MoE without its head
 * or merge layer or the split, at FLOP parity; Dense with the two layers) and one for Table 7 (0
 * to 3 layers in the head and merge layers, at parameter parity). The caption has every row's n,
 * interval and Holm-adjusted verdict (its family: the key's comparisons at that length), and
 * where the paper has the row, its gap in bits per token and the bytes per token at which that
 * gap would fall in our interval (paper_numbers.h). One training length (size / steps) is drawn,
 * the one with the most rows; the others are named in the caption. ---- */
#include "paper_numbers.h"
#include "plot_lib.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the keys an ablation turns, and the value of the full model each one is measured against */
static const char *const ABLATION_KEYS[][2] = {
    {"mh_layers", "both"}, {"heads", "4"}, {"dense_mlp", "none"}, {"mh_mlp", "1"},
};

/* one key's rows: the ablated side's label, the panel, the gap oriented ablated - full, its
 * half-width, n, p_holm of family, the adjusted verdict, the full side's label, the ablated
 * side's value of the key, the experts, the size / steps (%s: the full model's value, then the key) */
static const char *const ABLATION_SQL =
    "SELECT CASE WHEN full_is_a THEN b_label ELSE a_label END AS ablated,"
    " CASE WHEN by_key = 'mh_mlp' OR (by_key = 'mh_layers' AND json_extract(a_key, '$.parity') = 'params')"
    "  THEN 'Table 7: layers in the head and merge layers (parameter parity)'"
    "  ELSE 'Table 6: components (MH-MoE at FLOP parity; Dense w/ MLP)' END AS panel,"
    " CASE WHEN full_is_a THEN diff ELSE -diff END, ci_high - diff, n,"
    " coalesce(printf('%%.2g of %%d', p_holm, family), '-'), verdict_holm,"
    " CASE WHEN full_is_a THEN a_label ELSE b_label END,"
    " CASE WHEN full_is_a THEN CAST(b AS TEXT) ELSE CAST(a AS TEXT) END,"
    " coalesce(json_extract(a_key, '$.experts'), 0), " PLOT_POINT("a_key")
    " FROM (SELECT *, CAST(a AS TEXT) = '%1$s' AS full_is_a FROM verdicts_holm"
    "  WHERE task = 'english' AND metric = 'valid/bpb' AND by_key = '%2$s' AND n >= 2"
    "  AND '%1$s' IN (CAST(a AS TEXT), CAST(b AS TEXT)))";

/* the paper's row beside ours: its gap in bits per token and the bytes per token at which it
 * falls in our interval [lo, hi], as two dat columns (tab-separated) and a caption clause */
static void paper_said(const PaperAblation *ref, double lo, double hi, char *dat, size_t ndat, char *said, size_t nsaid) {
    double g = paper_gap_bits_per_token(ref), bmin, bmax;
    char range[80];
    if (!paper_gap_bytes_range(g, lo, hi, &bmin, &bmax)) snprintf(range, sizeof range, "none");
    else if (bmin == 0 && isinf(bmax)) snprintf(range, sizeof range, "any");
    else if (isinf(bmax)) snprintf(range, sizeof range, "%.2g or more", bmin);
    else snprintf(range, sizeof range, "%.2g-%.2g", bmin, bmax);
    snprintf(dat, ndat, "%+.4f\t%s", g, range);
    snprintf(said, nsaid, " (the paper, %s %s: %.2f -> %.2f perplexity per token, %+.4f bits per token; in this "
             "interval at %s bytes per token)", ref->panel, ref->row, ref->ppl_full, ref->ppl_ablated, g, range);
}

int fig_ablations(Plot *p) {
    int nkeys = (int)(sizeof ABLATION_KEYS / sizeof ABLATION_KEYS[0]);
    Rows *all[sizeof ABLATION_KEYS / sizeof ABLATION_KEYS[0]] = {0};
    int rows = 0, rc = 0;
    for (int k = 0; k < nkeys && !rc; k++) {
        char sql[2048];
        const char *key = ABLATION_KEYS[k][0], *full = ABLATION_KEYS[k][1];
        snprintf(sql, sizeof sql, ABLATION_SQL, full, key);
        if (!(all[k] = plot_query(p, sql))) rc = -1;
        else rows += all[k]->n;
    }
    /* the length drawn: the one with the most rows (the first of those met) */
    enum { MAX_POINTS = 16 };
    const char *point[MAX_POINTS];
    int npoint[MAX_POINTS] = {0}, npoints = 0, drawn = 0;
    for (int k = 0; k < nkeys && !rc; k++)
        for (int i = 0; i < all[k]->n; i++) {
            int j = 0;
            while (j < npoints && strcmp(point[j], all[k]->v[i][10])) j++;
            if (j == npoints && npoints < MAX_POINTS) point[npoints++] = all[k]->v[i][10];
            if (j < npoints) npoint[j]++;
        }
    for (int j = 1; j < npoints; j++) if (npoint[j] > npoint[drawn]) drawn = j;
    FILE *f = NULL;
    if (!rc && !rows) rc = plot_missing(p, "ablations", "English ablation runs paired by seed (harness sweep ablations)");
    if (!rc && !(f = plot_open_out(p, "ablations", "dat"))) rc = -1;
    /* two panels, each a data block of (x, gap, half) with the ablated label as the tic */
    static const char *const PANELS[2] = {"Table 6", "Table 7"};
    char body[8192] = "";
    size_t used = 0;
    int blocks = 0;
    for (int panel = 0; panel < 2 && !rc; panel++) {
        int x = 0;
        for (int k = 0; k < nkeys; k++)
            for (int i = 0; i < all[k]->n; i++) {
                char *const *v = all[k]->v[i];
                if (strncmp(v[1], PANELS[panel], strlen(PANELS[panel])) || strcmp(v[10], point[drawn])) continue;
                if (!x) {
                    fprintf(f, "%s# %s\n# x\tablated\tgap\thalf\tn\tpaper_bits_per_token\tpaper_in_interval_bytes_per_token\n",
                            blocks ? "\n\n" : "", v[1]);
                    used += (size_t)snprintf(body + used, sizeof body - used,
                                             "set title '%s'\nplot 'ablations.dat' index %d using 1:3:4:xtic(2) with yerrorbars"
                                             " lt %d pt 7 ps 1.2 lw 2 notitle\n", plot_gp(v[1]), blocks, panel + 1);
                    blocks++;
                }
                /* the tic: what the ablation turned, where its label is the full one's and more */
                size_t nfull = strlen(v[7]);
                const char *tic = !strncmp(v[0], v[7], nfull) && v[0][nfull] == '-' ? v[0] + nfull + 1 : v[0];
                double gap = atof(v[2]), half = atof(v[3]);
                char paper[160] = "-\t-", said[400] = "";
                const PaperAblation *ref = paper_ablation(v[1], ABLATION_KEYS[k][0], v[8], atoi(v[9]));
                if (ref) paper_said(ref, gap - half, gap + half, paper, sizeof paper, said, sizeof said);
                fprintf(f, "%d\t%s\t%.6f\t%.6f\t%s\t%s\n", x++, tic, gap, half, v[4], paper);
                plot_caption(p, "%s%s - %s = %+.4f [%+.4f, %+.4f] (n=%s, p_holm %s): %s%s", p->caption_used ? "; " : "", v[0],
                             v[7], gap, gap - half, gap + half, v[4], v[5], v[6], said);
            }
    }
    if (!rc) {
        plot_caption(p, ". At %s", point[drawn][0] ? point[drawn] : "no size/steps");
        if (npoints > 1) plot_caption(p, " (left out, at other lengths:");
        for (int j = 0, said = 0; j < npoints; j++)
            if (j != drawn) plot_caption(p, "%s %s (%d row%s)", said++ ? "," : "", point[j][0] ? point[j] : "no size/steps", npoint[j],
                                     npoint[j] == 1 ? "" : "s");
        if (npoints > 1) plot_caption(p, ")");
    }
    for (int k = 0; k < nkeys; k++) plot_rows_free(all[k]);
    if (rc) { if (f) fclose(f); return -1; }
    plot_caption(p, ": English valid bits per byte, each ablated variant minus the full model, paired by seed; 95%% "
                    "intervals; Holm within each key's family. The paper's rows: arXiv:2404.15045v1, English, 8 experts, "
                    "perplexity per GPT-4 token (one run each; Table 7 the mean of five); its gap of g bits per token is "
                    "g / B bits per byte at B bytes per token, so it can only be set beside ours through B.");
    fclose(f);
    char script[10000];
    snprintf(script, sizeof script, "set multiplot layout 1,%d title 'Ablations: ablated minus full model (mean and 95%% "
             "interval over paired seeds; above 0: the full model is better)'\nset ylabel 'gap in valid bits per byte'\n"
             "set xtics rotate by -25\nset xzeroaxis lt 7 lw 1\nset offsets 0.5, 0.5, graph 0.05, graph 0.05\n%sunset multiplot",
             blocks, body);
    return plot_gnuplot(p, "ablations", script);
}
