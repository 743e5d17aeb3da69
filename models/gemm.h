/* Every matrix product of the model goes through gemm: C (M, N) = alpha op(A) op(B) + beta C,
 * row-major, op a transpose when trans_*; cblas_sgemm's row-major signature without the layout
 * argument. One place to time each product by shape (models/profile.h) and to choose the
 * library that computes it: the backends below, OpenBLAS always, oneDNN when the build found
 * it (MOEH_ONEDNN). Same backend, shape and threads: the same bits. */
#ifndef MOEH_GEMM_H
#define MOEH_GEMM_H

typedef void (*GemmFn)(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);

void gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
          float beta, float *C, int ldc);

/* the backends this build has, by index: 0 is OpenBLAS */
int gemm_backend_count(void);
const char *gemm_backend_name(int backend);
GemmFn gemm_backend_fn(int backend);
int gemm_backend_find(const char *name); /* its index, or -1 */
/* every product on one backend from now on (process-wide; set before training, not during
 * it); models/gemm_plan.h chooses per shape */
void gemm_use(int backend);
/* at most this many backends in a build (bench's tables are sized by it) */
#define GEMM_MAX_BACKENDS 2

#endif
