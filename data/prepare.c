/* english: Debian's `fortunes` package (fortune-mod's English collection: quotations, jokes,
 * literature; BSD-style licence, see /usr/share/doc/fortunes/copyright). Each fortune is one
 * document; fortune files separate them with lines holding only '%'. The offensive set
 * (fortunes-off) is not read, and neither is the ascii-art file, which is drawings. */
#include "prepare.h"
#include "tasks/text_corpus.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void add_fortunes(ByteBuf split[3], const ByteBuf *f, size_t *ndocs) {
    size_t start = 0;
    for (size_t line = 0; line < f->n;) {
        size_t eol = line;
        while (eol < f->n && f->data[eol] != '\n') eol++;
        if (eol - line == 1 && f->data[line] == '%') {
            if (line > start) { add_document(split, f->data + start, line - start); (*ndocs)++; }
            start = eol + 1;
        }
        line = eol + 1;
    }
    if (start < f->n) { add_document(split, f->data + start, f->n - start); (*ndocs)++; }
}

static int make_dir(const char *p, char *err, size_t errlen) {
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create folder: %s", p, strerror(errno));
        return -1;
    }
    return 0;
}

static int prepare_english(const char *data_dir, const char *source, char *err, size_t errlen) {
    if (!source) source = FORTUNES_DIR;
    DIR *d = opendir(source);
    if (!d) {
        snprintf(err, errlen, "%s: %s; the default English corpus comes from Debian's fortunes "
                 "package (apt-get install fortunes), or give your own text with data=PATH",
                 source, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        /* skip index files (x.dat), UTF-8 aliases (x.u8), folders and the drawings */
        if (e->d_name[0] == '.' || strchr(e->d_name, '.') || !strcmp(e->d_name, "ascii-art")) continue;
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", source, e->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (n == cap) { cap = cap ? 2 * cap : 64; names = realloc(names, cap * sizeof *names); }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    ByteBuf split[3] = {{0}};
    size_t ndocs = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char p[4200];
        ByteBuf f = {0};
        snprintf(p, sizeof p, "%s/%s", source, names[i]);
        if (!rc && (rc = read_whole_file(p, &f, err, errlen)) == 0) add_fortunes(split, &f, &ndocs);
        bytebuf_free(&f);
        free(names[i]);
    }
    free(names);
    if (!rc && ndocs == 0) {
        snprintf(err, errlen, "%s: found no fortunes (files of text separated by lines holding only '%%')", source);
        rc = -1;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/english", data_dir);
    if (!rc) rc = make_dir(data_dir, err, errlen) || make_dir(dir, err, errlen);
    static const char *const files[3] = {"train.txt", "valid.txt", "test.txt"};
    for (int s = 0; s < 3 && !rc; s++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/%s", dir, files[s]);
        rc = write_whole_file(p, split[s].data, split[s].n, err, errlen);
    }
    if (!rc)
        printf("data prepare english: %zu fortunes from %s -> %s (train %zu, valid %zu, test %zu bytes)\n",
               ndocs, source, dir, split[0].n, split[1].n, split[2].n);
    for (int s = 0; s < 3; s++) bytebuf_free(&split[s]);
    return rc;
}

int data_prepare(const char *name, const char *data_dir, const char *source, char *err, size_t errlen) {
    if (!strcmp(name, "english")) return prepare_english(data_dir, source, err, errlen);
    snprintf(err, errlen, "data prepare %s: no such data set (known: english)", name);
    return -1;
}
