#include "util/xalloc.h"
#include "caption_set.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const SPLITS[3] = {"train", "valid", "test"};

typedef struct { const CaptionSplit *split; const char *dir; } CaptionPaths;

static void caption_image_path(int i, void *ctx, char *path, size_t n) {
    const CaptionPaths *c = ctx;
    snprintf(path, n, "%s/%s", c->dir, c->split->images[i].file_name);
}

/* Where split s lives, and its captions loaded: in order of preference
 *  - the Karpathy split file root/dataset_coco.json (train = train + restval, valid = val,
 *    test = test; file names relative to root, e.g. val2014/COCO_val2014_...jpg);
 *  - the official root/annotations/captions_{train2014,val2014}.json (train = train2014; valid
 *    and test = the even and odd image ids of val2014; images in root/train2014, root/val2014);
 *  - the harness's root/SPLIT/captions.json, file names relative to root/SPLIT. */
static int caption_split_index(CaptionSplit *s, const char *root, int split, char *dir, size_t dirlen,
                               char *err, size_t errlen) {
    char path[4600];
    snprintf(path, sizeof path, "%s/dataset_coco.json", root);
    if (!access(path, R_OK)) {
        static const char *const KARPATHY[3] = {"train restval", "val", "test"};
        snprintf(dir, dirlen, "%s", root);
        return coco_karpathy_load(path, KARPATHY[split], &s->images, &s->n, err, errlen);
    }
    snprintf(path, sizeof path, "%s/annotations/captions_train2014.json", root);
    if (!access(path, R_OK)) {
        const char *set = split == 0 ? "train2014" : "val2014";
        snprintf(path, sizeof path, "%s/annotations/captions_%s.json", root, set);
        snprintf(dir, dirlen, "%s/%s", root, set);
        return coco_captions_load(path, split == 0 ? IMAGES_ALL : split == 1 ? IMAGES_EVEN : IMAGES_ODD, &s->images, &s->n, err, errlen);
    }
    snprintf(path, sizeof path, "%s/%s/captions.json", root, SPLITS[split]);
    snprintf(dir, dirlen, "%s/%s", root, SPLITS[split]);
    return coco_captions_load(path, IMAGES_ALL, &s->images, &s->n, err, errlen);
}

int caption_split_load(CaptionSplit *s, const char *root, int split, int image_size, int patch, int check,
                       char *err, size_t errlen) {
    char dir[4400];
    int NP, PD;
    *s = (CaptionSplit){0};
    if (image_patch_geometry(image_size, patch, &NP, &PD, err, errlen)) return -1;
    if (caption_split_index(s, root, split, dir, sizeof dir, err, errlen)) return -1;
    if (!s->n && !check) {
        snprintf(err, errlen, "%s: no images with captions for the %s split", root, SPLITS[split]);
        return -1;
    }
    for (int i = 0; i < s->n; i++)
        if (s->images[i].n_captions == 0) {
            snprintf(err, errlen, "%s: %s split: image %lld (%s) has no caption", root, SPLITS[split],
                     (long long)s->images[i].id, s->images[i].file_name);
            caption_split_free(s);
            return -1;
        }
    size_t D = (size_t)NP * PD;
    if (!check && !(s->patches = xmalloc(sizeof(float) * (D * s->n + 1)))) {
        snprintf(err, errlen, "%s: out of memory for %d images", root, s->n);
        caption_split_free(s);
        return -1;
    }
    CaptionPaths paths = {s, dir};
    if (images_load(s->n, caption_image_path, &paths, image_size, patch, check, s->patches, &s->missing_images, err, errlen)) {
        caption_split_free(s);
        return -1;
    }
    return 0;
}

void caption_split_free(CaptionSplit *s) {
    free(s->images);
    free(s->patches);
    s->images = NULL;
    s->patches = NULL;
}

int caption_splits_load(CaptionSplit s[3], const char *root, int image_size, int patch, int check, char *err, size_t errlen) {
    for (int i = 0; i < 3; i++)
        if (caption_split_load(&s[i], root, i, image_size, patch, check, err, errlen)) {
            for (int j = 0; j < i; j++) caption_split_free(&s[j]);
            return -1;
        }
    return 0;
}

void caption_splits_describe(const CaptionSplit s[3], MetricSink *sink) {
    for (int i = 0; i < 3; i++) {
        long captions = 0;
        for (int k = 0; k < s[i].n; k++) captions += s[i].images[k].n_captions;
        sink->put(sink, SPLITS[i], "images", s[i].n);
        sink->put(sink, SPLITS[i], "captions", (double)captions);
        sink->put(sink, SPLITS[i], "missing_images", s[i].missing_images);
    }
}
