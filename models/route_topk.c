/* router=topk, token choice: each sub-token takes the k experts of highest selection score;
 * the gates are the chosen experts' probabilities, renormalised over the k when k > 1. Under
 * a capacity (training), choice rank 0 of every sub-token is served before rank 1, in token
 * order, so overflow drops the least preferred assignments. */
#include "moe_route.h"
#include <limits.h>
#include <math.h>
#include <string.h>

static long topk_max_assignments(const MoeShape *s, int S) { return (long)S * s->topk; }

int moe_route_token_choice(MoeLayer *L, int training, const float *scale) {
    int N = L->s.experts, k = L->s.topk, S = L->S;
#pragma omp parallel for
    for (int s = 0; s < S; s++) {
        const float *p = L->probs + (size_t)s * N, *q = L->select + (size_t)s * N;
        int *ch = L->choice + (size_t)s * k;
        float *g = L->gate + (size_t)s * k;
        double sum = 0;
        for (int j = 0; j < k; j++) {
            L->asg_token[s * k + j] = s;
            if (L->freeze_routing) { g[j] = p[ch[j]]; sum += p[ch[j]]; continue; }
            int best = -1;
            for (int e = 0; e < N; e++) {
                int taken = 0;
                for (int i = 0; i < j; i++) taken |= ch[i] == e;
                if (!taken && (best < 0 || (scale ? q[e] * scale[e] > q[best] * scale[best] : q[e] > q[best]))) best = e;
            }
            ch[j] = best;
            g[j] = p[best];
            sum += p[best];
        }
        if (k > 1)
            for (int j = 0; j < k; j++) g[j] = (float)(g[j] / sum);
    }
    memset(L->frac, 0, sizeof(float) * N);
    for (int s = 0; s < S; s++) L->frac[L->choice[s * k]] += 1.0f / S;
    if (L->freeze_routing) return S * k;
    long cap = INT_MAX;
    if (training && L->capacity > 0) cap = (long)ceil((double)L->capacity * k * S / N);
    memset(L->count, 0, sizeof(int) * N);
    long long dropped = 0;
    for (int j = 0; j < k; j++)
        for (int s = 0; s < S; s++) {
            int e = L->choice[s * k + j];
            if (L->count[e] < cap) L->slot[s * k + j] = L->count[e]++;
            else { L->slot[s * k + j] = -1; dropped++; }
        }
    L->stats.dropped += dropped;
    return S * k;
}

static int topk_route(MoeLayer *L, int training) { return moe_route_token_choice(L, training, NULL); }

/* gates -> probabilities: g_j = p_j / sum over the chosen p (k > 1), g = p (k = 1) */
void moe_route_token_choice_backward(MoeLayer *L) {
    int N = L->s.experts, k = L->s.topk;
#pragma omp parallel for
    for (int s = 0; s < L->S; s++) {
        float *dp = L->dprobs + (size_t)s * N;
        const float *p = L->probs + (size_t)s * N;
        const int *ch = L->choice + (size_t)s * k;
        const float *g = L->gate + (size_t)s * k, *dg = L->dgate + (size_t)s * k;
        if (k == 1) { dp[ch[0]] += dg[0]; continue; }
        double sum = 0, dot = 0;
        for (int j = 0; j < k; j++) { sum += p[ch[j]]; dot += (double)dg[j] * g[j]; }
        for (int j = 0; j < k; j++) dp[ch[j]] += (float)((dg[j] - dot) / sum);
    }
}

static const char *topk_check(const MoeShape *s, double capacity) { return NULL; }

const MoeRoute moe_route_topk = {
    .name = "topk",
    .help = "token choice: each (sub-)token takes its topk experts (capacity drops the overflow)",
    .balanced = 0,
    .max_assignments = topk_max_assignments,
    .route = topk_route,
    .backward = moe_route_token_choice_backward,
    .check = topk_check,
};
