#include "profile.h"
#include "util/invariant.h"
#include <omp.h>
#include <string.h>

const OpClassInfo OP_CLASS_INFO[OP_COUNT] = {
#define OP_INFO(id, name, bound, what) {name, what, bound},
    OP_CLASSES(OP_INFO)
#undef OP_INFO
};

#define MAX_DEPTH 16
static int enabled;
static OpTotals totals[OP_COUNT];
static GemmShape shapes[PROFILE_MAX_SHAPES];
static int n_shapes;
static long shapes_dropped;
/* the open timers, innermost last: each collects the time of the timers opened inside it */
static double child_seconds[MAX_DEPTH];
static int depth;

void profile_enable(int on) { enabled = on; }
int profile_enabled(void) { return enabled; }

void profile_reset(void) {
    memset(totals, 0, sizeof totals);
    memset(shapes, 0, sizeof shapes);
    n_shapes = 0;
    shapes_dropped = 0;
    depth = 0;
}

OpTimer op_begin(OpClass cls) {
    if (!enabled || omp_in_parallel()) return (OpTimer){-1, 0};
    INVARIANT(depth < MAX_DEPTH);
    child_seconds[depth++] = 0;
    return (OpTimer){(int)cls, omp_get_wtime()};
}

void op_end(OpTimer t, double flops, double bytes) {
    if (t.cls < 0) return;
    double elapsed = omp_get_wtime() - t.t0;
    INVARIANT(depth > 0);
    depth--;
    OpTotals *o = &totals[t.cls];
    o->seconds += elapsed - child_seconds[depth];
    o->flops += flops;
    o->bytes += bytes;
    o->calls++;
    if (depth > 0) child_seconds[depth - 1] += elapsed;
}

void profile_gemm(int trans_a, int trans_b, int M, int N, int K, int accumulate, double seconds, int timed) {
    if (!enabled) return;
#pragma omp critical(profile_gemm)
    {
        int i = 0;
        while (i < n_shapes && !(shapes[i].trans_a == trans_a && shapes[i].trans_b == trans_b && shapes[i].M == M &&
                                 shapes[i].N == N && shapes[i].K == K && shapes[i].accumulate == accumulate))
            i++;
        if (i == n_shapes && n_shapes < PROFILE_MAX_SHAPES)
            shapes[n_shapes++] = (GemmShape){trans_a, trans_b, M, N, K, accumulate, 0, 0, 0};
        if (i < n_shapes) {
            shapes[i].calls++;
            shapes[i].timed_calls += timed;
            shapes[i].seconds += seconds;
        } else shapes_dropped++;
    }
}

const OpTotals *profile_totals(void) { return totals; }
const GemmShape *profile_shapes(int *n) { *n = n_shapes; return shapes; }
long profile_shapes_dropped(void) { return shapes_dropped; }
