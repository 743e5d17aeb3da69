#ifndef MOEH_COMPARE_H
#define MOEH_COMPARE_H
/* `harness compare by=KEY ...`: the verdicts view as a table; exit code */
int harness_compare(int argc, char **argv);
#endif
