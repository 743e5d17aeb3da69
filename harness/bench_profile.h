/* `harness bench`'s map of a training step: the share of each op class (models/profile.h)
 * with its GFLOP/s or GB/s, and the GEMM shapes that take the most time, each also timed alone
 * so the step's GEMMs can be read against what this BLAS does on the same shape. */
#ifndef MOEH_BENCH_PROFILE_H
#define MOEH_BENCH_PROFILE_H
#include "models/gemm.h"
#include "models/gemm_plan.h"
#include "models/profile.h"

#define BENCH_SHAPES 8

typedef struct {
    int steps;
    double step_s;                   /* profiled step time (the timers' cost included) */
    OpTotals ops[OP_COUNT];          /* summed over the steps */
    GemmShape shapes[BENCH_SHAPES];  /* the most FLOPs first, summed over the steps */
    double alone_gflops[BENCH_SHAPES][GEMM_MAX_BACKENDS]; /* by backend (gemm_backend_name) */
    int backends;                    /* the backends timed alone */
    char plan[1024];                 /* gemm= as the step ran it (models/gemm_plan.h) */
    int n_shapes, all_shapes;
    double gemm_flops;               /* of every shape, summed over the steps */
} StepProfile;

/* after `steps` profiled steps: the totals and the top shapes, each shape then timed alone
 * with every backend of the build (a shape the step ran side by side, inside a parallel region,
 * is timed so too: every thread calling it at once on buffers of its own) */
void step_profile_collect(StepProfile *p, int steps, double step_s);
/* the profile as a table; ceilings (0: not measured): the best square sgemm, GB/s of a triad */
void step_profile_print(const StepProfile *p, const char *label, double gemm_ceiling, double bandwidth);
/* GB/s of a parallel triad a = b + s c over three 32 MB arrays, best of 5, in a child process */
double memory_bandwidth(int threads);

#endif
