#ifndef MOEH_SWEEP_H
#define MOEH_SWEEP_H
/* `harness sweep key=a,b ...` and `harness sweep paper`; see sweep.c */
#include <stdio.h>
int harness_sweep(int argc, char **argv);
/* the named grids, two lines each (for usage) */
void sweep_print_named(FILE *f);
#endif
