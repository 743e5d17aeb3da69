#include "xalloc.h"
#include <stdio.h>
#include <stdlib.h>

static void out_of_memory(size_t bytes, const char *file, int line) {
    fprintf(stderr, "error: out of memory: %zu bytes could not be allocated (%s:%d); use smaller data or settings\n",
            bytes, file, line);
    exit(2);
}

/* a request of 0 bytes gets 1, so a NULL always means failure */
void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n, file, line);
    return p;
}

void *xcalloc_at(size_t n, size_t size, const char *file, int line) {
    if (size && n > (size_t)-1 / size) out_of_memory((size_t)-1, file, line);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(n * size, file, line);
    return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n, file, line);
    return q;
}
