#include "model.h"
#include "profile.h"
#include "util/invariant.h"
#include "layers.h"
#include "moe_route.h"
#include "util/rng.h"
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P(off) (m->params + (off))
#define G(off) (m->grads + (off))
#define A(off) (m->acts + (off))
#define DA(off) (m->dacts + (off))

int model_block_is_moe(const ModelConfig *c, int l) {
    return c->moe != MOE_NONE && c->moe_every > 0 && (l + 1) % c->moe_every == 0;
}

#define FIELD(f) {#f, offsetof(ModelConfig, f)}
/* the first 21 in the order of the format-5 checkpoints, which stored them as ints by position */
const ModelConfigField MODEL_CONFIG_FIELDS[] = {
    FIELD(vocab), FIELD(n_out), FIELD(max_seq), FIELD(d_model), FIELD(layers), FIELD(attn_heads),
    FIELD(ffn_mult), FIELD(causal), FIELD(moe), FIELD(experts), FIELD(topk), FIELD(moe_every),
    FIELD(expert_dim), FIELD(router_dim), FIELD(mh_heads), FIELD(mh_inner_residual), FIELD(gate_sigmoid),
    FIELD(router_code), FIELD(patch_dim), FIELD(n_patches), FIELD(images),
    FIELD(route), FIELD(shared_experts), FIELD(balance_bias), FIELD(route_arg0), FIELD(route_arg1),
    FIELD(mh_without), FIELD(dense_linears), FIELD(mh_extra_layers),
};
const int MODEL_CONFIG_FIELD_COUNT = (int)(sizeof MODEL_CONFIG_FIELDS / sizeof MODEL_CONFIG_FIELDS[0]);
_Static_assert(sizeof(ModelConfig) == sizeof MODEL_CONFIG_FIELDS / sizeof MODEL_CONFIG_FIELDS[0] * sizeof(int),
               "every ModelConfig field is an int listed in MODEL_CONFIG_FIELDS");

static MoeShape moe_shape(const ModelConfig *c) {
    return (MoeShape){.kind = c->moe, .C = c->d_model, .experts = c->experts, .topk = c->topk,
                      .expert_dim = c->expert_dim, .router_dim = c->router_dim,
                      .heads = c->moe == MOE_MHMOE ? c->mh_heads : 1,
                      .inner_residual = c->mh_inner_residual, .sigmoid_gate = c->gate_sigmoid,
                      .code_router = c->router_code, .route = c->route, .shared = c->shared_experts,
                      .bias_balance = c->balance_bias, .route_arg = {c->route_arg0, c->route_arg1},
                      .mh_without = c->moe == MOE_MHMOE ? c->mh_without : 0,
                      .mh_extra = c->moe == MOE_MHMOE ? c->mh_extra_layers : 0};
}

const char *model_config_check(const ModelConfig *c) {
    if (c->vocab < 2) return "vocab must be at least 2";
    if (c->n_out < 1) return "the output head needs at least 1 output";
    if (c->max_seq < 1) return "max_seq must be at least 1";
    if (c->causal < 0 || c->causal > 2) return "causal must be 0, 1 or 2 (prefix LM over the image patches)";
    if (c->d_model < 1 || c->layers < 0 || c->ffn_mult < 1) return "d_model, layers, ffn_mult must be positive";
    if (c->attn_heads < 1 || c->d_model % c->attn_heads) return "attn_heads must divide d_model";
    if (c->patch_dim < 0 || c->n_patches < 0 || (c->patch_dim > 0 && c->n_patches > c->max_seq))
        return "image patches must fit in max_seq";
    if (c->images < 0 || (c->images > 1 && c->n_patches % c->images)) return "images must divide n_patches";
    if (c->moe != MOE_NONE) {
        MoeShape s = moe_shape(c);
        if (c->moe_every < 1) return "moe_every must be at least 1";
        /* block l is an MoE block when moe_every divides l + 1 */
        if (c->moe_every > c->layers) return "moe_every must be at most layers (else no block has an MoE layer)";
        return moe_shape_check(&s);
    }
    return NULL;
}

/* parameter layout: appends a tensor to the table and returns its offset */
static size_t add_tensor(Model *m, const char *name, int layer, size_t n, int decay, int init, float a) {
    INVARIANT(m->n_tensors < m->cap_tensors); /* MAX_TENSORS_PER_BLOCK counts a block's tensors */
    ParamTensor *t = &m->tensors[m->n_tensors++];
    if (layer >= 0) snprintf(t->name, sizeof t->name, "h%d.%s", layer, name);
    else snprintf(t->name, sizeof t->name, "%s", name);
    t->off = m->n_params;
    t->n = t->full = n;
    t->lo = t->expert_unit = 0;
    t->decay = decay;
    t->init = init;
    t->init_a = a;
    m->n_params += n;
    m->n_params_full += n;
    return t->off;
}

/* a routed-expert tensor of `experts` experts of `unit` values each: this process holds the
 * shard's block of them */
static size_t add_expert_tensor(Model *m, const char *name, int layer, int experts, size_t unit, int decay, int init, float a) {
    int E = experts / m->shard.ranks;
    size_t off = add_tensor(m, name, layer, (size_t)E * unit, decay, init, a);
    ParamTensor *t = &m->tensors[m->n_tensors - 1];
    t->full = (size_t)experts * unit;
    t->lo = (size_t)m->shard.rank * E * unit;
    t->expert_unit = unit;
    m->n_params_full += t->full - t->n;
    return off;
}

#define MAX_TENSORS_PER_BLOCK 32 /* MH-MoE with a balance bias and shared experts: 24; with mh_mlp=3, 32 */
/* X-MoE's temperature: the learnable one's start and the balance loss's fixed tau0 (X-MoE
 * paper: 0.3 for softmax gates, 0.07 for sigmoid ones) */
#define XMOE_TAU_SOFTMAX 0.3f
#define XMOE_TAU_SIGMOID 0.07f

/* GPT-2 initialisation: N(0, 0.02), projections into the residual stream scaled by
 * 1/sqrt(2L) so the stream's variance does not grow with depth; norms 1, biases 0.
 * MH-MoE's multi-head layer is Xavier-uniform with gain 1/sqrt(2), its merge layer Xavier;
 * X-MoE's temperature starts at 0.3 (softmax) or 0.07 (sigmoid). */
static void layout_params(Model *m) {
    const ModelConfig *c = &m->cfg;
    size_t C = c->d_model, F = (size_t)c->ffn_mult * C;
    float resid_std = 0.02f / sqrtf(2.0f * (c->layers > 0 ? c->layers : 1));
    m->n_params = m->n_params_full = 0;
    m->n_tensors = 0;
    m->n_moe = 0;
    m->wte = add_tensor(m, "wte", -1, (size_t)c->vocab * C, 1, INIT_NORMAL, 0.02f);
    m->wpe = add_tensor(m, "wpe", -1, (size_t)c->max_seq * C, 0, INIT_NORMAL, 0.02f);
    if (c->patch_dim > 0) {
        m->patchw = add_tensor(m, "patch.w", -1, C * c->patch_dim, 1, INIT_NORMAL, 0.02f);
        m->patchb = add_tensor(m, "patch.b", -1, C, 0, INIT_ZEROS, 0);
        m->modality = add_tensor(m, "modality", -1, 3 * C, 0, INIT_NORMAL, 0.02f);
    }
    for (int l = 0; l < c->layers; l++) {
        BlockParams *b = &m->bp[l];
        b->ln1w = add_tensor(m, "ln1.w", l, C, 0, INIT_ONES, 0);
        b->ln1b = add_tensor(m, "ln1.b", l, C, 0, INIT_ZEROS, 0);
        b->qkvw = add_tensor(m, "attn.qkv.w", l, 3 * C * C, 1, INIT_NORMAL, 0.02f);
        b->qkvb = add_tensor(m, "attn.qkv.b", l, 3 * C, 0, INIT_ZEROS, 0);
        b->projw = add_tensor(m, "attn.proj.w", l, C * C, 1, INIT_NORMAL, resid_std);
        b->projb = add_tensor(m, "attn.proj.b", l, C, 0, INIT_ZEROS, 0);
        b->ln2w = add_tensor(m, "ln2.w", l, C, 0, INIT_ONES, 0);
        b->ln2b = add_tensor(m, "ln2.b", l, C, 0, INIT_ZEROS, 0);
        MoeLayer *L = &m->moe[l];
        memset(L, 0, sizeof *L);
        if (!model_block_is_moe(c, l)) {
            b->fcw = add_tensor(m, "ffn.fc.w", l, F * C, 1, INIT_NORMAL, 0.02f);
            b->fcb = add_tensor(m, "ffn.fc.b", l, F, 0, INIT_ZEROS, 0);
            b->fcprojw = add_tensor(m, "ffn.proj.w", l, C * F, 1, INIT_NORMAL, resid_std);
            b->fcprojb = add_tensor(m, "ffn.proj.b", l, C, 0, INIT_ZEROS, 0);
            if (c->dense_linears) { /* initialised as MH-MoE's multi-head and merge layers */
                float xavier = sqrtf(6.0f / (2.0f * C));
                b->ffheadw = add_tensor(m, "ffn.head.w", l, C * C, 1, INIT_UNIFORM, xavier / sqrtf(2.0f));
                b->ffheadb = add_tensor(m, "ffn.head.b", l, C, 0, INIT_ZEROS, 0);
                b->ffmergew = add_tensor(m, "ffn.merge.w", l, C * C, 1, INIT_UNIFORM, xavier);
                b->ffmergeb = add_tensor(m, "ffn.merge.b", l, C, 0, INIT_ZEROS, 0);
            }
            continue;
        }
        m->n_moe++;
        L->s = moe_shape(c);
        MoeParams *p = &L->p;
        size_t N = c->experts, M = c->expert_dim, de = c->router_dim;
        size_t D = C / (size_t)L->s.heads;
        if (c->moe == MOE_MHMOE) {
            float xavier = sqrtf(6.0f / (2.0f * C));
            char name[18]; /* "mh.merge.post1.w" */
            if (!(L->s.mh_without & MH_WITHOUT_HEAD)) {
                for (int k = 0; k < L->s.mh_extra; k++) { /* Table 7's deeper layers: ReLU after each */
                    snprintf(name, sizeof name, "mh.head.pre%d.w", k);
                    p->head_pre_w[k] = add_tensor(m, name, l, C * C, 1, INIT_UNIFORM, xavier);
                    snprintf(name, sizeof name, "mh.head.pre%d.b", k);
                    p->head_pre_b[k] = add_tensor(m, name, l, C, 0, INIT_ZEROS, 0);
                }
                p->head_w = add_tensor(m, "mh.head.w", l, C * C, 1, INIT_UNIFORM, xavier / sqrtf(2.0f));
                p->head_b = add_tensor(m, "mh.head.b", l, C, 0, INIT_ZEROS, 0);
            }
            if (!(L->s.mh_without & MH_WITHOUT_MERGE)) {
                p->merge_w = add_tensor(m, "mh.merge.w", l, C * C, 1, INIT_UNIFORM, xavier);
                p->merge_b = add_tensor(m, "mh.merge.b", l, C, 0, INIT_ZEROS, 0);
                for (int k = 0; k < L->s.mh_extra; k++) {
                    snprintf(name, sizeof name, "mh.merge.post%d.w", k);
                    p->merge_post_w[k] = add_tensor(m, name, l, C * C, 1, INIT_UNIFORM, xavier);
                    snprintf(name, sizeof name, "mh.merge.post%d.b", k);
                    p->merge_post_b[k] = add_tensor(m, name, l, C, 0, INIT_ZEROS, 0);
                }
            }
        }
        if (c->balance_bias) p->bias = add_tensor(m, "router.bias", l, N, 0, INIT_ZEROS, 0);
        if (c->moe == MOE_SMOE) {
            p->router_w = add_tensor(m, "router.w", l, N * D, 0, INIT_NORMAL, 0.02f);
        } else {
            p->router_w = add_tensor(m, "router.proj.w", l, de * D, 0, INIT_NORMAL, 0.02f);
            p->expert_emb = add_tensor(m, "router.experts", l, N * de, 0, INIT_NORMAL, 0.02f);
            float tau_start = c->gate_sigmoid ? XMOE_TAU_SIGMOID : XMOE_TAU_SOFTMAX;
            if (!c->router_code) p->tau = add_tensor(m, "router.tau", l, 1, 0, INIT_CONST, tau_start);
            L->tau0 = tau_start;
        }
        /* each tensor's shared experts follow its routed ones (the layout of one (N + K)-expert
         * tensor, as checkpoints store it), so a process's routed block and the shared
         * experts are two tensors */
        size_t K = (size_t)c->shared_experts;
        p->first_expert = m->shard.rank * (c->experts / m->shard.ranks);
        p->experts_held = c->experts / m->shard.ranks;
        p->w1 = add_expert_tensor(m, "experts.fc.w", l, c->experts, M * D, 1, INIT_NORMAL, 0.02f);
        if (K) p->sw1 = add_tensor(m, "shared.fc.w", l, K * M * D, 1, INIT_NORMAL, 0.02f);
        p->b1 = add_expert_tensor(m, "experts.fc.b", l, c->experts, M, 0, INIT_ZEROS, 0);
        if (K) p->sb1 = add_tensor(m, "shared.fc.b", l, K * M, 0, INIT_ZEROS, 0);
        p->w2 = add_expert_tensor(m, "experts.proj.w", l, c->experts, D * M, 1, INIT_NORMAL, resid_std);
        if (K) p->sw2 = add_tensor(m, "shared.proj.w", l, K * D * M, 1, INIT_NORMAL, resid_std);
        p->b2 = add_expert_tensor(m, "experts.proj.b", l, c->experts, D, 0, INIT_ZEROS, 0);
        if (K) p->sb2 = add_tensor(m, "shared.proj.b", l, K * D, 0, INIT_ZEROS, 0);
    }
    m->lnfw = add_tensor(m, "lnf.w", -1, C, 0, INIT_ONES, 0);
    m->lnfb = add_tensor(m, "lnf.b", -1, C, 0, INIT_ZEROS, 0);
    m->headw = add_tensor(m, "head.w", -1, (size_t)c->n_out * C, 1, INIT_NORMAL, 0.02f);
}

static void init_params(Model *m, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        float *p = P(t->off) - t->lo, a = t->init_a, v;
        /* every value is drawn, those another process holds too: the same values whatever
         * the sharding */
        for (size_t j = 0; j < t->full; j++) {
            switch (t->init) {
            case INIT_NORMAL: v = a * rng_normal(&r); break;
            case INIT_UNIFORM: v = a * (2.0f * rng_uniform(&r) - 1.0f); break;
            case INIT_ONES: v = 1.0f; break;
            case INIT_CONST: v = a; break;
            default: v = 0.0f;
            }
            if (j >= t->lo && j < t->lo + t->n) p[j] = v;
        }
    }
}

static int alloc_tables(Model *m, const ModelConfig *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->shard.ranks = 1;
    size_t L = cfg->layers ? cfg->layers : 1;
    m->cap_tensors = (int)(8 + MAX_TENSORS_PER_BLOCK * L);
    m->tensors = calloc((size_t)m->cap_tensors, sizeof(ParamTensor));
    m->bp = calloc(L, sizeof(BlockParams));
    m->moe = calloc(L, sizeof(MoeLayer));
    return m->tensors && m->bp && m->moe ? 0 : -1;
}

void model_freeze_routing(Model *m, int frozen) {
    for (int l = 0; l < m->cfg.layers; l++) m->moe[l].freeze_routing = frozen;
}

int model_parity_expert_dim(const ModelConfig *mh) {
    ModelConfig x = *mh, c = *mh;
    x.moe = MOE_XMOE;
    x.expert_dim = mh->ffn_mult * mh->d_model;
    double target = (double)model_param_count(&x);
    /* the count is linear in expert_dim: solve from two points */
    c.expert_dim = 1;
    double p1 = (double)model_param_count(&c);
    c.expert_dim = 2;
    double slope = (double)model_param_count(&c) - p1;
    int M = (int)lround(1 + (target - p1) / slope);
    return M < 1 ? 1 : M;
}

size_t model_param_count(const ModelConfig *cfg) {
    Model m = {0}; /* freed below even when the config is refused before alloc_tables */
    size_t n = 0;
    if (!model_config_check(cfg) && alloc_tables(&m, cfg) == 0) {
        layout_params(&m);
        n = m.n_params;
    }
    free(m.tensors); free(m.bp); free(m.moe);
    return n;
}

/* the gradient norm's pieces and the chunks of those held here (NormChunk) */
#define NORM_CHUNK 65536
static int plan_norm(Model *m) {
    int pieces = 0, chunks = 0;
    for (int pass = 0; pass < 2; pass++) {
        pieces = chunks = 0;
        for (int i = 0; i < m->n_tensors; i++) {
            const ParamTensor *t = &m->tensors[i];
            size_t unit = t->expert_unit ? t->expert_unit : t->full;
            for (size_t at = 0; at < t->full; at += unit, pieces++) {
                if (pass) m->norm_piece_everywhere[pieces] = !t->expert_unit;
                if (at < t->lo || at >= t->lo + t->n) continue; /* another process's expert */
                for (size_t c = 0; c < unit; c += NORM_CHUNK, chunks++)
                    if (pass) m->norm_chunks[chunks] = (NormChunk){t->off + (at - t->lo) + c, unit - c < NORM_CHUNK ? unit - c : NORM_CHUNK, pieces};
            }
        }
        if (pass) break;
        m->norm_chunks = calloc((size_t)chunks + 1, sizeof *m->norm_chunks);
        m->norm_chunk_sum = calloc((size_t)chunks + 1, sizeof(double));
        m->norm_piece_sum = calloc((size_t)pieces + 1, sizeof(double));
        m->norm_piece_everywhere = calloc((size_t)pieces + 1, 1);
        if (!m->norm_chunks || !m->norm_chunk_sum || !m->norm_piece_sum || !m->norm_piece_everywhere) return -1;
    }
    m->n_norm_chunks = chunks;
    m->n_norm_pieces = pieces;
    return 0;
}

double model_grad_norm(Model *m) {
    const float *g = m->grads;
#pragma omp parallel for schedule(dynamic, 4)
    for (int k = 0; k < m->n_norm_chunks; k++) {
        const NormChunk *c = &m->norm_chunks[k];
        double s = 0;
        for (size_t i = c->off; i < c->off + c->n; i++) s += (double)g[i] * g[i];
        m->norm_chunk_sum[k] = s;
    }
    memset(m->norm_piece_sum, 0, sizeof(double) * m->n_norm_pieces);
    for (int k = 0; k < m->n_norm_chunks; k++) m->norm_piece_sum[m->norm_chunks[k].piece] += m->norm_chunk_sum[k];
    if (m->shard.ranks > 1) { /* each piece from one process only: the sum over processes is exact */
        if (m->shard.rank != 0)
            for (int p = 0; p < m->n_norm_pieces; p++)
                if (m->norm_piece_everywhere[p]) m->norm_piece_sum[p] = 0;
        m->shard.sum_doubles(m->shard.ctx, m->norm_piece_sum, m->n_norm_pieces);
    }
    double total = 0;
    for (int p = 0; p < m->n_norm_pieces; p++) total += m->norm_piece_sum[p];
    return sqrt(total);
}

int model_build_sharded(Model *m, const ModelConfig *cfg, uint64_t seed, const ModelShard *shard) {
    if (model_config_check(cfg)) { memset(m, 0, sizeof *m); return -1; }
    if (alloc_tables(m, cfg)) return -1;
    if (shard) {
        INVARIANT(shard->ranks >= 1 && shard->rank >= 0 && shard->rank < shard->ranks);
        INVARIANT(cfg->moe == MOE_NONE || cfg->experts % shard->ranks == 0);
        INVARIANT(shard->ranks == 1 || shard->sum_doubles);
        m->shard = *shard;
    }
    layout_params(m);
    m->params = malloc(m->n_params * sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));
    if (!m->params || !m->grads || plan_norm(m)) return -1;
    init_params(m, seed);
    model_set_moe_options(m, 0, 0.0f, 0.01f);
    return 0;
}

int model_build(Model *m, const ModelConfig *cfg, uint64_t seed) { return model_build_sharded(m, cfg, seed, NULL); }

void model_set_moe_options(Model *m, int training, float capacity, float balance) {
    m->training = training;
    m->capacity = capacity;
    m->balance = balance;
    for (int l = 0; l < m->cfg.layers; l++) {
        m->moe[l].capacity = capacity;
        m->moe[l].aux_coef = m->n_moe ? balance / m->n_moe : 0.0f;
    }
}

int model_set_capped_evaluation(Model *m, int on) {
    int differs = 0;
    for (int l = 0; l < m->cfg.layers; l++) {
        MoeLayer *L = &m->moe[l];
        if (L->s.kind == MOE_NONE) continue;
        L->capped_evaluation = on;
        differs |= L->capacity > 0 && !MOE_ROUTES[L->s.route]->always_capped;
    }
    return differs;
}

void model_set_router_options(Model *m, float z_coef, float bias_rate) {
    m->z_coef = z_coef;
    for (int l = 0; l < m->cfg.layers; l++) {
        m->moe[l].z_coef = m->n_moe ? z_coef / m->n_moe : 0.0f;
        m->moe[l].bias_rate = bias_rate;
    }
}

void model_balance_update(Model *m) {
    for (int l = 0; l < m->cfg.layers; l++)
        if (m->moe[l].s.kind != MOE_NONE) moe_bias_update(&m->moe[l], m->params);
}

const char *model_route_check(const ModelConfig *c, double capacity) {
    if (c->moe == MOE_NONE) return NULL;
    MoeShape s = moe_shape(c);
    const char *bad = moe_shape_check(&s);
    if (bad) return bad;
    if (c->causal && MOE_ROUTES[s.route]->sees_batch)
        return "router: this route picks among all the tokens of a batch, so later tokens change earlier outputs; "
               "a causal task cannot use it (topk or sinkhorn can)";
    return MOE_ROUTES[s.route]->check(&s, capacity);
}

static size_t add_act(size_t *n, size_t size) { size_t off = *n; *n += size; return off; }

int model_alloc_batch(Model *m, int B, int T) {
    const ModelConfig *c = &m->cfg;
    if (B < 1 || T < 1 || T > c->max_seq) return -1;
    free(m->acts); free(m->dacts); free(m->ba);
    m->B = B; m->T = T; m->alloc_T = T; m->alloc_B = B;
    size_t N = (size_t)B * T, C = c->d_model, F = (size_t)c->ffn_mult * C, n = 0;
    m->ba = calloc(c->layers ? c->layers : 1, sizeof(BlockActs));
    if (!m->ba) return -1;
    /* two regions: the activations whose gradients backward accumulates (+=), which it zeroes
     * every step, first; then the ones without a gradient buffer of their own (softmax
     * probabilities, norms' statistics, logits, whose gradient is overwritten whole, scratch):
     * offsets `k` counted from the second region's start, moved past the first at the end */
    size_t k = 0;
    m->patch_proj = add_act(&n, c->patch_dim > 0 ? (size_t)B * c->n_patches * C : 0);
    m->encoded = add_act(&n, N * C);
    for (int l = 0; l < c->layers; l++) {
        BlockActs *a = &m->ba[l];
        a->res_in = l == 0 ? m->encoded : m->ba[l - 1].res3;
        a->ln1 = add_act(&n, N * C);
        a->ln1_mean = add_act(&k, N);
        a->ln1_rstd = add_act(&k, N);
        a->qkv = add_act(&n, N * 3 * C);
        a->atty = add_act(&n, N * C);
        a->att = add_act(&k, (size_t)B * c->attn_heads * T * T);
        a->attproj = add_act(&n, N * C);
        a->res2 = add_act(&n, N * C);
        a->ln2 = add_act(&n, N * C);
        a->ln2_mean = add_act(&k, N);
        a->ln2_rstd = add_act(&k, N);
        a->fch = add_act(&n, N * F);
        a->fch_gelu = add_act(&n, N * F);
        a->fcproj = add_act(&n, N * C);
        /* dense_linears: the head layer's output (the FFN's input) and the FFN's output (the
         * merge layer's input) */
        int linears = c->dense_linears && !model_block_is_moe(c, l);
        a->ffhead = add_act(&n, linears ? N * C : 0);
        a->ffout = add_act(&n, linears ? N * C : 0);
        a->res3 = add_act(&n, N * C);
    }
    m->lnf = add_act(&n, N * C);
    m->lnf_mean = add_act(&k, N);
    m->lnf_rstd = add_act(&k, N);
    m->logits = add_act(&k, N * c->n_out);
    m->probs = add_act(&k, N * c->n_out);
    m->losses = add_act(&k, N);
    m->scratch_slots = omp_get_max_threads(); /* attention backward: one (T, T) slot per thread */
    m->scratch = add_act(&k, (size_t)m->scratch_slots * T * T);
    m->n_grad_acts = n;
    for (int l = 0; l < c->layers; l++) {
        BlockActs *a = &m->ba[l];
        a->ln1_mean += n; a->ln1_rstd += n; a->att += n; a->ln2_mean += n; a->ln2_rstd += n;
    }
    m->lnf_mean += n; m->lnf_rstd += n; m->logits += n; m->probs += n; m->losses += n; m->scratch += n;
    n += k;
    for (int l = 0; l < c->layers; l++)
        if (m->moe[l].s.kind != MOE_NONE && moe_alloc(&m->moe[l], (int)N)) return -1;
    m->n_acts = n;
    m->acts = calloc(n, sizeof(float));
    m->dacts = calloc(n, sizeof(float));
    return m->acts && m->dacts ? 0 : -1;
}

int model_set_length(Model *m, int T) {
    if (T < 1 || T > m->alloc_T) return -1;
    m->T = T;
    for (int l = 0; l < m->cfg.layers; l++)
        if (m->moe[l].s.kind != MOE_NONE) moe_set_tokens(&m->moe[l], m->B * T);
    return 0;
}

int model_set_rows(Model *m, int B) {
    if (B < 1 || B > m->alloc_B) return -1;
    m->B = B;
    return model_set_length(m, m->T);
}

void model_set_loss_denominator(Model *m, int n) { m->loss_denominator = n; }

long long *model_step_load(Model *m, int layer, int *n) {
    const MoeLayer *L = &m->moe[layer];
    *n = L->s.kind != MOE_NONE && L->s.bias_balance ? L->s.experts : 0;
    return *n ? m->moe[layer].pass_load : NULL;
}

int model_set_exchange(Model *m, const MoeExchange *x, const char **why) {
    *why = NULL;
    for (int l = 0; l < m->cfg.layers; l++) {
        MoeLayer *L = &m->moe[l];
        if (L->s.kind == MOE_NONE) continue;
        if (x && (*why = moe_exchange_check(&L->s, x->ranks))) return -1;
        if (moe_set_exchange(L, x, m->alloc_B * m->alloc_T)) return -1;
    }
    return 0;
}

void model_moe_stats_reduce(Model *m, const MoeSum *sum) {
    for (int l = 0; l < m->cfg.layers; l++)
        if (m->moe[l].s.kind != MOE_NONE) moe_stats_reduce(&m->moe[l], sum);
}

void model_free(Model *m) {
    for (int l = 0; m->moe && l < m->cfg.layers; l++) moe_free(&m->moe[l]);
    free(m->moe);
    free(m->tensors); free(m->bp); free(m->params); free(m->grads);
    free(m->norm_chunks); free(m->norm_chunk_sum); free(m->norm_piece_sum); free(m->norm_piece_everywhere);
    free(m->acts); free(m->dacts); free(m->ba);
    memset(m, 0, sizeof *m);
}

/* where position t of a sequence with NP image patches takes its position and modality
 * embeddings: each image restarts the positions, the text follows one image's positions.
 * first_image: the index of the row's first image (its place in a batch group) */
static void image_position(const ModelConfig *c, int NP, int t, int first_image, int *pos, int *modality) {
    int per = c->images > 1 ? c->n_patches / c->images : c->n_patches;
    if (t < NP) { *pos = t % per; *modality = first_image + t / per == 0 ? 0 : 2; }
    else { *pos = t - NP + (NP ? per : 0); *modality = 1; }
}

static int batch_group(const Batch *b) { return b->group > 1 ? b->group : 1; }

/* The encoder of a model that reads images. encoded (B,T,C): positions t < n_patches of a
 * batch with patches are patch W^T + b (or, where the token is not 0, that token's
 * embedding: a masked patch), the others their token embedding; every position adds its
 * position and modality (image, text, second image) embeddings (image_position). */
static void image_encoder_forward(Model *m, const Batch *batch) {
    const ModelConfig *c = &m->cfg;
    int B = m->B, T = m->T, C = c->d_model, NP = batch->patches ? c->n_patches : 0, group = batch_group(batch);
    if (NP > T) NP = T;
    if (NP) matmul_forward(A(m->patch_proj), batch->patches, P(m->patchw), P(m->patchb), B * c->n_patches, c->patch_dim, C);
    const float *wte = P(m->wte), *wpe = P(m->wpe), *mod = P(m->modality);
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = A(m->encoded) + ((size_t)b * T + t) * C;
            int tok = batch->tokens[b * T + t], is_patch = t < NP && tok == 0, pos, row;
            image_position(c, NP, t, b % group, &pos, &row);
            const float *e = is_patch ? A(m->patch_proj) + ((size_t)b * c->n_patches + t) * C : wte + (size_t)tok * C;
            const float *md = mod + (size_t)row * C, *p = wpe + (size_t)pos * C;
            for (int i = 0; i < C; i++) o[i] = e[i] + p[i] + md[i];
        }
}

/* backward of image_encoder_forward; serial over positions where rows of a shared table
 * (positions, modality, token embeddings) collect from many positions */
static void image_encoder_backward(Model *m, const Batch *batch) {
    const ModelConfig *c = &m->cfg;
    int B = m->B, T = m->T, C = c->d_model, NP = batch->patches ? c->n_patches : 0, group = batch_group(batch);
    if (NP > T) NP = T;
    const float *denc = DA(m->encoded);
    float *dwte = G(m->wte), *dwpe = G(m->wpe), *dmod = G(m->modality), *dpp = DA(m->patch_proj);
    if (NP) memset(dpp, 0, sizeof(float) * (size_t)B * c->n_patches * C); /* rows past T stay 0 */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = denc + ((size_t)b * T + t) * C;
            int tok = batch->tokens[b * T + t], is_patch = t < NP && tok == 0, pos, row;
            image_position(c, NP, t, b % group, &pos, &row);
            float *e = is_patch ? dpp + ((size_t)b * c->n_patches + t) * C : dwte + (size_t)tok * C;
            float *p = dwpe + (size_t)pos * C, *md = dmod + (size_t)row * C;
            if (is_patch) for (int i = 0; i < C; i++) { e[i] = d[i]; p[i] += d[i]; md[i] += d[i]; }
            else for (int i = 0; i < C; i++) { e[i] += d[i]; p[i] += d[i]; md[i] += d[i]; }
        }
    if (NP) matmul_backward(NULL, G(m->patchw), G(m->patchb), dpp, batch->patches, P(m->patchw), B * c->n_patches, c->patch_dim, C);
}

/* Within each group of G rows of `row` floats: into_first adds the later rows into the first
 * (forward: the first row's logits become the group's sum), else the first row into each
 * later one (backward: every row receives the gradient of the sum). A B that G does not
 * divide leaves its last rows alone. */
static void group_rows_add(float *x, int G, int B, size_t row, int into_first) {
    if (G < 2) return;
#pragma omp parallel for
    for (int g = 0; g < B / G; g++)
        for (int k = 1; k < G; k++) {
            float *first = x + (size_t)g * G * row, *other = first + k * row;
            float *dst = into_first ? first : other;
            const float *src = into_first ? other : first;
            for (size_t i = 0; i < row; i++) dst[i] += src[i];
        }
}

float model_forward(Model *m, const Batch *batch) {
    const ModelConfig *c = &m->cfg;
    int B = m->B, T = m->T, C = c->d_model, F = c->ffn_mult * C, N = B * T;
    m->last = batch;
    /* the activations hold alloc_B x alloc_T positions, laid out with stride T */
    INVARIANT(B <= m->alloc_B && T <= m->alloc_T && batch->B >= B && batch->T == T);
    double aux = 0, zl = 0;
    if (c->patch_dim > 0) {
        OpTimer t = op_begin(OP_EMBED);
        image_encoder_forward(m, batch);
        op_end(t, 0, 0);
    } else encoder_forward(A(m->encoded), batch->tokens, P(m->wte), P(m->wpe), B, T, C);
    int (*abandon)(void) = m->training ? NULL : m->abandon;
    for (int l = 0; l < c->layers; l++) {
        if (abandon && abandon()) {
            m->loss = 0;
            m->loss_count = 0;
            return 0;
        }
        const BlockParams *p = &m->bp[l];
        const BlockActs *a = &m->ba[l];
        layernorm_forward(A(a->ln1), A(a->ln1_mean), A(a->ln1_rstd), A(a->res_in), P(p->ln1w), P(p->ln1b), N, C);
        matmul_forward(A(a->qkv), A(a->ln1), P(p->qkvw), P(p->qkvb), N, C, 3 * C);
        attention_forward(A(a->atty), A(a->att), A(a->qkv), batch->key_mask, c->causal != 0,
                          c->causal == 2 ? c->n_patches : 0, B, T, C, c->attn_heads);
        matmul_forward(A(a->attproj), A(a->atty), P(p->projw), P(p->projb), N, C, C);
        residual_forward(A(a->res2), A(a->res_in), A(a->attproj), (size_t)N * C);
        layernorm_forward(A(a->ln2), A(a->ln2_mean), A(a->ln2_rstd), A(a->res2), P(p->ln2w), P(p->ln2b), N, C);
        if (m->moe[l].s.kind != MOE_NONE) {
            m->moe[l].seq_T = T;
            m->moe[l].image_NP = batch->patches ? c->n_patches : 0;
            m->moe[l].real = batch->key_mask;
            m->moe[l].abandon = abandon;
            moe_forward(&m->moe[l], m->params, A(a->fcproj), A(a->ln2), m->training);
            aux += m->moe[l].aux;
            zl += m->moe[l].z_loss;
        } else {
            /* ln2 (N,C) [-> ffhead (N,C)] -> fch (N,F) -> fch_gelu (N,F) -> [ffout (N,C) ->] fcproj (N,C);
             * fch is left holding GELU's slope, which the backward reads */
            size_t in = a->ln2, out = a->fcproj;
            if (c->dense_linears) {
                matmul_forward(A(a->ffhead), A(a->ln2), P(p->ffheadw), P(p->ffheadb), N, C, C);
                in = a->ffhead;
                out = a->ffout;
            }
            matmul_forward(A(a->fch), A(in), P(p->fcw), P(p->fcb), N, C, F);
            gelu_forward(A(a->fch_gelu), A(a->fch), A(a->fch), (size_t)N * F); /* fch now holds GELU's slope */
            matmul_forward(A(out), A(a->fch_gelu), P(p->fcprojw), P(p->fcprojb), N, F, C);
            if (c->dense_linears) matmul_forward(A(a->fcproj), A(a->ffout), P(p->ffmergew), P(p->ffmergeb), N, C, C);
        }
        residual_forward(A(a->res3), A(a->res2), A(a->fcproj), (size_t)N * C);
    }
    size_t last_res = c->layers ? m->ba[c->layers - 1].res3 : m->encoded;
    layernorm_forward(A(m->lnf), A(m->lnf_mean), A(m->lnf_rstd), A(last_res), P(m->lnfw), P(m->lnfb), N, C);
    matmul_forward(A(m->logits), A(m->lnf), P(m->headw), NULL, N, C, c->n_out);
    group_rows_add(A(m->logits), batch_group(batch), B, (size_t)T * c->n_out, 1);
    m->aux_loss = m->n_moe ? (float)(aux / m->n_moe) : 0.0f;
    m->z_loss = m->n_moe ? (float)(zl / m->n_moe) : 0.0f;
    m->loss = 0;
    m->loss_count = 0;
    if (batch->targets)
        m->loss = crossentropy_forward(A(m->probs), A(m->losses), A(m->logits), batch->targets,
                                       N, c->n_out, &m->loss_count);
    return m->loss;
}

const float *model_logits(const Model *m) { return m->acts + m->logits; }

const float *model_position_losses(const Model *m) { return m->acts + m->losses; }

float model_objective(const Model *m) { return m->loss + m->balance * m->aux_loss + m->z_coef * m->z_loss; }

/* memset split over the threads: one core alone does not reach the memory's write bandwidth */
static void zero_floats(float *x, size_t n) {
    size_t chunk = (size_t)1 << 16, chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < chunks; i++) memset(x + i * chunk, 0, sizeof(float) * (i + 1 < chunks ? chunk : n - i * chunk));
}

void model_zero_grad(Model *m) {
    OpTimer t = op_begin(OP_ZERO);
    zero_floats(m->grads, m->n_params);
    op_end(t, 0, 4.0 * m->n_params);
}

void model_backward(Model *m) {
    const ModelConfig *c = &m->cfg;
    const Batch *batch = m->last;
    int B = m->B, T = m->T, C = c->d_model, F = c->ffn_mult * C, N = B * T;
    OpTimer tz = op_begin(OP_ZERO);
    zero_floats(m->dacts, m->n_grad_acts);
    op_end(tz, 0, 4.0 * m->n_grad_acts);
    int denominator = m->loss_denominator ? m->loss_denominator : m->loss_count;
    float scale = denominator ? 1.0f / denominator : 0.0f;
    crossentropy_backward(DA(m->logits), A(m->probs), batch->targets, N, c->n_out, scale);
    group_rows_add(DA(m->logits), batch_group(batch), B, (size_t)T * c->n_out, 0);
    matmul_backward(DA(m->lnf), G(m->headw), NULL, DA(m->logits), A(m->lnf), P(m->headw), N, C, c->n_out);
    size_t last_res = c->layers ? m->ba[c->layers - 1].res3 : m->encoded;
    layernorm_backward(DA(last_res), G(m->lnfw), G(m->lnfb), DA(m->lnf), A(last_res), P(m->lnfw),
                       A(m->lnf_mean), A(m->lnf_rstd), N, C);
    for (int l = c->layers - 1; l >= 0; l--) {
        const BlockParams *p = &m->bp[l];
        const BlockActs *a = &m->ba[l];
        residual_backward(DA(a->res2), DA(a->fcproj), DA(a->res3), (size_t)N * C);
        if (m->moe[l].s.kind != MOE_NONE) {
            moe_backward(&m->moe[l], m->params, m->grads, DA(a->ln2), DA(a->fcproj), A(a->ln2));
        } else {
            size_t in = c->dense_linears ? a->ffhead : a->ln2, out = c->dense_linears ? a->ffout : a->fcproj;
            if (c->dense_linears)
                matmul_backward(DA(a->ffout), G(p->ffmergew), G(p->ffmergeb), DA(a->fcproj), A(a->ffout), P(p->ffmergew), N, C, C);
            matmul_backward(DA(a->fch_gelu), G(p->fcprojw), G(p->fcprojb), DA(out), A(a->fch_gelu), P(p->fcprojw), N, F, C);
            gelu_backward(DA(a->fch), A(a->fch), DA(a->fch_gelu), (size_t)N * F);
            matmul_backward(DA(in), G(p->fcw), G(p->fcb), DA(a->fch), A(in), P(p->fcw), N, C, F);
            if (c->dense_linears)
                matmul_backward(DA(a->ln2), G(p->ffheadw), G(p->ffheadb), DA(a->ffhead), A(a->ln2), P(p->ffheadw), N, C, C);
        }
        layernorm_backward(DA(a->res2), G(p->ln2w), G(p->ln2b), DA(a->ln2), A(a->res2), P(p->ln2w),
                           A(a->ln2_mean), A(a->ln2_rstd), N, C);
        residual_backward(DA(a->res_in), DA(a->attproj), DA(a->res2), (size_t)N * C);
        matmul_backward(DA(a->atty), G(p->projw), G(p->projb), DA(a->attproj), A(a->atty), P(p->projw), N, C, C);
        attention_backward(DA(a->qkv), A(m->scratch), m->scratch_slots, DA(a->atty), A(a->qkv), A(a->att), B, T, C, c->attn_heads);
        matmul_backward(DA(a->ln1), G(p->qkvw), G(p->qkvb), DA(a->qkv), A(a->ln1), P(p->qkvw), N, C, 3 * C);
        layernorm_backward(DA(a->res_in), G(p->ln1w), G(p->ln1b), DA(a->ln1), A(a->res_in), P(p->ln1w),
                           A(a->ln1_mean), A(a->ln1_rstd), N, C);
    }
    if (c->patch_dim > 0) {
        OpTimer t = op_begin(OP_EMBED);
        image_encoder_backward(m, batch);
        op_end(t, 0, 0);
    } else encoder_backward(G(m->wte), G(m->wpe), DA(m->encoded), batch->tokens, B, T, C);
}

size_t model_num_params(const Model *m) { return m->n_params_full; }

double model_flops_per_token(const ModelConfig *c, int T) {
    double C = c->d_model, F = (double)c->ffn_mult * C;
    MoeShape s = moe_shape(c);
    /* matmuls: qkv 3C^2, proj C^2, dense ffn 2CF per layer (and 2C^2 with its two linears), head C*n_out; attention scores
     * and weighted values 2*T*C per layer (the full T x T square is computed, also when
     * causal); an MoE block's FFN costs moe_macs_per_token (its top-k experts and routing) */
    double macs = C * c->n_out;
    for (int l = 0; l < c->layers; l++)
        macs += 4 * C * C + 2.0 * T * C +
                (model_block_is_moe(c, l) ? moe_macs_per_token(&s) : 2 * C * F + (c->dense_linears ? 2 * C * C : 0));
    return 2.0 * macs;
}
