/* gemm=auto's choice of backend per GEMM shape, and its text: the stored config holds the plan
 * that ran, so from= and resume= run every product on the same backend (same bits).
 *
 * A plan is a default backend and the shapes that run elsewhere:
 *     onednn                       every product on oneDNN
 *     onednn,openblas@NT2048x384x128+,openblas@NN*x32x1965
 * A shape is op(A) op(B) (N or T each), M x N x K, and '+' when the product adds to C (beta 1).
 * A '*' names the products run side by side inside a parallel region (the MoE experts, one per
 * thread), whose row counts follow the routing: one choice whatever the rows. The rows are M,
 * except in a product of a transposed A (a weight gradient, op(A) = T), where they are K. */
#ifndef MOEH_GEMM_PLAN_H
#define MOEH_GEMM_PLAN_H
#include <stddef.h>

typedef struct {
    unsigned char trans_a, trans_b, accumulate, backend;
    int M, N, K; /* side by side: -1 in place of the rows (K when trans_a, else M) */
} GemmChoice;

#define GEMM_PLAN_MAX 128

/* the plan gemm follows from now on (process-wide; set before training): a default and up to
 * GEMM_PLAN_MAX exceptions. 0, or -1 when there are too many. */
int gemm_plan_set(int default_backend, const GemmChoice *exceptions, int n);
/* the class a call belongs to: its shape, the rows as -1 when run side by side */
GemmChoice gemm_class(int trans_a, int trans_b, int M, int N, int K, int accumulate, int side_by_side);
/* the backend of one call (gemm.c asks it on every call) */
int gemm_plan_backend(int trans_a, int trans_b, int M, int N, int K, int accumulate, int side_by_side);
/* the plan in use as text; the length it needed (like snprintf) */
size_t gemm_plan_text(char *out, size_t n);
/* a plan's text (a backend name alone included) made the plan in use; -1 with what is wrong in err */
int gemm_plan_parse(const char *text, char *err, size_t errlen);

#endif
