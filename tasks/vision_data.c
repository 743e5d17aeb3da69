#include "util/atomic_file.h"
#include "util/xalloc.h"
#include "vision_data.h"
#include "json_stream.h"
#include "data/text_corpus.h"
#include "util/hash_map.h"
#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

static int get_str(const cJSON *o, const char *key, char *out, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) return -1;
    snprintf(out, n, "%s", v->valuestring);
    return 0;
}

/* *items (cap elements of size bytes) holds at least need elements afterwards, doubling from
 * 1024; 0, or -1 out of memory with *items as it was */
static int grow_array(void **items, int *cap, int need, size_t size) {
    if (need <= *cap) return 0;
    int grown_cap = *cap ? *cap : 1024;
    while (grown_cap < need) grown_cap *= 2;
    void *grown = xrealloc(*items, size * (size_t)grown_cap);
    if (!grown) return -1;
    *items = grown;
    *cap = grown_cap;
    return 0;
}

/* an id: a whole number in [0, 2^53) (a double holds every such integer exactly) */
static int get_id(const cJSON *o, const char *key, int64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < 9007199254740992.0) || d != (double)(int64_t)d) return -1;
    *out = (int64_t)d;
    return 0;
}

static int in_half(int64_t id, ImageHalf half) { return half == IMAGES_ALL || (int)(id & 1) == (int)half; }

typedef struct {
    VqaItem *items;
    int n, cap;
    IdMap by_question;
    ImageHalf half;
    const char *qpath;
    StrMap raw;                 /* distinct raw answers seen: normalising each once halves the load */
    char (*normal)[32];         /* raw answer id -> its normalised form */
    int normal_cap;
} VqaLoad;

/* raw answer -> normalised, through the cache; 0, or -1 out of memory */
static int vqa_normal_answer(VqaLoad *L, const char *raw, char *out) {
    int id = str_map_find(&L->raw, raw);
    if (id < 0) {
        if ((id = str_map_intern(&L->raw, raw)) < 0) return -1;
        if (grow_array((void **)&L->normal, &L->normal_cap, id + 1, sizeof *L->normal)) return -1;
        vqa_normalize_answer(raw, L->normal[id], sizeof L->normal[id]);
    }
    memcpy(out, L->normal[id], 32);
    return 0;
}

static int vqa_take_question(const cJSON *q, int index, void *ctx, char *err, size_t errlen) {
    VqaLoad *L = ctx;
    VqaItem x = {0};
    if (get_id(q, "question_id", &x.question_id) || get_id(q, "image_id", &x.image_id) ||
        get_str(q, "question", x.question, sizeof x.question)) {
        snprintf(err, errlen, "question %d: expected question_id and image_id (whole numbers >= 0) and a question string", index);
        return -1;
    }
    if (!in_half(x.image_id, L->half)) return 0;
    if (id_map_get(&L->by_question, (uint64_t)x.question_id) >= 0) {
        snprintf(err, errlen, "question %d: question_id %lld given twice", index, (long long)x.question_id);
        return -1;
    }
    if (grow_array((void **)&L->items, &L->cap, L->n + 1, sizeof *L->items)) {
        snprintf(err, errlen, "out of memory at question %d", index);
        return -1;
    }
    if (id_map_put(&L->by_question, (uint64_t)x.question_id, L->n)) { snprintf(err, errlen, "out of memory"); return -1; }
    L->items[L->n++] = x;
    return 0;
}

static int vqa_take_annotation(const cJSON *a, int index, void *ctx, char *err, size_t errlen) {
    VqaLoad *L = ctx;
    int64_t qid;
    if (get_id(a, "question_id", &qid)) { snprintf(err, errlen, "annotation %d: expected a question_id", index); return -1; }
    int i = id_map_get(&L->by_question, (uint64_t)qid);
    if (i < 0) return 0; /* another split's question */
    if (L->items[i].n_answers) {
        snprintf(err, errlen, "annotation %d: question_id %lld is annotated twice", index, (long long)qid);
        return -1;
    }
    VqaItem *x = &L->items[i];
    char raw[256];
    get_str(a, "question_type", x->qtype, sizeof x->qtype);
    const cJSON *one;
    int oom = 0;
    cJSON_ArrayForEach(one, cJSON_GetObjectItemCaseSensitive(a, "answers"))
        if (x->n_answers < 10 && !get_str(one, "answer", raw, sizeof raw)) oom |= vqa_normal_answer(L, raw, x->answers[x->n_answers++]);
    if (!x->n_answers && !get_str(a, "multiple_choice_answer", raw, sizeof raw)) oom |= vqa_normal_answer(L, raw, x->answers[x->n_answers++]);
    if (oom) { snprintf(err, errlen, "out of memory at annotation %d", index); return -1; }
    return 0;
}

int vqa_load(const char *qpath, const char *apath, ImageHalf half, VqaItem **items, int *n, char *err, size_t errlen) {
    VqaLoad L = {.half = half, .qpath = qpath};
    JsonArrayHandler hq = {"questions", vqa_take_question}, ha = {"annotations", vqa_take_annotation};
    int rc = json_stream_arrays(qpath, &hq, 1, &L, err, errlen) || json_stream_arrays(apath, &ha, 1, &L, err, errlen);
    for (int i = 0; !rc && i < L.n; i++)
        if (!L.items[i].n_answers) {
            snprintf(err, errlen, "%s: question_id %lld has no answers in %s", qpath, (long long)L.items[i].question_id, apath);
            rc = -1;
        }
    id_map_free(&L.by_question);
    str_map_free(&L.raw);
    free(L.normal);
    if (rc) { free(L.items); *items = NULL; *n = 0; return -1; }
    *items = L.items;
    *n = L.n;
    return 0;
}

int nlvr2_load(const char *path, int need_urls, Nlvr2Item **items, int *n, char *err, size_t errlen) {
    ByteBuf b = {0};
    *items = NULL;
    *n = 0;
    if (read_whole_file(path, &b, err, errlen)) return -1;
    int cap = 0, k = 0, line = 0, oom = 0;
    Nlvr2Item *it = NULL;
    char *s = (char *)b.data;
    const char *nul = memchr(s, 0, b.n);
    if (nul) { /* the lines after it would be lost to the string functions */
        for (const char *q = s; q < nul; q++) line += *q == '\n';
        snprintf(err, errlen, "%s: line %d: a NUL byte (JSON Lines are text)", path, line + 1);
        bytebuf_free(&b);
        return -1;
    }
    for (char *p = s; !oom && p && *p; line++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (*p && *p != '\r') {
            /* one object per line: anything after it but spaces is an error */
            cJSON *o = cJSON_ParseWithOpts(p, NULL, 1);
            char label[16] = "";
            if (grow_array((void **)&it, &cap, k + 1, sizeof *it)) { oom = 1; cJSON_Delete(o); break; }
            Nlvr2Item *x = &it[k];
            memset(x, 0, sizeof *x);
            if (o) {
                get_str(o, "identifier", x->identifier, sizeof x->identifier);
                get_str(o, "left_url", x->left, sizeof x->left);
                get_str(o, "right_url", x->right, sizeof x->right);
                const cJSON *dir = cJSON_GetObjectItemCaseSensitive(o, "directory");
                if (cJSON_IsNumber(dir)) snprintf(x->directory, sizeof x->directory, "%d", dir->valueint);
                else get_str(o, "directory", x->directory, sizeof x->directory);
            }
            int bad = !o || get_str(o, "sentence", x->sentence, sizeof x->sentence) ||
                      get_str(o, "label", label, sizeof label) || (strcmp(label, "True") && strcmp(label, "False")) ||
                      (need_urls ? !*x->left || !*x->right : !*x->identifier);
            cJSON_Delete(o);
            if (bad) {
                snprintf(err, errlen, "%s: line %d: expected one JSON object with sentence, %s and label \"True\" or \"False\"",
                         path, line + 1, need_urls ? "left_url, right_url" : "identifier");
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
    if (oom) { free(it); snprintf(err, errlen, "%s: out of memory at line %d", path, line + 1); return -1; }
    *items = it;
    *n = k;
    return 0;
}

typedef struct {
    CocoImage *images;
    int n, cap;
    IdMap by_id;
    ImageHalf half;
    const char *splits; /* Karpathy: the wanted split names */
} CocoLoad;

static CocoImage *coco_new_image(CocoLoad *L, int64_t id, char *err, size_t errlen) {
    if (grow_array((void **)&L->images, &L->cap, L->n + 1, sizeof *L->images)) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (id_map_put(&L->by_id, (uint64_t)id, L->n)) { snprintf(err, errlen, "out of memory"); return NULL; }
    CocoImage *im = &L->images[L->n++];
    memset(im, 0, sizeof *im);
    im->id = id;
    return im;
}

static int coco_take_image(const cJSON *o, int index, void *ctx, char *err, size_t errlen) {
    CocoLoad *L = ctx;
    int64_t id;
    char name[256];
    if (get_id(o, "id", &id) || get_str(o, "file_name", name, sizeof name)) {
        snprintf(err, errlen, "image %d: expected id (a whole number >= 0) and file_name", index);
        return -1;
    }
    if (!in_half(id, L->half)) return 0;
    if (id_map_get(&L->by_id, (uint64_t)id) >= 0) { snprintf(err, errlen, "image %d: id %lld given twice", index, (long long)id); return -1; }
    CocoImage *im = coco_new_image(L, id, err, errlen);
    if (!im) return -1;
    snprintf(im->file_name, sizeof im->file_name, "%s", name);
    return 0;
}

static int coco_take_caption(const cJSON *o, int index, void *ctx, char *err, size_t errlen) {
    CocoLoad *L = ctx;
    int64_t id;
    char cap[256];
    if (get_id(o, "image_id", &id) || get_str(o, "caption", cap, sizeof cap)) {
        snprintf(err, errlen, "annotation %d: expected image_id (a whole number >= 0) and caption", index);
        return -1;
    }
    if (!cap[strspn(cap, " \t\r\n")]) {
        snprintf(err, errlen, "annotation %d: image_id %lld: an empty caption (a caption is the text a model learns)", index, (long long)id);
        return -1;
    }
    int i = id_map_get(&L->by_id, (uint64_t)id);
    if (i >= 0 && L->images[i].n_captions < COCO_MAX_CAPTIONS) snprintf(L->images[i].captions[L->images[i].n_captions++], 256, "%s", cap);
    return 0;
}

static int coco_finish(CocoLoad *L, int rc, CocoImage **images, int *n) {
    id_map_free(&L->by_id);
    if (rc) { free(L->images); *images = NULL; *n = 0; return -1; }
    *images = L->images;
    *n = L->n;
    return 0;
}

int coco_captions_load(const char *path, ImageHalf half, CocoImage **images, int *n, char *err, size_t errlen) {
    CocoLoad L = {.half = half};
    /* images come before annotations in COCO files; read twice if a file has them the other way */
    JsonArrayHandler hi = {"images", coco_take_image}, hc = {"annotations", coco_take_caption};
    int rc = json_stream_arrays(path, &hi, 1, &L, err, errlen) || json_stream_arrays(path, &hc, 1, &L, err, errlen);
    return coco_finish(&L, rc, images, n);
}

static int karpathy_take_image(const cJSON *o, int index, void *ctx, char *err, size_t errlen) {
    CocoLoad *L = ctx;
    int64_t id;
    char split[32], dir[128], file[128];
    if (get_id(o, "cocoid", &id) || get_str(o, "split", split, sizeof split) || get_str(o, "filename", file, sizeof file)) {
        snprintf(err, errlen, "image %d: expected cocoid, split, filename and sentences", index);
        return -1;
    }
    /* the wanted names, space-separated: match split as a whole word */
    const char *hit = strstr(L->splits, split);
    size_t len = strlen(split);
    while (hit && ((hit > L->splits && hit[-1] != ' ') || (hit[len] && hit[len] != ' '))) hit = strstr(hit + 1, split);
    if (!hit) return 0;
    CocoImage *im = coco_new_image(L, id, err, errlen);
    if (!im) return -1;
    if (get_str(o, "filepath", dir, sizeof dir)) snprintf(im->file_name, sizeof im->file_name, "%s", file);
    else snprintf(im->file_name, sizeof im->file_name, "%s/%s", dir, file);
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(o, "sentences"))
        if (im->n_captions < COCO_MAX_CAPTIONS && !get_str(s, "raw", im->captions[im->n_captions], 256)) im->n_captions++;
    return 0;
}

int coco_karpathy_load(const char *path, const char *splits, CocoImage **images, int *n, char *err, size_t errlen) {
    CocoLoad L = {.half = IMAGES_ALL, .splits = splits};
    JsonArrayHandler hi = {"images", karpathy_take_image};
    return coco_finish(&L, json_stream_arrays(path, &hi, 1, &L, err, errlen), images, n);
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

/* number words and contractions of the official normalisation */
static const char *const NUMBER_WORDS[][2] = {
    {"none", "0"}, {"zero", "0"}, {"one", "1"}, {"two", "2"}, {"three", "3"}, {"four", "4"}, {"five", "5"},
    {"six", "6"}, {"seven", "7"}, {"eight", "8"}, {"nine", "9"}, {"ten", "10"},
};
static const char *const CONTRACTIONS[][2] = {
    {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"}, {"couldnt", "couldn't"},
    {"didnt", "didn't"}, {"doesnt", "doesn't"}, {"dont", "don't"}, {"hadnt", "hadn't"}, {"hasnt", "hasn't"},
    {"havent", "haven't"}, {"hed", "he'd"}, {"hes", "he's"}, {"howd", "how'd"}, {"howll", "how'll"},
    {"hows", "how's"}, {"isnt", "isn't"}, {"itd", "it'd"}, {"itll", "it'll"}, {"lets", "let's"},
    {"maam", "ma'am"}, {"mightnt", "mightn't"}, {"mightve", "might've"}, {"mustnt", "mustn't"},
    {"mustve", "must've"}, {"neednt", "needn't"}, {"oclock", "o'clock"}, {"shant", "shan't"},
    {"shed", "she'd"}, {"shes", "she's"}, {"shouldve", "should've"}, {"shouldnt", "shouldn't"},
    {"somebodys", "somebody's"}, {"someones", "someone's"}, {"somethings", "something's"},
    {"thered", "there'd"}, {"theres", "there's"}, {"theyd", "they'd"}, {"theyll", "they'll"},
    {"theyre", "they're"}, {"theyve", "they've"}, {"wasnt", "wasn't"}, {"wed", "we'd"}, {"weve", "we've"},
    {"werent", "weren't"}, {"whatll", "what'll"}, {"whatre", "what're"}, {"whats", "what's"},
    {"whens", "when's"}, {"whered", "where'd"}, {"wheres", "where's"}, {"whod", "who'd"}, {"wholl", "who'll"},
    {"whos", "who's"}, {"whove", "who've"}, {"whyre", "why're"}, {"whys", "why's"}, {"wont", "won't"},
    {"wouldve", "would've"}, {"wouldnt", "wouldn't"}, {"yall", "y'all"}, {"youd", "you'd"},
    {"youll", "you'll"}, {"youre", "you're"}, {"youve", "you've"},
};
static const char PUNCTUATION[] = ";/[]\"{}()=+\\_->" "<@`,?!";

void vqa_normalize_answer(const char *in, char *out, size_t n) {
    char a[512], b[512];
    /* tabs and newlines to spaces, ends trimmed */
    while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r') in++;
    size_t len = 0;
    for (; in[len] && len < sizeof a - 1; len++) a[len] = (in[len] == '\t' || in[len] == '\n') ? ' ' : in[len];
    while (len && (a[len - 1] == ' ' || a[len - 1] == '\r')) len--;
    a[len] = 0;
    /* punctuation: removed where it touches a space, or anywhere if the answer has a digit,digit
     * (1,000); otherwise it becomes a space */
    int comma_number = 0;
    for (size_t i = 1; i + 1 < len; i++) comma_number |= a[i] == ',' && isdigit((unsigned char)a[i - 1]) && isdigit((unsigned char)a[i + 1]);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        char c = a[i];
        if (c && strchr(PUNCTUATION, c)) {
            char left_pat[3] = {c, ' ', 0}, right_pat[3] = {' ', c, 0};
            if (comma_number || strstr(a, left_pat) || strstr(a, right_pat)) continue;
            b[k++] = ' ';
        } else if (c == '.' && !isdigit((unsigned char)a[i + 1])) {
            continue; /* a period not before a digit */
        } else b[k++] = c;
    }
    b[k] = 0;
    /* words: lower case, number words to digits, articles dropped, contractions */
    size_t o = 0;
    char *save = NULL;
    if (n) out[0] = 0;
    for (char *w = strtok_r(b, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        for (char *p = w; *p; p++) *p = (char)tolower((unsigned char)*p);
        const char *word = w;
        for (size_t i = 0; i < sizeof NUMBER_WORDS / sizeof NUMBER_WORDS[0]; i++) if (!strcmp(w, NUMBER_WORDS[i][0])) word = NUMBER_WORDS[i][1];
        if (!strcmp(word, "a") || !strcmp(word, "an") || !strcmp(word, "the")) continue;
        for (size_t i = 0; i < sizeof CONTRACTIONS / sizeof CONTRACTIONS[0]; i++) if (!strcmp(word, CONTRACTIONS[i][0])) word = CONTRACTIONS[i][1];
        int wrote = snprintf(out + o, n > o ? n - o : 0, "%s%s", o ? " " : "", word);
        if (wrote < 0 || o + (size_t)wrote >= n) break; /* longer than out: cut at a word */
        o += (size_t)wrote;
    }
}

double vqa_accuracy(const char *pred, const VqaItem *it) {
    int match = 0;
    for (int i = 0; i < it->n_answers; i++) match += !strcmp(pred, it->answers[i]);
    if (it->n_answers < 2) return match > 0;
    /* leaving answer i out leaves match - [answer i matches] matches among the others */
    double acc = 0;
    for (int i = 0; i < it->n_answers; i++) {
        int others = match - !strcmp(pred, it->answers[i]);
        acc += others >= 3 ? 1.0 : others / 3.0;
    }
    return acc / it->n_answers;
}

int image_load_patches(const char *path, int size, int patch, float *out, char *err, size_t errlen) {
    int w, h, ch;
    if (file_check_regular(path, err, errlen)) return -1;
    unsigned char *img = stbi_load(path, &w, &h, &ch, 3);
    if (!img) { snprintf(err, errlen, "%s: cannot decode image: %s", path, stbi_failure_reason()); return -1; }
    unsigned char *rs = xmalloc((size_t)size * size * 3);
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

int images_load(int n, ImagePathFn path_of, void *ctx, int size, int patch, int check, float *out, int *missing,
                char *err, size_t errlen) {
    char path[4600];
    size_t D = (size_t)(size / patch) * (size / patch) * patch * patch * 3;
    *missing = 0;
    for (int i = 0; i < n; i++) {
        path_of(i, ctx, path, sizeof path);
        if (!check) {
            if (image_load_patches(path, size, patch, out + D * i, err, errlen)) return -1;
            continue;
        }
        int w, h, ch;
        if (!stbi_info(path, &w, &h, &ch)) {
            if (++*missing <= 5) fprintf(stderr, "missing or unreadable image: %s (%s)\n", path, stbi_failure_reason());
        }
    }
    return 0;
}
