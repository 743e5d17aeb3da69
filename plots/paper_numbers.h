/* The paper's own numbers, set beside ours where a figure measures the same comparison: its
 * validation perplexity per token (GPT-4's tokenizer) for English-focused language modelling, 8
 * experts, 4 heads, as printed in arXiv:2404.15045v1 (Tables 1, 6 and 7; Table 7 averages five
 * runs, the others give one number and no spread). Ours are bits per byte, so the two meet only
 * through the paper's bytes per token B: a gap of g bits per token is g / B bits per byte. */
#ifndef MOEH_PAPER_NUMBERS_H
#define MOEH_PAPER_NUMBERS_H

typedef struct {
    const char *panel;           /* the figure panel it belongs to ("Table 6", "Table 7") */
    const char *key, *ablated;   /* the key the ablation turns and its value in the ablated model */
    const char *row;             /* the paper's name of the ablated row */
    double ppl_full, ppl_ablated;
} PaperAblation;

/* the paper's row for key=ablated in the panel whose title begins with panel, or NULL (also
 * for any expert count but the paper's 8: dense runs, with none stored, pass 0 and match) */
const PaperAblation *paper_ablation(const char *panel, const char *key, const char *ablated, int experts);

/* the paper's gap, ablated minus full, in bits per token: log2 of the perplexity ratio */
double paper_gap_bits_per_token(const PaperAblation *row);

/* the bytes per token B > 0 at which a gap of g bits per token, g / B bits per byte, lies in our
 * interval [lo, hi]: 1 with the range in [*bmin, *bmax] (*bmax INFINITY when unbounded), or 0
 * when no B does (the signs disagree, or the interval leaves out 0 and g is 0) */
int paper_gap_bytes_range(double g, double lo, double hi, double *bmin, double *bmax);

#endif
