#include "vqa.h"
#include "vision_data.h"
#include "models/rng.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUESTION 48
#define MAX_CLASSES 512

typedef struct {
    VqaItem *items;
    int n;
    int *label;       /* answer class of each item's most common answer, -1 if unseen in train */
    float *patches;   /* (n_images, n_patches * patch_dim), by image_id */
    int n_images;
} VqaSplit;

typedef struct {
    Task base;
    VqaSplit split[3];
    char classes[MAX_CLASSES][32];
    int n_classes, n_patches, patch_dim;
    Rng sampler;
} Vqa;

static const char *const SPLIT_DIRS[3] = {"train", "valid", "test"};

static const char *most_common_answer(const VqaItem *it) {
    int best = 0, at = 0;
    for (int i = 0; i < it->n_answers; i++) {
        int c = 0;
        for (int j = 0; j < it->n_answers; j++) c += !strcmp(it->answers[i], it->answers[j]);
        if (c > best) { best = c; at = i; }
    }
    return it->answers[at];
}

static int class_of(Vqa *v, const char *answer, int add) {
    for (int c = 0; c < v->n_classes; c++) if (!strcmp(v->classes[c], answer)) return c;
    if (!add || v->n_classes == MAX_CLASSES) return -1;
    snprintf(v->classes[v->n_classes], 32, "%s", answer);
    return v->n_classes++;
}

/* one sequence: patches of the item's image, [CLS], the question; target at [CLS] */
static void fill_row(Vqa *v, const VqaSplit *s, int i, Batch *b, int row) {
    int T = b->T, NP = v->n_patches, D = v->n_patches * v->patch_dim;
    const VqaItem *it = &s->items[i];
    memcpy(b->patches + (size_t)row * D, s->patches + (size_t)it->image_id * D, sizeof(float) * D);
    image_text_row(b->tokens + row * T, b->targets + row * T, b->key_mask + row * T, T, NP, it->question, s->label[i]);
}

static void vqa_next_batch(Task *t, Batch *b) {
    Vqa *v = (Vqa *)t;
    VqaSplit *s = &v->split[SPLIT_TRAIN];
    for (int r = 0; r < b->B; r++) {
        int i;
        do i = (int)rng_below(&v->sampler, s->n); while (s->label[i] < 0);
        fill_row(v, s, i, b, r);
    }
}

static int vqa_evaluate(Task *t, Model *m, Batch *b, Split split, long max_items, MetricSink *sink) {
    Vqa *v = (Vqa *)t;
    VqaSplit *s = &v->split[split];
    int n = max_items > 0 && max_items < s->n ? (int)max_items : s->n;
    double acc = 0, loss = 0;
    long scored = 0;
    for (int base = 0; base < n; base += b->B) {
        for (int r = 0; r < b->B; r++) fill_row(v, s, base + r < n ? base + r : base, b, r);
        for (int r = n - base; r < b->B; r++) b->targets[r * b->T + v->n_patches] = -1; /* padding rows */
        model_forward(m, b);
        loss += (double)m->loss * m->loss_count;
        scored += m->loss_count;
        const float *logits = model_logits(m);
        for (int r = 0; r < b->B && base + r < n; r++) {
            const float *z = logits + ((size_t)r * b->T + v->n_patches) * m->cfg.n_out;
            int best = 0;
            for (int c = 1; c < v->n_classes; c++) if (z[c] > z[best]) best = c;
            acc += vqa_accuracy(v->classes[best], &s->items[base + r]);
        }
    }
    const char *sp = SPLIT_NAMES[split];
    sink->put(sink, sp, "acc", n ? acc / n : 0);
    if (split == SPLIT_TEST) sink->eval(sink, "test", "acc", n ? acc / n : 0);
    if (scored) { sink->put(sink, sp, "loss", loss / scored); sink->put(sink, sp, "ppl", exp(loss / scored)); }
    return 0;
}

/* baselines the model must beat: the majority training answer, and the most common training
 * answer of each exact question text (which sees the question but not the image) */
static void vqa_describe(Task *t, MetricSink *sink) {
    Vqa *v = (Vqa *)t;
    VqaSplit *tr = &v->split[SPLIT_TRAIN], *va = &v->split[SPLIT_VALID];
    int *count = calloc(v->n_classes ? v->n_classes : 1, sizeof(int)), major = 0;
    for (int i = 0; i < tr->n; i++) if (tr->label[i] >= 0) count[tr->label[i]]++;
    for (int c = 1; c < v->n_classes; c++) if (count[c] > count[major]) major = c;
    double maj = 0, qonly = 0;
    for (int i = 0; i < va->n; i++) {
        maj += vqa_accuracy(v->classes[major], &va->items[i]);
        memset(count, 0, sizeof(int) * v->n_classes);
        for (int j = 0; j < tr->n; j++)
            if (tr->label[j] >= 0 && !strcmp(tr->items[j].question, va->items[i].question)) count[tr->label[j]]++;
        int best = major;
        for (int c = 0; c < v->n_classes; c++) if (count[c] > count[best]) best = c;
        qonly += vqa_accuracy(v->classes[best], &va->items[i]);
    }
    free(count);
    sink->put(sink, "valid", "majority_acc", va->n ? maj / va->n : 0);
    sink->put(sink, "valid", "question_only_acc", va->n ? qonly / va->n : 0);
    sink->put(sink, "train", "answer_classes", v->n_classes);
}

static uint64_t vqa_get_state(Task *t) { return ((Vqa *)t)->sampler.s; }
static void vqa_set_state(Task *t, uint64_t s) { ((Vqa *)t)->sampler.s = s; }

static void vqa_close(Task *t) {
    Vqa *v = (Vqa *)t;
    for (int s = 0; s < 3; s++) { free(v->split[s].items); free(v->split[s].label); free(v->split[s].patches); }
    free(v);
}

Task *vqa_open(const TaskOptions *opt, char *err, size_t errlen) {
    Vqa *v = calloc(1, sizeof *v);
    char root[4200], path[4400], path2[4400];
    if (task_data_root(opt, "scenes", "train/vqa_questions.json", root, sizeof root, err, errlen) ||
        image_patch_geometry(opt->image_size, opt->patch, &v->n_patches, &v->patch_dim, err, errlen)) {
        free(v);
        return NULL;
    }
    size_t D = (size_t)v->n_patches * v->patch_dim;
    for (int s = 0; s < 3; s++) {
        VqaSplit *sp = &v->split[s];
        snprintf(path, sizeof path, "%s/%s/vqa_questions.json", root, SPLIT_DIRS[s]);
        snprintf(path2, sizeof path2, "%s/%s/vqa_annotations.json", root, SPLIT_DIRS[s]);
        if (vqa_load(path, path2, &sp->items, &sp->n, err, errlen)) { vqa_close(&v->base); return NULL; }
        sp->label = malloc(sizeof(int) * (sp->n ? sp->n : 1));
        for (int i = 0; i < sp->n; i++) {
            sp->label[i] = class_of(v, most_common_answer(&sp->items[i]), s == SPLIT_TRAIN);
            if (sp->items[i].image_id + 1 > sp->n_images) sp->n_images = sp->items[i].image_id + 1;
        }
        /* every image once, decoded and patched up front */
        sp->patches = calloc((size_t)sp->n_images * D + 1, sizeof(float));
        unsigned char *seen = calloc(sp->n_images + 1, 1);
        for (int i = 0; i < sp->n; i++) {
            int id = sp->items[i].image_id;
            if (seen[id]) continue;
            seen[id] = 1;
            snprintf(path, sizeof path, "%s/%s/images/%d.png", root, SPLIT_DIRS[s], id);
            if (image_load_patches(path, opt->image_size, opt->patch, sp->patches + (size_t)id * D, err, errlen)) {
                free(seen);
                vqa_close(&v->base);
                return NULL;
            }
        }
        free(seen);
    }
    if (v->split[SPLIT_TRAIN].n == 0) { snprintf(err, errlen, "%s/train: no questions", root); vqa_close(&v->base); return NULL; }
    rng_seed(&v->sampler, opt->seed * 7919 + 17);
    v->base.spec = (TaskSpec){.vocab = 256, .n_out = v->n_classes, .seq_len = v->n_patches + 1 + MAX_QUESTION,
                              .causal = 0, .needs_mask = 1, .patch_dim = v->patch_dim, .n_patches = v->n_patches};
    v->base.next_batch = vqa_next_batch;
    v->base.evaluate = vqa_evaluate;
    v->base.describe = vqa_describe;
    v->base.get_state = vqa_get_state;
    v->base.set_state = vqa_set_state;
    v->base.close = vqa_close;
    return &v->base;
}
