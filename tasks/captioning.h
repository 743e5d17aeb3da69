#ifndef MOEH_CAPTIONING_H
#define MOEH_CAPTIONING_H
#include "task.h"
/* task=captioning: caption generation on a COCO-captions-style set. A sequence is
 * [image patches ; BOS ; caption bytes ; EOS] read as a prefix language model (the patches see
 * each other, the text is causal); training predicts each next byte. Evaluation: teacher-forced
 * loss and perplexity, and greedy decoding scored with BLEU-4, CIDEr-D and ROUGE-L against
 * every reference caption; blind baselines (one constant caption; a random training caption)
 * are reported by describe. */
Task *captioning_open(const TaskOptions *opt, char *err, size_t errlen);
#endif
