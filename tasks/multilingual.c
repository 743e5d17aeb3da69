#include "util/xalloc.h"
#include "multilingual.h"
#include "lm.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LANGS 64
#define MC_ITEMS 200

typedef struct {
    Task base;
    int n;
    char name[MAX_LANGS][32];
    LmData lm[MAX_LANGS];
    double cum[MAX_LANGS]; /* cumulative sampling probabilities */
    Rng sampler;
    int T;
    Bpe *bpe;
} Multi;

#define BPE_TRAIN_BYTES (2 << 20) /* BPE merges are learned on 2 MB, shared evenly by the languages */

void language_probs(const size_t *sizes, int n, double alpha, double *probs) {
    double total = 0;
    for (int i = 0; i < n; i++) total += probs[i] = pow((double)sizes[i], alpha);
    for (int i = 0; i < n; i++) probs[i] /= total;
}

static void multi_next_batch(Task *t, Batch *b) {
    Multi *m = (Multi *)t;
    for (int r = 0; r < b->B; r++) {
        double u = rng_uniform(&m->sampler);
        int lang = 0;
        while (lang + 1 < m->n && u >= m->cum[lang]) lang++;
        lm_fill_window(m->lm[lang].ids[SPLIT_TRAIN], m->lm[lang].nids[SPLIT_TRAIN], &m->sampler,
                       b->tokens + r * b->T, b->targets + r * b->T, b->T);
    }
}

static int multi_evaluate(Task *t, Model *model, Batch *b, Split split, long max_tokens, int final, MetricSink *sink) {
    Multi *m = (Multi *)t;
    const char *sp = SPLIT_NAMES[split];
    double sum_loss = 0, sum_ppl = 0, sum_bpb = 0;
    int counted = 0;
    /* a periodic pass shares its tokens among the languages (each at least one batch): the
     * curve's points cost what one language's would; the final pass scores each language on
     * max_tokens of its own */
    long per_language = max_tokens;
    if (!final && max_tokens > 0 && m->n > 0) {
        per_language = max_tokens / m->n;
        if (per_language < (long)b->B * b->T) per_language = (long)b->B * b->T;
    }
    for (int i = 0; i < m->n; i++) {
        double loss, bytes;
        char name[64], label[64];
        long n = lm_eval_loss(&m->lm[i], model, b, split, per_language, &loss, &bytes);
        if (!n) continue;
        double bpb = loss * n / bytes / log(2.0);
        snprintf(label, sizeof label, "%s/%s", sp, m->name[i]);
        if (sink->section) sink->section(sink, label);
        snprintf(name, sizeof name, "loss/%s", m->name[i]); sink->put(sink, sp, name, loss);
        snprintf(name, sizeof name, "ppl/%s", m->name[i]); sink->put(sink, sp, name, exp(loss));
        snprintf(name, sizeof name, "bpb/%s", m->name[i]); sink->put(sink, sp, name, bpb);
        sum_loss += loss;
        sum_ppl += exp(loss);
        sum_bpb += bpb;
        counted++;
    }
    if (counted) { /* macro means over languages */
        sink->put(sink, sp, "loss", sum_loss / counted);
        sink->put(sink, sp, "ppl", sum_ppl / counted);
        sink->put(sink, sp, "bpb", sum_bpb / counted);
    }
    return 0;
}

static int multi_downstream(Task *t, Model *model, Batch *b, MetricSink *sink) {
    Multi *m = (Multi *)t;
    double acc = 0, acc_norm = 0;
    int langs = 0;
    for (int i = 0; i < m->n; i++) {
        int n;
        McScore sc = lm_multiple_choice(&m->lm[i], model, b, m->T, MC_ITEMS, &n);
        if (!n) continue;
        char bench[64];
        snprintf(bench, sizeof bench, "mc/%s", m->name[i]);
        sink->eval(sink, bench, "acc", sc.acc);
        sink->eval(sink, bench, "acc_norm", sc.acc_norm);
        sink->eval(sink, bench, "items", n);
        acc += sc.acc;
        acc_norm += sc.acc_norm;
        langs++;
    }
    if (langs) {
        sink->eval(sink, "mc", "acc", acc / langs);
        sink->eval(sink, "mc", "acc_norm", acc_norm / langs);
    }
    return 0;
}

static void multi_describe(Task *t, MetricSink *sink) {
    Multi *m = (Multi *)t;
    double prev = 0;
    for (int i = 0; i < m->n; i++) {
        char name[64];
        snprintf(name, sizeof name, "lang_prob/%s", m->name[i]);
        sink->put(sink, "train", name, m->cum[i] - prev);
        prev = m->cum[i];
        snprintf(name, sizeof name, "unigram_bpb/%s", m->name[i]);
        sink->put(sink, "valid", name, lm_unigram_bpb(&m->lm[i]));
        snprintf(name, sizeof name, "bytes/%s", m->name[i]);
        sink->put(sink, "train", name, (double)m->lm[i].split[SPLIT_TRAIN].n);
    }
}

static uint64_t multi_get_state(Task *t) { return ((Multi *)t)->sampler.s; }
static void multi_set_state(Task *t, uint64_t s) { ((Multi *)t)->sampler.s = s; }

static int multi_save(Task *t, const char *prefix, char *err, size_t errlen) {
    return lm_save_tokenizer(((Multi *)t)->bpe, prefix, err, errlen);
}

static void multi_close(Task *t) {
    Multi *m = (Multi *)t;
    for (int i = 0; i < m->n; i++) lm_free(&m->lm[i]);
    bpe_free(m->bpe);
    free(m);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static Task *multilingual_open(const TaskOptions *opt, char *err, size_t errlen) {
    Multi *m = xcalloc(1, sizeof *m);
    char root[4200];
    if (task_data_root(opt, "multilingual", "en/train.txt", root, sizeof root, err, errlen)) { free(m); return NULL; }
    /* one subfolder or file per language, named by the language */
    DIR *d = opendir(root);
    if (!d) { snprintf(err, errlen, "%s: cannot list: expected one folder or file per language", root); free(m); return NULL; }
    char *names[MAX_LANGS];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_LANGS)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str); /* names is NULL when the folder is empty */
    size_t sizes[MAX_LANGS];
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        if (!rc) {
            snprintf(m->name[m->n], sizeof m->name[0], "%.*s", (int)strcspn(names[i], "."), names[i]);
            rc = corpus_load(path, m->lm[m->n].split, err, errlen);
            if (!rc) { sizes[m->n] = m->lm[m->n].split[SPLIT_TRAIN].n; m->n++; }
        }
        free(names[i]);
    }
    if (!rc && m->n < 2) { snprintf(err, errlen, "%s: found %d languages, a multilingual task needs at least 2", root, m->n); rc = -1; }
    if (rc) { multi_close(&m->base); return NULL; }
    const ByteBuf *train[MAX_LANGS];
    for (int i = 0; i < m->n; i++) train[i] = &m->lm[i].split[SPLIT_TRAIN];
    if (lm_open_tokenizer(opt, train, m->n, BPE_TRAIN_BYTES, &m->bpe, err, errlen)) { multi_close(&m->base); return NULL; }
    for (int i = 0; i < m->n; i++)
        if (lm_tokenize(&m->lm[i], m->bpe)) { snprintf(err, errlen, "%s: out of memory", root); multi_close(&m->base); return NULL; }
    double probs[MAX_LANGS], acc = 0;
    language_probs(sizes, m->n, task_option_float(opt, "lang_alpha"), probs);
    for (int i = 0; i < m->n; i++) m->cum[i] = acc += probs[i];
    m->T = opt->seq_len;
    rng_seed(&m->sampler, opt->seed * 7919 + 17);
    int vocab = m->bpe ? bpe_vocab(m->bpe) : 256;
    m->base.spec = (TaskSpec){.vocab = vocab, .n_out = vocab, .seq_len = opt->seq_len, .causal = 1,
                              .text_outputs = 256};
    m->base.save = multi_save;
    m->base.next_batch = multi_next_batch;
    m->base.evaluate = multi_evaluate;
    m->base.downstream = multi_downstream;
    m->base.describe = multi_describe;
    m->base.get_state = multi_get_state;
    m->base.set_state = multi_set_state;
    m->base.close = multi_close;
    return &m->base;
}

static const KeyDef MULTILINGUAL_KEYS[] = {
    {"lang_alpha", KEY_ROLE_TRAINING, KEY_FLOAT, "0.7", NULL, 0, 10, "sample languages with probability ~ size^lang_alpha"},
};

const TaskKind task_multilingual = {
    .name = "multilingual",
    .help = "causal language modelling of several languages, each sequence from one language; metrics and activations per language",
    .open = multilingual_open,
    .TASK_KEYS(MULTILINGUAL_KEYS),
};
