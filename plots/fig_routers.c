/* ---- routers: English valid bits per byte against the training-time max violation (max expert
 * load / mean load - 1, DeepSeek-V3's MaxVio, over the last logging window), one point per
 * group of runs of `harness sweep routers` (X-MoE and MH-MoE with experts=8: balance modes,
 * expert choice, z-loss, a shared expert, fine-grained experts), the mean over seeds with its
 * 95% interval on both axes; routers.md has the numbers with load_cv and n ---- */
#include "plot_lib.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the routers grid's groups: X-MoE and MH-MoE (4 heads, parameter parity) with experts=8 (the key:
 * granularity multiplies the experts that run) and the capacity default; the paper grid's other ablations (code router, summed balance, dropless,
 * FLOP parity) are left out */
#define ROUTER_GROUPS                                                                               \
    "b.task = 'english' AND json_extract(b.group_key, '$.experts') = 8"                               \
    " AND (b.model = 'xmoe' OR (b.model = 'mhmoe' AND json_extract(b.group_key, '$.heads') = 4))"   \
    " AND b.label NOT LIKE '%-code%' AND b.label NOT LIKE '%-balsum%' AND b.label NOT LIKE '%-dropless%'" \
    " AND b.label NOT LIKE '%-flops%' AND b.label NOT LIKE '%-cap%'"

#define STAT(alias, metric) \
    " JOIN group_stats " alias " ON " alias ".group_key = b.group_key AND " alias ".task = b.task AND " \
    alias ".model = b.model AND " alias ".metric = '" metric "'"

int fig_routers(Plot *p) {
    Rows *r = plot_query(p,
        "SELECT " PLOT_SIZED_LABEL("b.label", "b.group_key") " AS series, b.n, b.mean, coalesce(b.ci95, 0), v.mean, coalesce(v.ci95, 0), c.mean, coalesce(c.ci95, 0)"
        " FROM group_stats b" STAT("v", "train/max_violation") STAT("c", "train/load_cv")
        " WHERE b.metric = 'valid/bpb' AND " ROUTER_GROUPS " ORDER BY b.model DESC, series");
    if (!r) return -1;
    if (!r->n) {
        plot_rows_free(r);
        return plot_missing(p, "routers", "finished English X-MoE / MH-MoE runs at 8 experts with the imbalance metrics (harness sweep routers)");
    }
    FILE *f = plot_open_out(p, "routers", "dat"), *md = f ? plot_open_out(p, "routers", "md") : NULL;
    if (!md) { if (f) fclose(f); plot_rows_free(r); return -1; }
    fprintf(md, "| runs | n | valid bpb | train max_violation | train load_cv |\n|---|---|---|---|---|\n");
    char body[16384] = "plot ";
    size_t used = strlen(body);
    /* the k-th variant of each model gets colour and marker shape k: X-MoE's filled, MH-MoE's open,
     * so one routing idea reads as a pair across the two models */
    int variants[2] = {0, 0};
    for (int i = 0; i < r->n && used < sizeof body - 256; i++) {
        char *const *v = r->v[i];
        int mh = !strncmp(v[0], "mhmoe", 5), k = variants[mh]++;
        fprintf(f, "%s# %s (%s seeds)\n# max_violation\tbpb\tmax_violation_ci95\tbpb_ci95\n%s\t%s\t%s\t%s\n",
                i ? "\n\n" : "", v[0], v[1], v[4], v[2], v[5], v[3]);
        plot_caption(p, "%s%s (n=%s)", i ? ", " : "English, 8 experts, one point per group (mean and 95% interval over seeds): ",
                     v[0], v[1]);
        fprintf(md, "| %s | %s | %.4f ± %.4f | %.3f ± %.3f | %.3f ± %.3f |\n", v[0], v[1], atof(v[2]), atof(v[3]),
                atof(v[4]), atof(v[5]), atof(v[6]), atof(v[7]));
        used += snprintf(body + used, sizeof body - used, "%s'routers.dat' index %d using 1:2:3:4 with xyerrorbars lc %d pt %d ps 1.5 title '%s'",
                         i ? ", " : "", i, 1 + k % 8, (mh ? 4 : 5) + 2 * (k % 5), plot_gp(v[0]));
    }
    fclose(f);
    fclose(md);
    plot_rows_free(r);
    char script[20000];
    snprintf(script, sizeof script,
             "set title 'English, 8 experts: quality against load imbalance (mean and 95%% interval over seeds; lower left is better)'\n"
             "set xlabel 'max violation in training (max expert load / mean - 1)'\nset ylabel 'valid bits per byte'\n"
             "set key outside right\n%s", body);
    return plot_gnuplot(p, "routers", script);
}
