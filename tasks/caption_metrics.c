#include "util/xalloc.h"
#include "caption_metrics.h"
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 128
#define MAX_N 4

/* a sentence as token hashes */
typedef struct { uint64_t tok[MAX_TOKENS]; int n; } Sent;

static void tokenize(const char *s, Sent *out) {
    out->n = 0;
    uint64_t h = 0;
    int in_word = 0;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        int sep = !c || isspace(c);
        if (!sep && strchr(".,;:!?\"'()", c)) continue; /* punctuation is dropped */
        if (sep) {
            if (in_word && out->n < MAX_TOKENS) out->tok[out->n++] = h;
            in_word = 0;
            h = 0;
            if (!c) break;
            continue;
        }
        h = (h ^ (uint64_t)tolower(c)) * 0x100000001b3ull + 0x9e37;
        in_word = 1;
    }
}

/* the n-gram starting at i, as one hash */
static uint64_t gram(const Sent *s, int i, int n) {
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n;
    for (int k = 0; k < n; k++) h = (h ^ s->tok[i + k]) * 0x100000001b3ull;
    return h;
}

typedef struct { uint64_t key[MAX_TOKENS]; double cnt[MAX_TOKENS]; int n; } Counts;

static void count_grams(const Sent *s, int n, Counts *c) {
    c->n = 0;
    for (int i = 0; i + n <= s->n; i++) {
        uint64_t g = gram(s, i, n);
        int k = 0;
        while (k < c->n && c->key[k] != g) k++;
        if (k == c->n) { c->key[k] = g; c->cnt[k] = 0; c->n++; }
        c->cnt[k] += 1;
    }
}

static double count_of(const Counts *c, uint64_t g) {
    for (int k = 0; k < c->n; k++) if (c->key[k] == g) return c->cnt[k];
    return 0;
}

double bleu4(const CaptionPair *pairs, int n) {
    double match[MAX_N] = {0}, total[MAX_N] = {0}, c_len = 0, r_len = 0;
    Sent cand, ref;
    Counts cc, rc;
    for (int p = 0; p < n; p++) {
        tokenize(pairs[p].candidate, &cand);
        c_len += cand.n;
        int best = -1;
        for (int r = 0; r < pairs[p].n_refs; r++) { /* closest reference length, the shorter on ties */
            tokenize(pairs[p].refs[r], &ref);
            if (best < 0 || abs(ref.n - cand.n) < abs(best - cand.n) || (abs(ref.n - cand.n) == abs(best - cand.n) && ref.n < best)) best = ref.n;
        }
        r_len += best > 0 ? best : 0;
        for (int g = 1; g <= MAX_N; g++) {
            count_grams(&cand, g, &cc);
            for (int k = 0; k < cc.n; k++) {
                double most = 0; /* clipped by the most any one reference has */
                for (int r = 0; r < pairs[p].n_refs; r++) {
                    tokenize(pairs[p].refs[r], &ref);
                    count_grams(&ref, g, &rc);
                    double c = count_of(&rc, cc.key[k]);
                    if (c > most) most = c;
                }
                match[g - 1] += cc.cnt[k] < most ? cc.cnt[k] : most;
            }
            total[g - 1] += cand.n - g + 1 > 0 ? cand.n - g + 1 : 0;
        }
    }
    double log_sum = 0;
    for (int g = 0; g < MAX_N; g++) {
        if (match[g] == 0 || total[g] == 0) return 0;
        log_sum += log(match[g] / total[g]);
    }
    double bp = c_len < r_len ? exp(1 - r_len / c_len) : 1;
    return bp * exp(log_sum / MAX_N);
}

static int lcs(const Sent *a, const Sent *b) {
    int row[MAX_TOKENS + 1] = {0};
    for (int i = 1; i <= a->n; i++) {
        int diag = 0;
        for (int j = 1; j <= b->n; j++) {
            int up = row[j];
            row[j] = a->tok[i - 1] == b->tok[j - 1] ? diag + 1 : (row[j] > row[j - 1] ? row[j] : row[j - 1]);
            diag = up;
        }
    }
    return row[b->n];
}

double rouge_l(const CaptionPair *pairs, int n) {
    const double beta = 1.2;
    double sum = 0;
    Sent cand, ref;
    for (int p = 0; p < n; p++) {
        tokenize(pairs[p].candidate, &cand);
        double prec = 0, rec = 0;
        for (int r = 0; r < pairs[p].n_refs; r++) {
            tokenize(pairs[p].refs[r], &ref);
            int l = lcs(&cand, &ref);
            if (cand.n && (double)l / cand.n > prec) prec = (double)l / cand.n;
            if (ref.n && (double)l / ref.n > rec) rec = (double)l / ref.n;
        }
        if (prec > 0 && rec > 0) sum += (1 + beta * beta) * prec * rec / (rec + beta * beta * prec);
    }
    return n ? sum / n : 0;
}

/* document frequency of an n-gram: the images whose references contain it */
typedef struct { uint64_t *key; int *df; size_t cap; } DfMap;

static int *df_slot(DfMap *m, uint64_t k) {
    size_t h = (k * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    while (m->key[h] && m->key[h] != k) h = (h + 1) & (m->cap - 1);
    m->key[h] = k;
    return &m->df[h];
}

double cider_d(const CaptionPair *pairs, int n) {
    if (!n) return 0;
    DfMap df = {0};
    df.cap = 1;
    while (df.cap < (size_t)n * 64 * 8) df.cap <<= 1;
    df.key = xcalloc(df.cap, sizeof(uint64_t));
    df.df = xcalloc(df.cap, sizeof(int));
    Sent s;
    Counts c;
    for (int p = 0; p < n; p++) {
        uint64_t seen[4 * MAX_TOKENS * 8];
        int ns = 0;
        for (int r = 0; r < pairs[p].n_refs; r++) {
            tokenize(pairs[p].refs[r], &s);
            for (int g = 1; g <= MAX_N; g++) {
                count_grams(&s, g, &c);
                for (int k = 0; k < c.n; k++) {
                    int dup = 0;
                    for (int q = 0; q < ns && !dup; q++) dup = seen[q] == c.key[k];
                    if (!dup && ns < (int)(sizeof seen / sizeof seen[0])) { seen[ns++] = c.key[k]; (*df_slot(&df, c.key[k]))++; }
                }
            }
        }
    }
    double log_images = log((double)n), total = 0;
    const double sigma = 6.0;
    Sent cand, ref;
    Counts cc, rc;
    for (int p = 0; p < n; p++) {
        tokenize(pairs[p].candidate, &cand);
        double score = 0;
        for (int r = 0; r < pairs[p].n_refs; r++) {
            tokenize(pairs[p].refs[r], &ref);
            double sim = 0;
            for (int g = 1; g <= MAX_N; g++) {
                count_grams(&cand, g, &cc);
                count_grams(&ref, g, &rc);
                double nc = 0, nr = 0, dot = 0;
                for (int k = 0; k < cc.n; k++) {
                    double w = cc.cnt[k] * (log_images - log(fmax(1.0, *df_slot(&df, cc.key[k]))));
                    nc += w * w;
                }
                for (int k = 0; k < rc.n; k++) {
                    double idf = log_images - log(fmax(1.0, *df_slot(&df, rc.key[k])));
                    double wr = rc.cnt[k] * idf, wc = count_of(&cc, rc.key[k]) * idf;
                    nr += wr * wr;
                    dot += fmin(wc, wr) * wr; /* CIDEr-D clips the candidate's counts */
                }
                if (nc > 0 && nr > 0) sim += dot / (sqrt(nc) * sqrt(nr));
            }
            double delta = cand.n - ref.n;
            score += sim / MAX_N * exp(-delta * delta / (2 * sigma * sigma)) * 10.0;
        }
        total += pairs[p].n_refs ? score / pairs[p].n_refs : 0;
    }
    free(df.key);
    free(df.df);
    return total / n;
}
