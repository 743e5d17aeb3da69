#include "gemm.h"
#include "gemm_plan.h"
#include "profile.h"
#include "util/invariant.h"
#include <cblas.h>
#include <omp.h>
#include <string.h>
#ifdef MOEH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

static void openblas_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

#ifdef MOEH_ONEDNN
/* dnnl_sgemm is row-major; it fails only on bad arguments, which are a bug here */
static void onednn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc) {
    dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    INVARIANT(st == dnnl_success);
}
#endif

static const struct { const char *name; GemmFn fn; } BACKENDS[] = {
    {"openblas", openblas_gemm},
#ifdef MOEH_ONEDNN
    {"onednn", onednn_gemm},
#endif
};
#define N_BACKENDS ((int)(sizeof BACKENDS / sizeof BACKENDS[0]))

int gemm_backend_count(void) { return N_BACKENDS; }
const char *gemm_backend_name(int b) { INVARIANT(b >= 0 && b < N_BACKENDS); return BACKENDS[b].name; }
GemmFn gemm_backend_fn(int b) { INVARIANT(b >= 0 && b < N_BACKENDS); return BACKENDS[b].fn; }
int gemm_backend_find(const char *name) {
    for (int b = 0; b < N_BACKENDS; b++)
        if (!strcmp(BACKENDS[b].name, name)) return b;
    return -1;
}
void gemm_use(int b) { INVARIANT(b >= 0 && b < N_BACKENDS && gemm_plan_set(b, NULL, 0) == 0); }

void gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
          float beta, float *C, int ldc) {
    GemmFn fn = BACKENDS[gemm_plan_backend(trans_a, trans_b, M, N, K, beta != 0.0f, omp_in_parallel())].fn;
    if (!profile_enabled()) {
        fn(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int timed = !omp_in_parallel();
    OpTimer t = op_begin(OP_GEMM);
    double t0 = timed ? omp_get_wtime() : 0;
    fn(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double seconds = timed ? omp_get_wtime() - t0 : 0;
    double mn = (double)M * N;
    op_end(t, 2.0 * mn * K, 4.0 * ((double)M * K + (double)K * N + (beta != 0.0f ? 2 : 1) * mn));
    profile_gemm(trans_a, trans_b, M, N, K, beta != 0.0f, seconds, timed);
}
