#include "gemm_tune.h"
#include "progress.h"
#include "models/gemm.h"
#include "models/gemm_plan.h"
#include "models/profile.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* seconds of one training step of m (the best of two after one warm-up) under the plan set */
static double step_seconds(Model *m, Batch *slice, float capacity) {
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_seconds();
        model_set_moe_options(m, 1, capacity, 0.01f);
        model_forward(m, slice);
        model_zero_grad(m);
        model_backward(m);
        double dt = now_seconds() - t0;
        if (rep && dt < best) best = dt;
    }
    return best;
}

int gemm_tune(const ModelConfig *mc, Batch *batch, int rows, int n_patches, int patch_dim, float capacity, char *err,
              size_t errlen) {
    int nb = gemm_backend_count();
    gemm_use(0);
    if (nb == 1) return 0;
    for (int i = 0; i < batch->B * batch->T; i++) {
        batch->tokens[i] = (i * 7 + 3) % mc->vocab;
        batch->targets[i] = (i * 5 + 1) % mc->n_out;
    }
    if (batch->key_mask) memset(batch->key_mask, 1, (size_t)batch->B * batch->T);
    Model m;
    memset(&m, 0, sizeof m);
    if (model_build(&m, mc, 1) || model_alloc_batch(&m, batch->B, batch->T)) {
        model_free(&m);
        snprintf(err, errlen, "gemm=auto: out of memory for a copy of the model to find its GEMM shapes");
        return -1;
    }
    /* the shapes of one training step, counted */
    profile_reset();
    profile_enable(1);
    Batch slice = batch_rows(batch, 0, rows, n_patches, patch_dim);
    model_set_rows(&m, rows);
    model_set_moe_options(&m, 1, capacity, 0.01f);
    model_forward(&m, &slice);
    model_zero_grad(&m);
    model_backward(&m);
    profile_enable(0);
    /* the classes of the products run side by side (the experts, one per thread) */
    int n;
    const GemmShape *sh = profile_shapes(&n);
    GemmChoice side[GEMM_PLAN_MAX];
    int ns = 0;
    for (int i = 0; i < n; i++) {
        if (sh[i].timed_calls) continue;
        GemmChoice c = gemm_class(sh[i].trans_a, sh[i].trans_b, sh[i].M, sh[i].N, sh[i].K, sh[i].accumulate, 1);
        int j = 0;
        while (j < ns && memcmp(&side[j], &c, sizeof c)) j++;
        if (j == ns && ns < GEMM_PLAN_MAX) side[ns++] = c;
    }
    profile_reset();
    /* A shape timed alone is a poor guide to a step (measured: the per-shape choice ran MH-MoE's
     * experts slower than either backend alone), so each pair (backend of the products run
     * side by side, backend of the rest) is timed on whole training steps of the copy */
    double best = 1e30;
    int best_rest = 0, best_side = 0;
    for (int rest = 0; rest < nb; rest++)
        for (int sb = 0; sb < (ns ? nb : 1); sb++) {
            for (int j = 0; j < ns; j++) side[j].backend = (unsigned char)sb;
            gemm_plan_set(rest, side, sb != rest ? ns : 0);
            double t = step_seconds(&m, &slice, capacity);
            if (t < best) best = t, best_rest = rest, best_side = sb;
        }
    model_free(&m);
    for (int j = 0; j < ns; j++) side[j].backend = (unsigned char)best_side;
    return gemm_plan_set(best_rest, side, best_side != best_rest ? ns : 0);
}
