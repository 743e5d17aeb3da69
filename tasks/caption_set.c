#include "caption_set.h"
#include <stdio.h>
#include <stdlib.h>

int caption_split_load(CaptionSplit *s, const char *root, const char *split, int image_size, int patch,
                       char *err, size_t errlen) {
    char path[4600];
    int NP, PD;
    s->images = NULL;
    s->patches = NULL;
    s->n = 0;
    if (image_patch_geometry(image_size, patch, &NP, &PD, err, errlen)) return -1;
    snprintf(path, sizeof path, "%s/%s/captions.json", root, split);
    if (coco_captions_load(path, &s->images, &s->n, err, errlen)) return -1;
    size_t D = (size_t)NP * PD;
    s->patches = malloc(sizeof(float) * (D * s->n + 1));
    for (int i = 0; i < s->n; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", root, split, s->images[i].file_name);
        if (image_load_patches(path, image_size, patch, s->patches + D * i, err, errlen)) {
            caption_split_free(s);
            return -1;
        }
        if (s->images[i].n_captions == 0) {
            snprintf(err, errlen, "%s/%s/captions.json: image %d (%s) has no caption", root, split, s->images[i].id,
                     s->images[i].file_name);
            caption_split_free(s);
            return -1;
        }
    }
    return 0;
}

void caption_split_free(CaptionSplit *s) {
    free(s->images);
    free(s->patches);
    s->images = NULL;
    s->patches = NULL;
}

int caption_splits_load(CaptionSplit s[3], const char *root, int image_size, int patch, char *err, size_t errlen) {
    static const char *const SPLITS[3] = {"train", "valid", "test"};
    for (int i = 0; i < 3; i++)
        if (caption_split_load(&s[i], root, SPLITS[i], image_size, patch, err, errlen)) {
            for (int j = 0; j < i; j++) caption_split_free(&s[j]);
            return -1;
        }
    return 0;
}
