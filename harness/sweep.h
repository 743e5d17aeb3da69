#ifndef MOEH_SWEEP_H
#define MOEH_SWEEP_H
/* `harness sweep key=a,b ...` and `harness sweep paper`; see sweep.c */
int harness_sweep(int argc, char **argv);
#endif
