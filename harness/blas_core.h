/* Which OpenBLAS kernel runs. Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernel when it loads;
 * on a CPU it does not know it falls back to a generic SSE kernel (Prescott), 2.5-4x slower
 * than the AVX2 / AVX-512 kernels the CPU could run. OpenBLAS reads OPENBLAS_CORETYPE only at
 * load, so a better kernel needs the process started again: blas_core_startup decides, checks
 * the candidate kernel in a child process (a wrong kernel can die of SIGILL), and re-executes
 * the harness with OPENBLAS_CORETYPE set. The decision itself is a pure function, tested on
 * any machine. */
#ifndef MOEH_BLAS_CORE_H
#define MOEH_BLAS_CORE_H
#include <stddef.h>

/* the best OpenBLAS kernel family a CPU (and its OS) can run */
typedef enum { CPU_TIER_BELOW_AVX2 = 0, CPU_TIER_AVX2, CPU_TIER_AVX512, CPU_TIER_AVX512_BF16 } CpuTier;

/* from the cpuid registers: leaf 1 ECX, leaf 7.0 EBX, leaf 7.1 EAX, and XCR0 (0 without OSXSAVE) */
CpuTier cpu_tier_from_regs(unsigned leaf1_ecx, unsigned leaf7_ebx, unsigned leaf7_1_eax, unsigned long long xcr0);
CpuTier cpu_tier_detect(void);
const char *cpu_tier_name(CpuTier t);

/* 1: an OpenBLAS x86 kernel older than AVX2 (Prescott, Nehalem, Sandybridge, ...); 0: AVX2 or
 * newer; -1: a name this table does not know (nothing is done about it) */
int blas_kernel_is_generic(const char *corename);

typedef struct {
    int try_count;             /* 0: keep the loaded kernel */
    const char *try_kernels[4]; /* best first: each is self-checked, the first that passes is used (a named
                                 * kernel first, then auto's candidates) */
    char why[256];             /* one line for the user; empty when there is nothing to say */
} BlasPlan;

/* key: the blas_core word (auto, keep or a kernel name; NULL = auto); env_coretype: the
 * user's OPENBLAS_CORETYPE (NULL if unset); chosen_before: the harness already chose the
 * kernel of this process (a re-executed harness, or a sweep worker); loaded: the kernel
 * OpenBLAS reports. */
void blas_core_plan(const char *key, const char *env_coretype, int chosen_before, const char *loaded,
                    CpuTier tier, BlasPlan *plan);

/* C = A^T? B^T? over shapes up to 257 (both transposes, alpha/beta, threaded sizes) against a
 * double-precision reference. Passes when every |c - ref| <= 2 (k + 2) u (alpha sum_k |a||b|
 * + beta |c0|) + 1e-30 (u = 2^-24: a correct float32 dot product of length k, scaled and
 * added to beta c0, keeps it). gemm has
 * cblas_sgemm's row-major signature without the layout argument. 0 pass, -1 with err. */
typedef void (*SgemmFn)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc);
int blas_selfcheck(SgemmFn gemm, char *err, size_t errlen);
void blas_sgemm_rowmajor(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);

/* First thing in main for the commands that compute: may re-execute the process (and then
 * does not return). Words are the command's key=value words (blas_core= is read, not removed). */
void blas_core_startup(char **argv, int nwords, char **words);
/* `harness blas-check NAME`: the child's side of the self-check; exit code */
int blas_core_check_command(const char *name);

/* what runs, for the record: kernel name, and "OpenBLAS 0.3.21 ... ; kernel chosen by ...;
 * N threads" */
const char *blas_core_name(void);
void blas_describe(char *buf, size_t n, int threads);

#endif
