/* task=vqa: question + image -> answer class (VQAv2 style). A sequence is the image's patches,
 * a [CLS] byte, then the question's bytes (padding masked); the [CLS] position predicts the
 * answer among the `answers` most frequent training answers. Metric: the official VQA
 * accuracy. Default data: the scenes set (harness data prepare scenes); data=PATH: the
 * official VQAv2 files as downloaded (v2_OpenEnded_mscoco_*_questions.json,
 * v2_mscoco_*_annotations.json, train2014/ and val2014/ images), or the harness's layout:
 * train/valid/test folders holding vqa_questions.json, vqa_annotations.json, images/ID.png. */
#include "util/xalloc.h"
#include "task.h"
#include "vision_data.h"
#include "util/rng.h"
#include "util/hash_map.h"
#include "util/stop.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_QUESTION 48
#define ANSWER_LEN 32

typedef struct {
    VqaItem *items;
    int n;
    int *label;     /* class of each item's most common answer, -1 outside the answer classes */
    int *image;     /* each item's image: its slot in patches */
    int64_t *image_ids; /* slot -> image_id */
    float *patches; /* (n_images, n_patches * patch_dim) */
    int n_images, missing_images;
    char image_format[4400]; /* printf format of an image path, given the image_id */
} VqaSplit;

typedef struct {
    Task base;
    VqaSplit split[3];
    char (*classes)[ANSWER_LEN]; /* the answer classes, most frequent first */
    int n_classes;
    double coverage;             /* share of training questions whose answer is a class */
    int n_patches, patch_dim;
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

/* one sequence: patches of the item's image, [CLS], the question; target at [CLS] */
static void fill_row(Vqa *v, const VqaSplit *s, int i, Batch *b, int row) {
    int T = b->T, NP = v->n_patches, D = v->n_patches * v->patch_dim;
    const VqaItem *it = &s->items[i];
    memcpy(b->patches + (size_t)row * D, s->patches + (size_t)s->image[i] * D, sizeof(float) * D);
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

static int vqa_evaluate(Task *t, Model *m, Batch *b, Split split, long max_items, int final, MetricSink *sink) {
    Vqa *v = (Vqa *)t;
    VqaSplit *s = &v->split[split];
    int n = max_items > 0 && max_items < s->n ? (int)max_items : s->n;
    double acc = 0, loss = 0;
    long scored = 0;
    for (int base = 0; base < n && !stop_requested(); base += b->B) {
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

static int by_first_then_second(const void *a, const void *b) {
    const int *x = a, *y = b;
    return x[0] != y[0] ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

/* baselines the model must beat: the majority training answer, and the most common training
 * answer of each exact question text (sees the question but not the image); and what the
 * data holds: questions, images and missing images per split, answers outside the classes */
static void vqa_describe(Task *t, MetricSink *sink) {
    Vqa *v = (Vqa *)t;
    VqaSplit *tr = &v->split[SPLIT_TRAIN], *va = &v->split[SPLIT_VALID];
    for (int s = 0; s < 3; s++) {
        const VqaSplit *sp = &v->split[s];
        int unknown = 0;
        for (int i = 0; i < sp->n; i++) unknown += sp->label[i] < 0;
        sink->put(sink, SPLIT_NAMES[s], "questions", sp->n);
        sink->put(sink, SPLIT_NAMES[s], "images", sp->n_images);
        sink->put(sink, SPLIT_NAMES[s], "missing_images", sp->missing_images);
        sink->put(sink, SPLIT_NAMES[s], "unknown_answers", unknown);
    }
    sink->put(sink, "train", "answer_classes", v->n_classes);
    sink->put(sink, "train", "answer_coverage", v->coverage);
    /* question text -> its most common training class, through (text id, class) pairs sorted */
    StrMap texts = {0};
    int *pairs = xmalloc(sizeof(int) * 2 * (tr->n + 1)), np = 0;
    for (int i = 0; pairs && i < tr->n; i++)
        if (tr->label[i] >= 0) {
            int id = str_map_intern(&texts, tr->items[i].question);
            if (id < 0) break;
            pairs[2 * np] = id;
            pairs[2 * np + 1] = tr->label[i];
            np++;
        }
    int *best = xcalloc((size_t)texts.n + 1, sizeof(int));
    if (!pairs || !best) { free(pairs); free(best); str_map_free(&texts); return; }
    qsort(pairs, (size_t)np, sizeof(int) * 2, by_first_then_second);
    int *class_count = xcalloc((size_t)v->n_classes + 1, sizeof(int)), major = 0;
    for (int i = 0; i < np; i++) class_count[pairs[2 * i + 1]]++;
    for (int c = 1; c < v->n_classes; c++) if (class_count[c] > class_count[major]) major = c;
    for (int i = 0; i < np;) { /* one run of equal text ids; within it, runs of equal classes */
        int j = i, top = -1, top_n = 0;
        while (j < np && pairs[2 * j] == pairs[2 * i]) {
            int k = j;
            while (k < np && pairs[2 * k] == pairs[2 * j] && pairs[2 * k + 1] == pairs[2 * j + 1]) k++;
            if (k - j > top_n) { top_n = k - j; top = pairs[2 * j + 1]; }
            j = k;
        }
        best[pairs[2 * i]] = top;
        i = j;
    }
    double maj = 0, qonly = 0;
    for (int i = 0; i < va->n; i++) {
        maj += vqa_accuracy(v->classes[major], &va->items[i]);
        int id = str_map_find(&texts, va->items[i].question);
        qonly += vqa_accuracy(v->classes[id >= 0 ? best[id] : major], &va->items[i]);
    }
    free(pairs); free(best); free(class_count);
    str_map_free(&texts);
    sink->put(sink, "valid", "majority_acc", va->n ? maj / va->n : 0);
    sink->put(sink, "valid", "question_only_acc", va->n ? qonly / va->n : 0);
}

static uint64_t vqa_get_state(Task *t) { return ((Vqa *)t)->sampler.s; }
static void vqa_set_state(Task *t, uint64_t s) { ((Vqa *)t)->sampler.s = s; }

static void vqa_close(Task *t) {
    Vqa *v = (Vqa *)t;
    for (int s = 0; s < 3; s++) {
        VqaSplit *sp = &v->split[s];
        free(sp->items); free(sp->label); free(sp->image); free(sp->image_ids); free(sp->patches);
    }
    free(v->classes);
    free(v);
}

/* The files of split s: the official VQAv2 names in root (train = train2014; valid and test =
 * the even and odd image ids of val2014, since the official test answers are not public), or
 * the harness's own root/SPLIT/{vqa_questions,vqa_annotations}.json and images/ID.png. */
static void vqa_split_files(const char *root, int s, char *qpath, char *apath, size_t n, VqaSplit *sp, ImageHalf *half) {
    char probe[4400];
    snprintf(probe, sizeof probe, "%s/v2_OpenEnded_mscoco_train2014_questions.json", root);
    if (!access(probe, R_OK)) {
        const char *set = s == SPLIT_TRAIN ? "train2014" : "val2014";
        snprintf(qpath, n, "%s/v2_OpenEnded_mscoco_%s_questions.json", root, set);
        snprintf(apath, n, "%s/v2_mscoco_%s_annotations.json", root, set);
        snprintf(sp->image_format, sizeof sp->image_format, "%s/%s/COCO_%s_%%012lld.jpg", root, set, set);
        *half = s == SPLIT_TRAIN ? IMAGES_ALL : s == SPLIT_VALID ? IMAGES_EVEN : IMAGES_ODD;
    } else {
        snprintf(qpath, n, "%s/%s/vqa_questions.json", root, SPLIT_DIRS[s]);
        snprintf(apath, n, "%s/%s/vqa_annotations.json", root, SPLIT_DIRS[s]);
        snprintf(sp->image_format, sizeof sp->image_format, "%s/%s/images/%%lld.png", root, SPLIT_DIRS[s]);
        *half = IMAGES_ALL;
    }
}

static void vqa_image_path(int i, void *ctx, char *path, size_t n) {
    const VqaSplit *sp = ctx;
    snprintf(path, n, sp->image_format, (long long)sp->image_ids[i]);
}

/* each distinct image of the split gets a slot, in order of first use */
static int vqa_index_images(VqaSplit *sp) {
    IdMap slots = {0};
    sp->image = xmalloc(sizeof(int) * (sp->n + 1));
    sp->image_ids = xmalloc(sizeof(int64_t) * (sp->n + 1));
    if (!sp->image || !sp->image_ids) return -1;
    for (int i = 0; i < sp->n; i++) {
        int slot = id_map_get(&slots, (uint64_t)sp->items[i].image_id);
        if (slot < 0) {
            slot = sp->n_images++;
            sp->image_ids[slot] = sp->items[i].image_id;
            if (id_map_put(&slots, (uint64_t)sp->items[i].image_id, slot)) { id_map_free(&slots); return -1; }
        }
        sp->image[i] = slot;
    }
    id_map_free(&slots);
    return 0;
}

typedef struct { const char *answer; int count; } AnswerCount;

static int by_count_then_text(const void *a, const void *b) {
    const AnswerCount *x = a, *y = b;
    return x->count != y->count ? y->count - x->count : strcmp(x->answer, y->answer);
}

/* the classes: the `answers` most frequent most-common-answers of training (ties by text) */
static int vqa_answer_classes(Vqa *v, int answers) {
    const VqaSplit *tr = &v->split[SPLIT_TRAIN];
    StrMap seen = {0};
    int *count = xcalloc((size_t)tr->n + 1, sizeof(int)), rc = -1;
    AnswerCount *order = NULL;
    if (!count) return -1;
    for (int i = 0; i < tr->n; i++) {
        int id = str_map_intern(&seen, most_common_answer(&tr->items[i]));
        if (id < 0) goto done;
        count[id]++;
    }
    order = xmalloc(sizeof *order * ((size_t)seen.n + 1));
    if (!order) goto done;
    for (int id = 0; id < seen.n; id++) order[id] = (AnswerCount){seen.strings[id], count[id]};
    qsort(order, (size_t)seen.n, sizeof *order, by_count_then_text);
    v->n_classes = seen.n < answers ? seen.n : answers;
    v->classes = xcalloc((size_t)v->n_classes + 1, ANSWER_LEN);
    if (!v->classes) goto done;
    StrMap class_of = {0};
    long covered = 0;
    for (int c = 0; c < v->n_classes; c++) {
        snprintf(v->classes[c], ANSWER_LEN, "%s", order[c].answer);
        covered += order[c].count;
        if (str_map_intern(&class_of, v->classes[c]) != c) { str_map_free(&class_of); goto done; }
    }
    v->coverage = tr->n ? (double)covered / tr->n : 0;
    for (int s = 0; s < 3; s++) {
        VqaSplit *sp = &v->split[s];
        sp->label = xmalloc(sizeof(int) * (sp->n + 1));
        if (!sp->label) { str_map_free(&class_of); goto done; }
        for (int i = 0; i < sp->n; i++) sp->label[i] = str_map_find(&class_of, most_common_answer(&sp->items[i]));
    }
    str_map_free(&class_of);
    rc = 0;
done:
    free(count);
    free(order);
    str_map_free(&seen);
    return rc;
}

static Task *vqa_open(const TaskOptions *opt, char *err, size_t errlen) {
    Vqa *v = xcalloc(1, sizeof *v);
    char root[4200], qpath[4400], apath[4400];
    if (!v) { snprintf(err, errlen, "task=vqa: out of memory"); return NULL; }
    if (task_data_root(opt, "scenes", "train/vqa_questions.json", root, sizeof root, err, errlen) ||
        image_patch_geometry(opt->image_size, opt->patch, &v->n_patches, &v->patch_dim, err, errlen)) {
        free(v);
        return NULL;
    }
    size_t D = (size_t)v->n_patches * v->patch_dim;
    for (int s = 0; s < 3; s++) {
        VqaSplit *sp = &v->split[s];
        ImageHalf half;
        vqa_split_files(root, s, qpath, apath, sizeof qpath, sp, &half);
        if (vqa_load(qpath, apath, half, &sp->items, &sp->n, err, errlen)) { vqa_close(&v->base); return NULL; }
        if (!sp->n && !opt->check) {
            snprintf(err, errlen, "%s: no questions for the %s split", qpath, SPLIT_NAMES[s]);
            vqa_close(&v->base);
            return NULL;
        }
        if (vqa_index_images(sp) ||
            (!opt->check && !(sp->patches = xmalloc(sizeof(float) * (D * sp->n_images + 1))))) {
            snprintf(err, errlen, "%s: out of memory for %d images", qpath, sp->n_images);
            vqa_close(&v->base);
            return NULL;
        }
        /* every image once, decoded and patched up front */
        if (images_load(sp->n_images, vqa_image_path, sp, opt->image_size, opt->patch, opt->check, sp->patches,
                        &sp->missing_images, err, errlen)) {
            vqa_close(&v->base);
            return NULL;
        }
    }
    if (vqa_answer_classes(v, (int)task_option_int(opt, "answers"))) {
        snprintf(err, errlen, "%s: out of memory for the answer classes", root);
        vqa_close(&v->base);
        return NULL;
    }
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

static const KeyDef VQA_KEYS[] = {
    {"answers", KEY_ROLE_TRAINING, KEY_INT, "3129", NULL, 1, 1 << 20, "answer classes, the most frequent answers in training (3129 as usual for VQAv2); the share of questions they cover is stored as train/answer_coverage"},
};

const TaskKind task_vqa = {
    .name = "vqa",
    .help = "question + image -> answer class (VQAv2), the official VQA accuracy",
    .open = vqa_open,
    .pretrained_by = "mmm", /* masked multimodal modelling, as BEiT-3 */
    .TASK_KEYS(VQA_KEYS),
};
