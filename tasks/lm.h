/* Causal language modelling over byte streams: random windows for training, fixed
 * non-overlapping windows for evaluation. Shared by the language-model tasks. */
#ifndef MOEH_LM_H
#define MOEH_LM_H
#include "task.h"
#include "text_corpus.h"
#include "models/rng.h"

typedef struct {
    ByteBuf split[3];
    Rng sampler;
} LmData;

/* B windows of T+1 bytes at random offsets of the training stream: inputs and next bytes */
void lm_next_batch(LmData *d, Batch *batch);
/* one such window of stream s into tokens / targets (T each) */
void lm_fill_window(const ByteBuf *s, Rng *r, int *tokens, int *targets, int T);
/* Mean next-byte loss over the first max_tokens predictions of a split (0: all), in
 * non-overlapping windows; returns the number of scored tokens and the mean in *loss. */
long lm_eval_loss(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, double *loss);
/* Reports loss, ppl and bpb of a split through the sink (byte tokens: bpb = loss / ln 2). */
int lm_evaluate(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, MetricSink *sink);
/* Bits per byte of a unigram byte model fitted on train (add-one smoothing), on valid. */
double lm_unigram_bpb(const LmData *d);

#endif
