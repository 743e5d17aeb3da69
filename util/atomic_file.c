#include "atomic_file.h"
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int atomic_write(const char *path, const FilePart *parts, int n_parts, char *err, size_t errlen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) { snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno)); return -1; }
    int ok = 1;
    for (int i = 0; i < n_parts && ok; i++) ok = parts[i].n == 0 || fwrite(parts[i].p, parts[i].n, 1, f) == 1;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int file_read_whole(const char *path, void **bytes, size_t *n) {
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
