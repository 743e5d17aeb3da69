#include "moe.h"
#include "moe_experts.h"
#include "layers.h"
#include "moe_route.h"
#include "util/invariant.h"
#include "gemm.h"
#include "profile.h"
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int is_cosine(const MoeShape *s) { return s->kind == MOE_XMOE || s->kind == MOE_MHMOE; }
static int n_heads(const MoeShape *s) { return s->kind == MOE_MHMOE ? s->heads : 1; }
static int sub_dim(const MoeShape *s) { return s->C / n_heads(s); }
static int has_head(const MoeShape *s) { return s->kind == MOE_MHMOE && !(s->mh_without & MH_WITHOUT_HEAD); }
static int has_merge(const MoeShape *s) { return s->kind == MOE_MHMOE && !(s->mh_without & MH_WITHOUT_MERGE); }
static int mh_layer_count(const MoeShape *s) { return has_head(s) + has_merge(s); }
static const MoeRoute *route_of(const MoeShape *s) {
    INVARIANT(s->route >= 0 && s->route < MOE_ROUTE_COUNT);
    return MOE_ROUTES[s->route];
}

const char *moe_shape_check(const MoeShape *s) {
    if (s->kind < MOE_SMOE || s->kind > MOE_MHMOE) return "model: not an MoE variant";
    if (s->experts < 1 || s->experts > MOE_MAX_EXPERTS) return "experts must be from 1 to 1024 (times granularity)";
    if (s->route < 0 || s->route >= MOE_ROUTE_COUNT) return "router: not a known route";
    if (s->shared < 0 || s->shared > MOE_MAX_EXPERTS) return "shared_experts must be from 0 to 1024";
    if (s->topk < 1 || s->topk > s->experts) return "topk must be from 1 to experts";
    if (s->expert_dim < 1) return "expert_dim must be positive";
    if (is_cosine(s) && s->router_dim < 1) return "router_dim must be positive";
    if (s->kind == MOE_MHMOE && (s->heads < 1 || s->C % s->heads)) return "heads must divide d_model";
    if (s->mh_without < 0 || s->mh_without > (MH_WITHOUT_HEAD | MH_WITHOUT_MERGE)) return "mh_layers: not a known choice";
    if (s->mh_extra < 0 || s->mh_extra > MH_MAX_EXTRA) return "mh_mlp: 1 to 3 layers";
    return route_of(s)->check(s, 0);
}

size_t moe_param_count(const MoeShape *s) {
    size_t D = sub_dim(s), N = s->experts, M = s->expert_dim, de = s->router_dim, C = s->C;
    size_t n = (N + s->shared) * (M * D + M + D * M + D);
    if (s->kind == MOE_SMOE) n += N * D;
    if (s->bias_balance) n += N;
    if (is_cosine(s)) n += de * D + N * de + !s->code_router; /* + the temperature */
    if (s->kind == MOE_MHMOE) n += (size_t)mh_layer_count(s) * (1 + (size_t)s->mh_extra) * (C * C + C);
    return n;
}

double moe_macs_per_token(const MoeShape *s) {
    double H = n_heads(s), D = sub_dim(s), N = s->experts, de = s->router_dim, C = s->C;
    double macs = H * (s->topk + s->shared) * 2.0 * D * s->expert_dim;
    if (s->kind == MOE_SMOE) macs += C * N;
    if (is_cosine(s)) macs += H * (D * de + N * de);
    if (s->kind == MOE_MHMOE) macs += mh_layer_count(s) * (1.0 + s->mh_extra) * C * C;
    return macs;
}


/* The layer's buffers are cut from one workspace: carve hands out the next piece (64-byte
 * aligned, zeroed); with no base it only measures, so one pass sizes the block and a second
 * points the buffers into it. */
typedef struct { char *base; size_t used; } Workspace;

static void *carve(Workspace *w, size_t n, size_t elem) {
    size_t at = (w->used + 63) & ~(size_t)63;
    w->used = at + (n ? n : 1) * elem;
    return w->base ? w->base + at : NULL;
}
#define CARVE(w, ptr, n) ((ptr) = carve(w, (n), sizeof *(ptr)))

/* mh_extra's ReLU, in place; and its backward: g zeroed where the output r was not positive */
static void relu_forward(float *x, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) if (x[i] < 0) x[i] = 0;
}
static void relu_mask(float *g, const float *r, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) if (!(r[i] > 0)) g[i] = 0;
}

/* the multi-head layer: in (Ntok, C) -> [mh_extra x (linear, ReLU) ->] head_w -> L->h */
static void head_forward(MoeLayer *L, const float *P, const float *in) {
    int E = L->s.mh_extra, Ntok = L->Ntok, C = L->s.C;
    const float *x = in;
    for (int k = 0; k < E; k++) {
        matmul_forward(L->head_r[k], x, P + L->p.head_pre_w[k], P + L->p.head_pre_b[k], Ntok, C, C);
        relu_forward(L->head_r[k], (size_t)Ntok * C);
        x = L->head_r[k];
    }
    matmul_forward(L->h, x, P + L->p.head_w, P + L->p.head_b, Ntok, C, C);
}

/* from L->dh into din (+=), through head_w and the layers before it */
static void head_backward(MoeLayer *L, const float *P, float *G, float *din, const float *in) {
    int E = L->s.mh_extra, Ntok = L->Ntok, C = L->s.C;
    size_t n = (size_t)Ntok * C;
    const float *g = L->dh;
    for (int k = E; k >= 0; k--) { /* layer k: head_w for k = E, else head_pre k; its input */
        const float *x = k ? L->head_r[k - 1] : in;
        size_t w = k == E ? L->p.head_w : L->p.head_pre_w[k], b = k == E ? L->p.head_b : L->p.head_pre_b[k];
        float *dx = k ? L->mh_grad[k % 2] : din;
        if (k) memset(dx, 0, sizeof(float) * n);
        matmul_backward(dx, G + w, G + b, g, x, P + w, Ntok, C, C);
        if (k) relu_mask(dx, L->head_r[k - 1], n);
        g = dx;
    }
}

/* the merge layer: L->o -> merge_w [-> mh_extra x (ReLU, linear)] -> out */
static void merge_forward(MoeLayer *L, const float *P, float *out) {
    int E = L->s.mh_extra, Ntok = L->Ntok, C = L->s.C;
    const float *x = L->o;
    for (int k = 0; k <= E; k++) { /* layer k: merge_w for k = 0, else merge_post k - 1 */
        size_t w = k ? L->p.merge_post_w[k - 1] : L->p.merge_w, b = k ? L->p.merge_post_b[k - 1] : L->p.merge_b;
        float *y = k < E ? L->merge_r[k] : out;
        matmul_forward(y, x, P + w, P + b, Ntok, C, C);
        if (k < E) relu_forward(y, (size_t)Ntok * C);
        x = y;
    }
}

/* from dout into L->d_o (zeroed first), back through the merge layer's layers */
static void merge_backward(MoeLayer *L, const float *P, float *G, const float *dout) {
    int E = L->s.mh_extra, Ntok = L->Ntok, C = L->s.C;
    size_t n = (size_t)Ntok * C;
    const float *g = dout;
    for (int k = E; k >= 0; k--) {
        const float *x = k ? L->merge_r[k - 1] : L->o;
        size_t w = k ? L->p.merge_post_w[k - 1] : L->p.merge_w, b = k ? L->p.merge_post_b[k - 1] : L->p.merge_b;
        float *dx = k ? L->mh_grad[k % 2] : L->d_o;
        memset(dx, 0, sizeof(float) * n);
        matmul_backward(dx, G + w, G + b, g, x, P + w, Ntok, C, C);
        if (k) relu_mask(dx, L->merge_r[k - 1], n);
        g = dx;
    }
}

static void moe_workspace_layout(MoeLayer *L, Workspace *w) {
    const MoeShape *s = &L->s;
    size_t H = n_heads(s), N = s->experts, M = s->expert_dim, de = s->router_dim, K = s->shared;
    size_t S = L->S, D = L->D, A = L->A;
    size_t head = has_head(s);
    CARVE(w, L->h, head * S * D); CARVE(w, L->dh, head * S * D);
    CARVE(w, L->z, S * N); CARVE(w, L->probs, S * N); CARVE(w, L->probs0, S * N);
    CARVE(w, L->biased, s->bias_balance ? S * N : 0); CARVE(w, L->lse, S);
    CARVE(w, L->r, S * de); CARVE(w, L->rnorm, S); CARVE(w, L->cosv, S * N);
    CARVE(w, L->ehat, N * de); CARVE(w, L->enorm, N);
    CARVE(w, L->choice, A); CARVE(w, L->asg_token, A); CARVE(w, L->gate, A); CARVE(w, L->slot, A);
    CARVE(w, L->tok_offset, S + 1); CARVE(w, L->tok_asg, A);
    CARVE(w, L->count, N + K); CARVE(w, L->offset, N + K + 1); CARVE(w, L->scratch, S + 1);
    CARVE(w, L->pass_load, N);
    CARVE(w, L->xin, A * D); CARVE(w, L->h1, A * M); CARVE(w, L->a1, A * M); CARVE(w, L->xout, A * D);
    CARVE(w, L->o, S * D);
    for (int k = 0; k < MH_MAX_EXTRA; k++) {
        CARVE(w, L->head_r[k], head && k < s->mh_extra ? S * D : 0);
        CARVE(w, L->merge_r[k], has_merge(s) && k < s->mh_extra ? S * D : 0);
    }
    for (int k = 0; k < 2; k++) CARVE(w, L->mh_grad[k], s->mh_extra ? S * D : 0);
    CARVE(w, L->dz, S * N); CARVE(w, L->dprobs, S * N); CARVE(w, L->dprobs0, S * N);
    CARVE(w, L->dr, S * de); CARVE(w, L->drhat, S * de); CARVE(w, L->dcos, S * N); CARVE(w, L->dehat, N * de);
    CARVE(w, L->dxin, A * D); CARVE(w, L->dh1, A * M); CARVE(w, L->da1, A * M); CARVE(w, L->dxout, A * D);
    CARVE(w, L->dgate, A); CARVE(w, L->d_o, S * D);
    CARVE(w, L->stats.counts, H * N); CARVE(w, L->stats.image_counts, H * N);
    /* an owner receives at most every process's routed slots for a slice */
    size_t ranks = L->exchange ? (size_t)L->exchange->ranks : 0;
    size_t R = ranks ? ranks * (size_t)route_of(s)->max_assignments(s, L->exchange->slice_tokens * (int)H) : 0;
    /* sharded: process 0's evaluation batches (every token, no capacity) come to the owners too */
    size_t R_eval = ranks && L->exchange->sharded ? (size_t)route_of(s)->max_assignments(s, (int)S) : 0;
    if (R_eval > R) R = R_eval;
    L->ep_rows_max = R;
    CARVE(w, L->ep_send_count, ranks); CARVE(w, L->ep_send_at, ranks);
    CARVE(w, L->ep_recv_count, ranks); CARVE(w, L->ep_recv_at, ranks); CARVE(w, L->ep_rows, ranks ? N : 0);
    CARVE(w, L->ep_in, R * D); CARVE(w, L->ep_x, R * D); CARVE(w, L->ep_h1, R * M); CARVE(w, L->ep_a1, R * M);
    CARVE(w, L->ep_y, R * D); CARVE(w, L->ep_dy, R * D); CARVE(w, L->ep_dh1, R * M); CARVE(w, L->ep_da1, R * M);
    CARVE(w, L->ep_dx, R * D); CARVE(w, L->ep_grad, ranks ? 2 * M * D + M + D : 0);
}

int moe_alloc(MoeLayer *L, int Ntok) {
    const MoeShape *s = &L->s;
    moe_free(L);
    L->D = sub_dim(s);
    L->Ntok = L->Ntok_alloc = Ntok;
    L->S = Ntok * n_heads(s);
    L->A = (int)(route_of(s)->max_assignments(s, L->S) + (long)s->shared * L->S);
    Workspace w = {0};
    moe_workspace_layout(L, &w);
    if (!(w.base = calloc(1, w.used))) return -1;
    L->workspace = w.base;
    L->workspace_bytes = w.used;
    w.used = 0;
    moe_workspace_layout(L, &w);
    return 0;
}

int moe_set_exchange(MoeLayer *L, const MoeExchange *x, int max_tokens) {
    int Ntok = L->Ntok;
    L->exchange = x;
    if (moe_alloc(L, max_tokens)) return -1;
    moe_set_tokens(L, Ntok);
    return 0;
}

void moe_set_tokens(MoeLayer *L, int Ntok) {
    INVARIANT(Ntok >= 1 && Ntok <= L->Ntok_alloc); /* the buffers hold Ntok_alloc tokens' rows */
    L->Ntok = Ntok;
    L->S = Ntok * n_heads(&L->s);
}

void moe_free(MoeLayer *L) {
    free(L->workspace);
    MoeShape s = L->s;
    MoeParams p = L->p;
    float cap = L->capacity, coef = L->aux_coef, tau0 = L->tau0, zc = L->z_coef, rate = L->bias_rate;
    const MoeExchange *x = L->exchange;
    memset(L, 0, sizeof *L);
    L->s = s; L->p = p; L->capacity = cap; L->aux_coef = coef; L->tau0 = tau0; L->z_coef = zc; L->bias_rate = rate;
    L->exchange = x;
}

void moe_stats_reset(MoeLayer *L) {
    long long *c = L->stats.counts, *ic = L->stats.image_counts;
    memset(c, 0, sizeof(long long) * n_heads(&L->s) * L->s.experts);
    memset(ic, 0, sizeof(long long) * n_heads(&L->s) * L->s.experts);
    memset(&L->stats, 0, sizeof L->stats);
    L->stats.counts = c;
    L->stats.image_counts = ic;
}

int moe_heads(const MoeLayer *L) { return n_heads(&L->s); }

MoeWindow moe_window(const MoeLayer *L, const MoeStats *base) {
    const MoeStats *st = &L->stats;
    MoeStats zero;
    memset(&zero, 0, sizeof zero);
    const MoeStats *b = base ? base : &zero;
    MoeWindow w = {.passes = st->passes - b->passes, .assignments = st->assignments - b->assignments,
                   .dropped = st->dropped - b->dropped, .unrouted = st->unrouted - b->unrouted,
                   .subtokens = st->subtokens - b->subtokens};
    if (w.passes <= 0) return w;
    double n = (double)w.passes;
    w.aux = (st->aux_sum - b->aux_sum) / n;
    w.z_loss = (st->z_sum - b->z_sum) / n;
    w.entropy = (st->entropy_sum - b->entropy_sum) / n;
    w.distinct = (st->distinct_sum - b->distinct_sum) / n;
    w.tau = (st->tau_sum - b->tau_sum) / n;
    w.cos_spread = (st->cos_spread_sum - b->cos_spread_sum) / n;
    w.out_rms = (st->out_rms_sum - b->out_rms_sum) / n;
    return w;
}

long long moe_window_count(const MoeLayer *L, const MoeStats *base, int h, int e, int image) {
    size_t at = (size_t)h * L->s.experts + e;
    const long long *now = image ? L->stats.image_counts : L->stats.counts;
    const long long *then = base ? (image ? base->image_counts : base->counts) : NULL;
    return now[at] - (then ? then[at] : 0);
}

int moe_stats_snapshot_alloc(const MoeLayer *L, MoeStats *base) {
    size_t n = (size_t)n_heads(&L->s) * L->s.experts;
    memset(base, 0, sizeof *base);
    base->counts = calloc(n ? n : 1, sizeof(long long));
    base->image_counts = calloc(n ? n : 1, sizeof(long long));
    return base->counts && base->image_counts ? 0 : -1;
}

void moe_stats_snapshot_free(MoeStats *base) {
    free(base->counts);
    free(base->image_counts);
    base->counts = base->image_counts = NULL;
}

void moe_stats_snapshot(const MoeLayer *L, MoeStats *base) {
    long long *keep = base->counts, *ikeep = base->image_counts;
    size_t n = (size_t)n_heads(&L->s) * L->s.experts;
    memcpy(keep, L->stats.counts, sizeof(long long) * n);
    memcpy(ikeep, L->stats.image_counts, sizeof(long long) * n);
    *base = L->stats;
    base->counts = keep;
    base->image_counts = ikeep;
}

MoeImbalance moe_imbalance(const long long *load, int N) {
    MoeImbalance im = {0, 0, 0};
    double sum = 0, max = 0, var = 0;
    for (int e = 0; e < N; e++) {
        sum += (double)load[e];
        if (load[e] > max) max = (double)load[e];
        im.dead_experts += load[e] == 0;
    }
    if (N < 1 || sum <= 0) return im;
    double mean = sum / N;
    for (int e = 0; e < N; e++) var += ((double)load[e] - mean) * ((double)load[e] - mean);
    im.load_cv = sqrt(var / N) / mean;
    im.max_violation = max / mean - 1;
    return im;
}

/* rows of x (n, d) scaled to unit length, norms kept for backward */
static void normalize_rows(float *out, float *norms, const float *x, int n, int d) {
#pragma omp parallel for
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int j = 0; j < d; j++) ss += (double)x[(size_t)i * d + j] * x[(size_t)i * d + j];
        float nrm = (float)sqrt(ss);
        if (nrm < 1e-6f) nrm = 1e-6f;
        norms[i] = nrm;
        for (int j = 0; j < d; j++) out[(size_t)i * d + j] = x[(size_t)i * d + j] / nrm;
    }
}

/* backward of normalize_rows: dx = (dy - y (y . dy)) / |x|; accumulates into dx */
static void normalize_rows_backward(float *dx, const float *dy, const float *y, const float *norms, int n, int d) {
#pragma omp parallel for
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * d, *dyi = dy + (size_t)i * d;
        double dot = 0;
        for (int j = 0; j < d; j++) dot += (double)yi[j] * dyi[j];
        for (int j = 0; j < d; j++) dx[(size_t)i * d + j] += (dyi[j] - yi[j] * (float)dot) / norms[i];
    }
}

/* p = softmax(scale * x) or sigmoid(scale * x) over rows of N */
static void gate_probs(float *p, const float *x, float scale, int S, int N, int sigmoid) {
#pragma omp parallel for
    for (int s = 0; s < S; s++) {
        const float *xs = x + (size_t)s * N;
        float *ps = p + (size_t)s * N;
        if (sigmoid) {
            for (int e = 0; e < N; e++) ps[e] = 1.0f / (1.0f + expf(-scale * xs[e]));
            continue;
        }
        float mx = -INFINITY;
        for (int e = 0; e < N; e++) mx = scale * xs[e] > mx ? scale * xs[e] : mx;
        double sum = 0;
        for (int e = 0; e < N; e++) { ps[e] = expf(scale * xs[e] - mx); sum += ps[e]; }
        for (int e = 0; e < N; e++) ps[e] = (float)(ps[e] / sum);
    }
}

/* dz = d(prob)/d(logit) applied to dp: softmax p (dp - sum p dp), sigmoid dp p (1 - p) */
static void gate_probs_backward(float *dz, const float *p, const float *dp, int S, int N, int sigmoid) {
#pragma omp parallel for
    for (int s = 0; s < S; s++) {
        const float *ps = p + (size_t)s * N, *dps = dp + (size_t)s * N;
        float *dzs = dz + (size_t)s * N;
        if (sigmoid) {
            for (int e = 0; e < N; e++) dzs[e] = dps[e] * ps[e] * (1.0f - ps[e]);
            continue;
        }
        double dot = 0;
        for (int e = 0; e < N; e++) dot += (double)ps[e] * dps[e];
        for (int e = 0; e < N; e++) dzs[e] = ps[e] * (dps[e] - (float)dot);
    }
}

static float temperature(const MoeLayer *L, const float *P) {
    float tau = P[L->p.tau];
    return tau < 1e-2f ? 1e-2f : tau; /* a learnable temperature must stay positive */
}


/* lse (S) = log sum_e exp(scale * x); returns the z-loss, the mean over rows of lse^2 (ST-MoE) */
static float zloss_forward(float *lse, const float *x, float scale, int S, int N) {
    double total = 0;
#pragma omp parallel for reduction(+ : total)
    for (int s = 0; s < S; s++) {
        const float *xs = x + (size_t)s * N;
        float mx = -INFINITY;
        for (int e = 0; e < N; e++) mx = scale * xs[e] > mx ? scale * xs[e] : mx;
        double sum = 0;
        for (int e = 0; e < N; e++) sum += exp((double)scale * xs[e] - mx);
        lse[s] = (float)(mx + log(sum));
        total += (double)lse[s] * lse[s];
    }
    return S ? (float)(total / S) : 0.0f;
}

/* d(coef * z-loss)/d(scale * x) added into dlogit: coef * 2 lse_s softmax(scale * x)_se / S */
static void zloss_backward(float *dlogit, const float *x, float scale, const float *lse, int S, int N, float coef) {
#pragma omp parallel for
    for (int s = 0; s < S; s++) {
        float c = 2.0f * coef * lse[s] / S;
        for (int e = 0; e < N; e++)
            dlogit[(size_t)s * N + e] += c * expf(scale * x[(size_t)s * N + e] - lse[s]);
    }
}

/* the router's logits: what z-loss and the gate read (before the gate's softmax/sigmoid) */
static const float *router_logits(const MoeLayer *L, const float *P, float *scale) {
    if (L->s.kind == MOE_SMOE) { *scale = 1.0f; return L->z; }
    *scale = L->s.code_router ? 1.0f : 1.0f / temperature(L, P);
    return L->cosv;
}

/* The shared experts' assignments after the n routed ones (every sub-token to each, gate 1),
 * each expert's rows placed after the previous experts' (offsets), and each sub-token's
 * assignments listed in order (tok_offset, tok_asg: a counting sort by sub-token). */
static void place_assignments(MoeLayer *L, int n) {
    int N = L->s.experts, K = L->s.shared, S = L->S;
    INVARIANT(n >= 0 && (long)n + (long)K * S <= L->A); /* a route's assignments fit moe_alloc's slots */
    for (int j = 0; j < K; j++) {
        for (int s = 0; s < S; s++) {
            int a = n + j * S + s;
            L->choice[a] = N + j;
            L->asg_token[a] = s;
            L->gate[a] = 1.0f;
            L->slot[a] = s;
        }
        L->count[N + j] = S;
    }
    L->n_routed = n;
    L->n_asg = n + K * S;
    L->offset[0] = 0;
    for (int e = 0; e < N + K; e++) L->offset[e + 1] = L->offset[e] + L->count[e];
    for (int a = 0; a < L->n_asg; a++) {
        INVARIANT((unsigned)L->choice[a] < (unsigned)(N + K) && (unsigned)L->asg_token[a] < (unsigned)S);
        if (L->slot[a] >= 0) L->slot[a] += L->offset[L->choice[a]];
    }
    int *fill = L->scratch;
    memset(L->tok_offset, 0, sizeof(int) * (S + 1));
    for (int a = 0; a < L->n_asg; a++) L->tok_offset[L->asg_token[a] + 1]++;
    for (int s = 0; s < S; s++) L->tok_offset[s + 1] += L->tok_offset[s];
    memcpy(fill, L->tok_offset, sizeof(int) * S);
    for (int a = 0; a < L->n_asg; a++) L->tok_asg[fill[L->asg_token[a]]++] = a;
}

/* the pass's statistics; out: the layer's output (Ntok, C), tau: the temperature used (0: smoe) */
static void update_stats(MoeLayer *L, const float *out, float tau) {
    int N = L->s.experts, H = n_heads(&L->s), C = L->s.C;
    MoeStats *st = &L->stats;
    long long real_tokens = 0, unrouted = 0;
    double ent = 0, distinct = 0, spread = 0, out_sq = 0;
    unsigned char seen[MOE_MAX_EXPERTS];
    for (int t = 0; t < L->Ntok; t++) {
        if (L->real && !L->real[t]) continue;
        real_tokens++;
        int image = L->image_NP > 0 && t % L->seq_T < L->image_NP, n = 0;
        memset(seen, 0, N);
        for (int s = t * H; s < (t + 1) * H; s++) {
            int routed = 0;
            for (int i = L->tok_offset[s]; i < L->tok_offset[s + 1]; i++) {
                int e = L->choice[L->tok_asg[i]];
                if (e >= N) continue; /* a shared expert */
                routed++;
                size_t at = (size_t)(s % H) * N + e;
                st->counts[at]++;
                if (image) st->image_counts[at]++;
                if (!seen[e]) { seen[e] = 1; n++; }
            }
            unrouted += routed == 0;
            const float *p = L->probs + (size_t)s * N;
            double sum = 0, h = 0;
            for (int e = 0; e < N; e++) sum += p[e];
            for (int e = 0; e < N; e++) if (p[e] > 0) h -= (p[e] / sum) * log(p[e] / sum);
            ent += N > 1 ? h / log(N) : 0;
            if (L->s.kind != MOE_SMOE) { /* how far apart the router puts the experts for this sub-token */
                const float *c = L->cosv + (size_t)s * N;
                double m = 0, v = 0;
                for (int e = 0; e < N; e++) m += c[e];
                m /= N;
                for (int e = 0; e < N; e++) v += (c[e] - m) * (c[e] - m);
                spread += sqrt(v / N);
            }
        }
        for (int c = 0; c < C; c++) out_sq += (double)out[(size_t)t * C + c] * out[(size_t)t * C + c];
        distinct += n; /* distinct routed experts over a token's H sub-tokens and their choices */
    }
    st->assignments += L->n_routed;
    st->subtokens += real_tokens * H;
    st->tokens += real_tokens;
    st->unrouted += unrouted;
    st->aux_sum += L->aux;
    st->z_sum += L->z_loss;
    if (real_tokens) {
        st->entropy_sum += ent / (real_tokens * H);
        st->distinct_sum += distinct / real_tokens;
        st->cos_spread_sum += spread / (real_tokens * H);
        st->out_rms_sum += sqrt(out_sq / ((double)real_tokens * C));
    }
    st->tau_sum += tau;
    st->passes++;
}

/* Many experts run side by side, each on one thread (OpenBLAS runs an sgemm called inside a
 * parallel region on the calling thread alone): an expert's few rows make an sgemm too small to
 * split well over threads. Few experts keep the threads inside each sgemm. (Two loops, not an
 * if() clause: a region that if() makes one thread wide turns the loops inside it into nested
 * regions with a thread team of their own, measured 400x slower on a tiny model.) */
static int experts_side_by_side(int n) {
    int threads = omp_get_max_threads();
    return threads > 1 && n >= 4 * threads;
}

static void expert_block_forward(MoeLayer *L, const float *P, int e) {
    size_t off = L->offset[e], D = L->D, M = L->s.expert_dim;
    if (L->count[e])
        moe_expert_forward(L, P, e, L->count[e], L->xin + off * D, L->h1 + off * M, L->a1 + off * M, L->xout + off * D);
}

static void expert_block_backward(MoeLayer *L, const float *P, float *G, int e) {
    size_t off = L->offset[e], D = L->D, M = L->s.expert_dim;
    if (L->count[e])
        moe_expert_backward(L, P, moe_expert_grads(L, G, e), e, L->count[e], L->dxout + off * D, L->xin + off * D,
                            L->h1 + off * M, L->a1 + off * M, L->da1 + off * M, L->dh1 + off * M, L->dxin + off * D);
}

/* experts first .. N + K - 1 on this process's rows */
static void experts_forward(MoeLayer *L, const float *P, int first) {
    int n = L->s.experts + L->s.shared;
    int (*abandon)(void) = L->abandon;
    if (experts_side_by_side(n - first)) {
#pragma omp parallel for schedule(dynamic)
        for (int e = first; e < n; e++)
            if (!abandon || !abandon()) expert_block_forward(L, P, e);
    } else
        for (int e = first; e < n && (!abandon || !abandon()); e++) expert_block_forward(L, P, e);
}

static void experts_backward(MoeLayer *L, const float *P, float *G, int first) {
    int n = L->s.experts + L->s.shared;
    if (experts_side_by_side(n - first)) {
#pragma omp parallel for schedule(dynamic)
        for (int e = first; e < n; e++) expert_block_backward(L, P, G, e);
    } else
        for (int e = first; e < n; e++) expert_block_backward(L, P, G, e);
}

/* expert e's tensors in the buffer B (parameters or gradients): a routed expert is held here
 * (sharded: one of this process's block), a shared one (e >= N) always is */
static ExpertGrads expert_tensors(const MoeLayer *L, float *B, int e) {
    size_t D = L->D, M = L->s.expert_dim, N = (size_t)L->s.experts, i = (size_t)e;
    const MoeParams *p = &L->p;
    if (i >= N) {
        i -= N;
        return (ExpertGrads){B + p->sw1 + i * M * D, B + p->sb1 + i * M, B + p->sw2 + i * D * M, B + p->sb2 + i * D};
    }
    INVARIANT(e >= p->first_expert && e < p->first_expert + p->experts_held);
    i -= (size_t)p->first_expert;
    return (ExpertGrads){B + p->w1 + i * M * D, B + p->b1 + i * M, B + p->w2 + i * D * M, B + p->b2 + i * D};
}

void moe_expert_forward(const MoeLayer *L, const float *P, int e, int rows, const float *x, float *h1, float *a1,
                        float *y) {
    int D = L->D, M = L->s.expert_dim;
    ExpertGrads w = expert_tensors(L, (float *)P, e);
    matmul_forward(h1, x, w.w1, w.b1, rows, D, M);
    gelu_forward(a1, h1, h1, (size_t)rows * M); /* h1 now holds GELU's slope */
    matmul_forward(y, a1, w.w2, w.b2, rows, M, D);
}

ExpertGrads moe_expert_grads(const MoeLayer *L, float *G, int e) { return expert_tensors(L, G, e); }

void moe_expert_backward(const MoeLayer *L, const float *P, ExpertGrads g, int e, int rows, const float *dy,
                         const float *x, const float *h1, const float *a1, float *da1, float *dh1, float *dx) {
    int D = L->D, M = L->s.expert_dim;
    ExpertGrads w = expert_tensors(L, (float *)P, e);
    matmul_backward(da1, g.w2, g.b2, dy, a1, w.w2, rows, M, D);
    gelu_backward(dh1, h1, da1, (size_t)rows * M);
    matmul_backward(dx, g.w1, g.b1, dh1, x, w.w1, rows, D, M);
}

void moe_forward(MoeLayer *L, const float *P, float *out, const float *in, int training) {
    const MoeShape *sh = &L->s;
    const MoeRoute *R = route_of(sh);
    int C = sh->C, N = sh->experts, de = sh->router_dim;
    int D = L->D, S = L->S, Ntok = L->Ntok, mh = sh->kind == MOE_MHMOE;
    const float *U = in;
    double t0 = omp_get_wtime();
    if (has_head(sh)) {
        head_forward(L, P, in);
        double th = omp_get_wtime();
        L->t_mh += th - t0;
        t0 = th;
        U = L->h; /* (Ntok, C) read as (S, D): sub-tokens in token order, no copy */
    }
    OpTimer op = op_begin(OP_ROUTE);
    /* router */
    if (sh->kind == MOE_SMOE) {
        matmul_forward(L->z, U, P + L->p.router_w, NULL, S, D, N);
        gate_probs(L->probs, L->z, 1.0f, S, N, 0);
        memcpy(L->probs0, L->probs, sizeof(float) * S * N);
    } else {
        matmul_forward(L->r, U, P + L->p.router_w, NULL, S, D, de);
        if (!sh->code_router) normalize_rows(L->r, L->rnorm, L->r, S, de); /* r now holds the unit vectors */
        normalize_rows(L->ehat, L->enorm, P + L->p.expert_emb, N, de);
        gemm(0, 1, S, N, de, 1.0f, L->r, de, L->ehat, de,
                    0.0f, L->cosv, N);
        if (sh->code_router) { /* cosv holds the raw scores, which are the logits */
            gate_probs(L->probs, L->cosv, 1.0f, S, N, sh->sigmoid_gate);
            memcpy(L->probs0, L->probs, sizeof(float) * S * N);
        } else {
            gate_probs(L->probs, L->cosv, 1.0f / temperature(L, P), S, N, sh->sigmoid_gate);
            gate_probs(L->probs0, L->cosv, 1.0f / L->tau0, S, N, sh->sigmoid_gate);
        }
    }
    L->z_loss = 0;
    if (L->z_coef > 0) {
        float scale;
        const float *x = router_logits(L, P, &scale);
        L->z_loss = zloss_forward(L->lse, x, scale, S, N);
    }
    /* selection: the probabilities, shifted by the loss-free balancing bias */
    if (sh->bias_balance) {
        const float *bias = P + L->p.bias;
#pragma omp parallel for
        for (int s = 0; s < S; s++)
            for (int e = 0; e < N; e++) L->biased[(size_t)s * N + e] = L->probs[(size_t)s * N + e] + bias[e];
    }
    L->select = sh->bias_balance ? L->biased : L->probs;
    int n = R->route(L, training || L->capped_evaluation);
    if (!L->freeze_routing) place_assignments(L, n);
    if (training && sh->bias_balance && !L->freeze_routing) /* summed over the step's slices */
        for (int a = 0; a < n; a++) L->pass_load[L->choice[a]]++;
    /* balance loss: N * sum_e f_e P_e, f from top-1 choices (constant), P the mean probs0 */
    double aux = 0;
    if (!R->balanced)
        for (int e = 0; e < N; e++) {
            double Pe = 0;
            for (int s = 0; s < S; s++) Pe += L->probs0[(size_t)s * N + e];
            aux += L->frac[e] * Pe / S;
        }
    L->aux = (float)(N * aux);
    op_end(op, 0, 4.0 * 4 * S * N); /* logits, probabilities (two), selection: each written and read once */
    /* dispatch: gather each assignment's input row into its expert's contiguous block */
    double rows = L->offset[N + sh->shared], M = sh->expert_dim;
    op = op_begin(OP_DISPATCH);
#pragma omp parallel for
    for (int a = 0; a < L->n_asg; a++)
        if (L->slot[a] >= 0) memcpy(L->xin + (size_t)L->slot[a] * D, U + (size_t)L->asg_token[a] * D, sizeof(float) * D);
    op_end(op, 0, 8.0 * rows * D);
    double t1 = omp_get_wtime();
    /* the routed experts on their owners (training under expert parallelism; evaluation too
     * when they are sharded, process 0 announcing the layer to the others), the rest here */
    L->exchanged = L->exchange && (training || L->exchange->sharded);
    if (L->exchanged && !training) L->exchange->announce(L->exchange->ctx, L);
    if (L->exchanged) moe_exchange_forward(L, P);
    op = op_begin(OP_EXPERTS);
    experts_forward(L, P, L->exchanged ? N : 0);
    op_end(op, 4.0 * rows * D * M, 0);
    double t2 = omp_get_wtime();
    op = op_begin(OP_DISPATCH);
    /* combine: each sub-token sums its gate-weighted expert outputs (dropped ones add 0) */
    float *o = has_merge(sh) ? L->o : out; /* without a merge layer the sub-token outputs are the output */
#pragma omp parallel for
    for (int s = 0; s < S; s++) {
        float *os = o + (size_t)s * D;
        if (mh && sh->inner_residual) memcpy(os, U + (size_t)s * D, sizeof(float) * D);
        else memset(os, 0, sizeof(float) * D);
        for (int i = L->tok_offset[s]; i < L->tok_offset[s + 1]; i++) {
            int a = L->tok_asg[i], slot = L->slot[a];
            if (slot < 0) continue;
            float g = L->gate[a];
            const float *x = L->xout + (size_t)slot * D;
            for (int d = 0; d < D; d++) os[d] += g * x[d];
        }
    }
    op_end(op, 2.0 * rows * D, 4.0 * (rows + S) * D);
    double t3 = omp_get_wtime();
    if (has_merge(sh)) merge_forward(L, P, out);
    double t4 = omp_get_wtime();
    op = op_begin(OP_ROUTE);
    update_stats(L, out, sh->kind == MOE_SMOE ? 0.0f : sh->code_router ? 1.0f : temperature(L, P));
    op_end(op, 0, 4.0 * S * N + 4.0 * Ntok * C);
    L->t_experts += t2 - t1;
    L->t_mh += t4 - t3;
    L->t_route += (t1 - t0) + (t3 - t2) + (omp_get_wtime() - t4);
}

void moe_backward(MoeLayer *L, const float *P, float *G, float *din, const float *dout, const float *in) {
    const MoeShape *sh = &L->s;
    const MoeRoute *R = route_of(sh);
    int N = sh->experts, K = sh->shared, M = sh->expert_dim, de = sh->router_dim;
    int D = L->D, S = L->S, mh = sh->kind == MOE_MHMOE, A = L->n_asg;
    const float *U = has_head(sh) ? L->h : in, *dO = dout;
    float *dU = din;
    double t0 = omp_get_wtime();
    if (has_merge(sh)) {
        merge_backward(L, P, G, dout);
        double tm = omp_get_wtime();
        L->t_mh += tm - t0;
        t0 = tm;
        dO = L->d_o;
    }
    if (has_head(sh)) { /* without a head layer the sub-tokens' gradients are din's own */
        dU = L->dh;
        memset(dU, 0, sizeof(float) * S * D);
    }
    /* combine backward: gate gradients and the experts' output gradients */
    double rows = L->offset[N + K];
    OpTimer op = op_begin(OP_DISPATCH);
#pragma omp parallel for
    for (int a = 0; a < A; a++) {
        int slot = L->slot[a];
        if (slot < 0) { L->dgate[a] = 0; continue; }
        const float *d = dO + (size_t)L->asg_token[a] * D, *x = L->xout + (size_t)slot * D;
        float *dx = L->dxout + (size_t)slot * D, g = L->gate[a];
        double dot = 0;
        for (int j = 0; j < D; j++) { dot += (double)d[j] * x[j]; dx[j] = g * d[j]; }
        L->dgate[a] = (float)dot;
    }
    op_end(op, 3.0 * rows * D, 12.0 * rows * D);
    double t1 = omp_get_wtime();
    op = op_begin(OP_EXPERTS);
    /* the rows computed here (the owners return the routed rows' dxin whole) */
    size_t first_row = L->exchanged ? L->offset[N] : 0, rows_here = L->offset[N + K] - first_row;
    memset(L->dxin + first_row * D, 0, sizeof(float) * rows_here * D);
    memset(L->da1 + first_row * M, 0, sizeof(float) * rows_here * M);
    memset(L->dh1 + first_row * M, 0, sizeof(float) * rows_here * M);
    if (L->exchanged) moe_exchange_backward(L, P, G);
    experts_backward(L, P, G, L->exchanged ? N : 0);
    op_end(op, 8.0 * rows * D * M, 4.0 * rows * (2 * D + 2.0 * M)); /* and the zeroing of its buffers */
    double t2 = omp_get_wtime();
    /* dispatch backward: each sub-token gathers its assignments' input gradients */
    op = op_begin(OP_DISPATCH);
#pragma omp parallel for
    for (int s = 0; s < S; s++) {
        float *du = dU + (size_t)s * D;
        if (mh && sh->inner_residual)
            for (int j = 0; j < D; j++) du[j] += dO[(size_t)s * D + j];
        for (int i = L->tok_offset[s]; i < L->tok_offset[s + 1]; i++) {
            int slot = L->slot[L->tok_asg[i]];
            if (slot < 0) continue;
            const float *dx = L->dxin + (size_t)slot * D;
            for (int j = 0; j < D; j++) du[j] += dx[j];
        }
    }
    op_end(op, rows * D, 4.0 * (rows + 2.0 * S) * D);
    op = op_begin(OP_ROUTE);
    /* the balance loss's gradient, then the route's: gates -> probabilities */
    float coef = R->balanced ? 0.0f : L->aux_coef * N / S;
    /* smoe's and the code router's balance probabilities are their gate probabilities */
    int sep0 = sh->kind != MOE_SMOE && !sh->code_router;
#pragma omp parallel for
    for (int s = 0; s < S; s++) {
        float *dp = L->dprobs + (size_t)s * N, *dp0 = L->dprobs0 + (size_t)s * N;
        for (int e = 0; e < N; e++) {
            dp[e] = sep0 ? 0.0f : coef * L->frac[e];
            dp0[e] = sep0 ? coef * L->frac[e] : 0.0f;
        }
    }
    R->backward(L);
    float zscale;
    const float *zx = router_logits(L, P, &zscale);
    if (sh->kind == MOE_SMOE) {
        gate_probs_backward(L->dz, L->probs, L->dprobs, S, N, 0);
        if (L->z_coef > 0) zloss_backward(L->dz, zx, zscale, L->lse, S, N, L->z_coef);
        matmul_backward(dU, G + L->p.router_w, NULL, L->dz, U, P + L->p.router_w, S, D, N);
    } else if (sh->code_router) {
        gate_probs_backward(L->dcos, L->probs, L->dprobs, S, N, sh->sigmoid_gate);
        if (L->z_coef > 0) zloss_backward(L->dcos, zx, zscale, L->lse, S, N, L->z_coef);
        /* scores = r ehat^T with r the raw projection */
        gemm(0, 0, S, de, N, 1.0f, L->dcos, N, L->ehat, de, 0.0f, L->dr, de);
        gemm(1, 0, N, de, S, 1.0f, L->dcos, N, L->r, de, 0.0f, L->dehat, de);
        normalize_rows_backward(G + L->p.expert_emb, L->dehat, L->ehat, L->enorm, N, de);
        matmul_backward(dU, G + L->p.router_w, NULL, L->dr, U, P + L->p.router_w, S, D, de);
    } else {
        float tau = temperature(L, P), tau0 = L->tau0;
        gate_probs_backward(L->dz, L->probs, L->dprobs, S, N, sh->sigmoid_gate);
        gate_probs_backward(L->dcos, L->probs0, L->dprobs0, S, N, sh->sigmoid_gate);
        if (L->z_coef > 0) zloss_backward(L->dz, zx, zscale, L->lse, S, N, L->z_coef);
        /* z = cos / tau: dcos = dz / tau + dz0 / tau0 ; dtau = -sum dz cos / tau^2.
         * Row partial sums in rnorm-sized scratch would race; one serial pass keeps the order. */
        double dtau = 0;
        for (size_t i = 0; i < (size_t)S * N; i++) {
            dtau -= (double)L->dz[i] * L->cosv[i];
            L->dcos[i] = L->dz[i] / tau + L->dcos[i] / tau0;
        }
        if (P[L->p.tau] >= 1e-2f) G[L->p.tau] += (float)(dtau / ((double)tau * tau));
        /* cos = rhat ehat^T */
        gemm(0, 0, S, de, N, 1.0f, L->dcos, N, L->ehat, de, 0.0f, L->drhat, de);
        gemm(1, 0, N, de, S, 1.0f, L->dcos, N, L->r, de, 0.0f, L->dehat, de);
        memset(L->dr, 0, sizeof(float) * S * de);
        normalize_rows_backward(L->dr, L->drhat, L->r, L->rnorm, S, de);
        normalize_rows_backward(G + L->p.expert_emb, L->dehat, L->ehat, L->enorm, N, de);
        /* the projection's input was U, its output the raw r (overwritten; only its norm is needed) */
        matmul_backward(dU, G + L->p.router_w, NULL, L->dr, U, P + L->p.router_w, S, D, de);
    }
    op_end(op, 0, 4.0 * 6 * S * N);
    double t3 = omp_get_wtime();
    if (has_head(sh)) head_backward(L, P, G, din, in);
    L->t_experts += t2 - t1;
    L->t_mh += omp_get_wtime() - t3;
    L->t_route += (t1 - t0) + (t3 - t2);
}

void moe_bias_update(MoeLayer *L, float *P) {
    if (!L->s.bias_balance || !L->pass_load) return; /* no buffers: never ran */
    int N = L->s.experts;
    double total = 0;
    for (int e = 0; e < N; e++) total += (double)L->pass_load[e];
    double mean = total / N;
    float *bias = P + L->p.bias;
    for (int e = 0; e < N; e++)
        bias[e] += (double)L->pass_load[e] < mean ? L->bias_rate : (double)L->pass_load[e] > mean ? -L->bias_rate : 0.0f;
    memset(L->pass_load, 0, sizeof(long long) * N); /* the next step counts afresh */
}

void moe_stats_reduce(MoeLayer *L, const MoeSum *sum) {
    MoeStats *st = &L->stats;
    int n = n_heads(&L->s) * L->s.experts;
    sum->ll(sum->ctx, st->counts, n);
    sum->ll(sum->ctx, st->image_counts, n);
    long long ll[] = {st->assignments, st->dropped, st->subtokens, st->tokens, st->unrouted, st->passes};
    double d[] = {st->aux_sum, st->z_sum, st->entropy_sum, st->distinct_sum, st->tau_sum, st->cos_spread_sum, st->out_rms_sum};
    sum->ll(sum->ctx, ll, (int)(sizeof ll / sizeof ll[0]));
    sum->d(sum->ctx, d, (int)(sizeof d / sizeof d[0]));
    st->assignments = ll[0]; st->dropped = ll[1]; st->subtokens = ll[2]; st->tokens = ll[3]; st->unrouted = ll[4];
    st->passes = ll[5];
    st->aux_sum = d[0]; st->z_sum = d[1]; st->entropy_sum = d[2]; st->distinct_sum = d[3]; st->tau_sum = d[4];
    st->cos_spread_sum = d[5]; st->out_rms_sum = d[6];
}
