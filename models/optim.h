/* AdamW with bias correction and decoupled weight decay, a learning-rate schedule
 * (linear warmup, then linear or cosine decay to min_lr_frac * lr), and global gradient-norm
 * clipping. Works on the model's flat parameter and gradient buffers. */
#ifndef MOEH_OPTIM_H
#define MOEH_OPTIM_H
#include "model.h"

typedef struct {
    float lr, beta1, beta2, eps, weight_decay, grad_clip, min_lr_frac;
    int warmup, total_steps;
    int cosine; /* 1: cosine decay after warmup, 0: linear */
} OptimConfig;

typedef struct {
    OptimConfig cfg;
    float *m, *v;   /* first and second moments, one per parameter */
    size_t n;
    long step;      /* updates done so far */
} AdamW;

int adamw_init(AdamW *o, const OptimConfig *cfg, size_t n_params);
void adamw_free(AdamW *o);
/* learning rate for update number step (0-based) */
float lr_at(const OptimConfig *cfg, long step);
/* One update of the model's parameters from its gradients. Clips to grad_clip (if > 0)
 * first; returns the gradient norm before clipping (model_grad_norm: a sharded model's
 * processes call it at once). */
double adamw_step(AdamW *o, Model *m);

#endif
