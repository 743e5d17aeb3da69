/* The task interface. A task reads its data, fills batches, and evaluates a model through
 * the model's public calls only; it states what it feeds and needs back in a TaskSpec, which
 * is all the model side learns about it. */
#ifndef MOEH_TASK_H
#define MOEH_TASK_H
#include "models/model.h"
#include "util/keys.h"
#include <stddef.h>
#include <stdint.h>

/* what a task feeds the model and what it needs back */
typedef struct {
    int vocab;    /* input token ids are in [0, vocab) */
    int n_out;    /* outputs per position */
    int seq_len;  /* tokens per sequence */
    int causal;   /* 1 for language modelling */
    int needs_mask;           /* batches carry a key padding mask */
    int patch_dim, n_patches; /* image patches before the text (0: text only) */
    int images;               /* the patches are this many images (reasoning pair=joint: 2); 0 or 1: one */
    int group;                /* sequences per example (Batch.group; reasoning pair=separate: 2);
                                 0 or 1: one. The batch size must be a multiple. */
    int text_outputs;         /* outputs [0, text_outputs) predict bytes: what a head initialised
                                 from another task's (init=) may keep; 0 for classifiers */
} TaskSpec;

/* what a task needs from the run configuration: the keys every task reads as fields, the keys
 * a task declares itself (TaskKind.keys) through value() */
typedef struct {
    const char *data;      /* user data path, or "" for the default data set */
    const char *data_dir;  /* where prepared default data sets live */
    int seq_len, batch;
    const char *tokenizer; /* "bytes" or "bpe" */
    int image_size, patch; /* images are resized to image_size and cut into patch x patch */
    int vocab;             /* bpe: vocabulary size */
    int check;             /* harness data check: read the annotations and each image's header,
                              decode nothing, count what is missing instead of failing on it */
    uint64_t seed;
    /* the value of a declared task key as text (already checked against its declaration), or
     * NULL for its default; value NULL: every declared key at its default */
    const char *(*value)(const void *ctx, const char *key);
    const void *value_ctx;
} TaskOptions;

/* A task's declared key: opt->value's text, else the declared default (a key no task declares
 * is an internal error: the message names it and the program exits). */
const char *task_option(const TaskOptions *opt, const char *key);
double task_option_float(const TaskOptions *opt, const char *key);
long task_option_int(const TaskOptions *opt, const char *key);
/* a TaskOptions.value over "key=value" words (ctx: a NULL-terminated array of them) */
const char *task_words_value(const void *words, const char *key);

/* where evaluations put their numbers; the harness points it at results.db */
typedef struct MetricSink {
    void (*put)(struct MetricSink *s, const char *split, const char *name, double value);
    /* a downstream result (the evals table): benchmark, metric, value */
    void (*eval)(struct MetricSink *s, const char *benchmark, const char *metric, double value);
    /* what the model did since the last section call belongs to label (e.g. "valid/de"):
     * lets the harness keep per-language expert-activation histograms beside the global one */
    void (*section)(struct MetricSink *s, const char *label);
    void *ctx;
} MetricSink;

typedef enum { SPLIT_TRAIN, SPLIT_VALID, SPLIT_TEST } Split;
extern const char *const SPLIT_NAMES[3];

typedef struct Task Task;
struct Task {
    TaskSpec spec;
    /* fills batch (B = batch, T = seq_len) with the next training batch */
    void (*next_batch)(Task *t, Batch *batch);
    /* scores the model on a held-out split (its first max_tokens targets; 0: all of it) and
     * reports through sink; uses batch as work space. final: the run's closing pass, whose
     * numbers are the run's result (a periodic pass may spend less: multilingual shares
     * max_tokens among its languages, captioning decodes fewer images) */
    int (*evaluate)(Task *t, Model *m, Batch *batch, Split split, long max_tokens, int final, MetricSink *sink);
    /* zero-shot downstream evaluation at the end of a run (NULL when the task has none) */
    int (*downstream)(Task *t, Model *m, Batch *batch, MetricSink *sink);
    /* numbers that describe the data itself, reported once per run (baselines, sizes) */
    void (*describe)(Task *t, MetricSink *sink);
    /* the sampler's position, saved in checkpoints so a resumed run sees the same batches */
    uint64_t (*get_state)(Task *t);
    void (*set_state)(Task *t, uint64_t state);
    /* writes what a model trained on this task needs besides its weights (the tokenizer) next
     * to a checkpoint: files named prefix + extension; NULL when there is nothing */
    int (*save)(Task *t, const char *prefix, char *err, size_t errlen);
    void (*close)(Task *t);
};

/* Where a task reads its data: data= if given, else data_dir/SET, prepared from the installed
 * packages on first use (when data_dir/SET/probe is missing); for the image tasks (SET
 * "scenes") data=emoji names the other prepared set. 0, or -1 with err. */
int task_data_root(const TaskOptions *opt, const char *set, const char *probe, char *root, size_t n,
                   char *err, size_t errlen);

/* The task table: a task is one file defining one TaskKind, plus its line in TASK_LIST
 * (task.c); the task= key takes the names in this order. */
typedef struct {
    const char *name;  /* the task= value */
    const char *help;
    Task *(*open)(const TaskOptions *opt, char *err, size_t errlen);
    const KeyDef *keys; /* the keys only this task reads (through task_option), n_keys of them */
    int n_keys;
    /* (key, value) pairs over the size preset for the keys the user did not set */
    const char *const (*presets)[2];
    int n_presets;
    /* the task a run of this one starts from (its pretraining stage: pretrain_steps= of that
     * task, unless init= is given); NULL: from scratch */
    const char *pretrained_by;
} TaskKind;

/* a TaskKind's keys and presets from static arrays: .TASK_KEYS(K), .TASK_PRESETS(P) */
#define TASK_KEYS(array) keys = (array), .n_keys = (int)(sizeof(array) / sizeof((array)[0]))
#define TASK_PRESETS(array) presets = (array), .n_presets = (int)(sizeof(array) / sizeof((array)[0]))

extern const TaskKind *const TASK_KINDS[];
extern const int TASK_KIND_COUNT;
/* NULL if no task has that name */
const TaskKind *task_kind_find(const char *name);
/* the names joined by '|' (the task= key's choices) */
const char *task_names(void);

/* Opens task `name`; NULL with a message in err (naming the file or key) on failure. */
Task *task_open(const char *name, const TaskOptions *opt, char *err, size_t errlen);

#endif
