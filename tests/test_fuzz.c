/* A seeded mutation fuzzer over the input paths a user's files reach: the config parser (one
 * key=value word), the VQAv2, NLVR2, COCO-captions and Karpathy loaders (through the JSON
 * stream), and image decoding into patches. Each input is a valid seed mutated (bytes flipped,
 * inserted, deleted, repeated, and tokens that broke loaders before: negative and huge ids,
 * 1e400, nulls, unbalanced brackets). A loader may accept or refuse an input; the test fails
 * only by crashing, which CI's AddressSanitizer + UndefinedBehaviorSanitizer build turns any
 * memory or integer error into. Prints how many inputs each target took.
 *   test_fuzz [INPUTS=20000] [SEED=1] */
#include "check.h"
#include "harness/config.h"
#include "tasks/vision_data.h"
#include <stdint.h>
#include <string.h>
#include <stb/stb_image_write.h>

static uint64_t state;
static uint32_t next_u32(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(state >> 33);
}
static size_t below(size_t n) { return n ? next_u32() % n : 0; }

static const char *const TOKENS[] = {"-1", "1e400", "-1e400", "2.5", "9223372036854775808", "4294967296", "null", "true",
                                     "[]", "{}", "\"\"", "\"", "\\", "\\u0000", ",", ":", "[", "]", "{", "}", "\n",
                                     "\"answers\"", "\"image_id\"", "\"question_id\"", "\"id\"", "\"label\"", "NaN", "0"};

/* mutates buf (n bytes, room for cap) in place a few times; returns the new length */
static size_t mutate(unsigned char *buf, size_t n, size_t cap) {
    int rounds = 1 + (int)below(4);
    for (int r = 0; r < rounds; r++) {
        switch (below(6)) {
        case 0: if (n) buf[below(n)] ^= (unsigned char)(1u << below(8)); break;
        case 1: if (n) buf[below(n)] = (unsigned char)below(256); break;
        case 2: if (n < cap) { size_t at = below(n + 1); memmove(buf + at + 1, buf + at, n - at); buf[at] = (unsigned char)below(256); n++; } break;
        case 3: if (n > 1) { size_t at = below(n), len = 1 + below(n - at < 16 ? n - at : 16); memmove(buf + at, buf + at + len, n - at - len); n -= len; } break;
        case 4: { /* repeat a span */
            if (!n) break;
            size_t at = below(n), len = 1 + below(n - at < 32 ? n - at : 32), to = below(n + 1);
            if (n + len > cap) break;
            unsigned char span[32];
            memcpy(span, buf + at, len);
            memmove(buf + to + len, buf + to, n - to);
            memcpy(buf + to, span, len);
            n += len;
            break;
        }
        default: { /* an interesting token */
            const char *t = TOKENS[below(sizeof TOKENS / sizeof TOKENS[0])];
            size_t len = strlen(t), at = below(n + 1);
            if (n + len > cap) break;
            memmove(buf + at + len, buf + at, n - at);
            memcpy(buf + at, t, len);
            n += len;
        }
        }
    }
    return n;
}

static void write_bytes(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

#define CAP (1 << 16)
static unsigned char buf[CAP], image_seed[CAP];
static size_t image_seed_n;

static void png_to_seed(void *ctx, void *data, int size) {
    (void)ctx;
    if (image_seed_n + (size_t)size <= CAP) { memcpy(image_seed + image_seed_n, data, (size_t)size); image_seed_n += (size_t)size; }
}

int main(int argc, char **argv) {
    long inputs = argc > 1 ? atol(argv[1]) : 20000;
    state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    static const char *const QUESTIONS = "{\"info\": {}, \"questions\": [{\"image_id\": 9, \"question\": \"what?\", \"question_id\": 90},"
                                         " {\"image_id\": 10, \"question\": \"how many?\", \"question_id\": 100}]}";
    static const char *const ANNOTATIONS = "{\"annotations\": [{\"question_id\": 90, \"image_id\": 9, \"answers\": [{\"answer\": \"Red.\"},"
                                           " {\"answer\": \"two\"}], \"multiple_choice_answer\": \"red\"}, {\"question_id\": 100,"
                                           " \"multiple_choice_answer\": \"2\"}]}";
    static const char *const NLVR2 = "{\"sentence\": \"one dog.\", \"left_url\": \"a.png\", \"right_url\": \"b.png\", \"label\": \"True\","
                                     " \"identifier\": \"train-1-0-0\", \"directory\": 3}\n"
                                     "{\"sentence\": \"two dogs.\", \"left_url\": \"c.png\", \"right_url\": \"d.png\", \"label\": \"False\"}\n";
    static const char *const COCO = "{\"images\": [{\"id\": 57870, \"file_name\": \"COCO_train2014_000000057870.jpg\"}],"
                                    " \"annotations\": [{\"image_id\": 57870, \"id\": 1, \"caption\": \"A table.\"}]}";
    static const char *const KARPATHY = "{\"images\": [{\"filepath\": \"val2014\", \"filename\": \"x.jpg\", \"split\": \"restval\","
                                        " \"sentences\": [{\"raw\": \"A cow.\"}], \"cocoid\": 5}], \"dataset\": \"coco\"}";
    static const char *const WORDS[] = {"steps=10", "model=mhmoe", "lr=1e-3", "name=run", "experts=8", "capacity=1.25",
                                        "data=path/to/data", "parity=flops", "heads=4"};
    unsigned char px[16 * 16 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (unsigned char)(i * 7);
    stbi_write_png_to_func(png_to_seed, NULL, 16, 16, 3, px, 16 * 3);
    CHECK(image_seed_n > 0, "a PNG seed");
    const char *names[7] = {"config", "vqa questions", "vqa annotations", "nlvr2", "coco", "karpathy", "image"};
    long count[7] = {0}, accepted[7] = {0};
    char err[1024];
    write_bytes("fuzz_q.json", (const unsigned char *)QUESTIONS, strlen(QUESTIONS));
    write_bytes("fuzz_a.json", (const unsigned char *)ANNOTATIONS, strlen(ANNOTATIONS));
    for (long it = 0; it < inputs; it++) {
        int target = (int)below(7);
        const char *seed = target == 0 ? WORDS[below(sizeof WORDS / sizeof WORDS[0])] : target == 1 ? QUESTIONS
                         : target == 2 ? ANNOTATIONS : target == 3 ? NLVR2 : target == 4 ? COCO : target == 5 ? KARPATHY : NULL;
        size_t n = seed ? strlen(seed) : image_seed_n;
        memcpy(buf, seed ? (const unsigned char *)seed : image_seed, n);
        n = mutate(buf, n, CAP - 1);
        buf[n] = 0;
        int ok = 0;
        count[target]++;
        if (target == 0) {
            Config *c = config_new();
            ok = config_set(c, (const char *)buf, err, sizeof err) == 0;
            config_free(c);
        } else if (target <= 2) {
            write_bytes(target == 1 ? "fuzz_q.json" : "fuzz_a.json", buf, n);
            VqaItem *items;
            int k;
            ok = vqa_load("fuzz_q.json", "fuzz_a.json", (ImageHalf)((int)below(3) - 1), &items, &k, err, sizeof err) == 0;
            if (ok) free(items);
            write_bytes(target == 1 ? "fuzz_q.json" : "fuzz_a.json", (const unsigned char *)(target == 1 ? QUESTIONS : ANNOTATIONS),
                        strlen(target == 1 ? QUESTIONS : ANNOTATIONS));
        } else if (target == 3) {
            write_bytes("fuzz.jsonl", buf, n);
            Nlvr2Item *items;
            int k;
            ok = nlvr2_load("fuzz.jsonl", (int)below(2), &items, &k, err, sizeof err) == 0;
            if (ok) free(items);
        } else if (target <= 5) {
            write_bytes("fuzz_c.json", buf, n);
            CocoImage *images;
            int k;
            ok = (target == 4 ? coco_captions_load("fuzz_c.json", IMAGES_ALL, &images, &k, err, sizeof err)
                              : coco_karpathy_load("fuzz_c.json", "train restval", &images, &k, err, sizeof err)) == 0;
            if (ok) free(images);
        } else {
            write_bytes("fuzz.png", buf, n);
            static float patches[16 * 16 * 3];
            ok = image_load_patches("fuzz.png", 16, 8, patches, err, sizeof err) == 0;
        }
        accepted[target] += ok;
        CHECK(ok || *err, "target %s refused an input without saying why", names[target]);
        err[0] = 0;
    }
    for (int t = 0; t < 7; t++) printf("fuzz %-16s %6ld inputs, %6ld accepted\n", names[t], count[t], accepted[t]);
    remove("fuzz_q.json"); remove("fuzz_a.json"); remove("fuzz.jsonl"); remove("fuzz_c.json"); remove("fuzz.png");
    CHECK_FINISH();
}
