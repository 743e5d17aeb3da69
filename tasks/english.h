#ifndef MOEH_ENGLISH_H
#define MOEH_ENGLISH_H
#include "task.h"
/* task=english: causal byte-level language modelling of English prose */
Task *english_open(const TaskOptions *opt, char *err, size_t errlen);
#endif
