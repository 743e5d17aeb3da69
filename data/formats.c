#include "util/xalloc.h"
#include "formats.h"
#include "util/atomic_file.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int make_folder(const char *p) { return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1; }

int write_json_file(const char *path, cJSON *root, char *err, size_t errlen) {
    char *text = cJSON_PrintUnformatted(root);
    FilePart part = {text, strlen(text)};
    int rc = atomic_write(path, &part, 1, err, errlen);
    free(text);
    return rc;
}

void split_writer_init(SplitWriter *w) {
    w->questions = cJSON_CreateArray();
    w->annotations = cJSON_CreateArray();
    w->images = cJSON_CreateArray();
    w->captions = cJSON_CreateArray();
    w->nlvr2_cap = 1 << 16;
    w->nlvr2_used = 0;
    w->nlvr2 = xmalloc(w->nlvr2_cap);
    w->nlvr2[0] = 0;
}

void split_add_question(SplitWriter *w, int qid, int image_id, const char *q, const char *qtype,
                        const char *atype, const char *a) {
    cJSON *qo = cJSON_CreateObject();
    cJSON_AddNumberToObject(qo, "image_id", image_id);
    cJSON_AddStringToObject(qo, "question", q);
    cJSON_AddNumberToObject(qo, "question_id", qid);
    cJSON_AddItemToArray(w->questions, qo);
    cJSON *ao = cJSON_CreateObject(), *ans = cJSON_CreateArray();
    cJSON_AddNumberToObject(ao, "question_id", qid);
    cJSON_AddNumberToObject(ao, "image_id", image_id);
    cJSON_AddStringToObject(ao, "question_type", qtype);
    cJSON_AddStringToObject(ao, "answer_type", atype);
    cJSON_AddStringToObject(ao, "multiple_choice_answer", a);
    for (int j = 0; j < 10; j++) {
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "answer", a);
        cJSON_AddStringToObject(one, "answer_confidence", "yes");
        cJSON_AddNumberToObject(one, "answer_id", j + 1);
        cJSON_AddItemToArray(ans, one);
    }
    cJSON_AddItemToObject(ao, "answers", ans);
    cJSON_AddItemToArray(w->annotations, ao);
}

void split_add_image(SplitWriter *w, int image_id, const char *file_name, int width, int height) {
    cJSON *im = cJSON_CreateObject();
    cJSON_AddNumberToObject(im, "id", image_id);
    cJSON_AddStringToObject(im, "file_name", file_name);
    cJSON_AddNumberToObject(im, "width", width);
    cJSON_AddNumberToObject(im, "height", height);
    cJSON_AddItemToArray(w->images, im);
}

void split_add_caption(SplitWriter *w, int caption_id, int image_id, const char *caption) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "id", caption_id);
    cJSON_AddNumberToObject(c, "image_id", image_id);
    cJSON_AddStringToObject(c, "caption", caption);
    cJSON_AddItemToArray(w->captions, c);
}

void split_add_statement(SplitWriter *w, const char *identifier, const char *sentence, int label,
                         const char *left, const char *right) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "identifier", identifier);
    cJSON_AddStringToObject(o, "sentence", sentence);
    cJSON_AddStringToObject(o, "label", label ? "True" : "False");
    cJSON_AddStringToObject(o, "left_url", left);
    cJSON_AddStringToObject(o, "right_url", right);
    char *line = cJSON_PrintUnformatted(o);
    size_t len = strlen(line);
    if (w->nlvr2_used + len + 2 > w->nlvr2_cap) {
        while (w->nlvr2_used + len + 2 > w->nlvr2_cap) w->nlvr2_cap *= 2;
        w->nlvr2 = xrealloc(w->nlvr2, w->nlvr2_cap);
    }
    memcpy(w->nlvr2 + w->nlvr2_used, line, len);
    w->nlvr2_used += len;
    w->nlvr2[w->nlvr2_used++] = '\n';
    free(line);
    cJSON_Delete(o);
}

int split_writer_finish(SplitWriter *w, const char *dir, char *err, size_t errlen) {
    char path[4400];
    int rc = 0;
    cJSON *root;
    snprintf(path, sizeof path, "%s/vqa_questions.json", dir);
    root = cJSON_CreateObject(); cJSON_AddItemToObject(root, "questions", w->questions);
    rc = rc || write_json_file(path, root, err, errlen); cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/vqa_annotations.json", dir);
    root = cJSON_CreateObject(); cJSON_AddItemToObject(root, "annotations", w->annotations);
    rc = rc || write_json_file(path, root, err, errlen); cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/captions.json", dir);
    root = cJSON_CreateObject(); cJSON_AddItemToObject(root, "images", w->images); cJSON_AddItemToObject(root, "annotations", w->captions);
    rc = rc || write_json_file(path, root, err, errlen); cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/nlvr2.jsonl", dir);
    FilePart part = {w->nlvr2, w->nlvr2_used};
    rc = rc || atomic_write(path, &part, 1, err, errlen);
    free(w->nlvr2);
    memset(w, 0, sizeof *w);
    return rc ? -1 : 0;
}
