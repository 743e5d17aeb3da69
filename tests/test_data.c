/* Text data: the fortune reader on a fixture folder, the hash split, corpus folders, the LM
 * batcher, and errors that name the file. */
#include "check.h"
#include "data/prepare.h"
#include "models/model.h"
#include "tasks/lm.h"
#include "data/text_corpus.h"
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_docs(const ByteBuf *b) {
    int n = b->n ? 1 : 0;
    for (size_t i = 0; i + 1 < b->n; i++) if (b->data[i] == '\n' && b->data[i + 1] == '\n') n++;
    return n;
}

int main(void) {
    char err[1024];
    /* the split is a pure function of the document */
    const unsigned char *doc = (const unsigned char *)"The plural of anecdote is not data.";
    int s = document_split(doc, strlen((const char *)doc));
    CHECK(s >= 0 && s <= 2 && s == document_split(doc, strlen((const char *)doc)), "split is stable");
    int hist[3] = {0};
    for (int i = 0; i < 10000; i++) {
        char d[32];
        snprintf(d, sizeof d, "document number %d", i);
        hist[document_split((unsigned char *)d, strlen(d))]++;
    }
    printf("10000 documents split %d / %d / %d\n", hist[0], hist[1], hist[2]);
    CHECK(hist[0] > 8800 && hist[0] < 9200 && hist[1] > 400 && hist[1] < 600, "90/5/5 split");

    /* prepare from the fixture folder: 9 fortunes, the .dat index skipped */
    CHECK(data_prepare("english", "test_data_dir", MOEH_FIXTURES "/fortunes", err, sizeof err) == 0, "%s", err);
    ByteBuf split[3] = {{0}};
    int docs = 0;
    for (int i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, "test_data_dir/english/%s.txt", i == 0 ? "train" : i == 1 ? "valid" : "test");
        ByteBuf b = {0};
        CHECK(read_whole_file(p, &b, err, sizeof err) == 0, "%s", err);
        docs += count_docs(&b);
        CHECK(!b.n || !memmem(b.data, b.n, "index file", 10), "the .dat file was read as text");
        CHECK(!b.n || !memmem(b.data, b.n, "\n%\n", 3), "a '%%' separator leaked into %s", p);
        bytebuf_free(&b);
    }
    CHECK(docs == 9, "9 fortunes in the fixture, %d written", docs);
    for (int i = 0; i < 3; i++) bytebuf_free(&split[i]);

    CHECK(data_prepare("english", "test_data_dir", "no/such/folder", err, sizeof err) != 0 &&
          strstr(err, "no/such/folder") && strstr(err, "fortunes"), "missing source: %s", err);
    CHECK(data_prepare("klingon", "test_data_dir", NULL, err, sizeof err) != 0 && strstr(err, "klingon"), "%s", err);

    /* a plain text file is cut into paragraphs; 400 paragraphs leave text for every split */
    FILE *f = fopen("test_data_text.txt", "w");
    for (int i = 0; i < 400; i++) fprintf(f, "Paragraph %d says something.\nIt has two lines.\n\n\n", i);
    fclose(f);
    CHECK(corpus_load("test_data_text.txt", split, err, sizeof err) == 0, "%s", err);
    int total = count_docs(&split[0]) + count_docs(&split[1]) + count_docs(&split[2]);
    CHECK(total == 400, "400 paragraphs, %d documents", total);

    /* the LM batcher: targets are the inputs shifted by one */
    LmData lm;
    memset(&lm, 0, sizeof lm);
    lm.split[0] = split[0];
    CHECK(lm_tokenize(&lm, NULL) == 0 && lm.nids[0] == split[0].n, "byte tokens");
    rng_seed(&lm.sampler, 3);
    Batch *b = batch_alloc(4, 16, 0);
    lm_next_batch(&lm, b);
    int shifted = 1;
    for (int i = 0; i < 4; i++) for (int t = 0; t + 1 < 16; t++) shifted &= b->targets[i * 16 + t] == b->tokens[i * 16 + t + 1];
    CHECK(shifted, "targets are the next bytes");
    batch_free(b);
    for (int i = 0; i < 3; i++) free(lm.ids[i]);
    for (int i = 0; i < 3; i++) bytebuf_free(&split[i]);

    CHECK(corpus_load("no/such/corpus", split, err, sizeof err) != 0 && strstr(err, "no/such/corpus"), "%s", err);
    f = fopen("test_data_tiny.txt", "w");
    fputs("too short\n", f);
    fclose(f);
    memset(split, 0, sizeof split);
    CHECK(corpus_load("test_data_tiny.txt", split, err, sizeof err) != 0 && strstr(err, "too little text"), "%s", err);
    unlink("test_data_text.txt");
    unlink("test_data_tiny.txt");
    CHECK_FINISH();
}
