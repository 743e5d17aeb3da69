/* router=sinkhorn: token choice on a balanced version of the probabilities (S-BASE; Clark et
 * al. 2022, "Unified Scaling Laws for Routed Language Models"). Sinkhorn iterations scale the
 * (sub-token x expert) probability matrix P towards equal row sums and equal column sums; the
 * balanced matrix is diag(r) P diag(c), and since r only rescales a row, each sub-token's
 * ranking of the experts is the ranking of P[s][e] * c[e]: the selection needs the N column
 * factors alone, no S x N buffer. The gates stay the probabilities (as with topk), so the
 * backward pass is token choice's. Selection only: c carries no gradient. The balance is over
 * the whole batch, so later tokens move an earlier token's ranking: only where the capacity
 * applies (training, capped evaluation). A dropless evaluation ranks by the probabilities
 * alone, as BASE layers assign greedily at test time (Lewis et al. 2021): causal. */
#include "moe_route.h"

/* the default: enough for the factors to settle to a few percent on the batches here (each
 * iteration is one pass over P); an exact balance is not the goal, a ranking that spreads the
 * load is. sinkhorn_iterations= sets it. */
#define SINKHORN_ITERATIONS 8

/* c[0 .. N): the column factors after `iterations`, scaled so a balanced column holds S / N */
static void sinkhorn_column_factors(const float *P, int S, int N, int iterations, float *c) {
    double colsum[MOE_MAX_EXPERTS];
    for (int e = 0; e < N; e++) c[e] = 1.0f;
    for (int it = 0; it < iterations; it++) {
        for (int e = 0; e < N; e++) colsum[e] = 0;
        for (int s = 0; s < S; s++) { /* in order: the same numbers at any thread count */
            const float *p = P + (size_t)s * N;
            double row = 0;
            for (int e = 0; e < N; e++) row += (double)p[e] * c[e];
            if (row <= 0) continue; /* a sub-token with no probability anywhere balances nothing */
            for (int e = 0; e < N; e++) colsum[e] += p[e] / row;
        }
        for (int e = 0; e < N; e++) c[e] = colsum[e] > 0 ? (float)((double)S / N / colsum[e]) : 1.0f;
    }
}

static long sinkhorn_max_assignments(const MoeShape *s, int S) { return (long)S * s->topk; }

static int sinkhorn_route(MoeLayer *L, int capped) {
    float c[MOE_MAX_EXPERTS];
    if (!capped) return moe_route_token_choice(L, 0, NULL);
    int iterations = L->s.route_arg[0] > 0 ? L->s.route_arg[0] : SINKHORN_ITERATIONS;
    if (!L->freeze_routing) sinkhorn_column_factors(L->select, L->S, L->s.experts, iterations, c);
    return moe_route_token_choice(L, 1, c);
}

static const char *sinkhorn_check(const MoeShape *s, double capacity) {
    (void)capacity;
    if (s->bias_balance) return "balance_mode=loss_free: router=sinkhorn balances the selection itself";
    return NULL;
}

static const KeyDef SINKHORN_KEYS[] = {
    {"sinkhorn_iterations", KEY_ROLE_TRAINING, KEY_INT, "8", NULL, 1, 1000, "router=sinkhorn: balancing passes over the probability matrix before the ranking", NULL, KEY_OMIT_AT_DEFAULT | KEY_FOR_MOE},
};

const MoeRoute moe_route_sinkhorn = {
    .name = "sinkhorn",
    .help = "token choice on Sinkhorn-balanced probabilities (S-BASE, Clark et al. 2022); gates stay the probabilities",
    .balanced = 0,
    .max_assignments = sinkhorn_max_assignments,
    .route = sinkhorn_route,
    .backward = moe_route_token_choice_backward,
    .check = sinkhorn_check,
    .keys = SINKHORN_KEYS,
    .n_keys = (int)(sizeof SINKHORN_KEYS / sizeof SINKHORN_KEYS[0]),
};
