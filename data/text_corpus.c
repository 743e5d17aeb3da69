#include "util/xalloc.h"
#include "text_corpus.h"
#include "util/atomic_file.h"
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

int bytebuf_append(ByteBuf *b, const void *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        unsigned char *d = xrealloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->n, p, n);
    b->n += n;
    b->data[b->n] = 0;
    return 0;
}

void bytebuf_free(ByteBuf *b) { free(b->data); memset(b, 0, sizeof *b); }

int read_whole_file(const char *path, ByteBuf *out, char *err, size_t errlen) {
    if (file_check_regular(path, err, errlen)) return -1;
    gzFile f = gzopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0)
        if (bytebuf_append(out, buf, (size_t)n)) { gzclose(f); snprintf(err, errlen, "%s: out of memory", path); return -1; }
    int bad = n < 0;
    if (bad) { int e; snprintf(err, errlen, "%s: read error: %s", path, gzerror(f, &e)); }
    gzclose(f);
    return bad ? -1 : 0;
}

int write_whole_file(const char *path, const void *p, size_t n, char *err, size_t errlen) {
    FilePart part = {p, n};
    return atomic_write(path, &part, 1, err, errlen);
}

int document_split(const unsigned char *doc, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) { h ^= doc[i]; h *= 0x100000001b3ull; }
    int bucket = (int)(h % 100);
    return bucket < 90 ? 0 : bucket < 95 ? 1 : 2;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void add_document(ByteBuf split[3], const unsigned char *doc, size_t n) {
    while (n && is_space(*doc)) { doc++; n--; }
    while (n && is_space(doc[n - 1])) n--;
    if (!n) return;
    ByteBuf *b = &split[document_split(doc, n)];
    if (b->n) bytebuf_append(b, "\n\n", 2);
    bytebuf_append(b, doc, n);
}

/* documents are separated by one or more blank lines */
static void add_paragraphs(ByteBuf split[3], const unsigned char *p, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != '\n') continue;
        size_t j = i + 1;
        while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r')) j++;
        if (j < n && p[j] == '\n') {
            add_document(split, p + start, i - start);
            while (j < n && is_space(p[j])) j++;
            start = j;
            i = j - 1;
        }
    }
    if (start < n) add_document(split, p + start, n - start);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_tree(const char *path, ByteBuf split[3], int *nfiles, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    if (!S_ISDIR(st.st_mode)) {
        ByteBuf b = {0};
        if (read_whole_file(path, &b, err, errlen)) return -1;
        add_paragraphs(split, b.data, b.n);
        bytebuf_free(&b);
        (*nfiles)++;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) { snprintf(err, errlen, "%s: cannot list: %s", path, strerror(errno)); return -1; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) { cap = cap ? 2 * cap : 64; names = xrealloc(names, cap * sizeof *names); }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str); /* names is NULL when the folder is empty */
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char child[4200];
        snprintf(child, sizeof child, "%s/%s", path, names[i]);
        if (!rc) rc = load_tree(child, split, nfiles, err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

int corpus_load(const char *path, ByteBuf split[3], char *err, size_t errlen) {
    static const char *const files[3] = {"train.txt", "valid.txt", "test.txt"};
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", path, files[0]);
    if (stat(p, &st) == 0) {
        for (int s = 0; s < 3; s++) {
            snprintf(p, sizeof p, "%s/%s", path, files[s]);
            if (s == 2 && stat(p, &st) != 0) break; /* test split optional */
            if (read_whole_file(p, &split[s], err, errlen)) return -1;
        }
    } else {
        int nfiles = 0;
        if (load_tree(path, split, &nfiles, err, errlen)) return -1;
        if (!nfiles) { snprintf(err, errlen, "%s: folder holds no files", path); return -1; }
    }
    if (split[0].n < 2 || split[1].n < 2) {
        snprintf(err, errlen, "%s: too little text: %zu bytes for training and %zu for validation "
                 "(documents are cut at blank lines and about 5%% go to validation)", path, split[0].n, split[1].n);
        return -1;
    }
    return 0;
}
