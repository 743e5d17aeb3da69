#include "task.h"
#include "english.h"
#include "multilingual.h"
#include "vqa.h"
#include "reasoning.h"
#include "mmm.h"
#include "captioning.h"
#include "data/prepare.h"
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

const char *const SPLIT_NAMES[3] = {"train", "valid", "test"};

Task *task_open(const char *name, const TaskOptions *opt, char *err, size_t errlen) {
    if (!strcmp(name, "english")) return english_open(opt, err, errlen);
    if (!strcmp(name, "multilingual")) return multilingual_open(opt, err, errlen);
    if (!strcmp(name, "vqa")) return vqa_open(opt, err, errlen);
    if (!strcmp(name, "reasoning")) return reasoning_open(opt, err, errlen);
    if (!strcmp(name, "mmm")) return mmm_open(opt, err, errlen);
    if (!strcmp(name, "captioning")) return captioning_open(opt, err, errlen);
    snprintf(err, errlen, "task=%s: no such task (known: english, multilingual, mmm, vqa, reasoning, captioning)", name);
    return NULL;
}

int task_data_root(const TaskOptions *opt, const char *set, const char *probe, char *root, size_t n,
                   char *err, size_t errlen) {
    /* the image tasks read either generated set by name: data=scenes (default) or data=emoji */
    if (opt->data && !strcmp(set, "scenes") && (!strcmp(opt->data, "emoji") || !strcmp(opt->data, "scenes"))) set = opt->data;
    else if (opt->data && *opt->data) { snprintf(root, n, "%s", opt->data); return 0; }
    snprintf(root, n, "%s/%s", opt->data_dir, set);
    /* runs started side by side (sweep jobs=) prepare a set once: the first holds the lock
     * while it writes, the others wait and then find the set complete. Preparing a set opens
     * its task again (the codebook of scenes reads it through mmm): that inner call is inside
     * the lock already and must not wait for itself. */
    static int lock_held = 0;
    char path[4400], lock_path[4400];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, probe);
    if (lock_held) return stat(path, &st) == 0 ? 0 : data_prepare(set, opt->data_dir, NULL, err, errlen);
    mkdir(opt->data_dir, 0755);
    snprintf(lock_path, sizeof lock_path, "%s/.prepare-%s.lock", opt->data_dir, set);
    int lock = open(lock_path, O_RDWR | O_CREAT, 0644);
    if (lock < 0 || flock(lock, LOCK_EX)) {
        snprintf(err, errlen, "data_dir=%s: cannot lock %s: %s", opt->data_dir, lock_path, strerror(errno));
        if (lock >= 0) close(lock);
        return -1;
    }
    lock_held = 1;
    int rc = stat(path, &st) == 0 ? 0 : data_prepare(set, opt->data_dir, NULL, err, errlen);
    lock_held = 0;
    close(lock); /* releases the lock */
    return rc;
}
