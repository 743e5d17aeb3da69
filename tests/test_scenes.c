/* The scenes set and the image-text loaders: PNG round trip, patching, every loader on the
 * generated set (answers checked against the scene objects), balance, VQA accuracy, and
 * errors that name the file and line. */
#include "check.h"
#include "data/scenes.h"
#include "tasks/vision_data.h"
#include <cJSON.h>
#include <string.h>
#include <sys/stat.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

static void test_png_and_patches(void) {
    Rng r;
    rng_seed(&r, 3);
    Scene s;
    scene_sample(&s, &r);
    unsigned char rgb[SCENE_SIZE * SCENE_SIZE * 3];
    scene_draw(&s, rgb);
    CHECK(stbi_write_png("test_scene.png", SCENE_SIZE, SCENE_SIZE, 3, rgb, SCENE_SIZE * 3), "write png");
    int w, h, c;
    unsigned char *back = stbi_load("test_scene.png", &w, &h, &c, 3);
    CHECK(back && w == SCENE_SIZE && h == SCENE_SIZE && !memcmp(back, rgb, sizeof rgb), "PNG round trip");
    stbi_image_free(back);
    /* a 4x4 image whose pixel (x, y) has red 10x + 40y: patch 1 (top right) starts at (2, 0) */
    unsigned char px[4 * 4 * 3];
    for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) { px[(y * 4 + x) * 3] = (unsigned char)(10 * x + 40 * y); px[(y * 4 + x) * 3 + 1] = 255; px[(y * 4 + x) * 3 + 2] = 0; }
    stbi_write_png("test_grid.png", 4, 4, 3, px, 12);
    float patches[4 * 2 * 2 * 3];
    char err[512];
    CHECK(image_load_patches("test_grid.png", 4, 2, patches, err, sizeof err) == 0, "%s", err);
    float want = 20 / 127.5f - 1.0f; /* patch 1, its first pixel (2, 0), red */
    CHECK(fabsf(patches[12] - want) < 1e-6f, "patch 1 pixel 0 red %g, want %g", patches[12], want);
    CHECK(fabsf(patches[12 + 3 * 3] - ((30 + 40) / 127.5f - 1.0f)) < 1e-6f, "patch 1 pixel (3, 1)");
    CHECK(patches[13] == 1.0f && patches[14] == -1.0f, "green 255 -> 1, blue 0 -> -1");
    float small[16 * 16 * 3];
    CHECK(image_load_patches("test_scene.png", 16, 4, small, err, sizeof err) == 0, "resize: %s", err);
    int in_range = 1;
    for (int i = 0; i < 16 * 16 * 3; i++) in_range &= small[i] >= -1.0f && small[i] <= 1.0f;
    CHECK(in_range, "resized values in [-1, 1]");
    FILE *f = fopen("test_corrupt.png", "wb");
    fputs("\x89PNG\r\n\x1a\n garbage", f);
    fclose(f);
    CHECK(image_load_patches("test_corrupt.png", 16, 4, small, err, sizeof err) != 0 && strstr(err, "test_corrupt.png"), "corrupt: %s", err);
    CHECK(image_load_patches("no_such.png", 16, 4, small, err, sizeof err) != 0 && strstr(err, "no_such.png"), "missing: %s", err);
    remove("test_scene.png"); remove("test_grid.png"); remove("test_corrupt.png");
}

/* the objects of each image, from scenes.json */
static int has_object(const cJSON *scenes, int image, const char *colour, const char *shape) {
    const cJSON *sc = cJSON_GetArrayItem(cJSON_GetObjectItem(scenes, "scenes"), image), *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(sc, "objects"))
        if (!strcmp(cJSON_GetObjectItem(o, "color")->valuestring, colour) && !strcmp(cJSON_GetObjectItem(o, "shape")->valuestring, shape)) return 1;
    return 0;
}

static void test_generated_set(void) {
    char err[1024];
    CHECK(scenes_prepare("test_scenes_data", 60, err, sizeof err) == 0, "%s", err);
    VqaItem *q;
    int nq;
    CHECK(vqa_load("test_scenes_data/scenes/train/vqa_questions.json", "test_scenes_data/scenes/train/vqa_annotations.json",
                   IMAGES_ALL, &q, &nq, err, sizeof err) == 0, "%s", err);
    CHECK(nq >= 150, "%d questions for 60 images", nq);
    FILE *f = fopen("test_scenes_data/scenes/train/scenes.json", "rb");
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    cJSON *scenes = cJSON_Parse(buf);
    int exist = 0, right = 0, types[5] = {0};
    const char *TYPES[5] = {"exist", "count", "color", "shape", "spatial"};
    for (int i = 0; i < nq; i++) {
        for (int t = 0; t < 5; t++) types[t] += !strcmp(q[i].qtype, TYPES[t]);
        char colour[16], shape[16];
        if (sscanf(q[i].question, "is there a %15s %15[a-z]?", colour, shape) == 2) {
            exist++;
            right += has_object(scenes, q[i].image_id, colour, shape) == !strcmp(q[i].answers[0], "yes");
        }
        CHECK(q[i].n_answers == 10, "question %d has %d answers", i, q[i].n_answers);
    }
    CHECK(exist > 10 && right == exist, "existence answers agree with the scenes: %d of %d", right, exist);
    for (int t = 0; t < 5; t++) CHECK(types[t] > 0, "question type %s missing", TYPES[t]);
    cJSON_Delete(scenes);
    free(q);

    Nlvr2Item *nl;
    int nn, trues = 0;
    CHECK(nlvr2_load("test_scenes_data/scenes/train/nlvr2.jsonl", 1, &nl, &nn, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < nn; i++) trues += nl[i].label;
    CHECK(nn >= 50 && abs(2 * trues - nn) <= 2, "NLVR2 balance: %d true of %d", trues, nn);
    struct stat st;
    char img[512];
    snprintf(img, sizeof img, "test_scenes_data/scenes/train/%s", nl[0].left);
    CHECK(stat(img, &st) == 0, "left image %s exists", img);
    free(nl);

    CocoImage *im;
    int ni;
    CHECK(coco_captions_load("test_scenes_data/scenes/train/captions.json", IMAGES_ALL, &im, &ni, err, sizeof err) == 0, "%s", err);
    CHECK(ni == 60 && im[0].n_captions == 3 && strlen(im[0].captions[0]) > 10, "%d images, %d captions", ni, ni ? im[0].n_captions : 0);
    free(im);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* hand-worked cases of the official answer normalisation */
static void test_answer_normalisation(void) {
    static const char *const CASES[][2] = {
        {"Two", "2"}, {"the dog", "dog"}, {"A Red Ball.", "red ball"}, {"yes!", "yes"}, {"  no\t", "no"},
        {"dont know", "don't know"}, {"1,000", "1000"}, {"left-hand", "left hand"}, {"3.5", "3.5"},
        {"none", "0"}, {"an apple", "apple"}, {"t-shirt , jeans", "t shirt jeans"}, {"(red)", "red"},
        {"isnt it", "isn't it"}, {"", ""},
    };
    char out[32];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        vqa_normalize_answer(CASES[i][0], out, sizeof out);
        CHECK(!strcmp(out, CASES[i][1]), "\"%s\" normalised to \"%s\", expected \"%s\"", CASES[i][0], out, CASES[i][1]);
    }
    /* answers are normalised as they are loaded: "Red." and "red" are one answer */
    write_text("test_qn.json", "{\"questions\": [{\"question_id\": 7, \"image_id\": 2, \"question\": \"colour?\"}]}");
    write_text("test_an.json", "{\"annotations\": [{\"question_id\": 7, \"answers\": [{\"answer\": \"Red.\"},"
                               " {\"answer\": \"red\"}, {\"answer\": \"RED\"}]}]}");
    VqaItem *q;
    int n;
    char err[1024];
    CHECK(vqa_load("test_qn.json", "test_an.json", IMAGES_ALL, &q, &n, err, sizeof err) == 0 && n == 1, "%s", err);
    if (n == 1) { CHECK(fabs(vqa_accuracy("red", q) - 2.0 / 3) < 1e-12, "three forms of red, one answer: every subset keeps 2 matches, 2/3; got %g", vqa_accuracy("red", q)); free(q); }
    remove("test_qn.json"); remove("test_an.json");
}

static void test_errors_and_accuracy(void) {
    char err[1024];
    Nlvr2Item *nl;
    int n;
    write_text("test_bad.jsonl", "{\"sentence\": \"a\", \"left_url\": \"l\", \"right_url\": \"r\", \"label\": \"True\"}\n"
                                 "{\"sentence\": \"b\", \"left_url\": \"l\", \"right_url\": \"r\", \"label\": \"maybe\"}\n");
    CHECK(nlvr2_load("test_bad.jsonl", 1, &nl, &n, err, sizeof err) != 0 && strstr(err, "test_bad.jsonl: line 2"), "%s", err);
    write_text("test_q.json", "{\"questions\": [{\"question_id\": 1, \"image_id\": 5, \"question\": \"what?\"}]}");
    write_text("test_a.json", "{\"annotations\": [{\"question_id\": 1, \"answers\": [{\"answer\": \"red\"}, {\"answer\": \"red\"},"
                              " {\"answer\": \"blue\"}, {\"answer\": \"red\"}, {\"answer\": \"red\"}, {\"answer\": \"blue\"},"
                              " {\"answer\": \"red\"}, {\"answer\": \"red\"}, {\"answer\": \"green\"}, {\"answer\": \"red\"}]}]}");
    VqaItem *q;
    CHECK(vqa_load("test_q.json", "test_a.json", IMAGES_ALL, &q, &n, err, sizeof err) == 0 && n == 1, "%s", err);
    if (n == 1) {
        /* the official leave-one-out average: with 2 of 10 saying blue, the 2 subsets that
         * leave a blue out hold 1 match (1/3), the other 8 hold 2 (2/3): (2/3 + 16/3) / 10 */
        CHECK(vqa_accuracy("red", q) == 1.0, "7 of 10 say red: 6 or 7 of 9 in every subset");
        CHECK(fabs(vqa_accuracy("blue", q) - 0.6) < 1e-12, "2 of 10 say blue: %g, expected 0.6", vqa_accuracy("blue", q));
        CHECK(fabs(vqa_accuracy("green", q) - 0.3) < 1e-12, "1 of 10 says green: 9 subsets of 1/3: %g", vqa_accuracy("green", q));
        CHECK(vqa_accuracy("cyan", q) == 0, "none");
        free(q);
    }
    write_text("test_a2.json", "{\"annotations\": []}");
    CHECK(vqa_load("test_q.json", "test_a2.json", IMAGES_ALL, &q, &n, err, sizeof err) != 0 && strstr(err, "no answers"), "%s", err);
    write_text("test_broken.json", "{\"questions\": [\n{\"question_id\": 1,\n oops}]}");
    CHECK(vqa_load("test_broken.json", "test_a.json", IMAGES_ALL, &q, &n, err, sizeof err) != 0 && strstr(err, "test_broken.json: line 3"), "%s", err);
    write_text("test_c.json", "{\"images\": [{\"id\": 1}], \"annotations\": []}");
    CocoImage *im;
    CHECK(coco_captions_load("test_c.json", IMAGES_ALL, &im, &n, err, sizeof err) != 0 && strstr(err, "file_name"), "%s", err);
    remove("test_bad.jsonl"); remove("test_q.json"); remove("test_a.json"); remove("test_a2.json"); remove("test_broken.json"); remove("test_c.json");
}

int main(void) {
    test_png_and_patches();
    test_generated_set();
    test_answer_normalisation();
    test_errors_and_accuracy();
    CHECK_FINISH();
}
