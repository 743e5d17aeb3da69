/* Loaders for the image-text formats the multimodal tasks read: VQAv2 (questions JSON +
 * annotations JSON), NLVR2 (JSONL), COCO captions (JSON), and images through stb_image cut
 * into patches. Errors name the file (and the line of a JSONL file) and what was expected. */
#ifndef MOEH_VISION_DATA_H
#define MOEH_VISION_DATA_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t question_id, image_id;
    char question[160], qtype[24];
    int n_answers;            /* up to 10 */
    char answers[10][32];     /* normalised (vqa_normalize_answer) */
} VqaItem;

/* NLVR2: identifier "split-set-pair-sentence", the train image folder ("directory"), and the
 * two image files (left_url / right_url: in the harness's own layout, file names relative to
 * the split folder; in the official files, web addresses the images are not read from) */
typedef struct { char identifier[64], directory[16], sentence[256], left[256], right[256]; int label; } Nlvr2Item;

#define COCO_MAX_CAPTIONS 8
typedef struct { int64_t id; char file_name[256]; int n_captions; char captions[COCO_MAX_CAPTIONS][256]; } CocoImage;

/* Which images of a file a split takes: all, or those whose id is even / odd (the official
 * val2014 halves the harness uses as valid and test, since the official test has no labels). */
typedef enum { IMAGES_ALL = -1, IMAGES_EVEN = 0, IMAGES_ODD = 1 } ImageHalf;

/* VQAv2 questions + annotations joined by question_id (a hash map: real sizes load in
 * seconds); the question's image must be in `half`. Ids must be whole numbers >= 0. */
int vqa_load(const char *questions_json, const char *annotations_json, ImageHalf half, VqaItem **items, int *n,
             char *err, size_t errlen);
/* NLVR2 JSON lines; need_urls: left_url and right_url are required (the harness's layout) */
int nlvr2_load(const char *jsonl, int need_urls, Nlvr2Item **items, int *n, char *err, size_t errlen);
/* COCO captions (images + annotations) of the images in `half` */
int coco_captions_load(const char *json, ImageHalf half, CocoImage **images, int *n, char *err, size_t errlen);
/* The Karpathy split file (dataset_coco.json): the images whose "split" is one of the
 * space-separated names in splits (e.g. "train restval"); file_name is filepath/filename. */
int coco_karpathy_load(const char *json, const char *splits, CocoImage **images, int *n, char *err, size_t errlen);

/* The official VQA answer normalisation: newlines and tabs to spaces, punctuation removed or
 * spaced (kept inside numbers like 1,000), periods not before a digit removed, lower case,
 * number words to digits, articles dropped, common contractions given their apostrophe. */
void vqa_normalize_answer(const char *in, char *out, size_t n);
/* The official VQA accuracy of a (normalised) prediction: min(matches among the other
 * answers / 3, 1), averaged over leaving each of the answers out; one answer: exact match */
double vqa_accuracy(const char *prediction, const VqaItem *item);

/* Decodes an image (PNG, JPEG, ...), resizes it to size x size, and writes its patches in
 * raster order, each patch x patch x 3 values scaled to [-1, 1] (row-major pixels, RGB):
 * out holds (size/patch)^2 * patch*patch*3 floats. 0, or -1 naming the file. */
int image_load_patches(const char *path, int size, int patch, float *out, char *err, size_t errlen);

/* The images of a split, decoded into out (n x patches of image_size): image i is the file
 * path_of(i) names. check != 0: nothing is decoded (out may be NULL); each file's header is read
 * and the missing or unreadable ones are counted in *missing, the first few named on stderr.
 * 0, or -1 with err naming the first file that failed (never in check mode). */
typedef void (*ImagePathFn)(int i, void *ctx, char *path, size_t n);
int images_load(int n, ImagePathFn path_of, void *ctx, int size, int patch, int check, float *out, int *missing,
                char *err, size_t errlen);

/* Patch geometry of the image_size and patch keys: patches per image and values per patch.
 * 0, or -1 with a message naming both keys when patch does not divide image_size. */
int image_patch_geometry(int image_size, int patch, int *n_patches, int *patch_dim, char *err, size_t errlen);

/* The text part of an image-text sequence of T positions whose first n_patches are image
 * patches: a [CLS] byte (1) at n_patches, then the text's bytes lowercased, then padding (key
 * mask 0). The [CLS] position gets target; every other position is not scored. */
#define CLS_BYTE 1
void image_text_row(int *tokens, int *targets, unsigned char *mask, int T, int n_patches, const char *text, int target);

#endif
