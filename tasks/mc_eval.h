/* Zero-shot multiple choice scored by log-likelihood, in the manner of lm-evaluation-harness:
 * given a context from a held-out document, pick its true continuation among 4 candidates;
 * the 3 distractors are the continuations of other held-out documents of the same language
 * (taken after as many bytes of their own), starting at a word (or character) boundary, with
 * as many bytes as the truth. Cuts fall on UTF-8 character boundaries (and on spaces where the text has
 * them), so no candidate gives itself away by a broken character. Items are built from a fixed
 * seed, never the run's, so every model is scored on exactly the same items. */
#ifndef MOEH_MC_EVAL_H
#define MOEH_MC_EVAL_H
#include "task.h"
#include "data/text_corpus.h"
#include "bpe.h"

#define MC_CHOICES 4

typedef struct {
    size_t ctx_off;
    int ctx_len;
    size_t cand_off[MC_CHOICES];
    int cand_len[MC_CHOICES];
    int answer; /* index of the true continuation */
} McItem;

/* Builds up to max_items items from a held-out stream (documents separated by blank lines);
 * contexts of about ctx_len bytes, continuations of about cont_len. Returns the count. */
int mc_build_items(const ByteBuf *held, McItem *items, int max_items, int ctx_len, int cont_len);

typedef struct { double acc, acc_norm; int n; } McScore;

/* Scores the items: each candidate is one sequence context + candidate in the batch, and its
 * log-likelihood the sum over the candidate's tokens; acc picks the highest sum, acc_norm the
 * highest per-byte mean. Context and candidate are tokenised apart with bpe (NULL: bytes), as
 * lm-evaluation-harness does; a context too long for batch->T loses its beginning. */
McScore mc_score(const ByteBuf *held, const McItem *items, int n_items, Model *m, Batch *batch, const Bpe *bpe);

#endif
