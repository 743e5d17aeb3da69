#ifndef MOEH_REASONING_H
#define MOEH_REASONING_H
#include "task.h"
/* task=reasoning: a statement about two images -> true or false (NLVR2 style). A sequence is
 * the left image's patches, the right image's patches, a [CLS] byte and the statement's bytes;
 * the [CLS] position classifies. Metric: accuracy (chance 0.5; the labels are balanced).
 * Default data: the scenes set; data=PATH: the official NLVR2 files as downloaded (train.json,
 * dev.json, test1.json; images/train/DIRECTORY/, dev/, test1/), or the harness's layout:
 * train/valid/test subfolders holding nlvr2.jsonl whose left_url / right_url are paths
 * relative to that subfolder. */
Task *reasoning_open(const TaskOptions *opt, char *err, size_t errlen);
#endif
