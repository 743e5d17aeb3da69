#include "util/xalloc.h"
#include "lm.h"
#include "util/stop.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lm_tokenize(LmData *d, const Bpe *bpe) {
    d->bpe = bpe;
    for (int s = 0; s < 3; s++) {
        const ByteBuf *b = &d->split[s];
        free(d->ids[s]);
        d->ids[s] = xmalloc(sizeof(int) * (b->n ? b->n : 1));
        if (!d->ids[s]) return -1;
        if (bpe) d->nids[s] = bpe_encode(bpe, b->data, b->n, d->ids[s]);
        else {
            for (size_t i = 0; i < b->n; i++) d->ids[s][i] = b->data[i];
            d->nids[s] = b->n;
        }
    }
    return 0;
}

void lm_free(LmData *d) {
    for (int s = 0; s < 3; s++) { bytebuf_free(&d->split[s]); free(d->ids[s]); d->ids[s] = NULL; }
}

void lm_fill_window(const int *ids, size_t n, Rng *r, int *tokens, int *targets, int T) {
    size_t span = n > (size_t)T + 1 ? n - T - 1 : 1;
    size_t off = rng_below(r, span);
    for (int t = 0; t < T; t++) {
        size_t i = off + t;
        tokens[t] = i < n ? ids[i] : 0;
        targets[t] = i + 1 < n ? ids[i + 1] : -1;
    }
}

void lm_next_batch(LmData *d, Batch *batch) {
    int T = batch->T;
    for (int b = 0; b < batch->B; b++)
        lm_fill_window(d->ids[SPLIT_TRAIN], d->nids[SPLIT_TRAIN], &d->sampler, batch->tokens + b * T,
                       batch->targets + b * T, T);
}

long lm_eval_loss(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, double *loss, double *bytes) {
    const int *ids = d->ids[split];
    size_t n = d->nids[split];
    int B = batch->B, T = batch->T;
    long limit = n > 1 ? (long)n - 1 : 0;
    if (max_tokens > 0 && max_tokens < limit) limit = max_tokens;
    double total = 0, nbytes = 0;
    long scored = 0;
    for (long pos = 0; pos < limit && !stop_requested();) {
        /* fill a batch of consecutive windows; positions past the limit are not scored */
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++, pos++) {
                int in = pos < limit;
                batch->tokens[b * T + t] = in ? ids[pos] : 0;
                batch->targets[b * T + t] = in ? ids[pos + 1] : -1;
                if (in) nbytes += d->bpe ? bpe_token_len(d->bpe, ids[pos + 1]) : 1;
            }
        float mean = model_forward(m, batch);
        total += (double)mean * m->loss_count;
        scored += m->loss_count;
    }
    *loss = scored ? total / scored : 0;
    *bytes = nbytes;
    return scored;
}

int lm_evaluate(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, MetricSink *sink) {
    double loss, bytes;
    long n = lm_eval_loss(d, m, batch, split, max_tokens, &loss, &bytes);
    if (!n) return 0;
    const char *name = SPLIT_NAMES[split];
    sink->put(sink, name, "loss", loss);
    sink->put(sink, name, "ppl", exp(loss));
    sink->put(sink, name, "bpb", loss * n / bytes / log(2.0));
    return 0;
}

double lm_unigram_bpb(const LmData *d) {
    double count[256], total = 256, bits = 0;
    for (int i = 0; i < 256; i++) count[i] = 1;
    const ByteBuf *tr = &d->split[SPLIT_TRAIN], *va = &d->split[SPLIT_VALID];
    for (size_t i = 0; i < tr->n; i++) count[tr->data[i]]++;
    total += (double)tr->n;
    for (size_t i = 1; i < va->n; i++) bits -= log2(count[va->data[i]] / total);
    return va->n > 1 ? bits / (double)(va->n - 1) : 0;
}

Bpe *lm_train_bpe(const ByteBuf *const *train, int n, int vocab, size_t max_bytes) {
    size_t each = max_bytes / (n ? n : 1), total = 0;
    unsigned char *text = xmalloc(max_bytes + 1);
    for (int i = 0; i < n; i++) {
        size_t take = train[i]->n < each ? train[i]->n : each;
        memcpy(text + total, train[i]->data, take);
        total += take;
    }
    Bpe *b = bpe_train(text, total, vocab);
    free(text);
    return b;
}

int lm_open_tokenizer(const TaskOptions *opt, const ByteBuf *const *train, int n, size_t max_bytes,
                      Bpe **out, char *err, size_t errlen) {
    *out = NULL;
    if (!opt->tokenizer || strcmp(opt->tokenizer, "bpe")) return 0;
    *out = lm_train_bpe(train, n, opt->vocab, max_bytes);
    if (!*out) {
        snprintf(err, errlen, "vocab=%d: a BPE vocabulary needs 257 to 65536 tokens", opt->vocab);
        return -1;
    }
    return 0;
}

int lm_save_tokenizer(const Bpe *bpe, const char *prefix, char *err, size_t errlen) {
    if (!bpe) return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s.bpe", prefix);
    return bpe_save(bpe, path, err, errlen);
}

McScore lm_multiple_choice(const LmData *d, Model *m, Batch *batch, int T, int max_items, int *n_items) {
    McItem *items = xmalloc(sizeof(McItem) * max_items);
    /* byte lengths: with BPE the token counts are smaller still */
    int ctx = T * 2 / 3 < 64 ? T * 2 / 3 : 64, cont = T / 3 < 32 ? T / 3 : 32;
    const ByteBuf *held = &d->split[SPLIT_TEST];
    int n = mc_build_items(held, items, max_items, ctx, cont);
    McScore sc = {0, 0, 0};
    if (n) sc = mc_score(held, items, n, m, batch, d->bpe);
    free(items);
    *n_items = n;
    return sc;
}
