/* Configuration keys as the parts that read them declare them: the harness, each task
 * (tasks/task.h) and the route table. A key has a type, a default, a range or a list of
 * choices and a line of help; `harness help run` and the checking of key=value words are
 * derived from the declarations. A leaf: uses nothing of the project. */
#ifndef MOEH_KEYS_H
#define MOEH_KEYS_H
#include <stddef.h>

typedef enum { KEY_INT, KEY_FLOAT, KEY_STR, KEY_ENUM } KeyType;

/* What a key is for. Every declared key has a role (a test walks the table and fails on one
 * without); the harness derives from the roles which keys make two runs the same experiment
 * (the comparable configuration), which a pretraining stage must match to be reused, and which
 * a sweep compares to find a finished run. No list of keys is typed anywhere else. */
typedef enum {
    KEY_ROLE_NONE = 0,     /* undeclared: refused */
    KEY_ROLE_TRAINING,     /* shapes the trained weights (model, schedule, data, init=): the
                            * experiment, and a pretraining stage matches it */
    KEY_ROLE_FINETUNE,     /* shapes a run that starts from a pretraining stage, not that stage
                            * (pretrain_steps=): the experiment */
    KEY_ROLE_EVALUATION,   /* shapes the reported numbers, not the weights: the experiment */
    KEY_ROLE_REPLICATE,    /* tells replicates of one experiment apart (seed=): pretraining matches it */
    KEY_ROLE_SOURCE,       /* where the prepared default data is read (data_dir=): pretraining matches it */
    KEY_ROLE_BOOKKEEPING,  /* how a run is run (threads=, resume=, parallel=): can change the
                            * bits, not the experiment; a sweep compares it when the sweep gives it */
    KEY_ROLE_WATCH,        /* how a run is watched or named (eval_every=, log_every=, name=):
                            * changes neither the weights nor the final numbers (a test trains
                            * twice to show it), so a sweep never compares it: a run finished
                            * with other evaluation points is the same run */
    KEY_ROLE_PLACE,        /* where a run is written (db=, out=): never tells runs apart */
    KEY_ROLE_REQUEST,      /* a request whose stored value is what ran instead (blas_core=):
                            * never tells runs apart */
    KEY_ROLE_RECORDED,     /* written by the harness into the stored configuration, never set by a word */
    KEY_ROLE_COUNT
} KeyRole;

/* what follows from a role */
int key_role_is_experiment(KeyRole r);  /* in the comparable configuration */
int key_role_is_pretraining(KeyRole r); /* a reused pretraining run must match it */
int key_role_is_sweep_identity(KeyRole r); /* a sweep compares it when given */
const char *key_role_name(KeyRole r);

enum {
    /* left out of stored configurations while at its default: a key added after runs were
     * stored without it, whose default computes what they computed, so that their stored
     * (and comparable) configuration text stays the same */
    KEY_OMIT_AT_DEFAULT = 1,
    /* its value can name another run of the same db by id (init=RUN_ID, from=): merging runs
     * into another db remaps it */
    KEY_NAMES_RUN = 2,
    /* means something only to these models: left out of the others' comparable configuration */
    KEY_FOR_MOE = 4,    /* smoe, xmoe, mhmoe */
    KEY_FOR_ROUTER = 8, /* xmoe, mhmoe (their low-dimensional router) */
    KEY_FOR_MH = 16,    /* mhmoe */
    KEY_FOR_DENSE = 32, /* dense */
};

typedef struct {
    const char *key;
    KeyRole role;
    KeyType type;
    const char *def;      /* NULL: taken from a preset (size=) */
    const char *choices;  /* KEY_ENUM: values separated by '|' */
    double min, max;      /* KEY_INT, KEY_FLOAT */
    const char *help;
    const char *(*choices_of)(void); /* KEY_ENUM whose values come from a table (task=, router=) */
    unsigned flags;       /* KEY_OMIT_AT_DEFAULT | KEY_NAMES_RUN | KEY_FOR_* */
} KeyDef;

/* the '|'-separated values a KEY_ENUM accepts */
const char *key_choices(const KeyDef *k);
/* 1 when v's first n characters are one of the items of list, separated by sep ('|' between
 * choices, ',' in a word's list) */
int list_has(const char *list, char sep, const char *v, size_t n);
/* 0 if value suits k, else -1 with a message naming the key and what it accepts */
int key_check_value(const KeyDef *k, const char *value, char *err, size_t errlen);

/* The names name(0) .. name(count - 1) joined by '|' into buf (for a key's choices); exits
 * with a message if buf is too small rather than cutting a name off. */
const char *key_join_names(char *buf, size_t n, const char *(*name)(int i), int count);
/* A command's own NAME=VALUE words (db=, out=, fig=, ...): for each word, the value of the
 * names[k] it starts with into values[k] (which hold the defaults). 0, or -1 after printing
 * "error: 'WORD': expected NAME=, ... or NAME=" for a word that is none of them. */
int key_take_words(int argc, char **argv, const char *const *names, const char **values, int n);

#endif
