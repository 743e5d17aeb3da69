/* One split of a COCO-captions-style set with every image decoded and patched up front:
 * what masked multimodal modelling and captioning read. */
#ifndef MOEH_CAPTION_SET_H
#define MOEH_CAPTION_SET_H
#include "vision_data.h"
#include "task.h"
#include <stddef.h>

/* text positions after an image and its [CLS]/[BOS] in mmm and captioning sequences: the same
 * layout, so a captioning model keeps every position its mmm pretraining learned */
#define IMAGE_TEXT_POSITIONS 124

typedef struct {
    CocoImage *images;
    int n;
    float *patches; /* (n, n_patches * patch_dim); NULL in check mode */
    int missing_images;
} CaptionSplit;

/* Split (0 train, 1 valid, 2 test) of the set in root and its images: the Karpathy split file
 * root/dataset_coco.json, else the official root/annotations/captions_{train,val}2014.json
 * (valid and test: the even and odd image ids of val2014), else the harness's layout
 * root/SPLIT/captions.json with file names relative to root/SPLIT. check: decode nothing,
 * count missing images (TaskOptions.check). 0, or -1 with err naming the file. */
int caption_split_load(CaptionSplit *s, const char *root, int split, int image_size, int patch, int check,
                       char *err, size_t errlen);
void caption_split_free(CaptionSplit *s);
/* the train, valid and test splits into s[3]; on failure every split is freed */
int caption_splits_load(CaptionSplit s[3], const char *root, int image_size, int patch, int check, char *err, size_t errlen);
/* images, captions and missing images per split, for a task's describe */
void caption_splits_describe(const CaptionSplit s[3], MetricSink *sink);

#endif
