#include "atomic_file.h"
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_write(const char *path, const FilePart *parts, int n_parts, char *err, size_t errlen) {
    return atomic_write_then(path, parts, n_parts, NULL, NULL, err, errlen);
}

FILE *atomic_open(const char *path, char *err, size_t errlen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w+b");
    if (!f) snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
    return f;
}

int atomic_close_then(FILE *f, int written, const char *path, BeforeRename before_rename, void *ctx, char *err,
                      size_t errlen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int ok = written && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    if (before_rename && before_rename(ctx, err, errlen)) {
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int atomic_write_then(const char *path, const FilePart *parts, int n_parts, BeforeRename before_rename, void *ctx,
                      char *err, size_t errlen) {
    FILE *f = atomic_open(path, err, errlen);
    if (!f) return -1;
    int ok = 1;
    for (int i = 0; i < n_parts && ok; i++) ok = parts[i].n == 0 || fwrite(parts[i].p, parts[i].n, 1, f) == 1;
    return atomic_close_then(f, ok, path, before_rename, ctx, err, errlen);
}

int file_check_regular(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) return 0;
    const char *what = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode) ? "a block device" : S_ISDIR(st.st_mode) ? "a folder"
                       : S_ISSOCK(st.st_mode) ? "a socket" : "not a file";
    snprintf(err, errlen, "%s: expected a regular file, found %s", path, what);
    return -1;
}

FILE *file_open_regular(const char *path, char *err, size_t errlen) {
    if (file_check_regular(path, err, errlen)) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return f;
}

int file_read_whole(const char *path, void **bytes, size_t *n) {
    char why[64];
    if (file_check_regular(path, why, sizeof why)) { errno = EINVAL; return -1; }
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            char *grown = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!grown) { free(buf); fclose(f); errno = ENOMEM; return -1; }
            buf = grown;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); errno = EIO; return -1; }
    *bytes = buf;
    *n = len;
    return 0;
}

int file_make_dir(const char *path, char *err, size_t errlen) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    snprintf(err, errlen, "%s: cannot make the folder: %s", path, strerror(errno));
    return -1;
}
