/* Run configuration: key=value words checked against the declared keys (type, default, range,
 * help: util/keys.h), the harness's own and those each task declares (tasks/task.h). size=
 * presets fill the model and schedule keys the user did not set; a task may preset more. */
#ifndef MOEH_CONFIG_H
#define MOEH_CONFIG_H
#include "util/keys.h"
#include <stdio.h>

typedef struct Config Config;

Config *config_new(void);
void config_free(Config *c);
/* -1 with a message naming both words when two of the words set the same key (the harness
 * refuses a key given twice instead of letting the later one win silently) */
int config_duplicate_word(int n, const char *const *words, char *err, size_t errlen);
/* Sets one key from "key=value"; on an unknown key or a bad value returns -1 with a message
 * that names the key, what it accepts, and the nearest known key. */
int config_set(Config *c, const char *word, char *err, size_t errlen);
/* Stores what ran (the kernel, the library) under key, whatever the word said */
void config_record(Config *c, const char *key, const char *value);
/* Fills every key not set explicitly from the size preset, then the task preset (reasoning:
 * batch), then the defaults. */
void config_resolve(Config *c);
/* Unsets in `to` the keys whose value in `from` came from from's task preset, so that `to`
 * (a pretraining stage's config, built from a finetune's) resolves them for its own task. */
void config_drop_task_defaults(const Config *from, Config *to);
int config_is_set(const Config *c, const char *key);
/* NULL if key is a run key, else the nearest one (for the message) */
const char *config_unknown_key(const char *key);

long config_int(const Config *c, const char *key);
double config_float(const Config *c, const char *key);
const char *config_str(const Config *c, const char *key);

/* All resolved keys as one JSON object (malloc'd). */
char *config_to_json(const Config *c);

/* JSON (malloc'd) of the experiment keys (util/keys.h) that a stored configuration leaves out
 * at their default (KEY_OMIT_AT_DEFAULT), with those defaults: what a comparison reads for a
 * run that does not name one */
char *config_omitted_defaults_json(void);
/* Chooses keys by their declaration: k, the task that declared it (NULL for the harness's and
 * the routes' keys), and the caller's context */
typedef int (*ConfigKeyFilter)(const KeyDef *k, const char *owner, const void *ctx);
/* the resolved keys keep() accepts, as JSON (malloc'd) */
char *config_to_json_where(const Config *c, ConfigKeyFilter keep, const void *ctx);
/* the names of the declared keys keep() accepts, in table order; their count */
int config_keys_where(const char **keys, int cap, ConfigKeyFilter keep, const void *ctx);
/* every declared key, i from 0 to config_key_count() - 1 (owner as for ConfigKeyFilter) */
int config_key_count(void);
const KeyDef *config_key_at(int i, const char **owner);
/* NULL if key is not declared */
const KeyDef *config_key_def(const char *key);
/* Sets every key of a JSON object made by config_to_json (keys this build does not know are
 * reported as an error). Keys already set are kept, so explicit words override. */
int config_merge_json(Config *c, const char *json, char *err, size_t errlen);
/* config_merge_json of a stored run's configuration under the words given now (from=): when
 * those change size= or task=, a key the stored run holds at its own size's (task's) preset
 * value is not kept but left to the new size's (task's) preset, as if the run had been given
 * the new one; values the stored run set otherwise are kept. */
int config_merge_stored(Config *c, const char *json, char *err, size_t errlen);

/* a TaskOptions.value over a resolved Config (ctx) */
const char *config_task_value(const void *cfg, const char *key);

/* `harness help run`: every key with its default and meaning */
void config_print_help(FILE *f);

#endif
