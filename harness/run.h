#ifndef MOEH_RUN_H
#define MOEH_RUN_H
#include "config.h"
/* `harness run`: trains and evaluates one configuration, everything logged to results.db.
 * Returns the process exit code: 0 done, 1 failed or diverged, 2 bad input, 130 interrupted. */
int harness_run(Config *cfg);
/* a finetune (resolved config) that will start with its task=mmm pretraining stage */
int run_needs_pretraining(const Config *cfg);
/* The model's configuration from resolved run keys and a task's spec: NULL, or a message
 * naming the keys that do not fit together. */
#include "models/model.h"
#include "tasks/task.h"
const char *model_config_from(const Config *cfg, const TaskSpec *spec, ModelConfig *mc);
/* what task_open needs, from resolved run keys */
TaskOptions run_task_options(const Config *cfg);
/* `harness bench`: training and evaluation throughput of each variant */
int harness_bench(int argc, char **argv);
/* threads=N applied to OpenMP and OpenBLAS (0: all cores); returns the count used */
int set_threads(long n);
#endif
