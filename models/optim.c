#include "optim.h"
#include "profile.h"
#include <math.h>
#include <stdlib.h>

int adamw_init(AdamW *o, const OptimConfig *cfg, size_t n_params) {
    o->cfg = *cfg;
    o->n = n_params;
    o->step = 0;
    o->m = calloc(n_params, sizeof(float));
    o->v = calloc(n_params, sizeof(float));
    return o->m && o->v ? 0 : -1;
}

void adamw_free(AdamW *o) { free(o->m); free(o->v); o->m = o->v = NULL; }

float lr_at(const OptimConfig *c, long step) {
    if (c->warmup > 0 && step < c->warmup) return c->lr * (float)(step + 1) / c->warmup;
    long span = c->total_steps - c->warmup;
    double frac = span > 0 ? (double)(step - c->warmup) / span : 1.0;
    if (frac > 1) frac = 1;
    double lo = c->min_lr_frac * c->lr;
    double decay = c->cosine ? 0.5 * (1 + cos(M_PI * frac)) : 1 - frac;
    return (float)(lo + (c->lr - lo) * decay);
}

double adamw_step(AdamW *o, Model *m) {
    OpTimer timer = op_begin(OP_OPTIMIZER);
    const OptimConfig *c = &o->cfg;
    double norm = model_grad_norm(m);
    float clip = (c->grad_clip > 0 && norm > c->grad_clip) ? (float)(c->grad_clip / norm) : 1.0f;
    float lr = lr_at(c, o->step);
    o->step++;
    float bc1 = 1.0f - powf(c->beta1, (float)o->step), bc2 = 1.0f - powf(c->beta2, (float)o->step);
    for (int t = 0; t < m->n_tensors; t++) {
        const ParamTensor *pt = &m->tensors[t];
        float wd = pt->decay ? c->weight_decay : 0.0f;
        float *p = m->params + pt->off, *g = m->grads + pt->off;
        float *mm = o->m + pt->off, *vv = o->v + pt->off;
#pragma omp parallel for
        for (size_t i = 0; i < pt->n; i++) {
            float gi = g[i] * clip;
            mm[i] = c->beta1 * mm[i] + (1 - c->beta1) * gi;
            vv[i] = c->beta2 * vv[i] + (1 - c->beta2) * gi * gi;
            float mhat = mm[i] / bc1, vhat = vv[i] / bc2;
            p[i] -= lr * (mhat / (sqrtf(vhat) + c->eps) + wd * p[i]);
        }
    }
    op_end(timer, 14.0 * m->n_params, 24.0 * m->n_params); /* the norm reads g; AdamW reads p g m v, writes p m v */
    return norm;
}
