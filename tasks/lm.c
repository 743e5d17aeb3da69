#include "lm.h"
#include <math.h>
#include <string.h>

void lm_fill_window(const ByteBuf *s, Rng *r, int *tokens, int *targets, int T) {
    size_t span = s->n > (size_t)T + 1 ? s->n - T - 1 : 1;
    size_t off = rng_below(r, span);
    for (int t = 0; t < T; t++) {
        size_t i = off + t;
        tokens[t] = i < s->n ? s->data[i] : 0;
        targets[t] = i + 1 < s->n ? s->data[i + 1] : -1;
    }
}

void lm_next_batch(LmData *d, Batch *batch) {
    int T = batch->T;
    for (int b = 0; b < batch->B; b++)
        lm_fill_window(&d->split[SPLIT_TRAIN], &d->sampler, batch->tokens + b * T, batch->targets + b * T, T);
}

long lm_eval_loss(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, double *loss) {
    const ByteBuf *s = &d->split[split];
    int B = batch->B, T = batch->T;
    long limit = s->n > 1 ? (long)s->n - 1 : 0;
    if (max_tokens > 0 && max_tokens < limit) limit = max_tokens;
    double total = 0;
    long scored = 0;
    for (long pos = 0; pos < limit;) {
        /* fill a batch of consecutive windows; positions past the limit are not scored */
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++, pos++) {
                int in = pos < limit;
                batch->tokens[b * T + t] = in ? s->data[pos] : 0;
                batch->targets[b * T + t] = in ? s->data[pos + 1] : -1;
            }
        float mean = model_forward(m, batch);
        total += (double)mean * m->loss_count;
        scored += m->loss_count;
    }
    *loss = scored ? total / scored : 0;
    return scored;
}

int lm_evaluate(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, MetricSink *sink) {
    double loss;
    if (!lm_eval_loss(d, m, batch, split, max_tokens, &loss)) return 0;
    const char *name = SPLIT_NAMES[split];
    sink->put(sink, name, "loss", loss);
    sink->put(sink, name, "ppl", exp(loss));
    sink->put(sink, name, "bpb", loss / log(2.0));
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
