#include "util/xalloc.h"
#include "scenes.h"
#include "formats.h"
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stb/stb_image_write.h>

const char *const SHAPE_NAMES[N_SHAPES] = {"square", "circle", "triangle", "cross"};
const char *const COLOUR_NAMES[N_COLOURS] = {"red", "green", "blue", "yellow", "purple", "cyan"};
static const unsigned char RGB[N_COLOURS][3] = {
    {220, 40, 40}, {40, 180, 60}, {50, 80, 220}, {230, 210, 40}, {150, 60, 190}, {40, 200, 210}};

void scene_sample(Scene *s, Rng *r) {
    int cells[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    for (int i = 8; i > 0; i--) { int j = (int)rng_below(r, i + 1), t = cells[i]; cells[i] = cells[j]; cells[j] = t; }
    s->n = 1 + (int)rng_below(r, SCENE_MAX_OBJECTS);
    for (int i = 0; i < s->n; i++) {
        SceneObject *o = &s->obj[i];
        o->shape = (int)rng_below(r, N_SHAPES);
        o->colour = (int)rng_below(r, N_COLOURS);
        o->large = (int)rng_below(r, 2);
        int cx = cells[i] % 3, cy = cells[i] / 3, cell = SCENE_SIZE / 3;
        o->x = cx * cell + cell / 2 + (int)rng_below(r, 5) - 2;
        o->y = cy * cell + cell / 2 + (int)rng_below(r, 5) - 2;
    }
}

static int inside(const SceneObject *o, int px, int py) {
    int r = o->large ? 9 : 5, dx = px - o->x, dy = py - o->y;
    switch (o->shape) {
    case 0: return abs(dx) <= r && abs(dy) <= r;
    case 1: return dx * dx + dy * dy <= r * r;
    case 2: return dy >= -r && dy <= r && abs(dx) * 2 <= (dy + r); /* apex up */
    default: return (abs(dx) <= r / 3 && abs(dy) <= r) || (abs(dy) <= r / 3 && abs(dx) <= r);
    }
}

void scene_draw(const Scene *s, unsigned char *rgb) {
    for (int y = 0; y < SCENE_SIZE; y++)
        for (int x = 0; x < SCENE_SIZE; x++) {
            unsigned char *p = rgb + ((size_t)y * SCENE_SIZE + x) * 3;
            p[0] = p[1] = p[2] = 128;
            for (int i = 0; i < s->n; i++)
                if (inside(&s->obj[i], x, y)) memcpy(p, RGB[s->obj[i].colour], 3);
        }
}

#define STATEMENTS_PER_IMAGE 4

/* ---- questions (VQAv2 style) ---- */
static const char *const QTYPES[5] = {"exist", "count", "color", "shape", "spatial"};
static const char *const NUMBERS[5] = {"0", "1", "2", "3", "4"};

static int count_where(const Scene *s, int colour, int shape) {
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += (colour < 0 || s->obj[i].colour == colour) && (shape < 0 || s->obj[i].shape == shape);
    return n;
}

/* one question of type t about s into q, its answer into a; 0 when t does not apply */
static int make_question(const Scene *s, Rng *r, int t, char *q, char *a) {
    const SceneObject *o = &s->obj[rng_below(r, s->n)];
    switch (t) {
    case 0: { /* half the time about an object that is there, half about one that is not */
        int c = o->colour, sh = o->shape;
        if (rng_below(r, 2))
            for (int k = 0; k < 50 && count_where(s, c, sh); k++) { c = (int)rng_below(r, N_COLOURS); sh = (int)rng_below(r, N_SHAPES); }
        sprintf(q, "is there a %s %s?", COLOUR_NAMES[c], SHAPE_NAMES[sh]);
        strcpy(a, count_where(s, c, sh) ? "yes" : "no");
        return 1;
    }
    case 1: {
        int c = rng_below(r, 2) ? o->colour : (int)rng_below(r, N_COLOURS);
        sprintf(q, "how many %s objects are there?", COLOUR_NAMES[c]);
        strcpy(a, NUMBERS[count_where(s, c, -1)]);
        return 1;
    }
    case 2:
        if (count_where(s, -1, o->shape) != 1) return 0;
        sprintf(q, "what color is the %s?", SHAPE_NAMES[o->shape]);
        strcpy(a, COLOUR_NAMES[o->colour]);
        return 1;
    case 3:
        if (count_where(s, o->colour, -1) != 1) return 0;
        sprintf(q, "what shape is the %s object?", COLOUR_NAMES[o->colour]);
        strcpy(a, SHAPE_NAMES[o->shape]);
        return 1;
    default: {
        if (s->n < 2) return 0;
        int i = (int)rng_below(r, s->n), j = (int)rng_below(r, s->n - 1);
        if (j >= i) j++;
        const SceneObject *p = &s->obj[i], *w = &s->obj[j];
        if (count_where(s, p->colour, p->shape) != 1 || count_where(s, w->colour, w->shape) != 1 || p->x == w->x) return 0;
        sprintf(q, "is the %s %s left of the %s %s?", COLOUR_NAMES[p->colour], SHAPE_NAMES[p->shape],
                COLOUR_NAMES[w->colour], SHAPE_NAMES[w->shape]);
        strcpy(a, p->x < w->x ? "yes" : "no");
        return 1;
    }
    }
}

/* ---- statements about two images (NLVR2 style) ----
 * A statement is drawn first and image pairs are searched for the wanted label afterwards, so
 * the sentence alone says nothing about its label (the statement-only baseline checks it). */
typedef struct { int type, arg; } Statement;

static void statement_sample(Rng *r, Statement *st) {
    st->type = (int)rng_below(r, 4);
    st->arg = st->type == 3 ? 1 + (int)rng_below(r, SCENE_MAX_OBJECTS) : (int)rng_below(r, N_COLOURS);
}

static void statement_text(const Statement *st, char *text) {
    if (st->type == 0) sprintf(text, "both images contain a %s object", COLOUR_NAMES[st->arg]);
    else if (st->type == 1) sprintf(text, "the left image has more objects than the right image");
    else if (st->type == 2) sprintf(text, "there is a %s object in the right image", COLOUR_NAMES[st->arg]);
    else sprintf(text, "the left image has exactly %d objects", st->arg);
}

static int statement_holds(const Statement *st, const Scene *L, const Scene *R) {
    if (st->type == 0) return count_where(L, st->arg, -1) > 0 && count_where(R, st->arg, -1) > 0;
    if (st->type == 1) return L->n > R->n;
    if (st->type == 2) return count_where(R, st->arg, -1) > 0;
    return L->n == st->arg;
}

/* ---- captions (COCO style): objects named left to right ---- */
static void make_caption(const Scene *s, int k, char *out, size_t n) {
    int order[SCENE_MAX_OBJECTS];
    for (int i = 0; i < s->n; i++) order[i] = i;
    for (int i = 1; i < s->n; i++)
        for (int j = i; j > 0 && s->obj[order[j]].x < s->obj[order[j - 1]].x; j--) { int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t; }
    static const char *const COUNT[5] = {"no", "one", "two", "three", "four"};
    size_t used = 0;
    if (k == 0) used += snprintf(out + used, n - used, "%s object%s:", COUNT[s->n], s->n > 1 ? "s" : "");
    else if (k == 1) used += snprintf(out + used, n - used, "from left to right:");
    else used += snprintf(out + used, n - used, "a picture of");
    for (int i = 0; i < s->n && used < n; i++) {
        const SceneObject *o = &s->obj[order[i]];
        used += snprintf(out + used, n - used, "%s a %s%s %s", i ? (i + 1 == s->n ? " and" : ",") : "",
                         k == 2 ? "" : (o->large ? "large " : "small "), COLOUR_NAMES[o->colour], SHAPE_NAMES[o->shape]);
    }
}

/* question-only baseline: the most frequent train answer of each question text */
typedef struct { char q[96], a[16]; int count; } QA;

static int prepare_split(const char *dir, int split, int n, uint64_t seed, QA *train_qa, int *n_train_qa,
                         double *qonly, double *majority, char *err, size_t errlen) {
    char path[4400];
    snprintf(path, sizeof path, "%s/images", dir);
    if (make_folder(dir) || make_folder(path)) { snprintf(err, errlen, "%s: cannot create folder: %s", path, strerror(errno)); return -1; }
    Rng r;
    rng_seed(&r, seed);
    Scene *scenes = xmalloc(sizeof(Scene) * n);
    unsigned char rgb[SCENE_SIZE * SCENE_SIZE * 3];
    cJSON *sj = cJSON_CreateArray();
    SplitWriter w;
    split_writer_init(&w);
    int type_count[5][16] = {{0}}, hit = 0, asked = 0;
    char type_answers[5][16][16];
    int n_type_answers[5] = {0};
    for (int i = 0; i < n; i++) {
        Scene *s = &scenes[i];
        scene_sample(s, &r);
        scene_draw(s, rgb);
        snprintf(path, sizeof path, "%s/images/%d.png", dir, i);
        if (!stbi_write_png(path, SCENE_SIZE, SCENE_SIZE, 3, rgb, SCENE_SIZE * 3)) {
            snprintf(err, errlen, "%s: cannot write PNG", path);
            free(scenes);
            return -1;
        }
        cJSON *so = cJSON_CreateObject(), *objs = cJSON_CreateArray();
        cJSON_AddNumberToObject(so, "image_id", i);
        for (int k = 0; k < s->n; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "shape", SHAPE_NAMES[s->obj[k].shape]);
            cJSON_AddStringToObject(o, "color", COLOUR_NAMES[s->obj[k].colour]);
            cJSON_AddStringToObject(o, "size", s->obj[k].large ? "large" : "small");
            cJSON_AddNumberToObject(o, "x", s->obj[k].x);
            cJSON_AddNumberToObject(o, "y", s->obj[k].y);
            cJSON_AddItemToArray(objs, o);
        }
        cJSON_AddItemToObject(so, "objects", objs);
        cJSON_AddItemToArray(sj, so);
        /* three questions of rotating types */
        for (int k = 0, t = i % 5, made = 0; k < 10 && made < 3; k++, t = (t + 1) % 5) {
            char q[96], a[16];
            if (!make_question(s, &r, t, q, a)) continue;
            int qid = i * 10 + made++;
            split_add_question(&w, qid, i, q, QTYPES[t], t == 1 ? "number" : (t == 0 || t == 4) ? "yes/no" : "other", a);
            /* baselines */
            int slot = -1;
            for (int j = 0; j < n_type_answers[t]; j++) if (!strcmp(type_answers[t][j], a)) slot = j;
            if (slot < 0 && n_type_answers[t] < 16) { slot = n_type_answers[t]++; strcpy(type_answers[t][slot], a); }
            if (slot >= 0) type_count[t][slot]++;
            if (split == 0 && *n_train_qa < 200000) {
                QA *x = &train_qa[(*n_train_qa)++];
                snprintf(x->q, sizeof x->q, "%s", q);
                snprintf(x->a, sizeof x->a, "%s", a);
            } else if (split == 1) {
                /* predict the answer most often given to this exact question in train */
                int best = 0;
                char guess[16] = "yes";
                for (int u = 0; u < *n_train_qa; u++) {
                    if (strcmp(train_qa[u].q, q)) continue;
                    int c = 0;
                    for (int v = 0; v < *n_train_qa; v++) c += !strcmp(train_qa[v].q, q) && !strcmp(train_qa[v].a, train_qa[u].a);
                    if (c > best) { best = c; strcpy(guess, train_qa[u].a); }
                }
                hit += !strcmp(guess, a);
                asked++;
            }
        }
        snprintf(path, sizeof path, "images/%d.png", i);
        split_add_image(&w, i, path, SCENE_SIZE, SCENE_SIZE);
        for (int k = 0; k < 3; k++) {
            char cap[256];
            make_caption(s, k, cap, sizeof cap);
            split_add_caption(&w, i * 3 + k, i, cap);
        }
    }
    if (split == 1) {
        int maj = 0, total = 0;
        for (int t = 0; t < 5; t++) {
            int best = 0;
            for (int j = 0; j < n_type_answers[t]; j++) { total += type_count[t][j]; best = type_count[t][j] > best ? type_count[t][j] : best; }
            maj += best;
        }
        *qonly = asked ? (double)hit / asked : 0;
        *majority = total ? (double)maj / total : 0;
    }
    /* NLVR2: STATEMENTS_PER_IMAGE statements per image of this split, each about a pair of
     * its images, labels alternating so the set is balanced */
    for (int i = 0; i < STATEMENTS_PER_IMAGE * n; i++) {
        int want = i % 2, label = -1, L = 0, R = 0;
        char text[160], id[32], left[32], right[32];
        Statement st;
        statement_sample(&r, &st);
        statement_text(&st, text);
        for (int tries = 0; tries < 500 && label != want; tries++) {
            L = (int)rng_below(&r, n);
            R = (int)rng_below(&r, n);
            label = statement_holds(&st, &scenes[L], &scenes[R]);
        }
        if (label != want) continue;
        snprintf(id, sizeof id, "scenes-%d", i);
        snprintf(left, sizeof left, "images/%d.png", L);
        snprintf(right, sizeof right, "images/%d.png", R);
        split_add_statement(&w, id, text, label, left, right);
    }
    free(scenes);
    int rc = 0;
    snprintf(path, sizeof path, "%s/scenes.json", dir);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "scenes", sj);
    rc = write_json_file(path, root, err, errlen);
    cJSON_Delete(root);
    return split_writer_finish(&w, dir, err, errlen) || rc ? -1 : 0;
}

int scenes_prepare(const char *data_dir, int n_train, char *err, size_t errlen) {
    static const char *const SPLITS[3] = {"train", "valid", "test"};
    char root[4200], dir[4300];
    snprintf(root, sizeof root, "%s/scenes", data_dir);
    if (make_folder(data_dir) || make_folder(root)) { snprintf(err, errlen, "%s: cannot create folder: %s", root, strerror(errno)); return -1; }
    QA *train_qa = xmalloc(sizeof(QA) * 200000);
    int n_train_qa = 0, sizes[3] = {n_train, n_train / 10 > 4 ? n_train / 10 : 4, n_train / 10 > 4 ? n_train / 10 : 4};
    double qonly = 0, majority = 0;
    for (int s = 0; s < 3; s++) {
        snprintf(dir, sizeof dir, "%s/%s", root, SPLITS[s]);
        if (prepare_split(dir, s, sizes[s], 1000 + s, train_qa, &n_train_qa, &qonly, &majority, err, errlen)) { free(train_qa); return -1; }
    }
    free(train_qa);
    printf("data prepare scenes: %d / %d / %d images -> %s; VQA question-only baseline on valid %.3f "
           "(majority answer of each question type %.3f)\n", sizes[0], sizes[1], sizes[2], root, qonly, majority);
    return 0;
}
