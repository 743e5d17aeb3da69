/* Default text corpora from Debian's fortune packages. Each fortune is one document; fortune
 * files separate them with lines holding only '%'. Documents go to train / valid / test by a
 * hash of their text (data/text_corpus.c).
 *
 * english: `fortunes` (fortune-mod's English collection; BSD licence, see
 *   /usr/share/doc/fortunes/copyright): its files by name (EN_FILES), since other languages'
 *   packages put files and links beside them. The offensive set (fortunes-off) is not read,
 *   nor the ascii-art file (drawings). With source=DIR every fortune file there is read.
 * multilingual: English as above plus fortunes-de, -ru, -pl, -it, -cs, -es (their own
 *   folders) and fortunes-zh (chinese, tang300, song100): 8 languages in Latin, Cyrillic and
 *   Han script. Licences: each package's /usr/share/doc/PACKAGE/copyright. */
#include "util/xalloc.h"
#include "prepare.h"
#include "scenes.h"
#include "emoji.h"
#include "text_corpus.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const ZH_FILES[] = {"chinese", "tang300", "song100", NULL};
/* the English files of fortunes and fortunes-min (the folder also holds other languages'
 * files and links when their packages are installed); ascii-art is left out: drawings */
static const char *const EN_FILES[] = {
    "art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education",
    "ethnic", "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd", "law", "linux",
    "linuxcookie", "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news",
    "paradoxum", "people", "perl", "pets", "platitudes", "politics", "pratchett", "riddles",
    "science", "songs-poems", "sports", "startrek", "tao", "translate-me", "wisdom", "work", "zippy", NULL};

typedef struct { const char *lang, *subdir, *package; const char *const *only; } FortuneSource;

const char *const MULTILINGUAL_LANGS[] = {"en", "de", "ru", "pl", "it", "cs", "es", "zh", NULL};

static const FortuneSource SOURCES[] = {
    {"en", "", "fortunes", EN_FILES}, {"de", "de", "fortunes-de", NULL}, {"ru", "ru", "fortunes-ru", NULL},
    {"pl", "pl", "fortunes-pl", NULL}, {"it", "it", "fortunes-it", NULL}, {"cs", "cs", "fortunes-cs", NULL},
    {"es", "es", "fortunes-es", NULL}, {"zh", "", "fortunes-zh", ZH_FILES},
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int in_list(const char *const *list, const char *name) {
    for (; list && *list; list++) if (!strcmp(*list, name)) return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* terminal colour codes (ESC [ ... letter) in some fortune files are not text */
static void strip_escapes(ByteBuf *f) {
    size_t w = 0;
    for (size_t r = 0; r < f->n; r++) {
        if (f->data[r] == 0x1b && r + 1 < f->n && f->data[r + 1] == '[') {
            r += 2;
            while (r < f->n && !((f->data[r] >= 'A' && f->data[r] <= 'Z') || (f->data[r] >= 'a' && f->data[r] <= 'z'))) r++;
            continue;
        }
        f->data[w++] = f->data[r];
    }
    f->n = w;
}

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

static int make_dirs(const char *path, char *err, size_t errlen) {
    char p[4200];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || !*s) {
            char keep = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "%s: cannot create folder: %s", p, strerror(errno));
                return -1;
            }
            *s = keep;
            if (!keep) break;
        }
    }
    return 0;
}

/* Reads the fortune files of one source folder and writes out_dir/{train,valid,test}.txt.
 * only: if given, the file names to read; otherwise every fortune file except the drawings
 * and the Chinese files. */
static int prepare_fortunes(const char *out_dir, const char *source, const char *package,
                            const char *const *only, char *err, size_t errlen) {
    DIR *d = opendir(source);
    if (!d) {
        snprintf(err, errlen, "%s: %s; this corpus comes from Debian's %s package (apt-get install %s)",
                 source, strerror(errno), package, package);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (nm[0] == '.' || ends_with(nm, ".dat") || ends_with(nm, ".u8")) continue;
        if (only ? !in_list(only, nm) : (in_list(ZH_FILES, nm) || !strcmp(nm, "ascii-art") || !strcmp(nm, "asciiart")))
            continue;
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", source, nm);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (n == cap) { cap = cap ? 2 * cap : 64; names = xrealloc(names, cap * sizeof *names); }
        names[n++] = strdup(nm);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str); /* names is NULL when the folder is empty */
    ByteBuf split[3] = {{0}};
    size_t ndocs = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char p[4200];
        ByteBuf f = {0};
        snprintf(p, sizeof p, "%s/%s", source, names[i]);
        if (!rc && (rc = read_whole_file(p, &f, err, errlen)) == 0) {
            strip_escapes(&f);
            add_fortunes(split, &f, &ndocs);
        }
        bytebuf_free(&f);
        free(names[i]);
    }
    free(names);
    if (!rc && ndocs == 0) {
        snprintf(err, errlen, "%s: found no fortunes (files of text separated by lines holding only '%%')", source);
        rc = -1;
    }
    if (!rc) rc = make_dirs(out_dir, err, errlen);
    static const char *const files[3] = {"train.txt", "valid.txt", "test.txt"};
    for (int s = 0; s < 3 && !rc; s++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/%s", out_dir, files[s]);
        rc = write_whole_file(p, split[s].data, split[s].n, err, errlen);
    }
    if (!rc)
        printf("data prepare: %zu fortunes from %s -> %s (train %zu, valid %zu, test %zu bytes)\n",
               ndocs, source, out_dir, split[0].n, split[1].n, split[2].n);
    for (int s = 0; s < 3; s++) bytebuf_free(&split[s]);
    return rc;
}

int data_prepare(const char *name, const char *data_dir, const char *source, char *err, size_t errlen) {
    char out[4200], src[4200];
    if (!strcmp(name, "english")) {
        snprintf(out, sizeof out, "%s/english", data_dir);
        return prepare_fortunes(out, source ? source : FORTUNES_DIR, "fortunes", source ? NULL : EN_FILES, err, errlen);
    }
    if (!strcmp(name, "multilingual")) {
        /* source, if given, stands for FORTUNES_DIR: the same layout below it */
        const char *root = source ? source : FORTUNES_DIR;
        for (size_t i = 0; i < sizeof SOURCES / sizeof SOURCES[0]; i++) {
            const FortuneSource *s = &SOURCES[i];
            snprintf(out, sizeof out, "%s/multilingual/%s", data_dir, s->lang);
            snprintf(src, sizeof src, "%s%s%s", root, *s->subdir ? "/" : "", s->subdir);
            if (prepare_fortunes(out, src, s->package, s->only, err, errlen)) return -1;
        }
        return 0;
    }
    if (!strcmp(name, "scenes"))
        return scenes_prepare(data_dir, 2000, err, errlen);
    if (!strcmp(name, "emoji"))
        return emoji_prepare(data_dir, source, err, errlen);
    snprintf(err, errlen, "data prepare %s: no such data set (known: english, multilingual, scenes, emoji)", name);
    return -1;
}
