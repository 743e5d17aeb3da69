#include "util/xalloc.h"
#include "mc_eval.h"
#include "util/rng.h"
#include "util/stop.h"
#include <stdlib.h>
#include <string.h>

#define MC_SEED 20240423u /* fixed: the same items for every run */

static int is_cont_byte(unsigned char c) { return (c & 0xC0) == 0x80; }

/* the nearest cut at or before pos (not before lo) that starts a word -- right after a space,
 * or lo itself -- within 12 bytes; else the character boundary at or before pos */
static size_t cut_before(const unsigned char *d, size_t lo, size_t pos) {
    for (size_t p = pos; p + 12 > pos; p--) {
        if (p == lo || d[p - 1] == ' ') return p;
        if (p < lo) break;
    }
    while (pos > lo && is_cont_byte(d[pos])) pos--;
    return pos;
}

typedef struct { size_t off, len; } Doc;

static int list_docs(const ByteBuf *b, Doc **out) {
    int n = 0, cap = 256;
    Doc *docs = xmalloc(sizeof(Doc) * cap);
    size_t start = 0;
    for (size_t i = 0; i <= b->n; i++) {
        int end = i == b->n || (i + 1 < b->n && b->data[i] == '\n' && b->data[i + 1] == '\n');
        if (!end) continue;
        if (i > start) {
            if (n == cap) { cap *= 2; docs = xrealloc(docs, sizeof(Doc) * cap); }
            docs[n++] = (Doc){start, i - start};
        }
        start = i + 2;
        i++;
    }
    *out = docs;
    return n;
}

int mc_build_items(const ByteBuf *held, McItem *items, int max_items, int ctx_len, int cont_len) {
    Doc *docs;
    int nd = list_docs(held, &docs), n = 0;
    if (nd < MC_CHOICES) { free(docs); return 0; }
    Rng r;
    rng_seed(&r, MC_SEED);
    const unsigned char *d = held->data;
    for (int k = 0; k < nd && n < max_items; k++) {
        Doc *doc = &docs[k];
        if (doc->len < (size_t)(ctx_len / 2 + cont_len)) continue;
        McItem *it = &items[n];
        memset(it, 0, sizeof *it);
        it->ctx_off = doc->off;
        size_t ctx_end = cut_before(d, doc->off + 1, doc->off + (doc->len - cont_len < (size_t)ctx_len ? doc->len - cont_len : (size_t)ctx_len));
        it->ctx_len = (int)(ctx_end - doc->off);
        size_t cont_end = cut_before(d, ctx_end + 1, ctx_end + cont_len < doc->off + doc->len ? ctx_end + cont_len : doc->off + doc->len);
        int true_len = (int)(cont_end - ctx_end);
        if (it->ctx_len < 8 || true_len < cont_len / 2) continue;
        it->answer = (int)rng_below(&r, MC_CHOICES);
        int c = 0;
        for (int tries = 0; c < MC_CHOICES && tries < 100; tries++) {
            if (c == it->answer) { it->cand_off[c] = ctx_end; it->cand_len[c] = true_len; c++; continue; }
            /* another document's own continuation: the bytes after its first it->ctx_len, cut
             * at a word (or character) boundary as the truth was. Taken from the same place in
             * its document, a distractor is no easier to predict than the truth (a random place
             * would favour mid-text over the attribution lines that end many documents). */
            Doc *o = &docs[rng_below(&r, nd)];
            if (o == doc || o->len < (size_t)(it->ctx_len + true_len)) continue;
            size_t start = cut_before(d, o->off + 1, o->off + it->ctx_len);
            /* as many bytes as the truth (fewer only to end on a whole character): the scorer
             * sees no text past a candidate, so where it ends gives nothing away */
            size_t end = start + true_len;
            if (end > o->off + o->len) continue;
            while (end > start && is_cont_byte(d[end])) end--;
            int len = (int)(end - start);
            if (len < true_len - 3) continue;
            it->cand_off[c] = start;
            it->cand_len[c] = len;
            c++;
        }
        if (c == MC_CHOICES) n++;
    }
    free(docs);
    return n;
}

/* bytes -> token ids (bpe, or one id per byte); returns the count */
static int tokenize(const Bpe *bpe, const unsigned char *p, int n, int *ids) {
    if (bpe) return (int)bpe_encode(bpe, p, n, ids);
    for (int i = 0; i < n; i++) ids[i] = p[i];
    return n;
}

McScore mc_score(const ByteBuf *held, const McItem *items, int n_items, Model *m, Batch *batch, const Bpe *bpe) {
    int B = batch->B, T = batch->T, total = n_items * MC_CHOICES;
    int *ctx_ids = xmalloc(sizeof(int) * 4096), *cand_ids = xmalloc(sizeof(int) * 4096);
    double *ll = xcalloc(total ? total : 1, sizeof(double));
    int *nbytes = xcalloc(total ? total : 1, sizeof(int));
    for (int base = 0; base < total && !stop_requested(); base += B) {
        for (int b = 0; b < B; b++) {
            int q = base + b, *tok = batch->tokens + b * T, *tgt = batch->targets + b * T;
            for (int t = 0; t < T; t++) { tok[t] = 0; tgt[t] = -1; }
            if (q >= total) continue;
            const McItem *it = &items[q / MC_CHOICES];
            int c = q % MC_CHOICES;
            int n_ctx = tokenize(bpe, held->data + it->ctx_off, it->ctx_len > 4096 ? 4096 : it->ctx_len, ctx_ids);
            int kl = tokenize(bpe, held->data + it->cand_off[c], it->cand_len[c] > 4096 ? 4096 : it->cand_len[c], cand_ids);
            if (kl > T - 1) kl = T - 1;
            int cl = n_ctx + kl > T ? T - kl : n_ctx; /* keep the end of a long context */
            for (int t = 0; t < cl; t++) tok[t] = ctx_ids[n_ctx - cl + t];
            for (int t = 0; t < kl; t++) tok[cl + t] = cand_ids[t];
            /* position i predicts token i + 1: score only the candidate's tokens */
            for (int t = cl - 1; t < cl + kl - 1; t++) tgt[t] = tok[t + 1];
            nbytes[q] = it->cand_len[c];
        }
        model_forward(m, batch);
        const float *loss = model_position_losses(m);
        for (int b = 0; b < B && base + b < total; b++) {
            double s = 0;
            for (int t = 0; t < T; t++) s += loss[b * T + t];
            ll[base + b] = -s;
        }
    }
    McScore sc = {0, 0, n_items};
    for (int i = 0; i < n_items; i++) {
        int best = 0, best_norm = 0;
        for (int c = 1; c < MC_CHOICES; c++) {
            int q = i * MC_CHOICES;
            if (ll[q + c] > ll[q + best]) best = c;
            if (ll[q + c] / nbytes[q + c] > ll[q + best_norm] / nbytes[q + best_norm]) best_norm = c;
        }
        sc.acc += best == items[i].answer;
        sc.acc_norm += best_norm == items[i].answer;
    }
    if (n_items) { sc.acc /= n_items; sc.acc_norm /= n_items; }
    free(ll);
    free(nbytes);
    free(ctx_ids);
    free(cand_ids);
    return sc;
}
