#ifndef MOEH_RUN_H
#define MOEH_RUN_H
#include "config.h"
/* `harness run`: trains and evaluates one configuration, everything logged to results.db.
 * Returns the process exit code: 0 done, 1 failed or diverged, 2 bad input, 130 interrupted. */
int harness_run(Config *cfg);
/* threads=N applied to OpenMP and OpenBLAS (0: all cores); returns the count used */
int set_threads(long n);
#endif
