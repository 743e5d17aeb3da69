/* Central finite differences against an analytic gradient.
 * loss(ctx) runs the forward pass and returns a scalar in double. For each probed element i
 * of x: numeric = (loss(x+eps) - loss(x-eps)) / 2eps, and the check is
 * |analytic - numeric| <= atol + rtol * |numeric|. Probes every element when n <= max_probe,
 * else max_probe elements spread evenly. Returns the number of mismatches and prints the
 * worst one. */
#ifndef MOEH_TEST_GRADCHECK_H
#define MOEH_TEST_GRADCHECK_H
#include <math.h>
#include <stddef.h>
#include <stdio.h>

typedef double (*LossFn)(void *ctx);

static int gradcheck(const char *name, float *x, size_t n, const float *analytic, LossFn loss,
                     void *ctx, float eps, double atol, double rtol, size_t max_probe) {
    size_t stride = n <= max_probe ? 1 : n / max_probe;
    int bad = 0;
    double worst = 0, worst_a = 0, worst_n = 0;
    size_t worst_i = 0, probes = 0;
    for (size_t i = 0; i < n; i += stride, probes++) {
        float keep = x[i];
        x[i] = keep + eps;
        double lp = loss(ctx);
        x[i] = keep - eps;
        double lm = loss(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * eps), a = analytic[i];
        double excess = fabs(a - num) - (atol + rtol * fabs(num));
        if (excess > 0) bad++;
        if (excess > worst || i == 0) { worst = excess; worst_a = a; worst_n = num; worst_i = i; }
    }
    printf("  %-28s %6zu probes  worst [%zu] analytic % .6e numeric % .6e  %s\n", name, probes,
           worst_i, worst_a, worst_n, bad ? "MISMATCH" : "ok");
    return bad;
}

#endif
