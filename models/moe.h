/* Mixture-of-experts layers: SMoE (linear router), X-MoE (low-dimensional cosine router with a
 * learnable temperature) and MH-MoE (a multi-head layer splits each token into H sub-tokens,
 * X-MoE routes every sub-token, a merge layer joins them). One MoeLayer replaces the FFN of a
 * block: in (N, C) -> out (N, C), the block adds the residual.
 *
 * The scores (linear or cosine) give every sub-token a probability per expert; a route from
 * the table in moe_route.h (token choice top-k, expert choice, ...) turns them into
 * assignments (sub-token, expert, gate); always-on shared experts add one assignment per
 * sub-token each. Dispatch sorts the assignments by expert (counting sort) into contiguous
 * buffers, runs one sgemm pair per expert, and each sub-token sums its gate-weighted outputs.
 * All work space is allocated by moe_alloc for one batch shape; the step allocates nothing. */
#ifndef MOEH_MOE_H
#define MOEH_MOE_H
#include <stddef.h>

typedef enum { MOE_NONE = 0, MOE_SMOE = 1, MOE_XMOE = 2, MOE_MHMOE = 3 } MoeKind;

#define MOE_MAX_EXPERTS 1024
#define MOE_ROUTE_ARGS 2     /* whole-number keys a route may declare of its own */ /* routed experts per layer (the balance loss keeps a share per expert) */

typedef struct {
    int kind;          /* MoeKind */
    int C;             /* model width */
    int experts;       /* N: routed experts */
    int topk;          /* k */
    int expert_dim;    /* M: expert inner size */
    int router_dim;    /* d_e (xmoe, mhmoe) */
    int heads;         /* H (mhmoe; 1 otherwise) */
    int inner_residual;/* mhmoe: each sub-token adds its own residual before the merge layer */
    int sigmoid_gate;  /* xmoe/mhmoe: sigmoid instead of softmax gating */
    int code_router;   /* xmoe/mhmoe as the public torchscale code routes: the token's projection
                          (not normalised) against unit expert embeddings, no temperature, and
                          the balance loss on the gate probabilities themselves */
    int route;         /* index into MOE_ROUTES (moe_route.h); 0: token choice top-k */
    int shared;        /* always-on experts of size M beside the routed ones (DeepSeekMoE) */
    int bias_balance;  /* loss-free balancing: a per-expert bias shifts selection only, updated
                          from the load after each step (DeepSeek-V3) */
    int route_arg[MOE_ROUTE_ARGS]; /* the route's own keys' values (MoeRoute.keys); 0: default */
    int mh_without;    /* mhmoe: which linear layer around the experts is left out (Table 6) */
    int mh_extra;      /* mhmoe: linear layers the multi-head layer and the merge layer each have
                          beyond one, a ReLU between two (the paper's Table 7: n = 1 + mh_extra) */
} MoeShape;

#define MH_MAX_EXTRA 2 /* Table 7 goes to n = 3 */

/* MoeShape.mh_without: the multi-head layer (the sub-tokens are the token's own slices) and
 * the merge layer (the output is the sub-tokens' outputs side by side) */
enum { MH_WITHOUT_HEAD = 1, MH_WITHOUT_MERGE = 2 };

/* parameter offsets into the model's buffer */
typedef struct {
    size_t head_w, head_b, merge_w, merge_b; /* mhmoe */
    /* mh_extra: the multi-head layer's first layers (before head_w) and the merge layer's last
     * ones (after merge_w), each (C, C) and (C) */
    size_t head_pre_w[MH_MAX_EXTRA], head_pre_b[MH_MAX_EXTRA], merge_post_w[MH_MAX_EXTRA], merge_post_b[MH_MAX_EXTRA];
    size_t router_w;                         /* smoe (N, D); xmoe/mhmoe projection (d_e, D) */
    size_t expert_emb, tau;                  /* xmoe/mhmoe (N, d_e), (1) */
    size_t bias;                             /* bias_balance (N): no gradient, moe_bias_update moves it */
    size_t w1, b1, w2, b2;                   /* the routed experts held here (all N unless sharded:
                                                first_expert ..): (E,M,D) (E,M) (E,D,M) (E,D) */
    size_t sw1, sb1, sw2, sb2;               /* the shared experts: (K,M,D) (K,M) (K,D,M) (K,D) */
    int first_expert, experts_held;          /* E = experts_held */
} MoeParams;

typedef struct MoeLayer MoeLayer;

/* Expert parallelism: the routed experts of a layer split over `ranks` processes in contiguous
 * blocks (process r owns experts r N/ranks .. (r+1) N/ranks - 1 and runs them on every
 * process's rows; the tutel / DeepSpeed-MoE scheme). During training passes each process routes
 * its own tokens, sends the rows of its sorted per-expert buffer to their owners and gets the
 * outputs back (and the mirror in backward); shared experts and everything else stay local.
 * The caller supplies the two collectives, so models/ needs no MPI. */
typedef struct {
    int rank, ranks;
    int slice_tokens;  /* the most tokens a process routes in one training pass (its slice) */
    /* 0: the owner regroups the rows by expert and runs one pair of sgemms per expert; 1: it
     * runs each process's block of an expert alone and adds their weight gradients in process
     * order, the additions of one process running the same slices one after another */
    int ordered;
    /* send[q n .. q n + n) goes to process q; recv[q n ..) arrives from process q */
    void (*alltoall_ints)(void *ctx, const int *send, int *recv, int n);
    /* send_count[q] floats from send + send_at[q] go to process q; recv likewise */
    void (*alltoallv_floats)(void *ctx, const float *send, const int *send_count, const int *send_at,
                             float *recv, const int *recv_count, const int *recv_at);
    /* sharded: each process holds only its experts' weights, so process 0's evaluation
     * forwards send their rows to the owners too; announce(ctx, L) tells the other processes
     * (serving, moe_exchange_serve) which layer's rows come next */
    int sharded;
    void (*announce)(void *ctx, const MoeLayer *L);
    void *ctx;
} MoeExchange;

/* running statistics, reset by the caller */
typedef struct {
    long long *counts;          /* (H, N): routed assignments of real tokens to each expert */
    long long *image_counts;    /* (H, N): the part of counts from image-patch positions */
    long long assignments, dropped; /* routed, every token's, padding included: they share the capacity */
    long long subtokens, tokens;    /* real ones */
    long long unrouted;         /* real sub-tokens that no routed expert took (expert choice) */
    double aux_sum, z_sum, entropy_sum, distinct_sum;
    /* per pass, summed: the temperature (xmoe/mhmoe), the mean over real sub-tokens of the
     * standard deviation of their N router cosines, and the RMS of the layer's output over
     * real tokens (what the block adds to its residual) */
    double tau_sum, cos_spread_sum, out_rms_sum;
    long long passes;
} MoeStats;

/* how unevenly a window's routed assignments spread over the experts */
typedef struct {
    double load_cv;       /* standard deviation of the per-expert load over its mean */
    int dead_experts;     /* experts that took no assignment */
    double max_violation; /* max load / mean load - 1 (DeepSeek-V3's MaxVio) */
} MoeImbalance;

struct MoeLayer {
    MoeShape s;
    MoeParams p;
    int D;             /* sub-token width C / H */
    int Ntok, S, A;    /* tokens, sub-tokens (Ntok * H), assignment slots the buffers hold */
    int Ntok_alloc;    /* the tokens moe_alloc sized the buffers for (Ntok may run fewer) */
    int n_routed, n_asg; /* the last forward's routed assignments, and with the shared ones */
    /* training-time knobs, set by the caller */
    float capacity;    /* capacity factor; 0: dropless (token choice) */
    float aux_coef;    /* weight of this layer's balance loss in the total loss */
    float z_coef;      /* weight of this layer's router z-loss in the total loss */
    float bias_rate;   /* loss-free balancing: bias step per update */
    float tau0;        /* fixed temperature of the balance loss's probabilities (xmoe/mhmoe) */
    int seq_T, image_NP;/* set by the model each forward: token n sits at position n % seq_T,
                          an image patch when that is < image_NP (0: no images) */
    const unsigned char *real; /* set by the model each forward: (Ntok) 0 = padding, which is
                          routed like any token but left out of the statistics (histograms,
                          router entropy, experts per token); NULL: every token is real */
    int (*abandon)(void); /* set by the model each forward, NULL in training: once it returns
                          nonzero the remaining experts are skipped (an evaluation cut short) */
    int capped_evaluation; /* evaluation forwards apply the capacity too (the training one),
                          beside the dropless default: how much capped evaluation costs */
    int freeze_routing;/* tests: reuse the last forward's assignments and slots, so that a
                          finite difference sees a smooth function (gates still follow probs) */
    /* every buffer below (forward state, backward work space, stats counts) is a piece of one
     * allocation, made by moe_alloc for one batch shape */
    void *workspace;
    size_t workspace_bytes;
    /* forward state */
    float *h;          /* (Ntok, C) multi-head layer output = sub-tokens (S, D); mhmoe only */
    float *z, *probs, *probs0;   /* (S, N) router logits, gate probabilities, balance-loss probs */
    float *biased;               /* (S, N) probs + the loss-free balancing bias (bias_balance) */
    const float *select;         /* (S, N) what routes select by: biased, or probs */
    float *lse;                  /* (S) log-sum-exp of the router logits (z-loss) */
    float *r, *rnorm, *cosv;     /* (S, d_e), (S), (S, N): xmoe router */
    float *ehat, *enorm;         /* (N, d_e), (N) */
    int *choice;                 /* (A) expert of each assignment */
    int *asg_token;              /* (A) sub-token of each assignment */
    float *gate;                 /* (A) gate weight of each assignment */
    int *slot;                   /* (A) row in the expert buffers, -1 if dropped */
    int *tok_offset, *tok_asg;   /* (S + 1), (A): each sub-token's assignments, in order */
    int *count, *offset;         /* (N + K), (N + K + 1) */
    int *scratch;                /* (A + S) work space of the routes */
    long long *pass_load;        /* (N) routed assignments per expert, summed over the training
                                    forwards since the last moe_bias_update (loss-free balancing) */
    float *xin, *h1, *a1, *xout; /* (A, D), (A, M), (A, M), (A, D) expert buffers */
    float *o;                    /* (S, D) combined expert output (before merge) */
    float *head_r[MH_MAX_EXTRA]; /* (Ntok, C) mh_extra: the ReLU outputs inside the multi-head layer */
    float *merge_r[MH_MAX_EXTRA];/* (Ntok, C) and inside the merge layer */
    float *mh_grad[2];           /* (Ntok, C) mh_extra: gradients through those, in turn */
    float frac[MOE_MAX_EXPERTS]; /* f_e: share of top-1 assignments per expert (no gradient) */
    float aux;                   /* balance loss of the last forward */
    float z_loss;                /* router z-loss of the last forward: mean over sub-tokens of lse^2 */
    /* backward work space */
    float *dh, *dz, *dprobs, *dprobs0, *dr, *drhat, *dcos, *dehat, *dxin, *dh1, *da1, *dxout, *dgate, *d_o;
    MoeStats stats;
    /* seconds spent, forward and backward, for `harness bench`: routing, dispatch and
     * combine (router, top-k, counting sort, gather, scatter), the expert matmuls and
     * activations, and MH-MoE's multi-head and merge layers */
    double t_route, t_experts, t_mh;
    /* expert parallelism (moe_set_exchange; NULL: every expert here). The owner's buffers hold
     * R = ranks * (the routed slots of slice_tokens) rows: every process's rows for this process's experts, as they arrive (by
     * process) and sorted by expert for the matmuls, forward and backward. */
    const MoeExchange *exchange;
    int exchanged;               /* the last forward sent its rows to the owners */
    int *ep_send_count, *ep_send_at, *ep_recv_count, *ep_recv_at; /* (ranks) in floats */
    int *ep_rows;                /* (ranks, N / ranks) rows each process has for each owned expert */
    float *ep_in, *ep_x, *ep_h1, *ep_a1, *ep_y;       /* (R, D) (R, D) (R, M) (R, M) (R, D) */
    float *ep_dy, *ep_dh1, *ep_da1, *ep_dx;           /* (R, D) (R, M) (R, M) (R, D) */
    float *ep_grad;              /* (2 M D + M + D) one block's expert gradients (ordered) */
    size_t ep_rows_max;          /* R */
};

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

/* from now on the layer's training passes run its routed experts where x says (x outlives the
 * layer's use; NULL: here); reallocates the buffers for up to max_tokens tokens (the Ntok of
 * moe_alloc), the current Ntok kept. 0, or -1 out of memory; the caller checks that the experts
 * split over the processes (moe_exchange_check). */
int moe_set_exchange(MoeLayer *L, const MoeExchange *x, int max_tokens);
/* NULL if the shape's routed experts split over ranks processes, else why */
const char *moe_exchange_check(const MoeShape *s, int ranks);
/* a process other than 0 while process 0 evaluates: runs its experts on the rows of the
 * forward process 0 announced for this layer */
void moe_exchange_serve(MoeLayer *L, const float *params);

/* out (Ntok, C) = MoE(in (Ntok, C)); training selects capacity limits */
void moe_forward(MoeLayer *L, const float *params, float *out, const float *in, int training);
/* din (Ntok, C) += ..., parameter gradients into grads; dout (Ntok, C) */
void moe_backward(MoeLayer *L, const float *params, float *grads, float *din, const float *dout,
                  const float *in);
/* loss-free balancing, after a training step: each expert's bias moves by bias_rate towards
 * the mean load (up if it took fewer routed assignments than the mean, down if more) */
void moe_bias_update(MoeLayer *L, float *params);
void moe_stats_reset(MoeLayer *L);
/* of per-expert loads (N) */
MoeImbalance moe_imbalance(const long long *load, int N);

/* the statistics of the passes since base (NULL: since moe_stats_reset) */
typedef struct {
    long long passes, assignments, dropped, unrouted, subtokens;
    double aux, z_loss, entropy, distinct, tau, cos_spread, out_rms; /* means over the passes */
} MoeWindow;
MoeWindow moe_window(const MoeLayer *L, const MoeStats *base);
/* routed assignments of real tokens' sub-tokens of head h to expert e since base (NULL: since
 * the reset); image: only those at image-patch positions */
long long moe_window_count(const MoeLayer *L, const MoeStats *base, int h, int e, int image);
/* sub-tokens per token (H; 1 but for MH-MoE) */
int moe_heads(const MoeLayer *L);
/* Sums the layer's statistics over processes (data parallelism: each saw a slice of the
 * batches): ll and d replace v[0 .. n) by the sum over processes. Window means (per pass) then
 * average the processes. */
typedef struct {
    void (*ll)(void *ctx, long long *v, int n);
    void (*d)(void *ctx, double *v, int n);
    void *ctx;
} MoeSum;
void moe_stats_reduce(MoeLayer *L, const MoeSum *sum);
/* A snapshot of a layer's statistics owns its count arrays: moe_stats_snapshot_alloc sizes them
 * for L (0, or -1 out of memory), moe_stats_snapshot_free releases them. */
int moe_stats_snapshot_alloc(const MoeLayer *L, MoeStats *base);
void moe_stats_snapshot_free(MoeStats *base);
/* base (from moe_stats_snapshot_alloc) := the layer's statistics now */
void moe_stats_snapshot(const MoeLayer *L, MoeStats *base);

#endif
