/* The OpenBLAS kernel decision (CPU features + loaded kernel + environment + blas_core word
 * -> action) on made-up machines, so it is tested whatever CPU runs it; the cpuid decoding on
 * known register values; and the sgemm self-check passing the real BLAS and failing broken ones. */
#include "check.h"
#include "harness/blas_core.h"
#include <string.h>

/* the plan tries exactly the kernels listed, in order */
#define tries(p, ...) tries_list(p, (const char *const[]){__VA_ARGS__, NULL})
static int tries_list(const BlasPlan *p, const char *const *want) {
    int n = 0;
    while (want[n]) n++;
    if (p->try_count != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(p->try_kernels[i], want[i])) return 0;
    return 1;
}

static void test_cpu_tiers(void) {
    unsigned sse3 = 1u, avx_fma_os = (1u << 12) | (1u << 27) | (1u << 28), avx2 = 1u << 5;
    unsigned avx512 = avx2 | (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31), bf16 = 1u << 5;
    CHECK(cpu_tier_from_regs(sse3, 0, 0, 0) == CPU_TIER_BELOW_AVX2, "an SSE3-only CPU");
    CHECK(cpu_tier_from_regs(avx_fma_os, avx2, 0, 0x7) == CPU_TIER_AVX2, "Haswell-like");
    CHECK(cpu_tier_from_regs(avx_fma_os & ~(1u << 12), avx2, 0, 0x7) == CPU_TIER_BELOW_AVX2, "AVX2 without FMA");
    CHECK(cpu_tier_from_regs(avx_fma_os & ~(1u << 27), avx2, 0, 0x7) == CPU_TIER_BELOW_AVX2, "no OSXSAVE: the OS keeps no YMM state");
    CHECK(cpu_tier_from_regs(avx_fma_os, avx512, 0, 0xe7) == CPU_TIER_AVX512, "Skylake-X-like");
    CHECK(cpu_tier_from_regs(avx_fma_os, avx512, bf16, 0xe7) == CPU_TIER_AVX512_BF16, "Cooper Lake / Sapphire Rapids-like");
    CHECK(cpu_tier_from_regs(avx_fma_os, avx512, bf16, 0x7) == CPU_TIER_AVX2, "AVX-512 the OS does not enable (XCR0 without ZMM)");
    CHECK(cpu_tier_from_regs(avx_fma_os, avx512 & ~(1u << 31), 0, 0xe7) == CPU_TIER_AVX2, "AVX-512 without VL");
}

static void test_kernel_names(void) {
    CHECK(blas_kernel_is_generic("Prescott") == 1, "Prescott is the generic fallback");
    CHECK(blas_kernel_is_generic("Sandybridge") == 1, "an AVX kernel without FMA counts as older");
    CHECK(blas_kernel_is_generic("Haswell") == 0 && blas_kernel_is_generic("zen") == 0, "AVX2 kernels, any case");
    CHECK(blas_kernel_is_generic("Cooperlake") == 0, "AVX-512 kernels");
    CHECK(blas_kernel_is_generic("ARMV8") == -1 && blas_kernel_is_generic(NULL) == -1, "unknown names are left alone");
}

static void test_plans(void) {
    BlasPlan p;
    blas_core_plan("auto", NULL, 0, "Prescott", CPU_TIER_AVX512_BF16, &p);
    CHECK(tries(&p, "Cooperlake", "SkylakeX", "Haswell"), "generic kernel on a BF16 CPU: best first, %d", p.try_count);
    CHECK(strstr(p.why, "Prescott") && strstr(p.why, "BF16"), "the line names the kernel and the CPU: %s", p.why);
    blas_core_plan(NULL, NULL, 0, "Prescott", CPU_TIER_AVX512, &p);
    CHECK(tries(&p, "SkylakeX", "Haswell"), "no word means auto; AVX-512 without BF16");
    blas_core_plan("auto", "", 0, "Prescott", CPU_TIER_AVX2, &p);
    CHECK(tries(&p, "Haswell"), "AVX2+FMA CPU; an empty OPENBLAS_CORETYPE is unset");
    blas_core_plan("auto", NULL, 0, "Sandybridge", CPU_TIER_AVX2, &p);
    CHECK(tries(&p, "Haswell"), "an AVX kernel on an AVX2 CPU");
    blas_core_plan("auto", NULL, 0, "Prescott", CPU_TIER_BELOW_AVX2, &p);
    CHECK(p.try_count == 0, "nothing better for this CPU");
    blas_core_plan("auto", NULL, 0, "Haswell", CPU_TIER_AVX512_BF16, &p);
    CHECK(p.try_count == 0 && !*p.why, "an AVX2 kernel is not the fallback: kept");
    blas_core_plan("auto", NULL, 0, "Zen", CPU_TIER_AVX2, &p);
    CHECK(p.try_count == 0, "OpenBLAS's own good choice is kept");
    blas_core_plan("auto", NULL, 0, "ARMV8", CPU_TIER_BELOW_AVX2, &p);
    CHECK(p.try_count == 0, "an unknown kernel is kept");
    blas_core_plan("auto", "Prescott", 0, "Prescott", CPU_TIER_AVX512_BF16, &p);
    CHECK(p.try_count == 0, "OPENBLAS_CORETYPE set by the user wins over auto");
    blas_core_plan("keep", NULL, 0, "Prescott", CPU_TIER_AVX512_BF16, &p);
    CHECK(p.try_count == 0, "blas_core=keep");
    blas_core_plan("auto", "Cooperlake", 1, "Cooperlake", CPU_TIER_AVX512_BF16, &p);
    CHECK(p.try_count == 0, "a process whose kernel the harness chose does not choose again (no re-exec loop)");
    blas_core_plan("Prescott", NULL, 1, "Cooperlake", CPU_TIER_AVX512_BF16, &p);
    CHECK(p.try_count == 0, "nor does a sweep worker that inherited the choice");
    blas_core_plan("SkylakeX", "Haswell", 0, "Haswell", CPU_TIER_AVX512, &p);
    CHECK(tries(&p, "SkylakeX"), "a named kernel wins over OPENBLAS_CORETYPE");
    blas_core_plan("haswell", NULL, 0, "Haswell", CPU_TIER_AVX2, &p);
    CHECK(p.try_count == 0, "the named kernel is already loaded (names compare in any case)");
    blas_core_plan("Skylakx", NULL, 0, "Prescott", CPU_TIER_AVX512_BF16, &p);
    CHECK(tries(&p, "Skylakx", "Cooperlake", "SkylakeX", "Haswell"),
          "a named kernel that fails its check falls back to auto's choice, not to the generic one");
    CHECK(strstr(p.why, "blas_core=Skylakx"), "the line names the word: %s", p.why);
    blas_core_plan("Prescott", NULL, 0, "Zen", CPU_TIER_AVX2, &p);
    CHECK(tries(&p, "Prescott"), "a named kernel where OpenBLAS's own choice is good: that choice is the fallback");
}

/* broken sgemms: each must be caught */
static void gemm_off_by_ulps(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                             const float *b, int ldb, float beta, float *c, int ldc) {
    blas_sgemm_rowmajor(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (m > 30) c[(m / 2) * ldc + n / 2] *= 1.001f;
}
static void gemm_ignores_beta(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                              const float *b, int ldb, float beta, float *c, int ldc) {
    blas_sgemm_rowmajor(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
}
static void gemm_nan(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    blas_sgemm_rowmajor(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    c[0] = NAN;
}
static void gemm_past_n(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc) {
    blas_sgemm_rowmajor(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    c[n] = 0.25f;
}

static void test_selfcheck(void) {
    char err[512] = "";
    CHECK(blas_selfcheck(blas_sgemm_rowmajor, err, sizeof err) == 0, "the linked OpenBLAS passes: %s", err);
    CHECK(blas_selfcheck(gemm_off_by_ulps, err, sizeof err) == -1 && strstr(err, "allowed error"),
          "an error of 1e-3 relative in one element is caught: %s", err);
    CHECK(blas_selfcheck(gemm_ignores_beta, err, sizeof err) == -1 && strstr(err, "beta 1"), "beta ignored: %s", err);
    CHECK(blas_selfcheck(gemm_nan, err, sizeof err) == -1, "a NaN is caught");
    CHECK(blas_selfcheck(gemm_past_n, err, sizeof err) == -1 && strstr(err, "past column"), "writing past n: %s", err);
}

int main(void) {
    test_cpu_tiers();
    test_kernel_names();
    test_plans();
    test_selfcheck();
    CHECK_FINISH();
}
