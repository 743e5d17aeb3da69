/* What a run is, for comparisons: the configuration two runs must share to be compared (the
 * seed, the bookkeeping and the keys that do not apply to the model left out), and a short
 * name of the variant for tables. */
#ifndef MOEH_RUN_IDENTITY_H
#define MOEH_RUN_IDENTITY_H
#include "config.h"
#include <stddef.h>

/* JSON (malloc'd): the resolved configuration without the seed, the bookkeeping keys, the
 * recorded keys and the MoE keys the model does not have (all of them for dense; heads, parity
 * and mh_residual for smoe and xmoe; router_dim and gate for smoe too) */
char *run_comparable_json(const Config *cfg);
/* the configuration keys whose value can name another run of the same db by id (init=RUN_ID,
 * pretrain_run, from=): what merging runs into another db remaps */
extern const char *const RUN_ID_KEYS[];
extern const int RUN_ID_KEY_COUNT;

/* e.g. dense, smoe-8k2, xmoe-32, mhmoe-8h4-params, xmoe-8-dropless */
void run_label(const Config *cfg, int topk_used, char *buf, size_t n);

#endif
