/* The official data set layouts: small VQAv2, NLVR2 and COCO-captions folders with the files
 * named and shaped as their sites ship them (JPEG images under train2014/ and val2014/, NLVR2's
 * JSON lines and image folders, the Karpathy split file), opened through the tasks; the
 * counts the tasks report, the val2014 halves, the answer classes and their coverage, check
 * mode's count of a missing image, and ids that used to crash the loader. */
#include "check.h"
#include "tasks/task.h"
#include "tasks/vision_data.h"
#include <string.h>
#include <sys/stat.h>
#include <stb/stb_image_write.h>

#define ROOT "test_layouts_data"

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void write_image(const char *path, int shade, int jpeg) {
    unsigned char px[16 * 16 * 3];
    for (int i = 0; i < 16 * 16 * 3; i++) px[i] = (unsigned char)(shade * 37 + i);
    if (jpeg) stbi_write_jpg(path, 16, 16, 3, px, 90);
    else stbi_write_png(path, 16, 16, 3, px, 16 * 3);
}

/* a sink that keeps what describe reports */
typedef struct { char name[64][48]; double value[64]; int n; } Kept;
static void keep_put(MetricSink *s, const char *split, const char *name, double value) {
    Kept *k = s->ctx;
    if (k->n < 64) { snprintf(k->name[k->n], 48, "%s/%s", split, name); k->value[k->n++] = value; }
}
static void keep_eval(MetricSink *s, const char *b, const char *m, double v) {}
static void keep_section(MetricSink *s, const char *l) {}
static double kept(const Kept *k, const char *name) {
    for (int i = 0; i < k->n; i++) if (!strcmp(k->name[i], name)) return k->value[i];
    return -1;
}

static Task *open_task(const char *name, const char *data, int check, Kept *k, char *err, size_t errlen) {
    TaskOptions opt = {.data = data, .data_dir = ROOT "/prepared", .seq_len = 32, .batch = 4, .image_size = 16,
                       .patch = 8, .check = check, .seed = 1,
                       .value = task_words_value, .value_ctx = (const char *[]){"answers=3", NULL}};
    Task *t = task_open(name, &opt, err, errlen);
    if (t && k) {
        MetricSink sink = {keep_put, keep_eval, keep_section, k};
        memset(k, 0, sizeof *k);
        t->describe(t, &sink);
    }
    return t;
}

/* VQAv2: train2014 images 9-11 with two questions each; val2014 images 20-23 (valid: even ids,
 * test: odd), one question each. Training answers: yes x3, 2 x2 ("two" normalised), red x1. */
static void write_vqa(const char *dir) {
    char path[512];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/train2014", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/val2014", dir); mkdir(path, 0755);
    for (int id = 9; id <= 11; id++) { snprintf(path, sizeof path, "%s/train2014/COCO_train2014_%012d.jpg", dir, id); write_image(path, id, 1); }
    for (int id = 20; id <= 23; id++) { snprintf(path, sizeof path, "%s/val2014/COCO_val2014_%012d.jpg", dir, id); write_image(path, id, 1); }
    static const char *const TRAIN_ANSWERS[6] = {"yes", "Yes", "yes.", "two", "2", "Red"};
    char q[4096] = "{\"info\": {\"year\": 2017}, \"task_type\": \"Open-Ended\", \"questions\": [", a[16384] = "{\"annotations\": [";
    for (int i = 0; i < 6; i++) {
        char one[512];
        snprintf(one, sizeof one, "%s{\"image_id\": %d, \"question\": \"question %d?\", \"question_id\": %d}", i ? "," : "", 9 + i / 2, i % 2, 9000 + i);
        strcat(q, one);
        snprintf(one, sizeof one, "%s{\"question_id\": %d, \"image_id\": %d, \"question_type\": \"what\", \"answers\": [", i ? "," : "", 9000 + i, 9 + i / 2);
        strcat(a, one);
        for (int k = 0; k < 10; k++) {
            snprintf(one, sizeof one, "%s{\"answer\": \"%s\", \"answer_confidence\": \"yes\", \"answer_id\": %d}", k ? "," : "", TRAIN_ANSWERS[i], k + 1);
            strcat(a, one);
        }
        strcat(a, "], \"multiple_choice_answer\": \"x\"}");
    }
    strcat(q, "], \"license\": {}}");
    strcat(a, "]}");
    snprintf(path, sizeof path, "%s/v2_OpenEnded_mscoco_train2014_questions.json", dir); write_text(path, q);
    snprintf(path, sizeof path, "%s/v2_mscoco_train2014_annotations.json", dir); write_text(path, a);
    snprintf(q, sizeof q, "{\"questions\": [");
    snprintf(a, sizeof a, "{\"annotations\": [");
    for (int id = 20; id <= 23; id++) {
        char one[512];
        snprintf(one, sizeof one, "%s{\"image_id\": %d, \"question\": \"question 0?\", \"question_id\": %d}", id > 20 ? "," : "", id, id * 1000);
        strcat(q, one);
        snprintf(one, sizeof one, "%s{\"question_id\": %d, \"answers\": [{\"answer\": \"%s\"}, {\"answer\": \"yes\"}]}",
                 id > 20 ? "," : "", id * 1000, id == 23 ? "purple" : "yes");
        strcat(a, one);
    }
    strcat(q, "]}");
    strcat(a, "]}");
    snprintf(path, sizeof path, "%s/v2_OpenEnded_mscoco_val2014_questions.json", dir); write_text(path, q);
    snprintf(path, sizeof path, "%s/v2_mscoco_val2014_annotations.json", dir); write_text(path, a);
}

static void test_vqa_official(void) {
    char err[1024];
    Kept k;
    write_vqa(ROOT "/vqa");
    Task *t = open_task("vqa", ROOT "/vqa", 0, &k, err, sizeof err);
    CHECK(t != NULL, "%s", err);
    if (!t) return;
    CHECK(kept(&k, "train/questions") == 6 && kept(&k, "train/images") == 3, "train: %g questions, %g images",
          kept(&k, "train/questions"), kept(&k, "train/images"));
    CHECK(kept(&k, "valid/questions") == 2 && kept(&k, "test/questions") == 2, "val2014 halves: valid %g, test %g",
          kept(&k, "valid/questions"), kept(&k, "test/questions"));
    CHECK(kept(&k, "train/answer_classes") == 3 && t->spec.n_out == 3, "answers=3 classes: %g", kept(&k, "train/answer_classes"));
    CHECK(fabs(kept(&k, "train/answer_coverage") - 1.0) < 1e-12, "yes, 2, red cover every question: %g", kept(&k, "train/answer_coverage"));
    /* test holds 21 (yes) and 23 (purple + yes: most common is the first, purple): one unknown */
    CHECK(kept(&k, "test/unknown_answers") == 1 && kept(&k, "valid/unknown_answers") == 0, "unknown answers: test %g valid %g",
          kept(&k, "test/unknown_answers"), kept(&k, "valid/unknown_answers"));
    CHECK(kept(&k, "valid/majority_acc") > 0, "the majority answer yes scores on valid: %g", kept(&k, "valid/majority_acc"));
    t->close(t);
    /* answers=2 keeps the two most frequent: yes (3) and 2 (2); red's question is outside */
    TaskOptions opt = {.data = ROOT "/vqa", .data_dir = ROOT, .image_size = 16, .patch = 8, .seed = 1,
                       .value = task_words_value, .value_ctx = (const char *[]){"answers=2", NULL}};
    t = task_open("vqa", &opt, err, sizeof err);
    CHECK(t && t->spec.n_out == 2, "answers=2: %s", t ? "" : err);
    if (t) {
        MetricSink sink = {keep_put, keep_eval, keep_section, &k};
        memset(&k, 0, sizeof k);
        t->describe(t, &sink);
        CHECK(fabs(kept(&k, "train/answer_coverage") - 5.0 / 6) < 1e-12, "coverage 5/6: %g", kept(&k, "train/answer_coverage"));
        t->close(t);
    }
    /* a missing image: check mode counts it, a run names it */
    remove(ROOT "/vqa/val2014/COCO_val2014_000000000022.jpg");
    t = open_task("vqa", ROOT "/vqa", 1, &k, err, sizeof err);
    CHECK(t && kept(&k, "valid/missing_images") == 1 && kept(&k, "test/missing_images") == 0, "check: %s %g", t ? "" : err,
          kept(&k, "valid/missing_images"));
    if (t) t->close(t);
    t = open_task("vqa", ROOT "/vqa", 0, NULL, err, sizeof err);
    CHECK(!t && strstr(err, "COCO_val2014_000000000022.jpg"), "a run names the missing image: %s", err);
    if (t) t->close(t);
}

/* ids that crashed the loader: negative, past INT_MAX written as 1e400, and a COCO-sized id
 * that once sized image memory (calloc by the largest id) */
static void test_vqa_bad_ids(void) {
    char err[1024];
    VqaItem *q;
    int n;
    write_text(ROOT "/a.json", "{\"annotations\": [{\"question_id\": 1, \"answers\": [{\"answer\": \"yes\"}]}]}");
    static const char *const BAD[] = {"-3", "1e400", "2.5", "\"7\""};
    for (int i = 0; i < 4; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"questions\": [\n{\"question_id\": 1, \"image_id\": %s, \"question\": \"q?\"}]}", BAD[i]);
        write_text(ROOT "/q.json", text);
        CHECK(vqa_load(ROOT "/q.json", ROOT "/a.json", IMAGES_ALL, &q, &n, err, sizeof err) != 0 &&
              strstr(err, "q.json: line 2") && strstr(err, "image_id"), "image_id %s: %s", BAD[i], err);
    }
    write_text(ROOT "/q.json", "{\"questions\": [{\"question_id\": 1, \"image_id\": 4503599627370496, \"question\": \"q?\"}]}");
    CHECK(vqa_load(ROOT "/q.json", ROOT "/a.json", IMAGES_ALL, &q, &n, err, sizeof err) == 0 && n == 1 &&
          q[0].image_id == 4503599627370496LL, "a 2^52 image id loads: %s", err);
    if (!err[0] || n == 1) free(q);
    write_text(ROOT "/q.json", "{\"questions\": [{\"question_id\": 1, \"image_id\": 3, \"question\": \"q?\"},"
                               " {\"question_id\": 1, \"image_id\": 4, \"question\": \"q?\"}]}");
    CHECK(vqa_load(ROOT "/q.json", ROOT "/a.json", IMAGES_ALL, &q, &n, err, sizeof err) != 0 && strstr(err, "given twice"), "%s", err);
}

/* NLVR2: train.json (JSON lines with directory), dev.json, test1.json; images/train/DIR/,
 * dev/ and test1/ beside them */
static void test_nlvr2_official(void) {
    char err[1024], path[512], line[4096];
    Kept k;
    const char *dir = ROOT "/nlvr2";
    static const char *const SPLITS[3] = {"train", "dev", "test1"};
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/images", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/images/train", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/images/train/7", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/dev", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/images/test1", dir); mkdir(path, 0755); /* test1 under images/ */
    for (int s = 0; s < 3; s++) {
        char text[8192] = "";
        for (int pair = 0; pair < 2; pair++)
            for (int sentence = 0; sentence < 2; sentence++) {
                snprintf(line, sizeof line, "{\"validation\": {}, \"sentence\": \"statement %d %d\", \"left_url\": \"https://x/l.jpg\","
                         " \"writer\": \"w\", \"label\": \"%s\", \"identifier\": \"%s-%d-%d-%d\", \"extra_validations\": {},%s"
                         " \"right_url\": \"https://x/r.jpg\", \"synset\": \"s\", \"query\": \"q\"}\n",
                         pair, sentence, (pair + sentence) % 2 ? "True" : "False", SPLITS[s], 40 + pair, pair, sentence,
                         s == 0 ? " \"directory\": 7," : "");
                strcat(text, line);
            }
        snprintf(path, sizeof path, "%s/%s.json", dir, SPLITS[s]);
        write_text(path, text);
        for (int pair = 0; pair < 2; pair++)
            for (int img = 0; img < 2; img++) {
                snprintf(path, sizeof path, "%s/%s/%s-%d-%d-img%d.png", dir,
                         s == 0 ? "images/train/7" : s == 1 ? "dev" : "images/test1", SPLITS[s], 40 + pair, pair, img);
                write_image(path, pair * 2 + img, 0);
            }
    }
    Task *t = open_task("reasoning", dir, 0, &k, err, sizeof err);
    CHECK(t != NULL, "%s", err);
    if (t) {
        CHECK(kept(&k, "train/statements") == 4 && kept(&k, "train/images") == 4, "train: %g statements, %g images",
              kept(&k, "train/statements"), kept(&k, "train/images"));
        CHECK(kept(&k, "valid/statements") == 4 && kept(&k, "test/statements") == 4, "dev and test1: %g %g",
              kept(&k, "valid/statements"), kept(&k, "test/statements"));
        t->close(t);
    }
    snprintf(path, sizeof path, "%s/dev/dev-41-1-img1.png", dir);
    remove(path);
    t = open_task("reasoning", dir, 1, &k, err, sizeof err);
    CHECK(t && kept(&k, "valid/missing_images") == 1, "check counts dev's missing image: %s", t ? "" : err);
    if (t) t->close(t);
    t = open_task("reasoning", dir, 0, NULL, err, sizeof err);
    CHECK(!t && strstr(err, "dev-41-1-img1.png"), "a run names it: %s", err);
}

/* COCO captions: annotations/captions_{train,val}2014.json; then the Karpathy split file */
static void test_coco_official(void) {
    char err[1024], path[512];
    Kept k;
    const char *dir = ROOT "/coco";
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/dataset_coco.json", dir);
    remove(path); /* a previous run's: the official files are read only without it */
    snprintf(path, sizeof path, "%s/annotations", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/train2014", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/val2014", dir); mkdir(path, 0755);
    static const int TRAIN_IDS[3] = {57870, 384029, 222016}, VAL_IDS[4] = {391895, 522418, 184613, 318219};
    char train[4096] = "{\"info\": {}, \"images\": [", val[4096] = "{\"info\": {}, \"images\": [", one[512];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/train2014/COCO_train2014_%012d.jpg", dir, TRAIN_IDS[i]);
        write_image(path, i, 1);
        snprintf(one, sizeof one, "%s{\"license\": 5, \"file_name\": \"COCO_train2014_%012d.jpg\", \"height\": 16, \"width\": 16, \"id\": %d}",
                 i ? "," : "", TRAIN_IDS[i], TRAIN_IDS[i]);
        strcat(train, one);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/val2014/COCO_val2014_%012d.jpg", dir, VAL_IDS[i]);
        write_image(path, 5 + i, 1);
        snprintf(one, sizeof one, "%s{\"file_name\": \"COCO_val2014_%012d.jpg\", \"id\": %d}", i ? "," : "", VAL_IDS[i], VAL_IDS[i]);
        strcat(val, one);
    }
    strcat(train, "], \"licenses\": [], \"annotations\": [");
    strcat(val, "], \"annotations\": [");
    for (int i = 0; i < 6; i++) {
        snprintf(one, sizeof one, "%s{\"image_id\": %d, \"id\": %d, \"caption\": \"A picture number %d.\"}", i ? "," : "", TRAIN_IDS[i % 3], i, i % 3);
        strcat(train, one);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(one, sizeof one, "%s{\"image_id\": %d, \"id\": %d, \"caption\": \"A view %d.\"}", i ? "," : "", VAL_IDS[i], 100 + i, i);
        strcat(val, one);
    }
    strcat(train, "]}");
    strcat(val, "]}");
    snprintf(path, sizeof path, "%s/annotations/captions_train2014.json", dir); write_text(path, train);
    snprintf(path, sizeof path, "%s/annotations/captions_val2014.json", dir); write_text(path, val);
    Task *t = open_task("captioning", dir, 0, &k, err, sizeof err);
    CHECK(t != NULL, "%s", err);
    if (t) {
        /* val ids: 391895 odd, 522418 even, 184613 odd, 318219 odd: valid 1 image, test 3 */
        CHECK(kept(&k, "train/images") == 3 && kept(&k, "train/captions") == 6, "train: %g images %g captions",
              kept(&k, "train/images"), kept(&k, "train/captions"));
        CHECK(kept(&k, "valid/images") == 1 && kept(&k, "test/images") == 3, "val2014 halves: %g %g",
              kept(&k, "valid/images"), kept(&k, "test/images"));
        t->close(t);
    }
    /* the Karpathy split file takes over when present: train + restval, val, test */
    snprintf(path, sizeof path, "%s/dataset_coco.json", dir);
    write_text(path, "{\"images\": ["
        "{\"filepath\": \"val2014\", \"sentids\": [1], \"filename\": \"COCO_val2014_000000391895.jpg\", \"imgid\": 0, \"split\": \"test\","
        " \"sentences\": [{\"tokens\": [\"a\"], \"raw\": \"A man.\", \"imgid\": 0, \"sentid\": 1}], \"cocoid\": 391895},"
        "{\"filepath\": \"val2014\", \"filename\": \"COCO_val2014_000000522418.jpg\", \"split\": \"restval\","
        " \"sentences\": [{\"raw\": \"A woman.\"}, {\"raw\": \"A person.\"}], \"cocoid\": 522418},"
        "{\"filepath\": \"train2014\", \"filename\": \"COCO_train2014_000000057870.jpg\", \"split\": \"train\","
        " \"sentences\": [{\"raw\": \"A table.\"}], \"cocoid\": 57870},"
        "{\"filepath\": \"val2014\", \"filename\": \"COCO_val2014_000000184613.jpg\", \"split\": \"val\","
        " \"sentences\": [{\"raw\": \"A cow.\"}], \"cocoid\": 184613}], \"dataset\": \"coco\"}");
    t = open_task("mmm", dir, 1, &k, err, sizeof err);
    CHECK(t != NULL, "%s", err);
    if (t) {
        CHECK(kept(&k, "train/images") == 2 && kept(&k, "train/captions") == 3 && kept(&k, "valid/images") == 1 &&
              kept(&k, "test/images") == 1 && kept(&k, "train/missing_images") == 0, "Karpathy: train %g (%g captions) valid %g test %g",
              kept(&k, "train/images"), kept(&k, "train/captions"), kept(&k, "valid/images"), kept(&k, "test/images"));
        t->close(t);
    }
}

int main(void) {
    mkdir(ROOT, 0755);
    test_vqa_official();
    test_vqa_bad_ids();
    test_nlvr2_official();
    test_coco_official();
    CHECK_FINISH();
}
