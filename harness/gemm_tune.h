/* gemm=auto: the backend of each GEMM shape of this model, measured. */
#ifndef MOEH_GEMM_TUNE_H
#define MOEH_GEMM_TUNE_H
#include "models/model.h"
#include <stddef.h>

/* Finds the model's GEMM shapes by one training step (at `rows` rows of batch, the rows a
 * training slice has) of a copy of the model built from mc, with the shapes counted; then times
 * whole training steps of the copy with each backend for the products run side by side (the
 * MoE experts, one per thread) and each for the rest, and keeps the fastest pair: the plan gemm
 * follows from then on (models/gemm_plan.h). batch's tokens and targets are overwritten (a
 * fixed pattern); the model it will train is not touched. 0, or -1 (out of memory) with err. */
int gemm_tune(const ModelConfig *mc, Batch *batch, int rows, int n_patches, int patch_dim, float capacity, char *err,
              size_t errlen);

#endif
