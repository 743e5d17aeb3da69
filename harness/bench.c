/* `harness bench`: throughput of dense, SMoE, X-MoE and MH-MoE on one stated shape, at one
 * thread count or each of a list (threads=1,2: the scaling).
 * Each configuration runs in a child process so that its peak memory (max RSS) is its own,
 * on random tokens (data loading is not what is measured): a few warm-up steps, then timed
 * training steps (forward, backward, AdamW) and timed evaluation forwards (dropless). */
#include "bench_profile.h"
#include "blas_core.h"
#include "gemm_tune.h"
#include "models/gemm_plan.h"
#include "config.h"
#include "progress.h"
#include "run.h"
#include "models/optim.h"
#include "util/keys.h"
#include "util/rng.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int ok;
    long long params;
    int topk, expert_dim;
    double flops_per_token, train_tps, eval_tps, route_s, experts_s, mh_s, step_s;
    double state_bytes; /* what training must hold: parameters, gradients, AdamW's two moments,
                           activations and their gradients, the MoE workspaces, the batch */
    StepProfile profile; /* the same steps again with the op timers on */
} BenchResult;

typedef struct { const char *model, *parity; int experts, threads; } Variant;
/* up to 8 thread counts, each with dense and 4 variants at up to 8 expert counts */
enum { MAX_LIST = 8, MAX_VARIANTS = MAX_LIST * (1 + 4 * MAX_LIST) };

/* a variant's configuration: its own words (model, experts, parity), then the words the user
 * gave for every variant, resolved once; the variant's keys are never in shared (they select
 * variants), so a key the variant derives (expert_dim, topk, ...) comes from its own model */
static Config *variant_config(const Variant *v, const char *const *shared, int n_shared, char *err, size_t errlen) {
    char w_model[64], w_exp[64], w_par[64];
    snprintf(w_model, sizeof w_model, "model=%s", v->model);
    snprintf(w_exp, sizeof w_exp, "experts=%d", v->experts);
    snprintf(w_par, sizeof w_par, "parity=%s", v->parity);
    /* dense has no experts and only MH-MoE a parity */
    const char *own[] = {w_model, v->experts ? w_exp : NULL, !strcmp(v->model, "mhmoe") ? w_par : NULL};
    Config *cfg = config_new();
    for (int i = 0; i < 3 + n_shared; i++) {
        const char *word = i < 3 ? own[i] : shared[i - 3];
        if (word && config_set(cfg, word, err, errlen)) { config_free(cfg); return NULL; }
    }
    config_resolve(cfg);
    return cfg;
}

/* n training steps (forward, backward, AdamW) on one batch; seconds per step */
static double training_steps(Model *m, AdamW *opt, const Batch *b, int n, float capacity, float balance) {
    double t0 = now_seconds();
    for (int i = 0; i < n; i++) {
        model_set_moe_options(m, 1, capacity, balance);
        model_forward(m, b);
        model_zero_grad(m);
        model_backward(m);
        adamw_step(opt, m);
    }
    return (now_seconds() - t0) / n;
}

static void bench_child(const char *const *shared, int n_shared, const Variant *v, int steps, int fd) {
    BenchResult res;
    memset(&res, 0, sizeof res);
    char err[512];
    Config *cfg = variant_config(v, shared, n_shared, err, sizeof err);
    if (!cfg) { fprintf(stderr, "bench %s: %s\n", v->model, err); goto out; }
    set_threads(v->threads);
    int T = (int)config_int(cfg, "seq_len"), B = (int)config_int(cfg, "batch");
    TaskSpec spec = {.vocab = 256, .n_out = 256, .seq_len = T, .causal = 1};
    ModelConfig mc;
    const char *why = model_config_from(cfg, &spec, &mc);
    Model m;
    AdamW opt;
    OptimConfig oc = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                      .grad_clip = 1.0f, .min_lr_frac = 0.1f, .warmup = 1, .total_steps = steps + 3, .cosine = 1};
    if (why) { fprintf(stderr, "bench %s: %s\n", v->model, why); goto out; }
    if (model_build(&m, &mc, 1) || model_alloc_batch(&m, B, T) || adamw_init(&opt, &oc, m.n_params)) goto out;
    Batch *b = batch_alloc(B, T, 0);
    float capacity = (float)config_float(cfg, "capacity"), balance = (float)config_float(cfg, "balance");
    const char *g = config_str(cfg, "gemm");
    if (!b || (!strcmp(g, "auto") ? gemm_tune(&mc, b, B, 0, 0, capacity, err, sizeof err) : gemm_plan_parse(g, err, sizeof err))) {
        fprintf(stderr, "bench %s: %s\n", v->model, b ? err : "out of memory");
        goto out;
    }
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < B * T; i++) { b->tokens[i] = (int)rng_below(&r, 256); b->targets[i] = (int)rng_below(&r, 256); }
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up, pass 1 is timed */
        for (int l = 0; l < mc.layers; l++) m.moe[l].t_route = m.moe[l].t_experts = m.moe[l].t_mh = 0;
        res.step_s = training_steps(&m, &opt, b, pass ? steps : 3, capacity, balance);
    }
    for (int l = 0; l < mc.layers; l++) {
        res.route_s += m.moe[l].t_route / steps;
        res.experts_s += m.moe[l].t_experts / steps;
        res.mh_s += m.moe[l].t_mh / steps;
    }
    /* the map: the same steps once more with the op timers on (after the timed pass, which
     * they would slow) */
    profile_reset();
    profile_enable(1);
    double profiled_s = training_steps(&m, &opt, b, steps, capacity, balance);
    step_profile_collect(&res.profile, steps, profiled_s);
    model_set_moe_options(&m, 0, capacity, balance);
    model_forward(&m, b);
    double t0 = now_seconds();
    for (int i = 0; i < steps; i++) model_forward(&m, b);
    double eval_s = (now_seconds() - t0) / steps;
    res.ok = 1;
    res.params = (long long)m.n_params;
    res.topk = mc.topk;
    res.expert_dim = mc.expert_dim;
    res.flops_per_token = model_flops_per_token(&mc, T);
    res.train_tps = B * T / res.step_s;
    res.state_bytes = (double)m.n_params * sizeof(float) * 4 + (double)m.n_acts * sizeof(float) * 2 +
                      (double)B * T * (2 * sizeof(int));
    for (int l = 0; l < mc.layers; l++) res.state_bytes += (double)m.moe[l].workspace_bytes;
    res.eval_tps = B * T / eval_s;
out:
    if (write(fd, &res, sizeof res) != sizeof res) _exit(1);
    _exit(0);
}

/* the ceiling the variants are read against: square sgemm at a few sizes, each timed for
 * about 0.3 s after one warm-up call, in a child process of its own (libgomp's thread pool,
 * once started in this process, would not survive into the forked variants); the best of the
 * sizes is returned for the variants' shares */
static double sgemm_ceiling(int threads) {
    static const int sizes[] = {128, 256, 1024};
    int fds[2];
    double gflops[3] = {0, 0, 0};
    if (pipe(fds)) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        set_threads(threads);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            int n = sizes[s];
            float *a = calloc((size_t)n * n, sizeof(float)), *b = calloc((size_t)n * n, sizeof(float)),
                  *c = calloc((size_t)n * n, sizeof(float));
            if (a && b && c) {
                for (long i = 0; i < (long)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
                blas_sgemm_rowmajor(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
                int reps = 0;
                double t0 = now_seconds(), dt;
                do { blas_sgemm_rowmajor(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); reps++; } while ((dt = now_seconds() - t0) < 0.3);
                gflops[s] = 2.0 * n * n * (double)n * reps / dt / 1e9;
            }
            free(a); free(b); free(c);
        }
        if (write(fds[1], gflops, sizeof gflops) != sizeof gflops) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], gflops, sizeof gflops);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (got != sizeof gflops) return 0;
    double best = 0;
    printf("sgemm GFLOP/s (the ceiling):");
    for (int s = 0; s < 3; s++) {
        printf(" n=%d %.1f%s", sizes[s], gflops[s], s < 2 ? "," : "\n\n");
        if (gflops[s] > best) best = gflops[s];
    }
    return best;
}

/* the numbers of a comma list into out (the first max of them); how many */
static int int_list(const char *text, int *out, int max) {
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        out[n++] = atoi(p);
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    return n;
}

/* a model= or parity= list: every item a value of its key (the key table's check); 0, or -1 with err */
static int check_list(const char *word, char *err, size_t errlen) {
    const char *eq = strchr(word, '=');
    char one[128];
    for (const char *p = eq + 1;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(one, sizeof one, "%.*s=%.*s", (int)(eq - word), word, (int)len, p);
        Config *c = config_new();
        int rc = config_set(c, one, err, errlen);
        config_free(c);
        if (rc) return -1;
        if (!end) return 0;
        p = end + 1;
    }
}

int harness_bench(int argc, char **argv) {
    /* shared keys: size, threads, capacity, balance, heads, topk, ...; plus steps (timed steps),
     * experts as a comma list, and model= / parity= lists that keep those variants (parity:
     * MH-MoE's) */
    Config *base = config_new();
    char err[512];
    int steps = 10, n_exp = 0, experts[MAX_LIST], n_thr = 0, threads[MAX_LIST], n_shared = 0;
    const char *models = "", *parities = "", *shared[256];
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "threads=", 8) && strchr(argv[i], ',')) { /* a list: each variant at each count */
            n_thr = int_list(argv[i] + 8, threads, MAX_LIST);
            continue;
        }
        if (!strncmp(argv[i], "experts=", 8)) {
            n_exp = int_list(argv[i] + 8, experts, MAX_LIST);
            continue;
        }
        if (!strncmp(argv[i], "steps=", 6)) { steps = atoi(argv[i] + 6); continue; }
        if (!strncmp(argv[i], "model=", 6) || !strncmp(argv[i], "parity=", 7)) {
            if (check_list(argv[i], err, sizeof err)) { fprintf(stderr, "error: %s\n", err); config_free(base); return 2; }
            *(argv[i][0] == 'm' ? &models : &parities) = strchr(argv[i], '=') + 1;
            continue;
        }
        if (config_set(base, argv[i], err, sizeof err)) { fprintf(stderr, "error: %s\n", err); config_free(base); return 2; }
        if (n_shared == (int)(sizeof shared / sizeof shared[0])) { fprintf(stderr, "error: bench: more than %d words\n", n_shared); config_free(base); return 2; }
        shared[n_shared++] = argv[i];
    }
    if (!n_exp) { experts[0] = 8; experts[1] = 32; n_exp = 2; }
    if (steps < 1) steps = 1;
    config_resolve(base);
    if (!n_thr) threads[n_thr++] = set_threads(config_int(base, "threads"));
    for (int t = 0; t < n_thr; t++)
        if (threads[t] < 1) { fprintf(stderr, "error: threads=: expected whole numbers from 1 (a list: threads=1,2)\n"); return 2; }
    /* every variant, then those model= and parity= keep */
    Variant all[MAX_VARIANTS], vs[MAX_VARIANTS];
    int na = 0, nv = 0;
    for (int t = 0; t < n_thr; t++) {
        all[na++] = (Variant){"dense", "flops", 0, threads[t]};
        for (int i = 0; i < n_exp; i++) {
            all[na++] = (Variant){"smoe", "flops", experts[i], threads[t]};
            all[na++] = (Variant){"xmoe", "flops", experts[i], threads[t]};
            all[na++] = (Variant){"mhmoe", "flops", experts[i], threads[t]};
            all[na++] = (Variant){"mhmoe", "params", experts[i], threads[t]};
        }
    }
    for (int i = 0; i < na; i++)
        if ((!*models || list_has(models, ',', all[i].model, strlen(all[i].model))) &&
            (strcmp(all[i].model, "mhmoe") || !*parities || list_has(parities, ',', all[i].parity, strlen(all[i].parity)))) vs[nv++] = all[i];
    if (!nv) { fprintf(stderr, "error: bench: model=%s parity=%s keeps no variant\n", models, parities); config_free(base); return 2; }
    int max_threads = threads[0];
    for (int t = 1; t < n_thr; t++) if (threads[t] > max_threads) max_threads = threads[t];
    printf("harness bench: size=%s d_model=%ld layers=%ld seq_len=%ld batch=%ld heads=%ld moe_every=%ld "
           "capacity=%g, %d timed steps\n",
           config_str(base, "size"), config_int(base, "d_model"), config_int(base, "layers"), config_int(base, "seq_len"),
           config_int(base, "batch"), config_int(base, "heads"), config_int(base, "moe_every"),
           config_float(base, "capacity"), steps);
    char blas[1024];
    blas_describe(blas, sizeof blas, max_threads);
    printf("BLAS: %s\n", blas);
    double ceiling = sgemm_ceiling(max_threads), bandwidth = memory_bandwidth(max_threads);
    printf("memory bandwidth (triad, 3 x 32 MB, threads=%d): %.1f GB/s\n\n", max_threads, bandwidth);
    printf("| threads | model | parity | experts | topk | expert_dim | params | MFLOP/token | train tok/s | eval tok/s | "
           "train GFLOP/s | of sgemm | routing+dispatch+combine | experts | MH layers | peak MB | state MB | peak / state |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    static BenchResult results[MAX_VARIANTS];
    for (int i = 0; i < nv; i++) {
        int fds[2];
        if (pipe(fds)) { perror("pipe"); return 1; }
        pid_t pid = fork();
        if (pid == 0) { close(fds[0]); bench_child(shared, n_shared, &vs[i], steps, fds[1]); }
        close(fds[1]);
        BenchResult res;
        memset(&res, 0, sizeof res);
        size_t got = 0; /* larger than a pipe's atomic write: read until it is all here */
        for (ssize_t r; got < sizeof res && (r = read(fds[0], (char *)&res + got, sizeof res - got)) > 0;) got += (size_t)r;
        close(fds[0]);
        int status;
        struct rusage ru;
        wait4(pid, &status, 0, &ru);
        results[i] = res;
        if (got != sizeof res || !res.ok) { printf("| %d | %s | %s | %d | failed |\n", vs[i].threads, vs[i].model, vs[i].parity, vs[i].experts); continue; }
        /* training does forward + backward, about 3x the forward FLOPs */
        double gf = 3 * res.flops_per_token * res.train_tps / 1e9, peak = ru.ru_maxrss * 1024.0;
        printf("| %d | %s | %s | %d | %d | %d | %lld | %.2f | %.0f | %.0f | %.1f | %.0f%% | %.1f%% | %.1f%% | %.1f%% | %.0f | %.0f | %.2f |\n",
               vs[i].threads, vs[i].model, !strcmp(vs[i].model, "mhmoe") ? vs[i].parity : "-", vs[i].experts, res.topk,
               res.expert_dim, res.params, res.flops_per_token / 1e6, res.train_tps, res.eval_tps, gf, ceiling > 0 ? 100 * gf / ceiling : 0,
               100 * res.route_s / res.step_s, 100 * res.experts_s / res.step_s, 100 * res.mh_s / res.step_s,
               peak / 1048576, res.state_bytes / 1048576, peak / res.state_bytes);
        fflush(stdout);
    }
    for (int i = 0; i < nv; i++) {
        if (!results[i].ok) continue;
        char label[128];
        snprintf(label, sizeof label, "%s%s%s experts=%d threads=%d", vs[i].model, !strcmp(vs[i].model, "mhmoe") ? " parity=" : "",
                 !strcmp(vs[i].model, "mhmoe") ? vs[i].parity : "", vs[i].experts, vs[i].threads);
        step_profile_print(&results[i].profile, label, ceiling, bandwidth);
    }
    /* the targets, as ratios of step times */
    printf("\n");
    for (int i = 0; i < nv; i++) {
        if (!results[i].ok || vs[i].experts != experts[0] || !strcmp(vs[i].model, "dense")) continue;
        for (int j = 0; j < nv; j++)
            if (j != i && results[j].ok && vs[j].experts == experts[n_exp - 1] && n_exp > 1 && vs[j].threads == vs[i].threads &&
                !strcmp(vs[j].model, vs[i].model) && !strcmp(vs[j].parity, vs[i].parity))
                printf("%s%s%s: step time at %d experts / at %d experts = %.3f (threads=%d)\n", vs[i].model,
                       !strcmp(vs[i].model, "mhmoe") ? " parity=" : "", !strcmp(vs[i].model, "mhmoe") ? vs[i].parity : "",
                       experts[n_exp - 1], experts[0], results[i].train_tps / results[j].train_tps, vs[i].threads);
    }
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nv; j++)
            if (results[i].ok && results[j].ok && !strcmp(vs[i].model, "mhmoe") && !strcmp(vs[i].parity, "flops") &&
                !strcmp(vs[j].model, "xmoe") && vs[i].experts == vs[j].experts && vs[i].threads == vs[j].threads)
                printf("mhmoe (parity=flops) / xmoe step time at %d experts = %.3f (threads=%d)\n", vs[i].experts,
                       results[j].train_tps / results[i].train_tps, vs[i].threads);
    /* threads: the last count of the list over the first, per variant */
    for (int i = 0; i < nv && n_thr > 1; i++)
        for (int j = 0; j < nv; j++)
            if (results[i].ok && results[j].ok && vs[i].threads == threads[0] && vs[j].threads == threads[n_thr - 1] &&
                !strcmp(vs[i].model, vs[j].model) && !strcmp(vs[i].parity, vs[j].parity) && vs[i].experts == vs[j].experts)
                printf("%s%s%s experts=%d: training tokens/s at threads=%d / threads=%d = %.2f\n", vs[i].model,
                       !strcmp(vs[i].model, "mhmoe") ? " parity=" : "", !strcmp(vs[i].model, "mhmoe") ? vs[i].parity : "",
                       vs[i].experts, threads[n_thr - 1], threads[0], results[j].train_tps / results[i].train_tps);
    printf("\nof sgemm: train GFLOP/s over the best sgemm above; state MB: parameters, gradients, AdamW's moments,\n"
           "activations with their gradients, MoE workspaces and the batch, as the model allocates them; peak MB:\n"
           "the variant's process (max RSS, the program and its libraries included)\n");
    config_free(base);
    return 0;
}
