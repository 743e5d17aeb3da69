#include "invariant.h"
#include <stdio.h>
#include <stdlib.h>

_Noreturn void invariant_failed(const char *cond, const char *file, int line) {
    fprintf(stderr, "internal error: %s:%d: invariant '%s' does not hold (a bug in the harness)\n", file, line, cond);
    fflush(stderr);
    abort();
}
