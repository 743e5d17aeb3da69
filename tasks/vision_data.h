/* Loaders for the image-text formats the multimodal tasks read: VQAv2 (questions JSON +
 * annotations JSON), NLVR2 (JSONL), COCO captions (JSON), and images through stb_image cut
 * into patches. Errors name the file (and the line of a JSONL file) and what was expected. */
#ifndef MOEH_VISION_DATA_H
#define MOEH_VISION_DATA_H
#include <stddef.h>

typedef struct {
    int question_id, image_id;
    char question[160], qtype[24];
    int n_answers;            /* up to 10 */
    char answers[10][32];
} VqaItem;

typedef struct { char identifier[64], sentence[256], left[256], right[256]; int label; } Nlvr2Item;

#define COCO_MAX_CAPTIONS 8
typedef struct { int id; char file_name[256]; int n_captions; char captions[COCO_MAX_CAPTIONS][256]; } CocoImage;

int vqa_load(const char *questions_json, const char *annotations_json, VqaItem **items, int *n, char *err, size_t errlen);
int nlvr2_load(const char *jsonl, Nlvr2Item **items, int *n, char *err, size_t errlen);
int coco_captions_load(const char *json, CocoImage **images, int *n, char *err, size_t errlen);

/* VQA accuracy of one prediction: min(matching answers / 3, 1) with 10 answers, else exact */
double vqa_accuracy(const char *prediction, const VqaItem *item);

/* Decodes an image (PNG, JPEG, ...), resizes it to size x size, and writes its patches in
 * raster order, each patch x patch x 3 values scaled to [-1, 1] (row-major pixels, RGB):
 * out holds (size/patch)^2 * patch*patch*3 floats. 0, or -1 naming the file. */
int image_load_patches(const char *path, int size, int patch, float *out, char *err, size_t errlen);

/* Patch geometry of the image_size and patch keys: patches per image and values per patch.
 * 0, or -1 with a message naming both keys when patch does not divide image_size. */
int image_patch_geometry(int image_size, int patch, int *n_patches, int *patch_dim, char *err, size_t errlen);

/* The text part of an image-text sequence of T positions whose first n_patches are image
 * patches: a [CLS] byte (1) at n_patches, then the text's bytes lowercased, then padding (key
 * mask 0). The [CLS] position gets target; every other position is not scored. */
#define CLS_BYTE 1
void image_text_row(int *tokens, int *targets, unsigned char *mask, int T, int n_patches, const char *text, int target);

#endif
