#ifndef MOEH_VQA_H
#define MOEH_VQA_H
#include "task.h"
/* task=vqa: question + image -> answer class (VQAv2 style). A sequence is the image's patches,
 * a [CLS] byte, then the question's bytes (padding masked); the [CLS] position predicts the
 * answer among the training answers. Metric: VQA accuracy. Default data: the scenes set
 * (harness data prepare scenes); data=PATH: a folder with train/valid/test subfolders holding
 * vqa_questions.json, vqa_annotations.json and images/IMAGE_ID.png. */
Task *vqa_open(const TaskOptions *opt, char *err, size_t errlen);
#endif
