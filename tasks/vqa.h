#ifndef MOEH_VQA_H
#define MOEH_VQA_H
#include "task.h"
/* task=vqa: question + image -> answer class (VQAv2 style). A sequence is the image's patches,
 * a [CLS] byte, then the question's bytes (padding masked); the [CLS] position predicts the
 * answer among the `answers` most frequent training answers. Metric: the official VQA
 * accuracy. Default data: the scenes set (harness data prepare scenes); data=PATH: the
 * official VQAv2 files as downloaded (v2_OpenEnded_mscoco_*_questions.json,
 * v2_mscoco_*_annotations.json, train2014/ and val2014/ images), or the harness's layout:
 * train/valid/test folders holding vqa_questions.json, vqa_annotations.json, images/ID.png. */
Task *vqa_open(const TaskOptions *opt, char *err, size_t errlen);
#endif
