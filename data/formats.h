/* Writers of the real annotation formats, shared by the generated sets (scenes, emoji), so
 * that the loaders that read them read VQAv2, NLVR2 and COCO captions too. One split is built
 * in memory (SplitWriter) and written as four files, each atomically. */
#ifndef MOEH_DATA_FORMATS_H
#define MOEH_DATA_FORMATS_H
#include <cJSON.h>
#include <stddef.h>

typedef struct {
    cJSON *questions, *annotations; /* VQAv2: vqa_questions.json, vqa_annotations.json */
    cJSON *images, *captions;       /* COCO: captions.json */
    char *nlvr2;                    /* NLVR2: nlvr2.jsonl */
    size_t nlvr2_used, nlvr2_cap;
} SplitWriter;

void split_writer_init(SplitWriter *w);
/* a question with its answer given by 10 annotators (VQAv2 keeps 10 answers per question) */
void split_add_question(SplitWriter *w, int question_id, int image_id, const char *question,
                        const char *question_type, const char *answer_type, const char *answer);
/* an image (file_name relative to the split folder) and one caption of it */
void split_add_image(SplitWriter *w, int image_id, const char *file_name, int width, int height);
void split_add_caption(SplitWriter *w, int caption_id, int image_id, const char *caption);
void split_add_statement(SplitWriter *w, const char *identifier, const char *sentence, int label,
                         const char *left_file, const char *right_file);
/* writes dir/{vqa_questions.json, vqa_annotations.json, captions.json, nlvr2.jsonl} and frees
 * w; 0, or -1 with err naming the file */
int split_writer_finish(SplitWriter *w, const char *dir, char *err, size_t errlen);

int write_json_file(const char *path, cJSON *root, char *err, size_t errlen);
/* creates a folder (its parent must exist); 0 if it is there afterwards */
int make_folder(const char *path);

#endif
