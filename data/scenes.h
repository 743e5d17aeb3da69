/* The scenes set: CLEVR-like images drawn in C (1-4 objects, 4 shapes, 6 colours, 2 sizes,
 * positions on a 3x3 grid with jitter), written as PNG with stb_image_write, with annotations
 * in the real formats (VQAv2 questions + annotations JSON, NLVR2 JSONL, COCO captions JSON),
 * so the loaders that read them read the real data sets too. Deterministic from a seed. */
#ifndef MOEH_SCENES_H
#define MOEH_SCENES_H
#include "util/rng.h"
#include <stddef.h>

#define SCENE_SIZE 64
#define SCENE_MAX_OBJECTS 4
#define N_SHAPES 4
#define N_COLOURS 6

extern const char *const SHAPE_NAMES[N_SHAPES];
extern const char *const COLOUR_NAMES[N_COLOURS];

typedef struct { int shape, colour, large, x, y; } SceneObject;
typedef struct { int n; SceneObject obj[SCENE_MAX_OBJECTS]; } Scene;

void scene_sample(Scene *s, Rng *r);
/* rgb: SCENE_SIZE x SCENE_SIZE x 3 */
void scene_draw(const Scene *s, unsigned char *rgb);

/* data_dir/scenes/{train,valid,test}/: images/ID.png, scenes.json (the objects),
 * vqa_questions.json, vqa_annotations.json, nlvr2.jsonl, captions.json. Prints the
 * question-only baseline against the majority answer. 0, or -1 with err. */
int scenes_prepare(const char *data_dir, int n_train, char *err, size_t errlen);

#endif
