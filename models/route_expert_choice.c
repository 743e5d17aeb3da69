/* router=expert_choice (Zhou et al. 2022): each expert takes the cap = ceil(capacity * k * S / N)
 * sub-tokens (at most S) of highest probability for it, so a sub-token may be taken by several
 * experts or by none; the gates are those probabilities, not renormalised. Every expert
 * processes the same number of sub-tokens: balanced by construction, so no balance loss. The
 * capacity factor is the routing rule, in evaluation too (capacity=0 means 1). A token
 * competes with the later tokens of its batch for an expert, which a left-to-right reader
 * could not do, so the route is refused on causal tasks (sees_batch); the sub-tokens left
 * unrouted are counted. */
#include "moe_route.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EC_MAX_CAPACITY 4.0 /* the buffers are sized for it */

static long ec_per_expert(const MoeShape *s, double capacity, int S) {
    double cf = capacity > 0 ? capacity : 1.0;
    if (cf > EC_MAX_CAPACITY) cf = EC_MAX_CAPACITY;
    long cap = (long)ceil(cf * s->topk * S / s->experts);
    return cap > S ? S : cap < 1 ? 1 : cap;
}

static long ec_max_assignments(const MoeShape *s, int S) { return ec_per_expert(s, EC_MAX_CAPACITY, S) * s->experts; }

/* sub-token a ranks above b for expert column e of probs: higher probability, then earlier */
static int ranks_above(const float *probs, int N, int e, int a, int b) {
    float pa = probs[(size_t)a * N + e], pb = probs[(size_t)b * N + e];
    return pa > pb || (pa == pb && a < b);
}

static int ascending_int(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* the cap best sub-tokens for expert e into tok[0 .. cap), in token order: a heap whose top is
 * the lowest-ranked of those kept */
static void ec_select(const float *probs, int S, int N, int e, int cap, int *tok) {
    int n = 0;
    for (int s = 0; s < S; s++) {
        int at;
        if (n < cap) {
            at = n++;
            while (at > 0 && ranks_above(probs, N, e, tok[(at - 1) / 2], s)) { tok[at] = tok[(at - 1) / 2]; at = (at - 1) / 2; }
            tok[at] = s;
            continue;
        }
        if (!ranks_above(probs, N, e, s, tok[0])) continue;
        at = 0; /* replace the top and sift it down */
        for (;;) {
            int c = 2 * at + 1;
            if (c >= n) break;
            if (c + 1 < n && ranks_above(probs, N, e, tok[c], tok[c + 1])) c++;
            if (!ranks_above(probs, N, e, s, tok[c])) break;
            tok[at] = tok[c];
            at = c;
        }
        tok[at] = s;
    }
    qsort(tok, (size_t)n, sizeof *tok, ascending_int);
}

static int ec_route(MoeLayer *L, int training) {
    int N = L->s.experts, S = L->S;
    memset(L->frac, 0, sizeof(float) * N);
    if (L->freeze_routing) {
        for (int a = 0; a < L->n_routed; a++) L->gate[a] = L->probs[(size_t)L->asg_token[a] * N + L->choice[a]];
        return L->n_routed;
    }
    int cap = (int)ec_per_expert(&L->s, L->capacity, S);
#pragma omp parallel for
    for (int e = 0; e < N; e++) {
        int *tok = L->asg_token + (size_t)e * cap;
        ec_select(L->probs, S, N, e, cap, tok);
        for (int i = 0; i < cap; i++) {
            size_t a = (size_t)e * cap + i;
            L->choice[a] = e;
            L->gate[a] = L->probs[(size_t)tok[i] * N + e];
            L->slot[a] = i;
        }
        L->count[e] = cap;
    }
    return N * cap;
}

static void ec_backward(MoeLayer *L) {
    int N = L->s.experts;
    for (int a = 0; a < L->n_routed; a++) L->dprobs[(size_t)L->asg_token[a] * N + L->choice[a]] += L->dgate[a];
}

static const char *ec_check(const MoeShape *s, double capacity) {
    if (capacity > EC_MAX_CAPACITY) return "capacity: router=expert_choice takes a capacity factor of at most 4";
    if (s->bias_balance) return "balance_mode=loss_free: router=expert_choice is balanced by construction";
    return NULL;
}

const MoeRoute moe_route_expert_choice = {
    .name = "expert_choice",
    .help = "expert choice: each expert takes its capacity*topk*S/N best (sub-)tokens (Zhou et al. 2022)",
    .balanced = 1,
    .always_capped = 1,
    .sees_batch = 1,
    .max_assignments = ec_max_assignments,
    .route = ec_route,
    .backward = ec_backward,
    .check = ec_check,
};
