/* Starting a model from another one's weights: a finetune (vqa, reasoning, captioning) from a
 * masked multimodal modelling checkpoint. The backbone (every block, the final norm, the
 * patch and modality embeddings) must have the same shape on both sides and is copied; the
 * token and position tables copy their overlapping rows; the output head copies its first
 * shared_out rows (outputs that mean the same on both sides, e.g. the 256 bytes of a text
 * head) and keeps its fresh initialisation for the rest. */
#ifndef MOEH_TRANSFER_H
#define MOEH_TRANSFER_H
#include "model.h"
#include <stddef.h>

/* dst is built (fresh initialisation). Reads the checkpoint at path (weights only) and copies
 * what it can. 0, with a one-line summary in note; or -1 with err naming the file and the
 * first setting that differs (d_model, layers, model, experts, ...). */
int model_init_from(Model *dst, const char *path, int shared_out, char *note, size_t notelen,
                    char *err, size_t errlen);

#endif
