/* task=english: causal byte-level language modelling of English prose */
#include "util/xalloc.h"
#include "task.h"
#include "lm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MC_ITEMS 400
#define BPE_TRAIN_BYTES (1 << 20) /* BPE merges are learned on the first 1 MB of training text */

typedef struct { Task base; LmData lm; Bpe *bpe; int T; } English;

static void english_next_batch(Task *t, Batch *b) { lm_next_batch(&((English *)t)->lm, b); }

static int english_evaluate(Task *t, Model *m, Batch *b, Split s, long max_tokens, int final, MetricSink *sink) {
    return lm_evaluate(&((English *)t)->lm, m, b, s, max_tokens, sink);
}

static int english_downstream(Task *t, Model *m, Batch *b, MetricSink *sink) {
    English *e = (English *)t;
    int n;
    McScore sc = lm_multiple_choice(&e->lm, m, b, e->T, MC_ITEMS, &n);
    if (!n) return 0;
    sink->eval(sink, "mc", "acc", sc.acc);
    sink->eval(sink, "mc", "acc_norm", sc.acc_norm);
    sink->eval(sink, "mc", "items", n);
    return 0;
}

static void english_describe(Task *t, MetricSink *sink) {
    English *e = (English *)t;
    sink->put(sink, "valid", "unigram_bpb", lm_unigram_bpb(&e->lm));
    for (int s = 0; s < 3; s++) {
        sink->put(sink, SPLIT_NAMES[s], "bytes", (double)e->lm.split[s].n);
        sink->put(sink, SPLIT_NAMES[s], "tokens", (double)e->lm.nids[s]);
    }
}

static uint64_t english_get_state(Task *t) { return ((English *)t)->lm.sampler.s; }
static void english_set_state(Task *t, uint64_t s) { ((English *)t)->lm.sampler.s = s; }

static int english_save(Task *t, const char *prefix, char *err, size_t errlen) {
    return lm_save_tokenizer(((English *)t)->bpe, prefix, err, errlen);
}

static void english_close(Task *t) {
    English *e = (English *)t;
    lm_free(&e->lm);
    bpe_free(e->bpe);
    free(e);
}

static Task *english_open(const TaskOptions *opt, char *err, size_t errlen) {
    English *e = xcalloc(1, sizeof *e);
    char path[4200];
    if (task_data_root(opt, "english", "train.txt", path, sizeof path, err, errlen)) { free(e); return NULL; }
    if (corpus_load(path, e->lm.split, err, errlen)) { english_close(&e->base); return NULL; }
    const ByteBuf *train = &e->lm.split[SPLIT_TRAIN];
    if (lm_open_tokenizer(opt, &train, 1, BPE_TRAIN_BYTES, &e->bpe, err, errlen)) { english_close(&e->base); return NULL; }
    if (lm_tokenize(&e->lm, e->bpe)) { snprintf(err, errlen, "%s: out of memory", path); english_close(&e->base); return NULL; }
    rng_seed(&e->lm.sampler, opt->seed * 7919 + 17);
    e->T = opt->seq_len;
    int vocab = e->bpe ? bpe_vocab(e->bpe) : 256;
    e->base.spec = (TaskSpec){.vocab = vocab, .n_out = vocab, .seq_len = opt->seq_len, .causal = 1,
                              .text_outputs = 256};
    e->base.next_batch = english_next_batch;
    e->base.evaluate = english_evaluate;
    e->base.downstream = english_downstream;
    e->base.describe = english_describe;
    e->base.get_state = english_get_state;
    e->base.set_state = english_set_state;
    e->base.save = english_save;
    e->base.close = english_close;
    return &e->base;
}


const TaskKind task_english = {
    .name = "english",
    .help = "causal language modelling of English prose (bytes or BPE)",
    .open = english_open,
};
