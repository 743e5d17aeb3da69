/* Mixture-of-experts layers: SMoE (linear router), X-MoE (low-dimensional cosine router with a
 * learnable temperature) and MH-MoE (a multi-head layer splits each token into H sub-tokens,
 * X-MoE routes every sub-token, a merge layer joins them). One MoeLayer replaces the FFN of a
 * block: in (N, C) -> out (N, C), the block adds the residual.
 *
 * Dispatch sorts the (sub-)token assignments by expert (counting sort) into contiguous
 * buffers, runs one sgemm pair per expert, and scatters the gate-weighted outputs back.
 * All work space is allocated by moe_alloc for one batch shape; the step allocates nothing. */
#ifndef MOEH_MOE_H
#define MOEH_MOE_H
#include <stddef.h>

typedef enum { MOE_NONE = 0, MOE_SMOE = 1, MOE_XMOE = 2, MOE_MHMOE = 3 } MoeKind;

typedef struct {
    int kind;          /* MoeKind */
    int C;             /* model width */
    int experts;       /* N */
    int topk;          /* k */
    int expert_dim;    /* M: expert inner size */
    int router_dim;    /* d_e (xmoe, mhmoe) */
    int heads;         /* H (mhmoe; 1 otherwise) */
    int inner_residual;/* mhmoe: each sub-token adds its own residual before the merge layer */
    int sigmoid_gate;  /* xmoe/mhmoe: sigmoid instead of softmax gating */
    int code_router;   /* xmoe/mhmoe as the public torchscale code routes: the token's projection
                          (not normalised) against unit expert embeddings, no temperature, and
                          the balance loss on the gate probabilities themselves */
} MoeShape;

/* parameter offsets into the model's buffer */
typedef struct {
    size_t head_w, head_b, merge_w, merge_b; /* mhmoe */
    size_t router_w;                         /* smoe (N, D); xmoe/mhmoe projection (d_e, D) */
    size_t expert_emb, tau;                  /* xmoe/mhmoe (N, d_e), (1) */
    size_t w1, b1, w2, b2;                   /* experts (N,M,D) (N,M) (N,D,M) (N,D) */
} MoeParams;

/* running statistics, reset by the caller */
typedef struct {
    long long *counts;          /* (H, N): top-k assignments of real tokens routed to each expert */
    long long *image_counts;    /* (H, N): the part of counts from image-patch positions */
    long long assignments, dropped; /* every token's, padding included: they share the capacity */
    long long subtokens, tokens;    /* real ones */
    double aux_sum, entropy_sum, distinct_sum;
    /* per pass, summed: the temperature (xmoe/mhmoe), the mean over real sub-tokens of the
     * standard deviation of their N router cosines, and the RMS of the layer's output over
     * real tokens (what the block adds to its residual) */
    double tau_sum, cos_spread_sum, out_rms_sum;
    long long passes;
} MoeStats;

typedef struct {
    MoeShape s;
    MoeParams p;
    int D;             /* sub-token width C / H */
    int Ntok, S, A;    /* tokens, sub-tokens (Ntok * H), assignment slots (S * k) */
    /* training-time knobs, set by the caller */
    float capacity;    /* capacity factor; 0: dropless */
    float aux_coef;    /* weight of this layer's balance loss in the total loss */
    float tau0;        /* fixed temperature of the balance loss's probabilities (xmoe/mhmoe) */
    int seq_T, image_NP;/* set by the model each forward: token n sits at position n % seq_T,
                          an image patch when that is < image_NP (0: no images) */
    const unsigned char *real; /* set by the model each forward: (Ntok) 0 = padding, which is
                          routed like any token but left out of the statistics (histograms,
                          router entropy, experts per token); NULL: every token is real */
    int freeze_routing;/* tests: reuse the last forward's expert choices and slots, so that a
                          finite difference sees a smooth function (gates still follow probs) */
    /* forward state */
    float *h;          /* (Ntok, C) multi-head layer output = sub-tokens (S, D); mhmoe only */
    float *z, *probs, *probs0;   /* (S, N) router logits, gate probabilities, balance-loss probs */
    float *r, *rnorm, *cosv;     /* (S, d_e), (S), (S, N): xmoe router */
    float *ehat, *enorm;         /* (N, d_e), (N) */
    int *choice;                 /* (S, k) expert of each choice */
    float *gate;                 /* (S, k) gate weight of each choice */
    int *slot;                   /* (S, k) row in the expert buffers, -1 if dropped */
    int *count, *offset, *fill;  /* (N), (N + 1), (N) */
    float *xin, *h1, *a1, *xout; /* (A, D), (A, M), (A, M), (A, D) expert buffers */
    float *o;                    /* (S, D) combined expert output (before merge) */
    float frac[1024];            /* f_e: share of top-1 assignments per expert (no gradient) */
    float aux;                   /* balance loss of the last forward */
    /* backward work space */
    float *dh, *dz, *dprobs, *dprobs0, *dr, *drhat, *dcos, *dehat, *dxin, *dh1, *da1, *dxout, *dgate, *d_o;
    MoeStats stats;
    /* seconds spent, forward and backward, for `harness bench`: routing, dispatch and
     * combine (router, top-k, counting sort, gather, scatter), the expert matmuls and
     * activations, and MH-MoE's multi-head and merge layers */
    double t_route, t_experts, t_mh;
} MoeLayer;

/* number of parameters of one MoE layer */
size_t moe_param_count(const MoeShape *s);
/* forward multiply-adds per token of one MoE layer (routing + experts + head/merge) */
double moe_macs_per_token(const MoeShape *s);
/* NULL if the shape is usable, else what is wrong (naming the config key) */
const char *moe_shape_check(const MoeShape *s);

int moe_alloc(MoeLayer *L, int Ntok);
void moe_free(MoeLayer *L);
/* the next passes see Ntok tokens, at most the Ntok of moe_alloc (whose buffers they reuse) */
void moe_set_tokens(MoeLayer *L, int Ntok);

/* out (Ntok, C) = MoE(in (Ntok, C)); training selects capacity limits */
void moe_forward(MoeLayer *L, const float *params, float *out, const float *in, int training);
/* din (Ntok, C) += ..., parameter gradients into grads; dout (Ntok, C) */
void moe_backward(MoeLayer *L, const float *params, float *grads, float *din, const float *dout,
                  const float *in);
void moe_stats_reset(MoeLayer *L);

#endif
