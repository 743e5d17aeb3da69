/* Byte-level BPE: decode(encode(x)) == x for text in Latin, Cyrillic and Han script, for
 * random bytes and for text the merges never saw; it compresses; training is deterministic;
 * a saved tokenizer loads back to the same encoding, and a damaged file names its line. */
#include "check.h"
#include "tasks/bpe.h"
#include "util/rng.h"
#include <string.h>

static const char *SAMPLES[] = {
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.\n",
    "Съешь же ещё этих мягких французских булок, да выпей чаю. В чащах юга жил бы цитрус?\n",
    "天地玄黃，宇宙洪荒。日月盈昃，辰宿列張。寒來暑往，秋收冬藏。床前明月光，疑是地上霜。\n",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. Żółć gęślą jaźń.\n",
};

static int round_trip(const Bpe *b, const unsigned char *x, size_t n, size_t *tokens) {
    int *ids = malloc(sizeof(int) * (n ? n : 1));
    unsigned char *back = malloc(n + 1);
    size_t k = bpe_encode(b, x, n, ids);
    size_t m = bpe_decode(b, ids, k, back);
    int ok = m == n && !memcmp(back, x, n);
    for (size_t i = 0; i < k; i++) ok &= ids[i] >= 0 && ids[i] < bpe_vocab(b);
    if (tokens) *tokens = k;
    free(ids);
    free(back);
    return ok;
}

int main(void) {
    /* training text: the samples, many times, in shuffled order */
    size_t cap = 1 << 20, n = 0;
    unsigned char *text = malloc(cap);
    Rng r;
    rng_seed(&r, 4);
    while (n < 200000) {
        const char *s = SAMPLES[rng_below(&r, 4)];
        size_t l = strlen(s);
        memcpy(text + n, s, l);
        n += l;
    }
    Bpe *b = bpe_train(text, n, 1024);
    CHECK(b && bpe_vocab(b) > 300, "trained vocab %d", b ? bpe_vocab(b) : 0);
    size_t tokens;
    for (int i = 0; i < 4; i++) {
        CHECK(round_trip(b, (const unsigned char *)SAMPLES[i], strlen(SAMPLES[i]), &tokens), "sample %d round trip", i);
        printf("sample %d: %zu bytes -> %zu tokens\n", i, strlen(SAMPLES[i]), tokens);
        CHECK(tokens * 2 < strlen(SAMPLES[i]), "sample %d barely compressed: %zu tokens", i, tokens);
    }
    CHECK(round_trip(b, text, n, NULL), "training text round trip");
    unsigned char noise[4096];
    for (int i = 0; i < 4096; i++) noise[i] = (unsigned char)rng_below(&r, 256);
    CHECK(round_trip(b, noise, sizeof noise, NULL), "random bytes round trip");
    const char *unseen = "Nový text: 我们 never saw это. \n\n\t  tabs and  spaces\n";
    CHECK(round_trip(b, (const unsigned char *)unseen, strlen(unseen), NULL), "unseen text round trip");
    CHECK(round_trip(b, (const unsigned char *)"", 0, NULL), "empty text");

    Bpe *b2 = bpe_train(text, n, 1024);
    char err[512];
    CHECK(bpe_save(b, "test_bpe.txt", err, sizeof err) == 0, "%s", err);
    Bpe *b3 = bpe_load("test_bpe.txt", err, sizeof err);
    CHECK(b3 != NULL, "load: %s", err);
    int *i1 = malloc(sizeof(int) * n), *i2 = malloc(sizeof(int) * n), *i3 = malloc(sizeof(int) * n);
    size_t k1 = bpe_encode(b, text, n, i1), k2 = bpe_encode(b2, text, n, i2), k3 = b3 ? bpe_encode(b3, text, n, i3) : 0;
    CHECK(k1 == k2 && !memcmp(i1, i2, k1 * sizeof(int)), "training is deterministic");
    CHECK(k1 == k3 && !memcmp(i1, i3, k1 * sizeof(int)), "a saved tokenizer encodes the same");
    FILE *f = fopen("test_bpe.txt", "a");
    fputs("12 oops\n", f);
    fclose(f);
    f = fopen("test_bpe.txt", "r+");
    fputs("moeh-bpe 1 merges 999", f);
    fclose(f);
    Bpe *bad = bpe_load("test_bpe.txt", err, sizeof err);
    CHECK(!bad && strstr(err, "test_bpe.txt") && strstr(err, "line"), "damaged file: %s", err);
    CHECK(bpe_train(text, n, 100) == NULL, "vocab below 257 accepted");
    remove("test_bpe.txt");
    free(i1); free(i2); free(i3); free(text);
    bpe_free(b); bpe_free(b2); bpe_free(b3);
    CHECK_FINISH();
}
