/* Where a training step's time goes, by op class: each timed op's own time (an op timed inside
 * another is taken out of the outer one's, so the classes add up to the timed total), the
 * floating-point operations it did and the bytes it moved, so `harness bench` can read each
 * class against the machine's GEMM and memory-bandwidth ceilings; and every GEMM shape with its
 * calls and time, so each can be timed alone. Off unless profile_enable(1) (the cost when off
 * is one branch per op). Only ops called outside an OpenMP parallel region are timed: one that
 * runs inside one (an expert's GEMMs when experts run side by side) is part of its caller's
 * class, though its GEMM shape is still counted. One process-wide table, meant for one model at
 * a time (bench runs each variant in a process of its own). */
#ifndef MOEH_PROFILE_H
#define MOEH_PROFILE_H

/* the op classes: name, and what is in it. Bound says what limits it: 'f' arithmetic
 * (read against the GEMM ceiling), 'm' memory traffic (against the bandwidth ceiling). */
#define OP_CLASSES(X) \
    X(GEMM, "gemm", 'f', "matrix products (every sgemm called outside a parallel region)") \
    X(BIAS, "bias", 'm', "bias adds and bias-gradient column sums") \
    X(ATTENTION, "attention", 'm', "softmax and its backward, beyond attention's GEMMs") \
    X(NORM, "layernorm", 'm', "layer norm forward and backward (with its parameter gradients)") \
    X(GELU, "gelu", 'm', "GELU forward and backward (dense FFN; experts' when run one at a time)") \
    X(RESIDUAL, "residual", 'm', "residual adds and their backward") \
    X(LOSS, "loss", 'm', "softmax cross-entropy forward and backward") \
    X(EMBED, "embed", 'm', "token/position embedding and image-patch encoder, forward and backward") \
    X(ZERO, "zero", 'm', "zeroing gradient and activation-gradient buffers") \
    X(ROUTE, "route", 'm', "MoE router, top-k, assignment bookkeeping, balance loss, statistics") \
    X(DISPATCH, "dispatch", 'm', "MoE gather to experts, gate-weighted combine, and their backward") \
    X(EXPERTS, "experts", 'f', "MoE experts run side by side (their GEMMs and GELU inside)") \
    X(OPTIMIZER, "optimizer", 'm', "gradient norm and AdamW")

typedef enum {
#define OP_ENUM(id, name, bound, what) OP_##id,
    OP_CLASSES(OP_ENUM)
#undef OP_ENUM
    OP_COUNT
} OpClass;

typedef struct {
    const char *name, *what;
    char bound;
} OpClassInfo;
extern const OpClassInfo OP_CLASS_INFO[OP_COUNT];

typedef struct {
    double seconds; /* own time */
    double flops, bytes;
    long calls;
} OpTotals;

/* a GEMM shape as called: C (M, N) = op(A) op(B), K inner; row-major; beta 0 or not */
typedef struct {
    int trans_a, trans_b, M, N, K, accumulate;
    long calls;       /* every call, inside parallel regions too */
    long timed_calls; /* the calls outside parallel regions, which seconds covers */
    double seconds;
} GemmShape;
#define PROFILE_MAX_SHAPES 256

typedef struct { int cls; double t0; } OpTimer;

void profile_enable(int on);
int profile_enabled(void);
void profile_reset(void);
/* op_begin returns a timer that op_end closes; both do nothing when profiling is off or the
 * call is inside a parallel region */
OpTimer op_begin(OpClass cls);
void op_end(OpTimer t, double flops, double bytes);
void profile_gemm(int trans_a, int trans_b, int M, int N, int K, int accumulate, double seconds, int timed);
const OpTotals *profile_totals(void);          /* (OP_COUNT) */
const GemmShape *profile_shapes(int *n);
long profile_shapes_dropped(void);             /* shapes past PROFILE_MAX_SHAPES, not kept */

#endif
