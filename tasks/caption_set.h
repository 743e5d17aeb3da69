/* One split of a COCO-captions-style set with every image decoded and patched up front:
 * what masked multimodal modelling and captioning read. */
#ifndef MOEH_CAPTION_SET_H
#define MOEH_CAPTION_SET_H
#include "vision_data.h"
#include <stddef.h>

/* text positions after an image and its [CLS]/[BOS] in mmm and captioning sequences: the same
 * layout, so a captioning model keeps every position its mmm pretraining learned */
#define IMAGE_TEXT_POSITIONS 124

typedef struct {
    CocoImage *images;
    int n;
    float *patches; /* (n, n_patches * patch_dim) */
} CaptionSplit;

/* root/SPLIT/captions.json and the images it names (file_name relative to root/SPLIT).
 * 0, or -1 with err naming the file. */
int caption_split_load(CaptionSplit *s, const char *root, const char *split, int image_size, int patch,
                       char *err, size_t errlen);
void caption_split_free(CaptionSplit *s);
/* the train, valid and test splits into s[3]; on failure every split is freed */
int caption_splits_load(CaptionSplit s[3], const char *root, int image_size, int patch, char *err, size_t errlen);

#endif
