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
 * granularity multiplies the experts that run) and the capacity default; the paper grid's other
 * ablations (code router, summed balance, dropless, FLOP parity) are left out, and so is a label
 * with a key=value part (a key stored only away from its default: Table 6/7's mh_layers and
 * mh_mlp, a route's own keys), which is none of the grid's routing ideas */
#define ROUTER_GROUPS                                                                               \
    "b.task = 'english' AND json_extract(b.group_key, '$.experts') = 8"                               \
    " AND (b.model = 'xmoe' OR (b.model = 'mhmoe' AND json_extract(b.group_key, '$.heads') = 4))"   \
    " AND b.label NOT LIKE '%-code%' AND b.label NOT LIKE '%-balsum%' AND b.label NOT LIKE '%-dropless%'" \
    " AND b.label NOT LIKE '%-flops%' AND b.label NOT LIKE '%-cap%' AND b.label NOT LIKE '%=%'"

#define STAT(alias, metric) \
    " JOIN group_stats " alias " ON " alias ".group_key = b.group_key AND " alias ".task = b.task AND " \
    alias ".model = b.model AND " alias ".metric = '" metric "'"

#define ROUTER_FROM " FROM group_stats b" STAT("v", "train/max_violation") STAT("c", "train/load_cv") \
    " WHERE b.metric = 'valid/bpb' AND " ROUTER_GROUPS
#define ROUTER_POINT PLOT_POINT("b.group_key")

int fig_routers(Plot *p) {
    /* one training length: bits per byte after 550 steps and after 1,200 are not one axis. The
     * point drawn is the one with the most groups (then runs); the others are named */
    Rows *pts = plot_query(p, "SELECT " ROUTER_POINT ", count(*), sum(b.n)" ROUTER_FROM " GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1");
    if (!pts) return -1;
    if (!pts->n) {
        plot_rows_free(pts);
        return plot_missing(p, "routers", "finished English X-MoE / MH-MoE runs at 8 experts with the imbalance metrics (harness sweep routers)");
    }
    char point[300], sql[4096];
    if (plot_sql_literal(pts->v[0][0], point, sizeof point)) {
        snprintf(p->err, sizeof p->err, "fig=routers: a size/steps too long to query");
        plot_rows_free(pts);
        return -1;
    }
    snprintf(sql, sizeof sql, "SELECT b.label, b.n, b.mean, coalesce(b.ci95, 0), v.mean, coalesce(v.ci95, 0), c.mean, coalesce(c.ci95, 0)"
             "%s AND %s = %s ORDER BY b.model DESC, b.label", ROUTER_FROM, ROUTER_POINT, point);
    Rows *r = plot_query(p, sql);
    if (!r) { plot_rows_free(pts); return -1; }
    FILE *f = plot_open_out(p, "routers", "dat"), *md = f ? plot_open_out(p, "routers", "md") : NULL;
    if (!md) { if (f) fclose(f); plot_rows_free(r); plot_rows_free(pts); return -1; }
    char at[128]; /* kept past pts */
    snprintf(at, sizeof at, "%s", pts->v[0][0][0] ? pts->v[0][0] : "(no size/steps stored)");
    fprintf(md, "%s, English, 8 experts\n\n| runs | n | valid bpb | train max_violation | train load_cv |\n|---|---|---|---|---|\n", at);
    plot_caption(p, "English, 8 experts, %s, one point per group (mean and 95%% interval over seeds), named beside it: ", at);
    /* two series, X-MoE filled and MH-MoE open, each point named on the plot itself: one routing
     * idea reads as a pair across the two models, however many ideas the grid has */
    int block[2] = {-1, -1}, blocks = 0, drawn = 0;
    for (int mh = 1; mh >= 0; mh--) {
        for (int i = 0; i < r->n; i++) {
            char *const *v = r->v[i];
            if ((strncmp(v[0], "mhmoe", 5) == 0) != mh) continue;
            if (block[mh] < 0) {
                fprintf(f, "%s# %s\n# max_violation\tbpb\tmax_violation_ci95\tbpb_ci95\trouting\n", blocks ? "\n\n" : "", mh ? "MH-MoE" : "X-MoE");
                block[mh] = blocks++;
            }
            /* the point's name: what its label adds to the model's (xmoe-8-sinkhorn: sinkhorn) */
            const char *base = mh ? "mhmoe-8h4-params" : "xmoe-8", *name = v[0];
            size_t nb = strlen(base);
            if (!strncmp(name, base, nb)) name = name[nb] == '-' ? name + nb + 1 : !name[nb] ? "default" : name;
            fprintf(f, "%s\t%s\t%s\t%s\t%s\n", v[4], v[2], v[5], v[3], name);
            plot_caption(p, "%s%s (n=%s)", drawn++ ? ", " : "", v[0], v[1]);
            fprintf(md, "| %s | %s | %.4f ± %.4f | %.3f ± %.3f | %.3f ± %.3f |\n", v[0], v[1], atof(v[2]), atof(v[3]),
                    atof(v[4]), atof(v[5]), atof(v[6]), atof(v[7]));
        }
    }
    if (pts->n > 1) {
        plot_caption(p, ". Left out, at other lengths:");
        for (int i = 1; i < pts->n; i++)
            plot_caption(p, "%s %s (%s groups)%s", i > 1 ? "," : "", pts->v[i][0][0] ? pts->v[i][0] : "no size/steps", pts->v[i][1], i + 1 == pts->n ? "." : "");
    }
    fclose(f);
    fclose(md);
    plot_rows_free(r);
    plot_rows_free(pts);
    char body[2048] = "plot ";
    size_t used = strlen(body);
    for (int mh = 1; mh >= 0; mh--) {
        if (block[mh] < 0) continue;
        used += (size_t)snprintf(body + used, sizeof body - used,
                                 "%s'routers.dat' index %d using 1:2:3:4 with xyerrorbars lt %d pt %d ps 1.5 title '%s',"
                                 " '' index %d using 1:2:5 with labels left offset 0.8,0.6 font ',9' tc lt %d notitle",
                                 used > 5 ? ", " : "", block[mh], mh ? 2 : 1, mh ? 6 : 7, mh ? "MH-MoE (4 heads, params)" : "X-MoE",
                                 block[mh], mh ? 2 : 1);
    }
    char script[4096];
    snprintf(script, sizeof script,
             "set title '%s English, 8 experts: quality against load imbalance (mean and 95%% interval over seeds; lower left is better)'\n"
             "set xlabel 'max violation in training (max expert load / mean - 1)'\nset ylabel 'valid bits per byte'\n"
             "set offsets graph 0.05, graph 0.25, graph 0.05, graph 0.05\nset key outside right\n%s\n", plot_gp(at), body);
    return plot_gnuplot(p, "routers", script);
}
