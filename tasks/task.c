#include "task.h"
#include "english.h"
#include "multilingual.h"
#include "vqa.h"
#include "reasoning.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const SPLIT_NAMES[3] = {"train", "valid", "test"};

Task *task_open(const char *name, const TaskOptions *opt, char *err, size_t errlen) {
    if (!strcmp(name, "english")) return english_open(opt, err, errlen);
    if (!strcmp(name, "multilingual")) return multilingual_open(opt, err, errlen);
    if (!strcmp(name, "vqa")) return vqa_open(opt, err, errlen);
    if (!strcmp(name, "reasoning")) return reasoning_open(opt, err, errlen);
    snprintf(err, errlen, "task=%s: no such task (known: english, multilingual, vqa, reasoning)", name);
    return NULL;
}
