/* The paper's printed numbers (see paper_numbers.h): one row per ablation a figure draws. */
#include "paper_numbers.h"
#include <assert.h>
#include <math.h>
#include <string.h>

/* Table 6 at FLOP parity: MH-MoE (12.72) without the head and merge layers ("w/o MLP"), without
 * the split ("w/o TS": heads=1 here), and Dense (16.23) with the two layers; Table 7 at parameter
 * parity: 0 (mh_layers=none), 2 and 3 linear layers in the head and merge layers against 1 */
static const PaperAblation PAPER_ABLATIONS[] = {
    {"Table 6", "mh_layers", "none", "MH-MoE w/o MLP", 12.72, 13.97},
    {"Table 6", "heads", "1", "MH-MoE w/o TS", 12.72, 14.77},
    {"Table 6", "dense_mlp", "both", "Dense w/ MLP", 16.23, 16.40},
    {"Table 7", "mh_layers", "none", "n = 0", 12.72, 13.97},
    {"Table 7", "mh_mlp", "2", "n = 2", 12.72, 12.66},
    {"Table 7", "mh_mlp", "3", "n = 3", 12.72, 12.87},
};

const PaperAblation *paper_ablation(const char *panel, const char *key, const char *ablated, int experts) {
    if (experts != 8 && experts != 0) return NULL;
    for (size_t i = 0; i < sizeof PAPER_ABLATIONS / sizeof PAPER_ABLATIONS[0]; i++) {
        const PaperAblation *r = &PAPER_ABLATIONS[i];
        if (!strncmp(panel, r->panel, strlen(r->panel)) && !strcmp(key, r->key) && !strcmp(ablated, r->ablated)) return r;
    }
    return NULL;
}

double paper_gap_bits_per_token(const PaperAblation *row) {
    assert(row->ppl_full > 0 && row->ppl_ablated > 0);
    return log2(row->ppl_ablated / row->ppl_full);
}

int paper_gap_bytes_range(double g, double lo, double hi, double *bmin, double *bmax) {
    assert(lo <= hi);
    if (g == 0) {
        *bmin = 0, *bmax = INFINITY;
        return lo <= 0 && 0 <= hi;
    }
    if (g < 0) { /* mirrored: -g / B in [-hi, -lo] */
        double t = -lo;
        g = -g, lo = -hi, hi = t;
    }
    /* g / B falls from +inf to 0 as B grows: it is <= hi from B = g / hi on (never when hi <= 0)
     * and >= lo up to B = g / lo (always when lo <= 0) */
    if (hi <= 0) return 0;
    *bmin = g / hi;
    *bmax = lo > 0 ? g / lo : INFINITY;
    return 1;
}
