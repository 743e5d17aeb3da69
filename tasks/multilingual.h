#ifndef MOEH_MULTILINGUAL_H
#define MOEH_MULTILINGUAL_H
#include "task.h"
/* task=multilingual (task_multilingual in the task table): causal byte-level LM over several languages, each sequence drawn from
 * one language picked with probability proportional to (its training bytes)^lang_alpha (XLM),
 * so that small languages are not drowned; metrics and activations per language. */
/* p_i = n_i^alpha / sum_j n_j^alpha */
void language_probs(const size_t *sizes, int n, double alpha, double *probs);
#endif
