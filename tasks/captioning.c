/* task=captioning: caption generation on a COCO-captions-style set. A sequence is
 * [image patches ; BOS ; caption bytes ; EOS] read as a prefix language model (the patches see
 * each other, the text is causal); training predicts each next byte. Evaluation: teacher-forced
 * loss and perplexity, and greedy decoding scored with BLEU-4, CIDEr-D and ROUGE-L against
 * every reference caption; blind baselines (one constant caption; a random training caption)
 * are reported by describe. */
#include "util/xalloc.h"
#include "task.h"
#include "caption_metrics.h"
#include "caption_set.h"
#include "util/rng.h"
#include "util/hash_map.h"
#include "util/stop.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EOS_BYTE 3
#define MAX_TEXT (IMAGE_TEXT_POSITIONS - 1) /* caption bytes; the last position holds EOS */
#define DECODE_TOKENS 512 /* eval tokens per greedily decoded image, final passes */
#define DECODE_TOKENS_PERIODIC 2048 /* periodic passes: decoding is most of a captioning run's time */

typedef struct {
    Task base;
    CaptionSplit split[3];
    int NP, PD;
    Batch *view; /* decoding: the batch at a shorter length */
    Rng sampler;
} Captioning;

/* image i with caption text (NULL: BOS only, for decoding) */
static void fill_row(Captioning *v, const CaptionSplit *sp, int i, const char *text, Batch *b, int row) {
    int T = b->T, NP = v->NP, *tok = b->tokens + row * T, *tgt = b->targets + row * T;
    unsigned char *km = b->key_mask + row * T;
    memcpy(b->patches + (size_t)row * NP * v->PD, sp->patches + (size_t)i * NP * v->PD, sizeof(float) * NP * v->PD);
    int len = text ? (int)strlen(text) : 0;
    if (len > MAX_TEXT) len = MAX_TEXT;
    for (int t = 0; t < T; t++) { tok[t] = 0; tgt[t] = -1; km[t] = 1; }
    tok[NP] = CLS_BYTE; /* BOS */
    for (int q = 0; q < len; q++) {
        int c = tolower((unsigned char)text[q]);
        tok[NP + 1 + q] = c;
        tgt[NP + q] = c;
    }
    if (text) tgt[NP + len] = EOS_BYTE;
}

static void cap_next_batch(Task *t, Batch *b) {
    Captioning *v = (Captioning *)t;
    const CaptionSplit *sp = &v->split[SPLIT_TRAIN];
    for (int r = 0; r < b->B; r++) {
        int i = (int)rng_below(&v->sampler, sp->n);
        fill_row(v, sp, i, sp->images[i].captions[rng_below(&v->sampler, sp->images[i].n_captions)], b, r);
    }
}

/* Greedy decoding of images [base, base + B) (rows past n repeat base) into out[row]. Step p
 * needs the outputs at position NP + p only, so it runs the model on the first NP + p + 1
 * positions (copied into the view batch at that stride): about half the work of full rows. */
static void decode_batch(Captioning *v, Model *m, Batch *b, const CaptionSplit *sp, int base, int n, char (*out)[MAX_TEXT + 1]) {
    int NP = v->NP, T = b->T, done[1024] = {0};
    Batch *view = v->view;
    for (int r = 0; r < b->B; r++) {
        fill_row(v, sp, base + r < n ? base + r : base, NULL, b, r);
        done[r] = base + r >= n;
        out[r][0] = 0;
    }
    memcpy(view->patches, b->patches, sizeof(float) * (size_t)b->B * NP * v->PD);
    for (int p = 0; p < MAX_TEXT && !stop_requested(); p++) {
        int open = 0, Tp = NP + p + 1;
        for (int r = 0; r < b->B; r++) open += !done[r];
        if (!open) break;
        view->T = Tp;
        for (int r = 0; r < b->B; r++)
            for (int t = 0; t < Tp; t++) {
                view->tokens[r * Tp + t] = b->tokens[r * T + t];
                view->targets[r * Tp + t] = -1;
                view->key_mask[r * Tp + t] = 1;
            }
        model_set_length(m, Tp);
        model_forward(m, view);
        const float *logits = model_logits(m);
        for (int r = 0; r < b->B; r++) {
            if (done[r]) continue;
            const float *z = logits + ((size_t)r * Tp + NP + p) * m->cfg.n_out;
            int best = 0;
            for (int c = 1; c < 256; c++) if (z[c] > z[best]) best = c;
            if (best == EOS_BYTE || best == 0) { done[r] = 1; continue; }
            b->tokens[r * T + NP + 1 + p] = best;
            out[r][p] = (char)best;
            out[r][p + 1] = 0;
        }
    }
    model_set_length(m, T);
}

static void put_scores(MetricSink *sink, const char *split, const char *prefix, const CaptionPair *pairs, int n, int downstream) {
    char name[64];
    double s[3] = {bleu4(pairs, n), cider_d(pairs, n), rouge_l(pairs, n)};
    const char *names[3] = {"bleu4", "cider", "rouge_l"};
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "%s%s", prefix, names[k]);
        sink->put(sink, split, name, s[k]);
        if (downstream) sink->eval(sink, "test", names[k], s[k]);
    }
}

static int cap_evaluate(Task *t, Model *m, Batch *b, Split split, long max_tokens, int final, MetricSink *sink) {
    Captioning *v = (Captioning *)t;
    const CaptionSplit *sp = &v->split[split];
    int n = sp->n;
    if (max_tokens > 0 && max_tokens / b->T < n) n = (int)(max_tokens / b->T) > 0 ? (int)(max_tokens / b->T) : 1;
    double loss = 0;
    long scored = 0;
    for (int base = 0; base < n && !stop_requested(); base += b->B) {
        for (int r = 0; r < b->B; r++) {
            int i = base + r < n ? base + r : base;
            fill_row(v, sp, i, sp->images[i].captions[0], b, r);
            if (base + r >= n) for (int q = 0; q < b->T; q++) b->targets[r * b->T + q] = -1;
        }
        model_forward(m, b);
        loss += (double)m->loss * m->loss_count;
        scored += m->loss_count;
    }
    const char *s = SPLIT_NAMES[split];
    if (scored) { sink->put(sink, s, "loss", loss / scored); sink->put(sink, s, "ppl", exp(loss / scored)); }
    /* greedy decoding costs one forward per generated byte: one image per DECODE_TOKENS of
     * max_tokens in the final pass (256 images at the default 131072: the whole default
     * split), per DECODE_TOKENS_PERIODIC in a periodic one (16 at the default 32768) */
    int nd = max_tokens <= 0 ? sp->n : (int)(max_tokens / (final ? DECODE_TOKENS : DECODE_TOKENS_PERIODIC));
    if (b->B > v->view->B) { fprintf(stderr, "captioning: batch %d larger than opened with\n", b->B); return -1; }
    if (nd > sp->n) nd = sp->n;
    if (nd < 1) nd = 1;
    char (*text)[MAX_TEXT + 1] = xmalloc(sizeof *text * (size_t)(nd + b->B));
    CaptionPair *pairs = xmalloc(sizeof *pairs * nd);
    const char **refs = xmalloc(sizeof *refs * (size_t)nd * COCO_MAX_CAPTIONS);
    for (int base = 0; base < nd && !stop_requested(); base += b->B) decode_batch(v, m, b, sp, base, nd, text + base);
    for (int i = 0; i < nd && !stop_requested(); i++) { /* cut short: texts not decoded are not read */
        for (int k = 0; k < sp->images[i].n_captions; k++) refs[i * COCO_MAX_CAPTIONS + k] = sp->images[i].captions[k];
        pairs[i] = (CaptionPair){text[i], refs + i * COCO_MAX_CAPTIONS, sp->images[i].n_captions};
    }
    if (!stop_requested()) {
        put_scores(sink, s, "", pairs, nd, split == SPLIT_TEST);
        sink->put(sink, s, "decoded", nd);
    }
    free(text);
    free(pairs);
    free(refs);
    return 0;
}

/* blind baselines on the validation split: the most frequent training caption for every
 * image, and the caption of a random training image */
static void cap_describe(Task *t, MetricSink *sink) {
    Captioning *v = (Captioning *)t;
    const CaptionSplit *tr = &v->split[SPLIT_TRAIN], *va = &v->split[SPLIT_VALID];
    caption_splits_describe(v->split, sink);
    if (!tr->n || !va->n) return;
    /* the most frequent training caption: every text numbered by the map, then counted */
    StrMap texts = {0};
    for (int i = 0; i < tr->n; i++)
        for (int k = 0; k < tr->images[i].n_captions; k++) str_map_intern(&texts, tr->images[i].captions[k]);
    int *count = xcalloc((size_t)texts.n + 1, sizeof(int)), best = 0;
    for (int i = 0; count && i < tr->n; i++)
        for (int k = 0; k < tr->images[i].n_captions; k++) {
            int id = str_map_find(&texts, tr->images[i].captions[k]);
            if (id >= 0 && ++count[id] > count[best]) best = id;
        }
    char best_text[256];
    snprintf(best_text, sizeof best_text, "%s", texts.n ? texts.strings[best] : "");
    free(count);
    str_map_free(&texts);
    CaptionPair *pairs = xmalloc(sizeof *pairs * (va->n + 1));
    const char **refs = xmalloc(sizeof *refs * ((size_t)va->n * COCO_MAX_CAPTIONS + 1));
    for (int i = 0; i < va->n; i++) {
        for (int k = 0; k < va->images[i].n_captions; k++) refs[i * COCO_MAX_CAPTIONS + k] = va->images[i].captions[k];
        pairs[i] = (CaptionPair){best_text, refs + i * COCO_MAX_CAPTIONS, va->images[i].n_captions};
    }
    put_scores(sink, "valid", "constant_", pairs, va->n, 0);
    Rng r;
    rng_seed(&r, 4711);
    for (int i = 0; i < va->n; i++) {
        const CocoImage *im = &tr->images[rng_below(&r, tr->n)];
        pairs[i].candidate = im->captions[rng_below(&r, im->n_captions)];
    }
    put_scores(sink, "valid", "random_", pairs, va->n, 0);
    free(pairs);
    free(refs);
}

static uint64_t cap_get_state(Task *t) { return ((Captioning *)t)->sampler.s; }
static void cap_set_state(Task *t, uint64_t s) { ((Captioning *)t)->sampler.s = s; }

static void cap_close(Task *t) {
    Captioning *v = (Captioning *)t;
    for (int s = 0; s < 3; s++) caption_split_free(&v->split[s]);
    batch_free(v->view);
    free(v);
}

static Task *captioning_open(const TaskOptions *opt, char *err, size_t errlen) {
    Captioning *v = xcalloc(1, sizeof *v);
    char root[4200];
    if (task_data_root(opt, "scenes", "train/captions.json", root, sizeof root, err, errlen) ||
        image_patch_geometry(opt->image_size, opt->patch, &v->NP, &v->PD, err, errlen)) {
        free(v);
        return NULL;
    }
    if (caption_splits_load(v->split, root, opt->image_size, opt->patch, opt->check, err, errlen)) {
        free(v);
        return NULL;
    }
    if (opt->batch > 1024) { snprintf(err, errlen, "batch=%d: task=captioning decodes at most 1024 rows at once", opt->batch); cap_close(&v->base); return NULL; }
    rng_seed(&v->sampler, opt->seed * 7919 + 17);
    v->view = batch_alloc_images(opt->batch, v->NP + 1 + IMAGE_TEXT_POSITIONS, 1, v->NP, v->PD);
    v->base.spec = (TaskSpec){.vocab = 256, .n_out = 256, .seq_len = v->NP + 1 + IMAGE_TEXT_POSITIONS, .causal = 2,
                              .needs_mask = 1, .patch_dim = v->PD, .n_patches = v->NP, .text_outputs = 256};
    v->base.next_batch = cap_next_batch;
    v->base.evaluate = cap_evaluate;
    v->base.describe = cap_describe;
    v->base.get_state = cap_get_state;
    v->base.set_state = cap_set_state;
    v->base.close = cap_close;
    return &v->base;
}


const TaskKind task_captioning = {
    .name = "captioning",
    .help = "caption generation: greedy decoding scored with BLEU-4, CIDEr-D and ROUGE-L",
    .open = captioning_open,
    .pretrained_by = "mmm", /* masked multimodal modelling, as BEiT-3 */
};
