/* The multimodal pieces: the emoji set's parser and image conversion on a fixture gem folder,
 * the k-means codebook, starting a model from another's checkpoint, the mmm and captioning
 * rows, and a short masked multimodal modelling run that reduces its loss. */
#include "check.h"
#include "data/emoji.h"
#include "data/scenes.h"
#include "models/checkpoint.h"
#include "models/optim.h"
#include "util/rng.h"
#include "models/transfer.h"
#include "tasks/codebook.h"
#include "tasks/task.h"
#include "tasks/vision_data.h"
#include <string.h>
#include <sys/stat.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#define GEM "test_mm_gem"

/* a 16x16 RGBA PNG of one colour, alpha a */
static void write_rgba(const char *path, unsigned char r, unsigned char g, unsigned char b, unsigned char a) {
    unsigned char px[16 * 16 * 4];
    for (int i = 0; i < 16 * 16; i++) { px[i * 4] = r; px[i * 4 + 1] = g; px[i * 4 + 2] = b; px[i * 4 + 3] = a; }
    stbi_write_png(path, 16, 16, 4, px, 16 * 4);
}

static void test_emoji_set(void) {
    mkdir(GEM, 0755); mkdir(GEM "/vendor", 0755); mkdir(GEM "/vendor/unicode", 0755);
    mkdir(GEM "/app", 0755); mkdir(GEM "/app/assets", 0755); mkdir(GEM "/app/assets/images", 0755);
    mkdir(GEM "/app/assets/images/tanuki_emoji", 0755);
    FILE *f = fopen(GEM "/vendor/unicode/emoji-test.txt", "w");
    fputs("# group: Smileys & Emotion\n# subgroup: face-smiling\n"
          "1F600 ; fully-qualified # x E1.0 grinning face\n"
          "1F601 ; fully-qualified # x E0.6 beaming face\n"
          "1F602 ; minimally-qualified # x E0.6 not taken\n"
          "1F603 ; fully-qualified # x E0.6 face without an image\n"
          "# group: People & Body\n# subgroup: hand-fingers-open\n"
          "1F44B ; fully-qualified # x E0.6 waving hand\n"
          "1F44B 1F3FB ; fully-qualified # x E1.0 waving hand: light skin tone\n"
          "# group: Component\n# subgroup: skin-tone\n"
          "1F3FB ; fully-qualified # x E1.0 light skin tone\n"
          "# group: Symbols\n# subgroup: heart\n"
          "2764 FE0F ; fully-qualified # x E0.6 red heart\n"
          "# group: Flags\n# subgroup: country-flag\n"
          "1F1E6 1F1E8 ; fully-qualified # x E2.0 flag: ascension island\n", f);
    fclose(f);
    const char *files[] = {"emoji_u1f600", "emoji_u1f601", "emoji_u1f602", "emoji_u1f44b", "emoji_u1f44b_1f3fb",
                           "emoji_u1f3fb", "emoji_u2764", "AC"};
    char path[512], err[1024];
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, GEM "/app/assets/images/tanuki_emoji/%s.png", files[i]);
        write_rgba(path, (unsigned char)(30 * i), 200, 10, i == 6 ? 0 : 255); /* the heart: transparent */
    }
    CHECK(emoji_prepare("test_mm_data", GEM, err, sizeof err) == 0, "%s", err);
    int total = 0, groups_seen = 0, grey_ok = 1;
    const char *splits[3] = {"train", "valid", "test"};
    for (int s = 0; s < 3; s++) {
        CocoImage *im;
        int n;
        snprintf(path, sizeof path, "test_mm_data/emoji/%s/captions.json", splits[s]);
        CHECK(coco_captions_load(path, IMAGES_ALL, &im, &n, err, sizeof err) == 0, "%s", err);
        for (int i = 0; i < n; i++) {
            total++;
            CHECK(im[i].n_captions == 3, "3 captions for %s", im[i].captions[0]);
            CHECK(!strstr(im[i].captions[0], "skin tone") && strcmp(im[i].captions[0], "not taken") &&
                  strcmp(im[i].captions[0], "face without an image"), "skipped emoji kept: %s", im[i].captions[0]);
            if (!strcmp(im[i].captions[0], "red heart")) { /* transparent -> the grey background */
                float px[64 * 64 * 3];
                snprintf(path, sizeof path, "test_mm_data/emoji/%s/%s", splits[s], im[i].file_name);
                CHECK(image_load_patches(path, 64, 64, px, err, sizeof err) == 0, "%s", err);
                grey_ok = fabsf(px[0] - (128 / 127.5f - 1)) < 1e-6f;
            }
            groups_seen += strstr(im[i].captions[2], "from the flags group") != NULL;
        }
        VqaItem *q;
        int nq;
        char qa[600];
        snprintf(path, sizeof path, "test_mm_data/emoji/%s/vqa_questions.json", splits[s]);
        snprintf(qa, sizeof qa, "test_mm_data/emoji/%s/vqa_annotations.json", splits[s]);
        CHECK(vqa_load(path, qa, IMAGES_ALL, &q, &nq, err, sizeof err) == 0 && nq == 2 * n, "%s: %d questions for %d images", err, nq, n);
        for (int i = 0; i < nq; i += 2) {
            const char *cap = im[q[i].image_id].captions[2], *grp = strstr(cap, "from the ");
            char want[64] = "";
            if (grp) sscanf(grp + 9, "%63[^\n]", want);
            if (strlen(want) > 6) want[strlen(want) - 6] = 0; /* drop " group" */
            CHECK(!strcmp(q[i].answers[0], want), "group answer %s, caption says %s", q[i].answers[0], cap);
        }
        free(q);
        free(im);
    }
    CHECK(total == 5, "5 emoji kept (2 faces, hand, heart, flag), got %d", total);
    CHECK(groups_seen == 1, "the flag (AC.png) is found");
    CHECK(grey_ok, "transparent pixels become grey");
    CHECK(emoji_prepare("test_mm_data", "no_such_gem", err, sizeof err) != 0 && strstr(err, "no_such_gem/vendor/unicode/emoji-test.txt"),
          "missing package: %s", err);
}

/* three tight clusters: k-means with K = 3 finds their centres; the file round-trips */
static void test_codebook(void) {
    float x[300 * 4], centre[3][4] = {{1, 1, 0, 0}, {-1, 0, 1, 0}, {0, -1, 0, 1}};
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < 300; i++)
        for (int j = 0; j < 4; j++) x[i * 4 + j] = centre[i % 3][j] + 0.01f * rng_normal(&r);
    Codebook cb, back;
    char err[512];
    remove("test_mm_codebook.bin");
    CHECK(codebook_open(&cb, "test_mm_codebook.bin", x, 300, 4, 3, err, sizeof err) == 0, "%s", err);
    for (int c = 0; c < 3; c++) {
        float best = 1e9f;
        for (int k = 0; k < 3; k++) {
            float d = 0;
            for (int j = 0; j < 4; j++) d += (cb.centres[k * 4 + j] - centre[c][j]) * (cb.centres[k * 4 + j] - centre[c][j]);
            best = d < best ? d : best;
        }
        CHECK(best < 1e-3f, "cluster %d found (squared distance %g)", c, best);
    }
    int ids[300], same = 1;
    codebook_assign(&cb, x, 300, ids, NULL);
    for (int i = 3; i < 300; i++) same &= ids[i] == ids[i % 3];
    CHECK(same && ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "points of a cluster share one id");
    CHECK(codebook_open(&back, "test_mm_codebook.bin", NULL, 0, 4, 3, err, sizeof err) == 0 &&
          !memcmp(back.centres, cb.centres, sizeof(float) * 12), "reloaded codebook equals the built one: %s", err);
    Codebook other;
    CHECK(codebook_open(&other, "test_mm_codebook.bin", NULL, 0, 4, 5, err, sizeof err) != 0 && strstr(err, "test_mm_codebook.bin"),
          "a codebook of another size is refused: %s", err);
    codebook_free(&cb);
    codebook_free(&back);
    remove("test_mm_codebook.bin");
}

/* a finetune model starts from an mmm-like checkpoint: backbone equal, tables in part */
static void test_transfer(void) {
    ModelConfig src = {.vocab = 20, .n_out = 30, .max_seq = 8, .d_model = 16, .layers = 2, .attn_heads = 2,
                       .ffn_mult = 4, .patch_dim = 6, .n_patches = 2, .moe = MOE_XMOE, .experts = 4, .topk = 1,
                       .moe_every = 2, .expert_dim = 16, .router_dim = 4, .mh_heads = 1};
    ModelConfig dst = src;
    dst.n_out = 5;
    dst.max_seq = 12;
    Model a, b;
    char err[1024], note[1024];
    CHECK(model_build(&a, &src, 1) == 0 && model_build(&b, &dst, 2) == 0, "build");
    AdamW opt;
    OptimConfig oc = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f};
    adamw_init(&opt, &oc, a.n_params);
    CheckpointState st = {0};
    CHECK(checkpoint_save("test_mm.ckpt", &a, &opt, &st, err, sizeof err) == 0, "%s", err);
    float fresh_head_row4 = b.params[b.headw + 4 * 16];
    CHECK(model_init_from(&b, "test_mm.ckpt", 3, note, sizeof note, err, sizeof err) == 0, "%s", err);
    int equal = 1;
    for (int i = 0; i < b.n_tensors; i++) {
        const ParamTensor *t = &b.tensors[i];
        if (!strcmp(t->name, "wpe") || !strcmp(t->name, "head.w")) continue;
        equal &= !memcmp(b.params + t->off, a.params + a.tensors[i].off, sizeof(float) * t->n);
    }
    CHECK(equal, "every backbone tensor copied");
    CHECK(!memcmp(b.params + b.wpe, a.params + a.wpe, sizeof(float) * 8 * 16), "the 8 stored positions copied");
    CHECK(!memcmp(b.params + b.headw, a.params + a.headw, sizeof(float) * 3 * 16), "3 shared head rows copied");
    CHECK(b.params[b.headw + 4 * 16] == fresh_head_row4, "the other head rows keep their initialisation");
    Model c;
    ModelConfig wide = dst;
    wide.d_model = 32;
    CHECK(model_build(&c, &wide, 3) == 0, "build");
    CHECK(model_init_from(&c, "test_mm.ckpt", 0, note, sizeof note, err, sizeof err) != 0 && strstr(err, "d_model 16, this run 32"),
          "another width is refused naming it: %s", err);
    model_free(&a); model_free(&b); model_free(&c);
    adamw_free(&opt);
    remove("test_mm.ckpt");
}

static const char *const CODEBOOK16[] = {"codebook=16", NULL};
static const char *const CODEBOOK16_JOINT[] = {"codebook=16", "pair=joint", NULL};

static TaskOptions options(void) {
    return (TaskOptions){.data = "", .data_dir = "test_mm_data", .seq_len = 64, .batch = 8, .tokenizer = "bytes",
                         .image_size = 32, .patch = 8, .seed = 1,
                         .value = task_words_value, .value_ctx = CODEBOOK16};
}

/* mmm rows: masked patches carry [MASK] and a visual-token target, nothing else is scored
 * there; a short run lowers the validation loss */
static void test_mmm(void) {
    char err[1024];
    CHECK(scenes_prepare("test_mm_data", 80, err, sizeof err) == 0, "%s", err);
    TaskOptions opt = options();
    Task *t = task_open("mmm", &opt, err, sizeof err);
    CHECK(t != NULL, "%s", err);
    if (!t) return;
    TaskSpec sp = t->spec;
    CHECK(sp.n_out == 256 + 16 && sp.n_patches == 16 && sp.text_outputs == 256, "spec");
    Batch *b = batch_alloc_images(8, sp.seq_len, 1, sp.n_patches, sp.patch_dim);
    t->next_batch(t, b);
    int ok = 1, masked_rows = 0;
    for (int r = 0; r < 8; r++) {
        int masked = 0, visible = 0;
        for (int p = 0; p < 16; p++) {
            int tok = b->tokens[r * sp.seq_len + p], y = b->targets[r * sp.seq_len + p];
            visible += b->key_mask[r * sp.seq_len + p];
            if (tok) { masked++; ok &= y >= 256 && y < 272; } else ok &= y == -1;
        }
        if (visible) { ok &= masked == 6; masked_rows++; } /* round(0.4 * 16) */
        for (int q = 16; q < sp.seq_len; q++) {
            int y = b->targets[r * sp.seq_len + q];
            ok &= y < 256 && (y < 0 || b->tokens[r * sp.seq_len + q] == 2);
        }
    }
    CHECK(ok && masked_rows > 0, "masked patches and bytes are the only scored positions, 6 of 16 patches masked");
    ModelConfig mc = {.vocab = 256, .n_out = sp.n_out, .max_seq = sp.seq_len, .d_model = 32, .layers = 2, .attn_heads = 2,
                      .ffn_mult = 4, .patch_dim = sp.patch_dim, .n_patches = sp.n_patches, .moe = MOE_MHMOE, .experts = 4,
                      .topk = 1, .moe_every = 2, .expert_dim = 32, .router_dim = 8, .mh_heads = 2};
    Model m;
    AdamW adam;
    OptimConfig oc = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .grad_clip = 1.0f, .total_steps = 60, .warmup = 5, .min_lr_frac = 0.1f};
    CHECK(model_build(&m, &mc, 7) == 0 && model_alloc_batch(&m, 8, sp.seq_len) == 0 && adamw_init(&adam, &oc, m.n_params) == 0, "build");
    double before = 0, after = 0;
    for (int pass = 0; pass < 2; pass++) {
        double loss = 0;
        int n = 0;
        for (int k = 0; k < 4; k++) { t->next_batch(t, b); loss += model_forward(&m, b); n++; }
        if (pass == 0) {
            before = loss / n;
            for (int step = 0; step < 60; step++) {
                t->next_batch(t, b);
                model_forward(&m, b);
                model_zero_grad(&m);
                model_backward(&m);
                adamw_step(&adam, &m);
            }
        } else {
            after = loss / n;
        }
    }
    printf("mmm: masked-token loss %.3f -> %.3f after 60 steps\n", before, after);
    CHECK(after < before - 0.5, "60 steps of mmm lower the masked-token loss (%.3f -> %.3f)", before, after);
    model_free(&m);
    adamw_free(&adam);
    batch_free(b);
    t->close(t);
}

/* captioning rows: each text position predicts the next byte, the last one EOS */
static void test_captioning_rows(void) {
    char err[1024];
    TaskOptions opt = options();
    Task *t = task_open("captioning", &opt, err, sizeof err);
    CHECK(t != NULL, "%s", err);
    if (!t) return;
    TaskSpec sp = t->spec;
    CHECK(sp.causal == 2 && sp.n_out == 256, "prefix LM over bytes");
    Batch *b = batch_alloc_images(8, sp.seq_len, 1, sp.n_patches, sp.patch_dim);
    t->next_batch(t, b);
    int ok = 1;
    for (int r = 0; r < 8; r++) {
        const int *tok = b->tokens + r * sp.seq_len, *y = b->targets + r * sp.seq_len;
        ok &= tok[16] == 1 && y[15] == -1;
        int q = 16;
        while (q + 1 < sp.seq_len && tok[q + 1]) { ok &= y[q] == tok[q + 1]; q++; }
        ok &= y[q] == 3 && (q + 1 >= sp.seq_len || y[q + 1] == -1);
    }
    CHECK(ok, "targets are the next byte, EOS after the caption, BOS at the first text position");
    batch_free(b);
    t->close(t);
}

/* reasoning rows: pair=separate reads example e as rows 2e (left image) and 2e+1 (right
 * image) with the same statement, only row 2e scored; pair=joint, from the same seed, reads
 * the same examples as one row holding both images */
static void test_reasoning_rows(void) {
    char err[1024];
    TaskOptions opt = options();
    Task *sep = task_open("reasoning", &opt, err, sizeof err);
    opt.value_ctx = CODEBOOK16_JOINT;
    Task *joint = task_open("reasoning", &opt, err, sizeof err);
    CHECK(sep && joint, "%s", err);
    if (!sep || !joint) return;
    TaskSpec ss = sep->spec, js = joint->spec;
    CHECK(ss.group == 2 && ss.n_patches == 16 && ss.images == 1 && js.group <= 1 && js.n_patches == 32 && js.images == 2,
          "separate: 2 rows of one image per example; joint: one row of two images");
    CHECK(ss.seq_len - 17 == js.seq_len - 33 && ss.seq_len - 17 >= 40 && ss.seq_len - 17 <= 80,
          "the text part (%d) is the longest statement", ss.seq_len - 17);
    Batch *bs = batch_alloc_images(8, ss.seq_len, 1, ss.n_patches, ss.patch_dim);
    Batch *bj = batch_alloc_images(4, js.seq_len, 1, js.n_patches, js.patch_dim);
    bs->group = 2;
    sep->next_batch(sep, bs);
    joint->next_batch(joint, bj);
    int ok = 1, D = 16 * ss.patch_dim, Ts = ss.seq_len, Tj = js.seq_len, labels = 0;
    for (int e = 0; e < 4; e++) {
        const int *t0 = bs->tokens + 2 * e * Ts, *t1 = t0 + Ts, *tj = bj->tokens + e * Tj;
        const int *y0 = bs->targets + 2 * e * Ts, *y1 = y0 + Ts, *yj = bj->targets + e * Tj;
        for (int q = 16; q < Ts; q++) {
            ok &= t0[q] == t1[q] && t0[q] == tj[q + 16] && y1[q] == -1 && y0[q] == yj[q + 16];
            ok &= bs->key_mask[2 * e * Ts + q] == bj->key_mask[e * Tj + q + 16];
        }
        ok &= t0[16] == 1 && (y0[16] == 0 || y0[16] == 1);
        labels += y0[16];
        ok &= !memcmp(bs->patches + (size_t)2 * e * D, bj->patches + (size_t)e * 2 * D, sizeof(float) * D);
        ok &= !memcmp(bs->patches + (size_t)(2 * e + 1) * D, bj->patches + (size_t)(e * 2 + 1) * D, sizeof(float) * D);
        ok &= memcmp(bs->patches + (size_t)2 * e * D, bs->patches + (size_t)(2 * e + 1) * D, sizeof(float) * D) != 0;
    }
    CHECK(ok, "both layouts read the same statements and images; only the first row of a pair is scored");
    for (int k = 0; k < 10; k++) {
        sep->next_batch(sep, bs);
        for (int e = 0; e < 4; e++) labels += bs->targets[2 * e * Ts + 16];
    }
    printf("reasoning: %d of 44 sampled statements true\n", labels);
    CHECK(labels >= 10 && labels <= 34, "the scored target is the balanced label (%d of 44 true)", labels);
    batch_free(bs);
    batch_free(bj);
    sep->close(sep);
    joint->close(joint);
}

int main(void) {
    test_emoji_set();
    test_codebook();
    test_transfer();
    test_mmm();
    test_captioning_rows();
    test_reasoning_rows();
    CHECK_FINISH();
}
