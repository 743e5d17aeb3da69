#ifndef MOEH_PLAN_H
#define MOEH_PLAN_H
/* `harness plan by=KEY target=DELTA ...`: seeds per comparison for a target difference; exit code */
int harness_plan(int argc, char **argv);
#endif
