/* Inside the MoE layer (moe.c and moe_exchange.c): one expert's FFN on a block of rows, and the
 * routed experts run on their owning processes (expert parallelism, MoeExchange). */
#ifndef MOEH_MOE_EXPERTS_H
#define MOEH_MOE_EXPERTS_H
#include "moe.h"

/* expert e on rows x (rows, D): h1 (rows, M) the pre-activation, left holding GELU's slope at
 * it, and a1 (rows, M) kept for backward; y (rows, D) */
void moe_expert_forward(const MoeLayer *L, const float *P, int e, int rows, const float *x, float *h1, float *a1,
                        float *y);
/* where an expert's gradients go: (M, D) (M) (D, M) (D) */
typedef struct { float *w1, *b1, *w2, *b2; } ExpertGrads;
/* expert e's in the gradient buffer G */
ExpertGrads moe_expert_grads(const MoeLayer *L, float *G, int e);
/* its backward (h1: as the forward left it, the slope): g += expert e's gradients, dx (rows, D)
 * += ...; da1, dh1 (rows, M) work space that must come zeroed */
void moe_expert_backward(const MoeLayer *L, const float *P, ExpertGrads g, int e, int rows, const float *dy,
                         const float *x, const float *h1, const float *a1, float *da1, float *dh1, float *dx);

/* the routed experts' rows L->xin [0, offset[N]) -> L->xout, computed by their owners */
void moe_exchange_forward(MoeLayer *L, const float *P);
/* L->dxout [0, offset[N]) -> L->dxin, the owned experts' gradients into G */
void moe_exchange_backward(MoeLayer *L, const float *P, float *G);

#endif
