#ifndef MOEH_MMM_H
#define MOEH_MMM_H
#include "task.h"
/* task=mmm: masked multimodal modelling (BEiT-3's pretraining) on a COCO-captions-style set.
 * A sequence is [image patches ; CLS ; caption bytes]. Rows are image-text pairs (half),
 * text only or image only (a quarter each). A share of the patches (mask_image) is replaced by
 * a [MASK] embedding and must be predicted as its visual token (nearest k-means centre of the
 * codebook); a share of the text bytes (mask_text, 0.5 in pairs) as the byte. One head of 256
 * bytes + codebook tokens. Metric: masked-token perplexity, also split into image and text. */
Task *mmm_open(const TaskOptions *opt, char *err, size_t errlen);
#endif
