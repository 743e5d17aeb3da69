#include "blas_core.h"
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* OpenBLAS's own queries (declared in its cblas.h too, but not in every version) */
char *openblas_get_corename(void);
char *openblas_get_config(void);

/* set in the environment of a process whose kernel the harness chose (the re-executed harness,
 * and every process it starts): its value says how, for the record */
#define CHOSEN_ENV "MOEH_BLAS_CHOSEN"

#define BIT(x, n) (((x) >> (n)) & 1u)

CpuTier cpu_tier_from_regs(unsigned leaf1_ecx, unsigned leaf7_ebx, unsigned leaf7_1_eax, unsigned long long xcr0) {
    int osxsave = BIT(leaf1_ecx, 27), os_ymm = osxsave && (xcr0 & 0x6) == 0x6,
        os_zmm = osxsave && (xcr0 & 0xe6) == 0xe6;
    int avx2_fma = BIT(leaf1_ecx, 28) && BIT(leaf1_ecx, 12) && BIT(leaf7_ebx, 5) && os_ymm;
    /* Skylake-X's set: F, DQ, CD, BW, VL */
    int avx512 = avx2_fma && os_zmm && BIT(leaf7_ebx, 16) && BIT(leaf7_ebx, 17) && BIT(leaf7_ebx, 28) &&
                 BIT(leaf7_ebx, 30) && BIT(leaf7_ebx, 31);
    if (avx512 && BIT(leaf7_1_eax, 5)) return CPU_TIER_AVX512_BF16;
    if (avx512) return CPU_TIER_AVX512;
    return avx2_fma ? CPU_TIER_AVX2 : CPU_TIER_BELOW_AVX2;
}

CpuTier cpu_tier_detect(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d, ecx1 = 0, ebx7 = 0, eax71 = 0;
    unsigned long long xcr0 = 0;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 1 || !__get_cpuid(1, &a, &b, &c, &d)) return CPU_TIER_BELOW_AVX2;
    ecx1 = c;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        ebx7 = b;
        if (a >= 1) { __cpuid_count(7, 1, a, b, c, d); eax71 = a; }
    }
    if (BIT(ecx1, 27)) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((unsigned long long)hi << 32) | lo;
    }
    return cpu_tier_from_regs(ecx1, ebx7, eax71, xcr0);
#else
    return CPU_TIER_BELOW_AVX2;
#endif
}

const char *cpu_tier_name(CpuTier t) {
    static const char *const names[] = {"no AVX2", "AVX2+FMA", "AVX-512", "AVX-512 with BF16"};
    return names[t];
}

int blas_kernel_is_generic(const char *corename) {
    static const char *const older[] = {"Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Core2",
                                        "Penryn", "Dunnington", "Nehalem", "Atom", "Athlon", "Opteron",
                                        "Opteron_SSE3", "Barcelona", "Bobcat", "Nano", "Sandybridge",
                                        "Bulldozer", "Piledriver", "Steamroller", "Excavator"};
    static const char *const avx2_or_newer[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "Sapphirerapids"};
    if (!corename) return -1;
    for (size_t i = 0; i < sizeof older / sizeof older[0]; i++)
        if (!strcasecmp(corename, older[i])) return 1;
    for (size_t i = 0; i < sizeof avx2_or_newer / sizeof avx2_or_newer[0]; i++)
        if (!strcasecmp(corename, avx2_or_newer[i])) return 0;
    return -1;
}

/* auto's candidates for this CPU, appended best first, when OpenBLAS loaded its generic kernel */
static void plan_auto(const char *loaded, CpuTier tier, BlasPlan *p) {
    if (blas_kernel_is_generic(loaded) != 1 || tier < CPU_TIER_AVX2) return;
    /* best first; an OpenBLAS too old for Cooperlake still has SkylakeX and Haswell */
    if (tier >= CPU_TIER_AVX512_BF16) p->try_kernels[p->try_count++] = "Cooperlake";
    if (tier >= CPU_TIER_AVX512) p->try_kernels[p->try_count++] = "SkylakeX";
    p->try_kernels[p->try_count++] = "Haswell";
}

void blas_core_plan(const char *key, const char *env_coretype, int chosen_before, const char *loaded,
                    CpuTier tier, BlasPlan *p) {
    memset(p, 0, sizeof *p);
    if (!key || !*key) key = "auto";
    if (chosen_before || !strcmp(key, "keep")) return;
    if (strcmp(key, "auto")) { /* a kernel named outright */
        if (loaded && !strcasecmp(key, loaded)) return;
        p->try_kernels[p->try_count++] = key;
        /* a name that fails its check (a typo, a kernel this CPU cannot run) falls back to
         * what auto would run, not to OpenBLAS's generic kernel */
        if (!env_coretype || !*env_coretype) plan_auto(loaded, tier, p);
        snprintf(p->why, sizeof p->why, "blas_core=%s (OpenBLAS had loaded %s)", key, loaded ? loaded : "?");
        return;
    }
    if (env_coretype && *env_coretype) return; /* the user's choice */
    plan_auto(loaded, tier, p);
    if (p->try_count)
        snprintf(p->why, sizeof p->why, "OpenBLAS loaded its generic %s kernel on a CPU with %s", loaded,
                 cpu_tier_name(tier));
}

void blas_sgemm_rowmajor(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, a, lda, b, ldb, beta, c, ldc);
}

static float check_value(unsigned *state) { /* deterministic values in [-1, 1) */
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

int blas_selfcheck(SgemmFn gemm, char *err, size_t errlen) {
    /* odd sizes exercise the kernels' edges; 257 is past OpenBLAS's threading threshold */
    static const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 64, 64}, {127, 129, 31},
                                    {257, 96, 257}, {200, 257, 130}};
    const double u = 1.0 / 16777216.0;
    int rc = 0;
    unsigned state = 12345;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && !rc; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int variant = 0; variant < 8 && !rc; variant++) {
            int ta = variant & 1, tb = (variant >> 1) & 1, accumulate = variant >> 2;
            /* padded leading dimensions: the kernels must honour them */
            int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
            int lda = acols + 3, ldb = bcols + 2, ldc = n + 1;
            float *a = malloc(sizeof(float) * arows * lda), *b = malloc(sizeof(float) * brows * ldb),
                  *c = malloc(sizeof(float) * m * ldc), *c0 = malloc(sizeof(float) * m * ldc);
            if (!a || !b || !c || !c0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
            for (int i = 0; !rc && i < arows * lda; i++) a[i] = check_value(&state);
            for (int i = 0; !rc && i < brows * ldb; i++) b[i] = check_value(&state);
            for (int i = 0; !rc && i < m * ldc; i++) c[i] = c0[i] = check_value(&state);
            float alpha = accumulate ? 0.5f : 1.0f, beta = accumulate ? 1.0f : 0.0f;
            if (!rc) gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            for (int i = 0; !rc && i < m; i++)
                for (int j = 0; !rc && j < n; j++) {
                    double ref = 0, mag = 0;
                    for (int p = 0; p < k; p++) {
                        double x = ta ? a[p * lda + i] : a[i * lda + p], y = tb ? b[j * ldb + p] : b[p * ldb + j];
                        ref += x * y;
                        mag += fabs(x * y);
                    }
                    ref = alpha * ref + beta * c0[i * ldc + j];
                    double bound = 2 * (k + 2) * u * (alpha * mag + beta * fabs(c0[i * ldc + j])) + 1e-30;
                    double got = c[i * ldc + j];
                    if (!(fabs(got - ref) <= bound)) {
                        snprintf(err, errlen, "sgemm %dx%dx%d trans %d%d alpha %g beta %g: C[%d][%d] = %.9g, "
                                 "double reference %.9g, allowed error %.3g", m, n, k, ta, tb, alpha, beta, i, j,
                                 got, ref, bound);
                        rc = -1;
                    }
                }
            for (int i = 0; !rc && i < m; i++) /* the padding of C is not C */
                if (c[i * ldc + n] != c0[i * ldc + n]) {
                    snprintf(err, errlen, "sgemm %dx%dx%d wrote past column %d of C (ldc %d)", m, n, k, n, ldc);
                    rc = -1;
                }
            free(a); free(b); free(c); free(c0);
        }
    }
    return rc;
}

int blas_core_check_command(const char *name) {
    const char *loaded = openblas_get_corename();
    if (!loaded || strcasecmp(loaded, name)) {
        fprintf(stderr, "blas-check: OpenBLAS loaded %s, not %s (a name this OpenBLAS does not know, or a kernel "
                "this CPU cannot run)\n", loaded ? loaded : "?", name);
        return 1;
    }
    char err[512];
    if (blas_selfcheck(blas_sgemm_rowmajor, err, sizeof err)) {
        fprintf(stderr, "blas-check %s: %s\n", name, err);
        return 1;
    }
    return 0;
}

/* the self-check of kernel `name` in a child process started with OPENBLAS_CORETYPE=name;
 * 0 when it passed, else -1 with why */
static int check_in_child(const char *name, char *why, size_t n) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { snprintf(why, n, "fork: %s", strerror(errno)); return -1; }
    if (pid == 0) {
        setenv("OPENBLAS_CORETYPE", name, 1);
        setenv(CHOSEN_ENV, "self-check", 1);
        execl("/proc/self/exe", "harness", "blas-check", name, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) { snprintf(why, n, "waitpid: %s", strerror(errno)); return -1; }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status)) snprintf(why, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(why, n, "exit code %d", WEXITSTATUS(status));
    return -1;
}

void blas_core_startup(char **argv, int nwords, char **words) {
    const char *key = NULL;
    for (int i = 0; i < nwords; i++)
        if (!strncmp(words[i], "blas_core=", 10)) key = words[i] + 10;
    const char *loaded = openblas_get_corename();
    BlasPlan plan;
    blas_core_plan(key, getenv("OPENBLAS_CORETYPE"), getenv(CHOSEN_ENV) != NULL, loaded, cpu_tier_detect(), &plan);
    for (int i = 0; i < plan.try_count; i++) {
        const char *name = plan.try_kernels[i];
        char why[256];
        if (check_in_child(name, why, sizeof why)) {
            fprintf(stderr, "blas: kernel %s failed its self-check (%s)\n", name, why);
            continue;
        }
        char chosen[400];
        snprintf(chosen, sizeof chosen, "the harness: %s", plan.why);
        fprintf(stderr, "blas: %s; running with OPENBLAS_CORETYPE=%s (sgemm self-check passed%s)\n", plan.why, name,
                key && strcmp(key, "auto") ? "" : "; blas_core=keep keeps OpenBLAS's choice");
        setenv("OPENBLAS_CORETYPE", name, 1);
        setenv(CHOSEN_ENV, chosen, 1);
        fflush(stdout);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "blas: cannot start the harness again (%s); keeping %s\n", strerror(errno), loaded);
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv(CHOSEN_ENV);
        return;
    }
    if (plan.try_count) fprintf(stderr, "blas: %s; no kernel passed its self-check, keeping %s\n", plan.why, loaded);
}

const char *blas_core_name(void) {
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

void blas_describe(char *buf, size_t n, int threads) {
    const char *chosen = getenv(CHOSEN_ENV), *env = getenv("OPENBLAS_CORETYPE");
    char by[512];
    if (chosen) snprintf(by, sizeof by, "%s", chosen);
    else if (env && *env) snprintf(by, sizeof by, "OPENBLAS_CORETYPE=%s in the environment", env);
    else snprintf(by, sizeof by, "OpenBLAS at load");
    const char *cfg = openblas_get_config();
    snprintf(buf, n, "%s; kernel %s chosen by %s; %d threads", cfg ? cfg : "OpenBLAS", blas_core_name(), by, threads);
}
