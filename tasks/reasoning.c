#include "reasoning.h"
#include "vision_data.h"
#include "models/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATEMENT 80

typedef struct {
    Nlvr2Item *items;
    int n;
    int *left, *right;    /* index of each item's images in the cache */
    char (*paths)[256];   /* the cache: distinct image paths and their patches */
    float *patches;
    int n_images;
} ReasonSplit;

typedef struct {
    Task base;
    ReasonSplit split[3];
    int per_image, patch_dim; /* patches per image, values per patch */
    int rows, NP;             /* rows per pair and patches per row: pair=joint 1 row
                                 [left ; right ; CLS ; statement]; pair=separate 2 rows
                                 [left ; CLS ; statement] and [right ; CLS ; statement] */
    Rng sampler;
} Reason;

static const char *const SPLIT_DIRS[3] = {"train", "valid", "test"};

/* the rows of example slot e: row e (joint), or rows 2e and 2e+1 of a batch group of 2; only
 * the first row is scored, and the model adds the group's logits there */
static void fill_example(Reason *v, const ReasonSplit *s, int i, Batch *b, int e) {
    size_t D = (size_t)v->per_image * v->patch_dim;
    float *dst = b->patches + (size_t)e * 2 * D; /* both layouts keep left then right */
    memcpy(dst, s->patches + (size_t)s->left[i] * D, sizeof(float) * D);
    memcpy(dst + D, s->patches + (size_t)s->right[i] * D, sizeof(float) * D);
    for (int k = 0; k < v->rows; k++) {
        int row = e * v->rows + k;
        image_text_row(b->tokens + row * b->T, b->targets + row * b->T, b->key_mask + row * b->T, b->T,
                       v->NP, s->items[i].sentence, k == 0 ? s->items[i].label : -1);
    }
}

static void reason_next_batch(Task *t, Batch *b) {
    Reason *v = (Reason *)t;
    for (int e = 0; e < b->B / v->rows; e++)
        fill_example(v, &v->split[SPLIT_TRAIN], (int)rng_below(&v->sampler, v->split[SPLIT_TRAIN].n), b, e);
}

static int reason_evaluate(Task *t, Model *m, Batch *b, Split split, long max_items, MetricSink *sink) {
    Reason *v = (Reason *)t;
    ReasonSplit *s = &v->split[split];
    int n = max_items > 0 && max_items < s->n ? (int)max_items : s->n, E = b->B / v->rows;
    int NP = v->NP, rows = v->rows;
    double right = 0, loss = 0;
    long scored = 0;
    for (int base = 0; base < n; base += E) {
        for (int e = 0; e < E; e++) fill_example(v, s, base + e < n ? base + e : base, b, e);
        for (int e = n - base; e < E; e++) b->targets[e * rows * b->T + NP] = -1;
        model_forward(m, b);
        loss += (double)m->loss * m->loss_count;
        scored += m->loss_count;
        const float *z = model_logits(m);
        for (int e = 0; e < E && base + e < n; e++) {
            const float *ze = z + ((size_t)e * rows * b->T + NP) * m->cfg.n_out;
            right += (ze[1] > ze[0]) == s->items[base + e].label;
        }
    }
    const char *sp = SPLIT_NAMES[split];
    sink->put(sink, sp, "acc", n ? right / n : 0);
    if (split == SPLIT_TEST) sink->eval(sink, "test", "acc", n ? right / n : 0);
    if (scored) sink->put(sink, sp, "loss", loss / scored);
    return 0;
}

/* baselines: the majority training label, and the majority label of each exact statement
 * text in training (sees the sentence, not the images) */
static void reason_describe(Task *t, MetricSink *sink) {
    Reason *v = (Reason *)t;
    const ReasonSplit *tr = &v->split[SPLIT_TRAIN], *va = &v->split[SPLIT_VALID];
    int trues = 0, hit = 0, hit_text = 0;
    for (int i = 0; i < tr->n; i++) trues += tr->items[i].label;
    int major = 2 * trues >= tr->n;
    for (int i = 0; i < va->n; i++) {
        hit += va->items[i].label == major;
        int yes = 0, no = 0;
        for (int j = 0; j < tr->n; j++)
            if (!strcmp(tr->items[j].sentence, va->items[i].sentence)) { yes += tr->items[j].label; no += !tr->items[j].label; }
        hit_text += va->items[i].label == (yes == no ? major : yes > no);
    }
    sink->put(sink, "valid", "majority_acc", va->n ? (double)hit / va->n : 0);
    sink->put(sink, "valid", "statement_only_acc", va->n ? (double)hit_text / va->n : 0);
}

static uint64_t reason_get_state(Task *t) { return ((Reason *)t)->sampler.s; }
static void reason_set_state(Task *t, uint64_t s) { ((Reason *)t)->sampler.s = s; }

static void reason_close(Task *t) {
    Reason *v = (Reason *)t;
    for (int s = 0; s < 3; s++) {
        ReasonSplit *sp = &v->split[s];
        free(sp->items); free(sp->left); free(sp->right); free(sp->paths); free(sp->patches);
    }
    free(v);
}

/* index of path in the split's image cache, adding it */
static int cache_index(ReasonSplit *s, const char *path) {
    for (int i = 0; i < s->n_images; i++) if (!strcmp(s->paths[i], path)) return i;
    snprintf(s->paths[s->n_images], 256, "%s", path);
    return s->n_images++;
}

Task *reasoning_open(const TaskOptions *opt, char *err, size_t errlen) {
    Reason *v = calloc(1, sizeof *v);
    char root[4200], path[4600];
    if (task_data_root(opt, "scenes", "train/nlvr2.jsonl", root, sizeof root, err, errlen) ||
        image_patch_geometry(opt->image_size, opt->patch, &v->per_image, &v->patch_dim, err, errlen)) {
        free(v);
        return NULL;
    }
    size_t D = (size_t)v->per_image * v->patch_dim;
    for (int s = 0; s < 3; s++) {
        ReasonSplit *sp = &v->split[s];
        snprintf(path, sizeof path, "%s/%s/nlvr2.jsonl", root, SPLIT_DIRS[s]);
        if (nlvr2_load(path, &sp->items, &sp->n, err, errlen)) { reason_close(&v->base); return NULL; }
        sp->left = malloc(sizeof(int) * (sp->n + 1));
        sp->right = malloc(sizeof(int) * (sp->n + 1));
        sp->paths = malloc(sizeof *sp->paths * (2 * sp->n + 1));
        for (int i = 0; i < sp->n; i++) {
            sp->left[i] = cache_index(sp, sp->items[i].left);
            sp->right[i] = cache_index(sp, sp->items[i].right);
        }
        sp->patches = malloc(sizeof(float) * (D * sp->n_images + 1));
        for (int i = 0; i < sp->n_images; i++) {
            snprintf(path, sizeof path, "%s/%s/%s", root, SPLIT_DIRS[s], sp->paths[i]);
            if (image_load_patches(path, opt->image_size, opt->patch, sp->patches + D * i, err, errlen)) {
                reason_close(&v->base);
                return NULL;
            }
        }
    }
    if (!v->split[SPLIT_TRAIN].n) { snprintf(err, errlen, "%s/train/nlvr2.jsonl: no statements", root); reason_close(&v->base); return NULL; }
    rng_seed(&v->sampler, opt->seed * 7919 + 17);
    /* the text part is as long as the longest statement (up to MAX_STATEMENT bytes; longer ones
     * are cut): attention over padding costs as much as over text */
    int text = 1;
    for (int sp = 0; sp < 3; sp++)
        for (int i = 0; i < v->split[sp].n; i++) {
            int len = (int)strlen(v->split[sp].items[i].sentence);
            text = len > text ? (len < MAX_STATEMENT ? len : MAX_STATEMENT) : text;
        }
    v->rows = opt->pair_joint ? 1 : 2;
    v->NP = opt->pair_joint ? 2 * v->per_image : v->per_image;
    v->base.spec = (TaskSpec){.vocab = 256, .n_out = 2, .seq_len = v->NP + 1 + text, .causal = 0, .needs_mask = 1,
                              .patch_dim = v->patch_dim, .n_patches = v->NP, .images = opt->pair_joint ? 2 : 1,
                              .group = v->rows};
    v->base.next_batch = reason_next_batch;
    v->base.evaluate = reason_evaluate;
    v->base.describe = reason_describe;
    v->base.get_state = reason_get_state;
    v->base.set_state = reason_set_state;
    v->base.close = reason_close;
    return &v->base;
}
