#include "vision_data.h"
#include "text_corpus.h"
#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

static cJSON *load_json(const char *path, char *err, size_t errlen) {
    ByteBuf b = {0};
    if (read_whole_file(path, &b, err, errlen)) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)b.data, b.n, &end, 0);
    if (!root) {
        /* count lines up to where the parser stopped */
        int line = 1;
        for (const char *p = (const char *)b.data; end && p < end; p++) line += *p == '\n';
        snprintf(err, errlen, "%s: line %d: not valid JSON", path, line);
    }
    bytebuf_free(&b);
    return root;
}

static const cJSON *need_array(const cJSON *root, const char *key, const char *path, char *err, size_t errlen) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(a)) snprintf(err, errlen, "%s: expected an object with an array \"%s\"", path, key);
    return cJSON_IsArray(a) ? a : NULL;
}

static int get_int(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valueint;
    return 0;
}

static int get_str(const cJSON *o, const char *key, char *out, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) return -1;
    snprintf(out, n, "%s", v->valuestring);
    return 0;
}

int vqa_load(const char *qpath, const char *apath, VqaItem **items, int *n, char *err, size_t errlen) {
    *items = NULL;
    *n = 0;
    cJSON *qroot = load_json(qpath, err, errlen), *aroot = qroot ? load_json(apath, err, errlen) : NULL;
    const cJSON *qs = qroot ? need_array(qroot, "questions", qpath, err, errlen) : NULL;
    const cJSON *as = qs && aroot ? need_array(aroot, "annotations", apath, err, errlen) : NULL;
    int rc = -1, count = qs ? cJSON_GetArraySize(qs) : 0, k = 0;
    VqaItem *it = as ? calloc(count ? count : 1, sizeof(VqaItem)) : NULL;
    const cJSON *q;
    if (!it) goto done;
    cJSON_ArrayForEach(q, qs) {
        VqaItem *x = &it[k];
        if (get_int(q, "question_id", &x->question_id) || get_int(q, "image_id", &x->image_id) ||
            get_str(q, "question", x->question, sizeof x->question)) {
            snprintf(err, errlen, "%s: question %d: expected question_id, image_id and question", qpath, k);
            goto done;
        }
        k++;
    }
    /* annotations joined by question_id (a linear scan per annotation: the sets are small) */
    const cJSON *a;
    int joined = 0;
    cJSON_ArrayForEach(a, as) {
        int qid;
        if (get_int(a, "question_id", &qid)) { snprintf(err, errlen, "%s: an annotation without question_id", apath); goto done; }
        for (int i = 0; i < k; i++) {
            if (it[i].question_id != qid) continue;
            get_str(a, "question_type", it[i].qtype, sizeof it[i].qtype);
            const cJSON *ans = cJSON_GetObjectItemCaseSensitive(a, "answers"), *one;
            cJSON_ArrayForEach(one, ans)
                if (it[i].n_answers < 10) get_str(one, "answer", it[i].answers[it[i].n_answers++], 32);
            if (!it[i].n_answers && !get_str(a, "multiple_choice_answer", it[i].answers[0], 32)) it[i].n_answers = 1;
            joined++;
            break;
        }
    }
    for (int i = 0; i < k; i++)
        if (!it[i].n_answers) { snprintf(err, errlen, "%s: question_id %d has no answers in %s", qpath, it[i].question_id, apath); goto done; }
    *items = it;
    *n = k;
    it = NULL;
    rc = 0;
done:
    free(it);
    cJSON_Delete(qroot);
    cJSON_Delete(aroot);
    return rc;
}

int nlvr2_load(const char *path, Nlvr2Item **items, int *n, char *err, size_t errlen) {
    ByteBuf b = {0};
    *items = NULL;
    *n = 0;
    if (read_whole_file(path, &b, err, errlen)) return -1;
    int cap = 256, k = 0, line = 0;
    Nlvr2Item *it = malloc(sizeof(Nlvr2Item) * cap);
    char *s = (char *)b.data;
    for (char *p = s; p && *p; line++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (*p) {
            cJSON *o = cJSON_Parse(p);
            char label[16] = "";
            if (k == cap) { cap *= 2; it = realloc(it, sizeof(Nlvr2Item) * cap); }
            Nlvr2Item *x = &it[k];
            memset(x, 0, sizeof *x);
            int bad = !o || get_str(o, "sentence", x->sentence, sizeof x->sentence) ||
                      get_str(o, "left_url", x->left, sizeof x->left) || get_str(o, "right_url", x->right, sizeof x->right) ||
                      get_str(o, "label", label, sizeof label) || (strcmp(label, "True") && strcmp(label, "False"));
            if (o) get_str(o, "identifier", x->identifier, sizeof x->identifier);
            cJSON_Delete(o);
            if (bad) {
                snprintf(err, errlen, "%s: line %d: expected a JSON object with sentence, left_url, right_url and "
                         "label \"True\" or \"False\"", path, line + 1);
                free(it);
                bytebuf_free(&b);
                return -1;
            }
            x->label = !strcmp(label, "True");
            k++;
        }
        p = nl ? nl + 1 : NULL;
    }
    bytebuf_free(&b);
    *items = it;
    *n = k;
    return 0;
}

int coco_captions_load(const char *path, CocoImage **images, int *n, char *err, size_t errlen) {
    *images = NULL;
    *n = 0;
    cJSON *root = load_json(path, err, errlen);
    const cJSON *imgs = root ? need_array(root, "images", path, err, errlen) : NULL;
    const cJSON *anns = imgs ? need_array(root, "annotations", path, err, errlen) : NULL;
    if (!anns) { cJSON_Delete(root); return -1; }
    int count = cJSON_GetArraySize(imgs), k = 0;
    CocoImage *im = calloc(count ? count : 1, sizeof(CocoImage));
    const cJSON *o;
    cJSON_ArrayForEach(o, imgs) {
        if (get_int(o, "id", &im[k].id) || get_str(o, "file_name", im[k].file_name, sizeof im[k].file_name)) {
            snprintf(err, errlen, "%s: image %d: expected id and file_name", path, k);
            free(im);
            cJSON_Delete(root);
            return -1;
        }
        k++;
    }
    cJSON_ArrayForEach(o, anns) {
        int id;
        char cap[256];
        if (get_int(o, "image_id", &id) || get_str(o, "caption", cap, sizeof cap)) continue;
        for (int i = 0; i < k; i++)
            if (im[i].id == id && im[i].n_captions < COCO_MAX_CAPTIONS) { strcpy(im[i].captions[im[i].n_captions++], cap); break; }
    }
    cJSON_Delete(root);
    *images = im;
    *n = k;
    return 0;
}

int image_patch_geometry(int image_size, int patch, int *n_patches, int *patch_dim, char *err, size_t errlen) {
    if (patch < 1 || image_size % patch) {
        snprintf(err, errlen, "patch=%d: must divide image_size=%d", patch, image_size);
        return -1;
    }
    *n_patches = (image_size / patch) * (image_size / patch);
    *patch_dim = patch * patch * 3;
    return 0;
}

void image_text_row(int *tok, int *tgt, unsigned char *mask, int T, int NP, const char *text, int target) {
    int len = (int)strlen(text);
    for (int t = 0; t < T; t++) {
        int q = t - NP - 1;
        tok[t] = t == NP ? CLS_BYTE : (q >= 0 && q < len) ? tolower((unsigned char)text[q]) : 0;
        mask[t] = t <= NP || (q >= 0 && q < len);
        tgt[t] = t == NP ? target : -1;
    }
}

double vqa_accuracy(const char *pred, const VqaItem *it) {
    int match = 0;
    for (int i = 0; i < it->n_answers; i++) match += !strcmp(pred, it->answers[i]);
    if (it->n_answers < 10) return match > 0;
    return match >= 3 ? 1.0 : match / 3.0;
}

int image_load_patches(const char *path, int size, int patch, float *out, char *err, size_t errlen) {
    int w, h, ch;
    unsigned char *img = stbi_load(path, &w, &h, &ch, 3);
    if (!img) { snprintf(err, errlen, "%s: cannot decode image: %s", path, stbi_failure_reason()); return -1; }
    unsigned char *rs = malloc((size_t)size * size * 3);
    if (w == size && h == size) memcpy(rs, img, (size_t)size * size * 3);
    else stbir_resize_uint8(img, w, h, 0, rs, size, size, 0, 3);
    stbi_image_free(img);
    int per_side = size / patch;
    size_t k = 0;
    for (int py = 0; py < per_side; py++)
        for (int px = 0; px < per_side; px++)
            for (int y = 0; y < patch; y++)
                for (int x = 0; x < patch; x++)
                    for (int c = 0; c < 3; c++)
                        out[k++] = rs[(((size_t)(py * patch + y)) * size + px * patch + x) * 3 + c] / 127.5f - 1.0f;
    free(rs);
    return 0;
}
