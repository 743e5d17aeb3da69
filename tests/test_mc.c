/* Zero-shot multiple choice and the language sampler: items are well formed (the answer is
 * the document's own continuation, candidates start on character boundaries, lengths match),
 * identical when rebuilt, and a model that learned the text picks the right answers while an
 * untrained one is near chance; languages are drawn with probability ~ size^alpha. */
#include "check.h"
#include "models/model.h"
#include "models/optim.h"
#include "util/rng.h"
#include "tasks/mc_eval.h"
#include "tasks/multilingual.h"
#include <string.h>
#include <sys/stat.h>

static const char *PANGRAM = "the quick brown fox jumps over the lazy dog while five wizards box jack. ";

static void pangram_corpus(ByteBuf *b) {
    int n = (int)strlen(PANGRAM);
    for (int d = 0; d < 60; d++) {
        char doc[200];
        int off = (d * 7) % n, len = 100;
        for (int i = 0; i < len; i++) doc[i] = PANGRAM[(off + i) % n];
        /* documents start and end at word boundaries */
        if (b->n) bytebuf_append(b, "\n\n", 2);
        bytebuf_append(b, doc, len);
    }
}

static void train_on(Model *m, const ByteBuf *text, int steps) {
    OptimConfig oc = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.0f,
                      .grad_clip = 1.0f, .min_lr_frac = 0.1f, .warmup = 10, .total_steps = steps, .cosine = 1};
    AdamW o;
    adamw_init(&o, &oc, m->n_params);
    Batch *b = batch_alloc(m->B, m->T, 0);
    Rng r;
    rng_seed(&r, 3);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < b->B; i++) {
            size_t off = rng_below(&r, text->n - b->T - 1);
            for (int t = 0; t < b->T; t++) { b->tokens[i * b->T + t] = text->data[off + t]; b->targets[i * b->T + t] = text->data[off + t + 1]; }
        }
        model_forward(m, b);
        model_zero_grad(m);
        model_backward(m);
        adamw_step(&o, m);
    }
    adamw_free(&o);
    batch_free(b);
}

static void test_items_and_scores(void) {
    ByteBuf held = {0};
    pangram_corpus(&held);
    McItem items[100], again[100];
    int n = mc_build_items(&held, items, 100, 40, 20);
    CHECK(n >= 40, "%d items from 60 documents", n);
    CHECK(mc_build_items(&held, again, 100, 40, 20) == n && !memcmp(items, again, sizeof(McItem) * n), "items rebuild identically");
    int answers[4] = {0}, ok = 1;
    for (int i = 0; i < n; i++) {
        McItem *it = &items[i];
        answers[it->answer]++;
        ok &= it->cand_off[it->answer] == it->ctx_off + (size_t)it->ctx_len; /* the document's own continuation */
        for (int c = 0; c < MC_CHOICES; c++) {
            int d = it->cand_len[c] - it->cand_len[it->answer];
            if (d < -3 || d > 0) printf("item %d candidate %d: %d bytes, truth %d\n", i, c, it->cand_len[c], it->cand_len[it->answer]);
            ok &= d >= -3 && d <= 0;
            int starts_word = it->cand_off[c] == 0 || held.data[it->cand_off[c] - 1] == ' ' || held.data[it->cand_off[c] - 1] == '\n';
            if (!starts_word) printf("item %d candidate %d starts mid-word: '%.*s'\n", i, c, it->cand_len[c], held.data + it->cand_off[c]);
            ok &= starts_word;
        }
    }
    CHECK(ok, "malformed items");
    CHECK(answers[0] && answers[1] && answers[2] && answers[3], "answers in every position");

    ModelConfig cfg = {.vocab = 256, .n_out = 256, .max_seq = 64, .d_model = 32, .layers = 2, .attn_heads = 4, .ffn_mult = 4, .causal = 1};
    Model m;
    model_build(&m, &cfg, 1);
    model_alloc_batch(&m, 8, 64);
    Batch *b = batch_alloc(8, 64, 0);
    McScore before = mc_score(&held, items, n, &m, b, NULL);
    train_on(&m, &held, 300);
    McScore after = mc_score(&held, items, n, &m, b, NULL);
    printf("multiple choice on %d items: untrained acc %.3f (norm %.3f), trained acc %.3f (norm %.3f)\n",
           n, before.acc, before.acc_norm, after.acc, after.acc_norm);
    CHECK(after.acc >= 0.8 && after.acc_norm >= 0.8, "a model that learned the text should know: acc %g", after.acc);
    CHECK(before.acc_norm <= 0.6, "an untrained model should be near chance: %g", before.acc_norm);
    batch_free(b);
    model_free(&m);
    bytebuf_free(&held);
}

/* a Cyrillic and Han corpus: every cut falls on a character boundary */
static void test_utf8_cuts(void) {
    const char *words[] = {"привет ", "мир ", "книга ", "日本語", "中文字", "漢字 ", "слово "};
    ByteBuf held = {0};
    Rng r;
    rng_seed(&r, 9);
    for (int d = 0; d < 50; d++) {
        if (held.n) bytebuf_append(&held, "\n\n", 2);
        for (int w = 0; w < 20; w++) { const char *x = words[rng_below(&r, 7)]; bytebuf_append(&held, x, strlen(x)); }
    }
    McItem items[60];
    int n = mc_build_items(&held, items, 60, 40, 20), ok = 1;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < MC_CHOICES; c++) {
            ok &= (held.data[items[i].cand_off[c]] & 0xC0) != 0x80;
            ok &= (held.data[items[i].cand_off[c] + items[i].cand_len[c]] & 0xC0) != 0x80;
        }
    CHECK(n >= 20 && ok, "%d items, a candidate cut inside a UTF-8 character", n);
    bytebuf_free(&held);
}

static void write_file(const char *path, char ch, int n) {
    FILE *f = fopen(path, "w");
    /* documents of 50 letters plus a number: distinct, so the hash spreads them over splits */
    for (int i = 0; i < n; i++) { fputc(ch, f); if (i % 50 == 49) fprintf(f, "%d\n\n", i); }
    fclose(f);
}

static void test_language_sampler(void) {
    size_t sizes[3] = {1000, 8000, 64000};
    double p[3];
    language_probs(sizes, 3, 0.7, p);
    double z = pow(1000, 0.7) + pow(8000, 0.7) + pow(64000, 0.7);
    CHECK(fabs(p[0] - pow(1000, 0.7) / z) < 1e-12 && fabs(p[0] + p[1] + p[2] - 1) < 1e-12, "probabilities");
    /* through the task: languages of distinct letters, 40k sequences drawn */
    mkdir("test_mc_langs", 0755);
    write_file("test_mc_langs/a.txt", 'a', 20000);
    write_file("test_mc_langs/b.txt", 'b', 160000);
    write_file("test_mc_langs/c.txt", 'c', 1280000);
    TaskOptions opt = {.data = "test_mc_langs", .data_dir = "unused", .seq_len = 8, .batch = 16, .seed = 1}; /* lang_alpha at its default */
    char err[512];
    Task *t = task_open("multilingual", &opt, err, sizeof err);
    CHECK(t != NULL, "open: %s", err);
    if (!t) return;
    Batch *b = batch_alloc(16, 8, 0);
    long seen[3] = {0}, total = 0;
    for (int k = 0; k < 2500; k++) {
        t->next_batch(t, b);
        for (int i = 0; i < 16; i++) {
            int ch = b->tokens[i * 8];
            for (int j = 0; j < 8; j++) if (b->tokens[i * 8 + j] >= 'a' && b->tokens[i * 8 + j] <= 'c') ch = b->tokens[i * 8 + j];
            if (ch < 'a' || ch > 'c') continue; /* a window of digits only: no letter to tell */
            seen[ch - 'a']++;
            total++;
        }
    }
    /* train sizes are about 90% of each file; alpha = 0.7 */
    size_t tr[3] = {18000, 144000, 1152000};
    language_probs(tr, 3, 0.7, p);
    for (int i = 0; i < 3; i++) {
        double f = (double)seen[i] / total;
        printf("language %c: drawn %.4f, expected %.4f\n", 'a' + i, f, p[i]);
        CHECK(fabs(f - p[i]) < 0.02, "language %c drawn %.4f, expected %.4f", 'a' + i, f, p[i]);
    }
    batch_free(b);
    t->close(t);
}

int main(void) {
    test_items_and_scores();
    test_utf8_cuts();
    test_language_sampler();
    CHECK_FINISH();
}
