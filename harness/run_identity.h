/* What a run is, for comparisons: the configuration two runs must share to be compared (the
 * seed, the bookkeeping and the keys that do not apply to the model left out), and a short
 * name of the variant for tables. */
#ifndef MOEH_RUN_IDENTITY_H
#define MOEH_RUN_IDENTITY_H
#include "config.h"
#include <stddef.h>

/* JSON (malloc'd): the keys whose role makes the experiment (util/keys.h), less those declared
 * for models other than this one (KEY_FOR_MOE for dense; KEY_FOR_ROUTER for dense and smoe;
 * KEY_FOR_MH but for mhmoe) and less init= when the pretraining stage set it */
char *run_comparable_json(const Config *cfg);
/* the configuration keys whose value can name another run of the same db by id (declared
 * KEY_NAMES_RUN: init=RUN_ID, pretrain_run, from=): what merging runs into another db remaps;
 * their count */
int run_id_keys(const char **keys, int cap);

/* e.g. dense, smoe-8k2, xmoe-32, mhmoe-8h4-params, xmoe-8-dropless */
void run_label(const Config *cfg, int topk_used, char *buf, size_t n);

#endif
