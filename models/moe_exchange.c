/* Expert parallelism inside an MoE layer (MoeExchange in moe.h). Process q owns the E = N / P
 * experts q E .. q E + E - 1. Every process's buffer is sorted by expert, so the rows for one
 * owner are one contiguous piece of it; they arrive at the owner by process, then by expert.
 * The owner regroups them by expert (then process), so each expert is one pair of sgemms over
 * every process's rows; or, ordered, runs each arrived block alone (the sgemms and additions one
 * process makes running the processes' slices one after another: the same bits). */
#include "moe_experts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *moe_exchange_check(const MoeShape *s, int ranks) {
    if (ranks < 1 || s->experts % ranks) return "experts (times granularity) must be a multiple of the processes";
    return NULL;
}

/* rows each process sends each owner (one int per owned expert, the counts of this forward),
 * and the float counts and offsets of both directions */
static void exchange_plan(MoeLayer *L) {
    const MoeExchange *x = L->exchange;
    int P = x->ranks, E = L->s.experts / P, D = L->D, at = 0;
    x->alltoall_ints(x->ctx, L->count, L->ep_rows, E);
    for (int q = 0; q < P; q++) {
        L->ep_send_at[q] = L->offset[q * E] * D;
        L->ep_send_count[q] = (L->offset[(q + 1) * E] - L->offset[q * E]) * D;
        int rows = 0;
        for (int j = 0; j < E; j++) rows += L->ep_rows[q * E + j];
        L->ep_recv_at[q] = at * D;
        L->ep_recv_count[q] = rows * D;
        at += rows;
    }
    if ((size_t)at > L->ep_rows_max) { /* a slice longer than MoeExchange.slice_tokens said */
        fprintf(stderr, "error: expert parallelism: %d rows arrived for buffers of %zu\n", at, L->ep_rows_max);
        abort();
    }
}

/* between arrival order (by process, then expert) and expert order (by expert, then process):
 * to_expert copies by_process into by_expert, else back */
static void exchange_regroup(const MoeLayer *L, float *by_process, float *by_expert, int to_expert) {
    int P = L->exchange->ranks, E = L->s.experts / P, D = L->D;
    size_t dst = 0;
    for (int j = 0; j < E; j++)
        for (int q = 0; q < P; q++) {
            size_t src = (size_t)L->ep_recv_at[q] / D, rows = (size_t)L->ep_rows[q * E + j];
            for (int i = 0; i < j; i++) src += (size_t)L->ep_rows[q * E + i];
            if (to_expert) memcpy(by_expert + dst * D, by_process + src * D, sizeof(float) * rows * D);
            else memcpy(by_process + src * D, by_expert + dst * D, sizeof(float) * rows * D);
            dst += rows;
        }
}

/* The owner's units of work, in the order of its compute buffers: ordered, each process's block
 * of each owned expert where it arrived (by process, then expert); else each owned expert over
 * every process's rows (regrouped). Unit i's expert into *e; returns its rows. */
static int exchange_units(const MoeLayer *L) {
    int P = L->exchange->ranks, E = L->s.experts / P;
    return L->exchange->ordered ? P * E : E;
}

static int exchange_unit(const MoeLayer *L, int i, int *e) {
    int P = L->exchange->ranks, E = L->s.experts / P, rows = 0;
    if (L->exchange->ordered) {
        *e = L->exchange->rank * E + i % E;
        return L->ep_rows[i];
    }
    *e = L->exchange->rank * E + i;
    for (int q = 0; q < P; q++) rows += L->ep_rows[q * E + i];
    return rows;
}

void moe_exchange_forward(MoeLayer *L, const float *P) {
    const MoeExchange *x = L->exchange;
    int D = L->D, M = L->s.expert_dim;
    exchange_plan(L);
    /* ep_x: the rows in unit order (as they arrive when ordered) */
    float *arrive = x->ordered ? L->ep_x : L->ep_in;
    x->alltoallv_floats(x->ctx, L->xin, L->ep_send_count, L->ep_send_at, arrive, L->ep_recv_count, L->ep_recv_at);
    if (!x->ordered) exchange_regroup(L, L->ep_in, L->ep_x, 1);
    size_t off = 0;
    for (int i = 0, e; i < exchange_units(L); i++) {
        int rows = exchange_unit(L, i, &e);
        if (rows) moe_expert_forward(L, P, e, rows, L->ep_x + off * D, L->ep_h1 + off * M, L->ep_a1 + off * M, L->ep_y + off * D);
        off += (size_t)rows;
    }
    const float *back = L->ep_y;
    if (!x->ordered) exchange_regroup(L, L->ep_in, L->ep_y, 0), back = L->ep_in;
    x->alltoallv_floats(x->ctx, back, L->ep_recv_count, L->ep_recv_at, L->xout, L->ep_send_count, L->ep_send_at);
}

void moe_exchange_backward(MoeLayer *L, const float *P, float *G) {
    const MoeExchange *x = L->exchange;
    int ranks = x->ranks, D = L->D, M = L->s.expert_dim;
    /* the forward's plan still holds: the same rows travel, the other way first */
    size_t total = (size_t)(L->ep_recv_at[ranks - 1] + L->ep_recv_count[ranks - 1]) / D;
    float *arrive = x->ordered ? L->ep_dy : L->ep_in;
    x->alltoallv_floats(x->ctx, L->dxout, L->ep_send_count, L->ep_send_at, arrive, L->ep_recv_count, L->ep_recv_at);
    if (!x->ordered) exchange_regroup(L, L->ep_in, L->ep_dy, 1);
    memset(L->ep_da1, 0, sizeof(float) * total * M);
    memset(L->ep_dh1, 0, sizeof(float) * total * M);
    memset(L->ep_dx, 0, sizeof(float) * total * D);
    size_t off = 0, n_grad = 2 * (size_t)M * D + M + D;
    /* ordered: each block's weight gradients alone, added to the expert's in process order */
    float *gw = L->ep_grad;
    ExpertGrads block = {gw, gw + (size_t)M * D, gw + (size_t)M * D + M, gw + 2 * (size_t)M * D + M};
    for (int i = 0, e; i < exchange_units(L); i++) {
        int rows = exchange_unit(L, i, &e);
        if (rows) {
            ExpertGrads g = moe_expert_grads(L, G, e);
            if (x->ordered) memset(gw, 0, sizeof(float) * n_grad);
            moe_expert_backward(L, P, x->ordered ? block : g, e, rows, L->ep_dy + off * D, L->ep_x + off * D,
                                L->ep_h1 + off * M, L->ep_a1 + off * M, L->ep_da1 + off * M, L->ep_dh1 + off * M,
                                L->ep_dx + off * D);
            if (x->ordered) { /* g += the block's gradients, as a sum of two slices' gradient buffers */
                const float *from[] = {block.w1, block.b1, block.w2, block.b2};
                float *to[] = {g.w1, g.b1, g.w2, g.b2};
                size_t n[] = {(size_t)M * D, (size_t)M, (size_t)D * M, (size_t)D};
                for (int k = 0; k < 4; k++)
                    for (size_t t = 0; t < n[k]; t++) to[k][t] = to[k][t] + from[k][t];
            }
        }
        off += (size_t)rows;
    }
    const float *back = L->ep_dx;
    if (!x->ordered) exchange_regroup(L, L->ep_in, L->ep_dx, 0), back = L->ep_in;
    x->alltoallv_floats(x->ctx, back, L->ep_recv_count, L->ep_recv_at, L->dxin, L->ep_send_count, L->ep_send_at);
}

void moe_exchange_serve(MoeLayer *L, const float *P) {
    /* no rows of its own: it sends none and computes what process 0 sends */
    memset(L->count, 0, sizeof(int) * (size_t)(L->s.experts + L->s.shared));
    memset(L->offset, 0, sizeof(int) * (size_t)(L->s.experts + L->s.shared + 1));
    moe_exchange_forward(L, P);
}
