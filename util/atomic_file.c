#include "atomic_file.h"
#include <errno.h>
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
