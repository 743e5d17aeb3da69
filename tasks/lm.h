/* Causal language modelling over token streams: random windows for training, fixed
 * non-overlapping windows for evaluation. Shared by the language-model tasks. Tokens are the
 * bytes themselves, or byte-level BPE ids (tokenizer=bpe); bits per byte always divide by the
 * bytes the scored tokens stand for, so the two are comparable. */
#ifndef MOEH_LM_H
#define MOEH_LM_H
#include "task.h"
#include "data/text_corpus.h"
#include "bpe.h"
#include "mc_eval.h"
#include "util/rng.h"

typedef struct {
    ByteBuf split[3];   /* the text */
    int *ids[3];        /* its tokens */
    size_t nids[3];
    const Bpe *bpe;     /* NULL: byte tokens */
    Rng sampler;
} LmData;

/* Tokenises the three splits with bpe (NULL: bytes). 0, or -1 out of memory. */
int lm_tokenize(LmData *d, const Bpe *bpe);
void lm_free(LmData *d);
/* B windows of T+1 tokens at random offsets of the training stream: inputs and next tokens */
void lm_next_batch(LmData *d, Batch *batch);
/* one such window of a token stream into tokens / targets (T each) */
void lm_fill_window(const int *ids, size_t n, Rng *r, int *tokens, int *targets, int T);
/* Mean next-token loss over the first max_tokens predictions of a split (0: all), in
 * non-overlapping windows; returns the number of scored tokens, the mean in *loss and the
 * bytes those tokens stand for in *bytes. */
long lm_eval_loss(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, double *loss, double *bytes);
/* Reports loss and ppl (per token) and bpb of a split through the sink. */
int lm_evaluate(LmData *d, Model *m, Batch *batch, Split split, long max_tokens, MetricSink *sink);
/* Bits per byte of a unigram byte model fitted on train (add-one smoothing), on valid. */
double lm_unigram_bpb(const LmData *d);
/* A BPE of vocab tokens trained on up to max_bytes of text taken evenly from the given
 * training streams (deterministic). */
Bpe *lm_train_bpe(const ByteBuf *const *train, int n, int vocab, size_t max_bytes);

/* The tokenizer the options ask for: *out = NULL for bytes, else a BPE trained as above.
 * 0, or -1 with a message naming the vocab key. */
int lm_open_tokenizer(const TaskOptions *opt, const ByteBuf *const *train, int n, size_t max_bytes,
                      Bpe **out, char *err, size_t errlen);
/* prefix.bpe when there is a BPE; nothing for bytes */
int lm_save_tokenizer(const Bpe *bpe, const char *prefix, char *err, size_t errlen);
/* Zero-shot multiple choice on up to max_items items from the test split, contexts and
 * continuations sized to sequences of T tokens; *n_items gets the item count. */
McScore lm_multiple_choice(const LmData *d, Model *m, Batch *batch, int T, int max_items, int *n_items);

#endif
