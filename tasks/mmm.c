/* task=mmm: masked multimodal modelling (BEiT-3's pretraining) on a COCO-captions-style set.
 * A sequence is [image patches ; CLS ; caption bytes]. Rows are image-text pairs (half),
 * text only or image only (a quarter each). A share of the patches (mask_image) is replaced by
 * a [MASK] embedding and must be predicted as its visual token (nearest k-means centre of the
 * codebook); a share of the text bytes (mask_text, 0.5 in pairs) as the byte. One head of 256
 * bytes + codebook tokens. Metric: masked-token perplexity, also split into image and text. */
#include "util/xalloc.h"
#include "task.h"
#include "caption_set.h"
#include "codebook.h"
#include "util/rng.h"
#include "util/hash_map.h"
#include "util/stop.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <limits.h>

#define MMM_TEXT IMAGE_TEXT_POSITIONS
#define MASK_BYTE 2         /* the [MASK] token, for patches and bytes alike */
#define PAIR_TEXT_MASK 0.5  /* BEiT-3 masks half the text of an image-text pair */
#define MAX_POSITIONS 1024

enum { ROW_PAIR, ROW_TEXT, ROW_IMAGE };

typedef struct {
    Task base;
    CaptionSplit split[3];
    int *codes[3];   /* (n, NP): visual token of every patch */
    Codebook cb;
    int NP, PD;
    double mask_image, mask_text;
    Rng sampler;
} Mmm;

/* marks exactly max(1, round(ratio * n)) of n positions, uniformly */
static void choose_masked(Rng *r, int n, double ratio, unsigned char *chosen) {
    int idx[MAX_POSITIONS], m = (int)(ratio * n + 0.5);
    if (m < 1) m = 1;
    if (m > n) m = n;
    for (int i = 0; i < n; i++) { idx[i] = i; chosen[i] = 0; }
    for (int i = 0; i < m; i++) {
        int j = i + (int)rng_below(r, (uint64_t)(n - i)), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        chosen[idx[i]] = 1;
    }
}

static void fill_row(Mmm *v, int s, int i, int caption, int kind, Rng *r, Batch *b, int row) {
    int T = b->T, NP = v->NP, *tok = b->tokens + row * T, *tgt = b->targets + row * T;
    unsigned char *km = b->key_mask + row * T, chosen[MAX_POSITIONS];
    const CaptionSplit *sp = &v->split[s];
    memcpy(b->patches + (size_t)row * NP * v->PD, sp->patches + (size_t)i * NP * v->PD, sizeof(float) * NP * v->PD);
    const char *text = kind == ROW_IMAGE ? "" : sp->images[i].captions[caption];
    int len = (int)strlen(text);
    if (len > MMM_TEXT) len = MMM_TEXT;
    image_text_row(tok, tgt, km, T, NP, text, -1); /* [patches ; CLS ; text], nothing scored yet */
    if (kind == ROW_TEXT) memset(km, 0, NP);         /* no image: its patches are padding */
    if (kind != ROW_TEXT) {
        choose_masked(r, NP, v->mask_image, chosen);
        for (int t = 0; t < NP; t++)
            if (chosen[t]) { tok[t] = MASK_BYTE; tgt[t] = 256 + v->codes[s][(size_t)i * NP + t]; }
    }
    if (len) {
        choose_masked(r, len, kind == ROW_PAIR ? PAIR_TEXT_MASK : v->mask_text, chosen);
        for (int q = 0; q < len; q++)
            if (chosen[q]) { tgt[NP + 1 + q] = tok[NP + 1 + q]; tok[NP + 1 + q] = MASK_BYTE; }
    }
}

static void mmm_next_batch(Task *t, Batch *b) {
    Mmm *v = (Mmm *)t;
    const CaptionSplit *sp = &v->split[SPLIT_TRAIN];
    for (int r = 0; r < b->B; r++) {
        int i = (int)rng_below(&v->sampler, sp->n), u = (int)rng_below(&v->sampler, 4);
        int kind = u < 2 ? ROW_PAIR : u == 2 ? ROW_TEXT : ROW_IMAGE;
        int cap = (int)rng_below(&v->sampler, sp->images[i].n_captions);
        fill_row(v, SPLIT_TRAIN, i, cap, kind, &v->sampler, b, r);
    }
}

/* Image-text pairs of the split (caption i mod captions), masked from a fixed seed so every
 * model is scored on the same masked tokens. */
static int mmm_evaluate(Task *t, Model *m, Batch *b, Split split, long max_tokens, int final, MetricSink *sink) {
    Mmm *v = (Mmm *)t;
    const CaptionSplit *sp = &v->split[split];
    int n = sp->n;
    if (max_tokens > 0 && max_tokens / b->T < n) n = (int)(max_tokens / b->T) > 0 ? (int)(max_tokens / b->T) : 1;
    Rng r;
    rng_seed(&r, 90001 + (uint64_t)split);
    double loss[2] = {0, 0}, hit[2] = {0, 0};
    long count[2] = {0, 0};
    for (int base = 0; base < n && !stop_requested(); base += b->B) {
        for (int row = 0; row < b->B; row++) {
            int i = base + row < n ? base + row : base;
            fill_row(v, split, i, i % sp->images[i].n_captions, ROW_PAIR, &r, b, row);
            if (base + row >= n) for (int q = 0; q < b->T; q++) b->targets[row * b->T + q] = -1;
        }
        model_forward(m, b);
        const float *pl = model_position_losses(m), *logits = model_logits(m);
        for (int q = 0; q < b->B * b->T; q++) {
            int y = b->targets[q];
            if (y < 0) continue;
            int image = y >= 256;
            loss[image] += pl[q];
            count[image]++;
            /* top-1 within the prediction's own kind: visual tokens or bytes */
            const float *z = logits + (size_t)q * m->cfg.n_out;
            int lo = image ? 256 : 0, hi = image ? m->cfg.n_out : 256, best = lo;
            for (int k = lo + 1; k < hi; k++) if (z[k] > z[best]) best = k;
            hit[image] += best == y;
        }
    }
    const char *s = SPLIT_NAMES[split];
    long all = count[0] + count[1];
    if (all) { sink->put(sink, s, "loss", (loss[0] + loss[1]) / all); sink->put(sink, s, "ppl", exp((loss[0] + loss[1]) / all)); }
    if (count[1]) {
        sink->put(sink, s, "ppl_image", exp(loss[1] / count[1]));
        sink->put(sink, s, "acc_image", hit[1] / count[1]);
    }
    if (count[0]) {
        sink->put(sink, s, "ppl_text", exp(loss[0] / count[0]));
        sink->put(sink, s, "acc_text", hit[0] / count[0]);
    }
    return 0;
}

/* what a model that ignores context gets: perplexity of the training frequencies (add-one)
 * of visual tokens and of caption bytes, on the validation split */
static void mmm_describe(Task *t, MetricSink *sink) {
    Mmm *v = (Mmm *)t;
    int K = v->cb.K;
    double *fc = xcalloc(K, sizeof(double)), fb[256], nc = K, nb = 256;
    for (int i = 0; i < 256; i++) fb[i] = 1;
    for (int k = 0; k < K; k++) fc[k] = 1;
    const CaptionSplit *tr = &v->split[SPLIT_TRAIN], *va = &v->split[SPLIT_VALID];
    for (size_t i = 0; i < (size_t)tr->n * v->NP; i++) { fc[v->codes[SPLIT_TRAIN][i]]++; nc++; }
    for (int i = 0; i < tr->n; i++)
        for (int c = 0; c < tr->images[i].n_captions; c++)
            for (const char *p = tr->images[i].captions[c]; *p; p++) { fb[tolower((unsigned char)*p)]++; nb++; }
    double li = 0, lt = 0;
    long ni = 0, nt = 0;
    for (size_t i = 0; i < (size_t)va->n * v->NP; i++) { li -= log(fc[v->codes[SPLIT_VALID][i]] / nc); ni++; }
    for (int i = 0; i < va->n; i++)
        for (const char *p = va->images[i].captions[i % va->images[i].n_captions]; *p; p++) { lt -= log(fb[tolower((unsigned char)*p)] / nb); nt++; }
    int used = 0;
    for (int k = 0; k < K; k++) used += fc[k] > 1;
    free(fc);
    if (ni) sink->put(sink, "valid", "unigram_ppl_image", exp(li / ni));
    if (nt) sink->put(sink, "valid", "unigram_ppl_text", exp(lt / nt));
    sink->put(sink, "train", "codebook_used", used);
    caption_splits_describe(v->split, sink);
}

static void mmm_check_describe(Task *t, MetricSink *sink) { caption_splits_describe(((Mmm *)t)->split, sink); }

static uint64_t mmm_get_state(Task *t) { return ((Mmm *)t)->sampler.s; }
static void mmm_set_state(Task *t, uint64_t s) { ((Mmm *)t)->sampler.s = s; }

static void mmm_close(Task *t) {
    Mmm *v = (Mmm *)t;
    for (int s = 0; s < 3; s++) { caption_split_free(&v->split[s]); free(v->codes[s]); }
    codebook_free(&v->cb);
    free(v);
}

/* The codebook is kept beside the data it was built from; a folder the user cannot write (an
 * official data set installed read-only) gets it in data_dir/codebooks/, named by a hash of the
 * folder's real path so that two data sets never share one. */
static void mmm_codebook_path(const char *root, const TaskOptions *opt, int k, char *path, size_t n) {
    if (!access(root, W_OK)) {
        snprintf(path, n, "%s/codebook-s%d-p%d-k%d.bin", root, opt->image_size, opt->patch, k);
        return;
    }
    char real[PATH_MAX];
    snprintf(path, n, "%s/codebooks", opt->data_dir);
    mkdir(opt->data_dir, 0755);
    mkdir(path, 0755);
    snprintf(path, n, "%s/codebooks/%016llx-s%d-p%d-k%d.bin", opt->data_dir,
             (unsigned long long)str_hash64(realpath(root, real) ? real : root), opt->image_size, opt->patch, k);
}

static Task *mmm_open(const TaskOptions *opt, char *err, size_t errlen) {
    int K = (int)task_option_int(opt, "codebook");
    Mmm *v = xcalloc(1, sizeof *v);
    char root[4200], path[4400];
    if (task_data_root(opt, "scenes", "train/captions.json", root, sizeof root, err, errlen) ||
        image_patch_geometry(opt->image_size, opt->patch, &v->NP, &v->PD, err, errlen)) {
        free(v);
        return NULL;
    }
    if (v->NP > MAX_POSITIONS) {
        snprintf(err, errlen, "image_size=%d patch=%d: %d patches per image, task=mmm takes at most %d",
                 opt->image_size, opt->patch, v->NP, MAX_POSITIONS);
        free(v);
        return NULL;
    }
    if (caption_splits_load(v->split, root, opt->image_size, opt->patch, opt->check, err, errlen)) {
        free(v);
        return NULL;
    }
    if (opt->check) { /* harness data check: the counts, no codebook */
        v->base.describe = mmm_check_describe;
        v->base.close = mmm_close;
        return &v->base;
    }
    const CaptionSplit *tr = &v->split[SPLIT_TRAIN];
    mmm_codebook_path(root, opt, K, path, sizeof path);
    if (codebook_open(&v->cb, path, tr->patches, (size_t)tr->n * v->NP, v->PD, K, err, errlen)) {
        mmm_close(&v->base);
        return NULL;
    }
    for (int s = 0; s < 3; s++) {
        size_t n = (size_t)v->split[s].n * v->NP;
        v->codes[s] = xmalloc(sizeof(int) * (n + 1));
        codebook_assign(&v->cb, v->split[s].patches, n, v->codes[s], NULL);
    }
    v->mask_image = task_option_float(opt, "mask_image");
    v->mask_text = task_option_float(opt, "mask_text");
    rng_seed(&v->sampler, opt->seed * 7919 + 17);
    v->base.spec = (TaskSpec){.vocab = 256, .n_out = 256 + K, .seq_len = v->NP + 1 + MMM_TEXT,
                              .causal = 0, .needs_mask = 1, .patch_dim = v->PD, .n_patches = v->NP,
                              .text_outputs = 256};
    v->base.next_batch = mmm_next_batch;
    v->base.evaluate = mmm_evaluate;
    v->base.describe = mmm_describe;
    v->base.get_state = mmm_get_state;
    v->base.set_state = mmm_set_state;
    v->base.close = mmm_close;
    return &v->base;
}

static const KeyDef MMM_KEYS[] = {
    {"mask_image", KEY_ROLE_TRAINING, KEY_FLOAT, "0.4", NULL, 0, 1, "share of image patches masked"},
    {"mask_text", KEY_ROLE_TRAINING, KEY_FLOAT, "0.15", NULL, 0, 1, "share of text tokens masked (0.5 in image-text pairs, as BEiT-3)"},
    {"codebook", KEY_ROLE_TRAINING, KEY_INT, "128", NULL, 2, 65536, "visual tokens, k-means centres of training patches built at data preparation"},
};

const TaskKind task_mmm = {
    .name = "mmm",
    .help = "masked multimodal modelling (BEiT-3 pretraining): masked patches as visual tokens, masked caption bytes",
    .open = mmm_open,
    .TASK_KEYS(MMM_KEYS),
};
