#include "bench_profile.h"
#include "progress.h"
#include "run.h"
#include "models/gemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static double shape_flops(const GemmShape *s) { return 2.0 * s->M * (double)s->N * s->K; }

/* GFLOP/s of one shape called alone with one backend, as the model calls it (leading
 * dimensions packed), for about 0.1 s after one warm-up call */
static double gemm_alone(const GemmShape *s, GemmFn fn) {
    size_t a_n = (size_t)s->M * s->K, b_n = (size_t)s->K * s->N, c_n = (size_t)s->M * s->N;
    float *a = malloc(sizeof(float) * a_n), *b = malloc(sizeof(float) * b_n), *c = calloc(c_n, sizeof(float));
    double gflops = 0;
    if (a && b && c) {
        for (size_t i = 0; i < a_n; i++) a[i] = (float)(i % 7) * 0.01f;
        for (size_t i = 0; i < b_n; i++) b[i] = (float)(i % 5) * 0.01f;
        int lda = s->trans_a ? s->M : s->K, ldb = s->trans_b ? s->K : s->N;
        float beta = s->accumulate ? 1.0f : 0.0f;
        fn(s->trans_a, s->trans_b, s->M, s->N, s->K, 1.0f, a, lda, b, ldb, beta, c, s->N);
        long reps = 0;
        double t0 = now_seconds(), dt;
        do {
            fn(s->trans_a, s->trans_b, s->M, s->N, s->K, 1.0f, a, lda, b, ldb, beta, c, s->N);
            reps++;
        } while ((dt = now_seconds() - t0) < 0.1);
        gflops = shape_flops(s) * reps / dt / 1e9;
    }
    free(a);
    free(b);
    free(c);
    return gflops;
}

void step_profile_collect(StepProfile *p, int steps, double step_s) {
    memset(p, 0, sizeof *p);
    p->steps = steps;
    p->step_s = step_s;
    memcpy(p->ops, profile_totals(), sizeof p->ops);
    int n;
    const GemmShape *all = profile_shapes(&n);
    p->all_shapes = n;
    for (int i = 0; i < n; i++) p->gemm_flops += shape_flops(&all[i]) * all[i].calls;
    /* the BENCH_SHAPES shapes with the most FLOPs, by insertion */
    for (int i = 0; i < n; i++) {
        double f = shape_flops(&all[i]) * all[i].calls;
        int at = p->n_shapes;
        while (at > 0 && shape_flops(&p->shapes[at - 1]) * p->shapes[at - 1].calls < f) at--;
        if (at >= BENCH_SHAPES) continue;
        int last = p->n_shapes < BENCH_SHAPES ? p->n_shapes : BENCH_SHAPES - 1;
        memmove(&p->shapes[at + 1], &p->shapes[at], sizeof p->shapes[0] * (size_t)(last - at));
        p->shapes[at] = all[i];
        if (p->n_shapes < BENCH_SHAPES) p->n_shapes++;
    }
    profile_enable(0); /* the shapes alone are not part of the step */
    gemm_plan_text(p->plan, sizeof p->plan);
    p->backends = gemm_backend_count() < GEMM_MAX_BACKENDS ? gemm_backend_count() : GEMM_MAX_BACKENDS;
    for (int i = 0; i < p->n_shapes; i++)
        for (int b = 0; b < p->backends; b++) {
            GemmFn fn = gemm_backend_fn(b);
            if (p->shapes[i].timed_calls) p->alone_gflops[i][b] = gemm_alone(&p->shapes[i], fn);
            else { /* side by side: the sum over the threads */
                double sum = 0;
#pragma omp parallel reduction(+ : sum)
                sum += gemm_alone(&p->shapes[i], fn);
                p->alone_gflops[i][b] = sum;
            }
        }
}

void step_profile_print(const StepProfile *p, const char *label, double gemm_ceiling, double bandwidth) {
    double step_ms = 1e3 * p->step_s, timed = 0;
    for (int c = 0; c < OP_COUNT; c++) timed += p->ops[c].seconds;
    timed /= p->steps;
    printf("\nprofile %s: %.2f ms per profiled step, %.1f%% of it in timed ops\n", label, step_ms,
           100 * timed / p->step_s);
    printf("| op class | share | ms/step | calls/step | GFLOP/s | GB/s | of ceiling |\n|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < OP_COUNT; c++) {
        const OpTotals *o = &p->ops[c];
        if (!o->calls) continue;
        double s = o->seconds / p->steps, gf = o->seconds > 0 ? o->flops / o->seconds / 1e9 : 0,
               gb = o->seconds > 0 ? o->bytes / o->seconds / 1e9 : 0;
        int by_flops = OP_CLASS_INFO[c].bound == 'f';
        double ceiling = by_flops ? gemm_ceiling : bandwidth, of = ceiling > 0 ? (by_flops ? gf : gb) / ceiling : 0;
        printf("| %s | %.1f%% | %.3f | %.0f | %.1f | %.1f | %.0f%% %s |\n", OP_CLASS_INFO[c].name, 100 * s / p->step_s,
               1e3 * s, (double)o->calls / p->steps, gf, gb, 100 * of, by_flops ? "GEMM" : "bandwidth");
    }
    printf("| (untimed) | %.1f%% | %.3f | | | | |\n", 100 * (p->step_s - timed) / p->step_s, 1e3 * (p->step_s - timed));
    printf("GEMM shapes with the most FLOPs (%d of %d distinct; M x N x K, row-major; in step: the calls made outside a "
           "parallel region; alone: the same call repeated, same threads):\n", p->n_shapes, p->all_shapes);
    printf("gemm=%s\n| M x N x K | op(A) op(B) | beta | calls/step | share of GEMM FLOPs | in step GFLOP/s |", p->plan);
    for (int b = 0; b < p->backends; b++) printf(" alone %s |", gemm_backend_name(b));
    printf("\n|---|---|---|---|---|---|");
    for (int b = 0; b < p->backends; b++) printf("---|");
    printf("\n");
    double all_flops = p->gemm_flops;
    for (int i = 0; i < p->n_shapes; i++) {
        const GemmShape *s = &p->shapes[i];
        double in_step = s->seconds > 0 ? shape_flops(s) * s->timed_calls / s->seconds / 1e9 : 0;
        char in_step_text[32];
        if (s->timed_calls) snprintf(in_step_text, sizeof in_step_text, "%.1f", in_step);
        else snprintf(in_step_text, sizeof in_step_text, "(side by side)");
        printf("| %d x %d x %d | %s %s | %d | %.1f | %.1f%% | %s |", s->M, s->N, s->K, s->trans_a ? "T" : "N",
               s->trans_b ? "T" : "N", s->accumulate, (double)s->calls / p->steps,
               all_flops > 0 ? 100 * shape_flops(s) * s->calls / all_flops : 0, in_step_text);
        for (int b = 0; b < p->backends; b++) printf(" %.1f |", p->alone_gflops[i][b]);
        printf("\n");
    }
}

double memory_bandwidth(int threads) {
    int fds[2];
    double best = 0;
    if (pipe(fds)) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        set_threads(threads);
        size_t n = (size_t)8 << 20; /* 32 MB per array: far past the caches */
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
        if (a && b && c) {
#pragma omp parallel for
            for (size_t i = 0; i < n; i++) { a[i] = 0; b[i] = 1; c[i] = 2; }
            for (int rep = 0; rep < 5; rep++) {
                double t0 = now_seconds();
#pragma omp parallel for
                for (size_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
                double dt = now_seconds() - t0, gb = 3.0 * n * sizeof(float) / dt / 1e9;
                if (gb > best) best = gb;
            }
        }
        free(a); free(b); free(c);
        if (write(fds[1], &best, sizeof best) != sizeof best) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], &best, sizeof best);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return got == sizeof best ? best : 0;
}
