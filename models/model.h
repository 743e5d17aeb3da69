/* The transformer: a pre-LayerNorm stack over token embeddings and learned positions.
 * Parameters and their gradients live in one contiguous buffer each; every tensor is an
 * offset into them, listed in a table (name, size, weight decay) that the optimizer and the
 * checkpoints walk. Activations are allocated once per batch shape. */
#ifndef MOEH_MODEL_H
#define MOEH_MODEL_H
#include "moe.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int vocab;       /* input token ids are in [0, vocab) */
    int n_out;       /* width of the output head (vocab for a language model) */
    int max_seq;     /* longest sequence, size of the position table */
    int d_model;     /* C */
    int layers;      /* L */
    int attn_heads;  /* NH, divides d_model */
    int ffn_mult;    /* dense FFN inner size = ffn_mult * d_model */
    int causal;      /* 1: a position sees only itself and earlier ones; 2: the same, except that
                        the n_patches image positions see each other (prefix LM: captioning) */
    /* mixture of experts (moe = MOE_NONE: dense) */
    int moe;         /* MoeKind */
    int experts, topk;
    int moe_every;   /* blocks l with (l + 1) % moe_every == 0 use an MoE layer as their FFN */
    int expert_dim;  /* expert inner size */
    int router_dim;  /* X-MoE router dimension */
    int mh_heads;    /* MH-MoE heads */
    int mh_inner_residual; /* MH-MoE: sub-token residual before the merge layer (paper Eq. 6) */
    int gate_sigmoid;      /* X-MoE/MH-MoE: sigmoid gating instead of softmax */
    int router_code;       /* X-MoE/MH-MoE: route as the public torchscale code (see moe.h) */
    /* images: the first n_patches positions of a sequence may be image patches of patch_dim
     * values, embedded linearly; with patch_dim > 0 every position also gets a modality
     * embedding (image or text). patch_dim = 0: text only. */
    int patch_dim, n_patches;
    /* the n_patches are this many images of n_patches / images patches each (0 counts as 1):
     * every image's patches take positions 0 .. n_patches/images - 1 and the text starts
     * right after one image's positions, so a model pretrained on one image + text keeps its
     * positions when it reads two; the first image has modality row 0, later ones row 2 */
    int images;
    /* later MoE options (after the 21 fields of format-5 checkpoints) */
    int route;             /* MoE: index into MOE_ROUTES (moe_route.h); 0: token choice top-k */
    int shared_experts;    /* MoE: always-on experts beside the routed ones */
    int balance_bias;      /* MoE: loss-free balancing (a selection bias per expert) */
    int route_arg0, route_arg1; /* MoE: the values of the route's own keys (MoeRoute.keys), in
                                   their order; 0: the route's default */
    int mh_without;        /* MH-MoE: MH_WITHOUT_HEAD | MH_WITHOUT_MERGE (moe.h); 0: both layers */
    int mh_extra_layers;   /* MH-MoE: layers the multi-head and the merge layer each have beyond one,
                              ReLU between (the paper's Table 7: n = 1 + this); 0: one each */
    int dense_linears;     /* dense FFN blocks: MH-MoE's two C x C layers around the FFN, without the
                              split (the paper's Table 6 "Dense w/ MLP"); 0: none */
} ModelConfig;

/* ModelConfig's fields by name: checkpoints store the configuration as name=value lines, so a
 * new field (0 = the behaviour before it existed) needs no new checkpoint format */
typedef struct { const char *name; size_t offset; } ModelConfigField;
extern const ModelConfigField MODEL_CONFIG_FIELDS[];
extern const int MODEL_CONFIG_FIELD_COUNT;

/* one training or evaluation batch; targets < 0 are not scored; key_mask may be NULL */
typedef struct {
    int B, T;
    int *tokens;              /* (B,T) */
    int *targets;             /* (B,T) */
    unsigned char *key_mask;  /* (B,T), 1 = real token, 0 = padding; NULL = all real */
    float *patches;           /* (B, n_patches, patch_dim): positions t < n_patches are these
                                 image patches where their token is 0; a token > 0 there (a
                                 [MASK] id) replaces the patch by that token's embedding, so
                                 masked image modelling hides patches; NULL = text only */
    int group;                /* rows per example (0 or 1: every row its own). With G > 1 the
                                 rows gG .. gG+G-1 read one example as G sequences, one image
                                 each (row k's patches are image k: modality row 0 for k = 0,
                                 row 2 after), and row gG's outputs are the SUM of the G rows'
                                 logits at each position: a product of experts over separately
                                 encoded images, trained through row gG's targets (BEiT-3 reads
                                 an NLVR2 pair so) */
} Batch;

Batch *batch_alloc(int B, int T, int with_mask);
/* with room for (B, n_patches, patch_dim) image patches as well */
Batch *batch_alloc_images(int B, int T, int with_mask, int n_patches, int patch_dim);
void batch_free(Batch *b);
/* rows first .. first + rows - 1 of b, in b's memory (a slice of a step's batch; n_patches and
 * patch_dim as the batch was allocated with) */
Batch batch_rows(const Batch *b, int first, int rows, int n_patches, int patch_dim);
/* the scored positions (targets >= 0) */
long batch_scored(const Batch *b);

typedef enum { INIT_NORMAL, INIT_ZEROS, INIT_ONES, INIT_UNIFORM, INIT_CONST } InitKind;

typedef struct {
    char name[32];
    size_t off, n; /* where in the buffers, and how many of its values this process holds */
    size_t full;   /* its values in the whole model (n, unless its experts are sharded) */
    size_t lo;     /* the first of them held here: values lo .. lo + n - 1 of the whole tensor */
    size_t expert_unit; /* a routed-expert tensor: values per expert (experts shard over
                           processes in blocks of these); 0: every process holds all of it */
    int decay;     /* weight decay applies (matrices), or not (biases, norms, positions) */
    int init;      /* InitKind */
    float init_a;  /* std (normal), half-width (uniform, Xavier), or the constant */
} ParamTensor;

typedef struct {
    size_t ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb;
    size_t ffheadw, ffheadb, ffmergew, ffmergeb; /* dense_linears only */
} BlockParams; /* fc* and ff* unused in an MoE block, whose FFN is moe[l] */

typedef struct {
    size_t res_in, ln1, ln1_mean, ln1_rstd, qkv, atty, att, attproj, res2,
        ln2, ln2_mean, ln2_rstd, fch, fch_gelu, fcproj, ffhead, ffout, res3;
} BlockActs;

/* The gradient norm in pieces whose sums do not depend on how the experts are sharded: one
 * piece per tensor, but one per expert of a routed-expert tensor; each held piece summed in
 * chunks of a fixed length and order; the pieces then added in the whole model's order. */
typedef struct { size_t off, n; int piece; } NormChunk; /* values off .. off + n - 1 of the buffer */

/* Expert sharding (parallel=expert over P processes): this process holds the routed experts
 * rank E .. rank E + E - 1 of every MoE layer (E = experts / ranks), their gradients and
 * their optimizer state; everything else on every process. sum_doubles sums over processes. */
typedef struct {
    int rank, ranks;
    void (*sum_doubles)(void *ctx, double *v, int n);
    void *ctx;
} ModelShard;

typedef struct {
    ModelConfig cfg;
    /* parameters */
    ParamTensor *tensors;
    int n_tensors, cap_tensors;
    float *params, *grads;
    size_t n_params;   /* held by this process (all of them unless sharded) */
    size_t n_params_full; /* the whole model's */
    ModelShard shard;  /* ranks 1: not sharded */
    NormChunk *norm_chunks;
    int n_norm_chunks, n_norm_pieces;
    double *norm_chunk_sum, *norm_piece_sum;  /* (n_norm_chunks), (n_norm_pieces) */
    unsigned char *norm_piece_everywhere;     /* (n_norm_pieces) 1: every process holds it */
    BlockParams *bp;
    size_t wte, wpe, lnfw, lnfb, headw;
    size_t patchw, patchb, modality; /* images: (C, patch_dim), (C), (3, C): image, text, second image */
    /* activations for one batch shape; dacts mirrors acts */
    int B, T;
    int alloc_T;       /* T of model_alloc_batch; model_set_length may run shorter sequences */
    int alloc_B;       /* B of model_alloc_batch; model_set_rows may run fewer sequences */
    float *acts, *dacts;
    size_t n_acts;
    size_t n_grad_acts; /* acts [0, n_grad_acts) have gradients that backward accumulates (it
                           zeroes them first); the rest have none (their dacts stay unused) */
    BlockActs *ba;
    MoeLayer *moe;     /* (layers): moe[l].s.kind == MOE_NONE for a dense block */
    int n_moe;         /* MoE blocks */
    /* training-time settings, changeable between steps */
    int training;      /* 1: capacity limits apply */
    float capacity;    /* capacity factor in training; 0: dropless */
    float balance;     /* weight of the mean balance loss in the objective */
    float aux_loss;    /* mean balance loss over MoE blocks, last forward */
    float z_coef;      /* weight of the mean router z-loss in the objective */
    float z_loss;      /* mean router z-loss over MoE blocks, last forward */
    size_t patch_proj, encoded, lnf, lnf_mean, lnf_rstd, logits, probs, losses, scratch;
    int scratch_slots; /* (T, T) slots in scratch: the threads attention backward may use */
    const Batch *last; /* the batch of the last forward, for backward */
    float loss;        /* mean loss of the last forward (0 when no targets) */
    int loss_count;    /* number of scored positions in the last forward */
    int loss_denominator; /* backward divides the loss gradient by this (the scored positions of
                             every slice of a step); 0: by loss_count */
    int (*abandon)(void); /* evaluation forwards only (training never asks): once it returns
                             nonzero, a forward skips its remaining layers and experts and scores
                             nothing (loss_count 0); the caller discards such a pass */
} Model;

/* NULL when the config is usable, else a message that says what is wrong. */
const char *model_config_check(const ModelConfig *cfg);
/* Allocates parameters and initialises them (GPT-2 style) from seed. 0 on success. */
int model_build(Model *m, const ModelConfig *cfg, uint64_t seed);
/* model_build holding only shard's routed experts (shard->ranks must divide experts): the same
 * values as model_build's for those it holds */
int model_build_sharded(Model *m, const ModelConfig *cfg, uint64_t seed, const ModelShard *shard);
/* the gradient's L2 norm over the whole model (over processes when sharded: every process
 * calls it at once), in a fixed order that does not depend on threads or processes */
double model_grad_norm(Model *m);
/* Allocates activations for batches of B sequences of T tokens (T <= max_seq). */
int model_alloc_batch(Model *m, int B, int T);
void model_free(Model *m);
/* Runs the next forward/backward passes on batches of B sequences of T <= the allocated
 * length, in the same buffers (greedy decoding re-reads a growing prefix: a causal model's
 * outputs at the first T positions do not depend on later ones). 0, or -1 if T is too long. */
int model_set_length(Model *m, int T);
/* The next passes run B <= the allocated sequences (a slice of a step's batch). 0 or -1. */
int model_set_rows(Model *m, int B);
/* A step made of slices (micro-batches, or processes each with its slice): backward scales the
 * loss gradient by 1 / n, n the scored positions of the whole step, so that the slices'
 * gradients add up to the whole batch's. 0: the last forward's own count. */
void model_set_loss_denominator(Model *m, int n);
/* The routed load per expert the loss-free bias update will use (summed over the step's
 * training forwards), for summing over processes: n experts, or NULL with n = 0 */
long long *model_step_load(Model *m, int layer, int *n);
/* Expert parallelism: every MoE layer's training passes run its routed experts on the processes
 * x names (moe_set_exchange); after model_alloc_batch. 0, or -1 (out of memory, or why says
 * why the experts do not split over the processes). */
int model_set_exchange(Model *m, const MoeExchange *x, const char **why);
/* every MoE layer's statistics summed over processes (moe_stats_reduce) */
void model_moe_stats_reduce(Model *m, const MoeSum *sum);

/* Forward pass over batch (same B, T as allocated). With targets, returns the mean
 * cross-entropy over scored positions; the logits (B,T,n_out) are in model_logits(m).
 * The training objective is that plus balance * aux_loss (model_objective). */
float model_forward(Model *m, const Batch *batch);
const float *model_logits(const Model *m);
/* per-position cross-entropy (B,T) of the last forward; 0 where the target was ignored */
const float *model_position_losses(const Model *m);
float model_objective(const Model *m);
/* Sets training mode (capacity limits) and the MoE knobs. */
void model_set_moe_options(Model *m, int training, float capacity, float balance);
/* Evaluation forwards at the training capacity (on), or dropless (off, the default). Returns
 * whether that differs from dropless: an MoE layer with a capacity whose route does not apply
 * it in evaluation anyway. */
int model_set_capped_evaluation(Model *m, int on);
/* the router z-loss weight (ST-MoE; of the mean over MoE blocks) and the loss-free balancing
 * bias step (DeepSeek-V3) */
void model_set_router_options(Model *m, float z_coef, float bias_rate);
/* after an optimizer step: loss-free balancing moves each MoE block's expert biases */
void model_balance_update(Model *m);
/* NULL if the MoE route accepts this capacity factor and, on a causal model, scores causally
 * (MoeRoute.sees_batch), else why */
const char *model_route_check(const ModelConfig *cfg, double capacity);
/* tests: hold every MoE layer's routing decisions fixed (1) or not (0) */
void model_freeze_routing(Model *m, int frozen);
/* MH-MoE expert inner size that gives the same parameter count as X-MoE with the same
 * experts and expert_dim = ffn_mult * d_model (the paper's parameter parity) */
int model_parity_expert_dim(const ModelConfig *mhmoe);
/* parameters of a configuration, without building it */
size_t model_param_count(const ModelConfig *cfg);
int model_block_is_moe(const ModelConfig *cfg, int layer);
/* Zeroes the parameter gradients. */
void model_zero_grad(Model *m);
/* Backward of the mean loss of the last forward; ACCUMULATES into the parameter grads. */
void model_backward(Model *m);

size_t model_num_params(const Model *m);
/* forward floating point operations per token (multiply-add = 2), at sequence length T */
double model_flops_per_token(const ModelConfig *cfg, int T);

#endif
