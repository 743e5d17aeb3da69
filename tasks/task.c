#include "task.h"
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

/* one line per task, in the order of task= (help lists them so) */
#define TASK_LIST(X) \
    X(task_english)   \
    X(task_multilingual) \
    X(task_mmm)       \
    X(task_vqa)       \
    X(task_reasoning) \
    X(task_captioning)

#define DECLARE(t) extern const TaskKind t;
#define ADDRESS(t) &t,
TASK_LIST(DECLARE)
const TaskKind *const TASK_KINDS[] = {TASK_LIST(ADDRESS)};
const int TASK_KIND_COUNT = (int)(sizeof TASK_KINDS / sizeof TASK_KINDS[0]);

const TaskKind *task_kind_find(const char *name) {
    for (int i = 0; i < TASK_KIND_COUNT; i++)
        if (!strcmp(TASK_KINDS[i]->name, name)) return TASK_KINDS[i];
    return NULL;
}

static const char *task_name(int i) { return TASK_KINDS[i]->name; }

const char *task_names(void) {
    static char names[1024];
    return names[0] ? names : key_join_names(names, sizeof names, task_name, TASK_KIND_COUNT);
}

Task *task_open(const char *name, const TaskOptions *opt, char *err, size_t errlen) {
    const TaskKind *kind = task_kind_find(name);
    if (kind) return kind->open(opt, err, errlen);
    snprintf(err, errlen, "task=%s: no such task (known: %s)", name, task_names());
    return NULL;
}

const char *task_option(const TaskOptions *opt, const char *key) {
    const char *v = opt->value ? opt->value(opt->value_ctx, key) : NULL;
    if (v) return v;
    for (int i = 0; i < TASK_KIND_COUNT; i++)
        for (int k = 0; k < TASK_KINDS[i]->n_keys; k++)
            if (!strcmp(TASK_KINDS[i]->keys[k].key, key)) return TASK_KINDS[i]->keys[k].def;
    fprintf(stderr, "internal error: no task declares the key '%s'\n", key);
    exit(70);
}

double task_option_float(const TaskOptions *opt, const char *key) { return strtod(task_option(opt, key), NULL); }
long task_option_int(const TaskOptions *opt, const char *key) { return strtol(task_option(opt, key), NULL, 10); }

const char *task_words_value(const void *words, const char *key) {
    size_t n = strlen(key);
    for (const char *const *w = words; w && *w; w++)
        if (!strncmp(*w, key, n) && (*w)[n] == '=') return *w + n + 1;
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
