#include "stats.h"
#include <math.h>

/* the continued fraction of I_x(a, b), evaluated by the modified Lentz method; converges fast
 * for x < (a + 1) / (a + b + 2), which incomplete_beta arranges by symmetry */
static double beta_fraction(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        double m2 = 2.0 * m;
        /* the even step, then the odd one, of the fraction's terms */
        double num = m * (b - m) * x / ((a - 1 + m2) * (a + m2));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double step = d * c;
        h *= step;
        if (fabs(step - 1) < eps) break;
    }
    return h;
}

double incomplete_beta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2)) return front * beta_fraction(a, b, x) / a;
    return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

double student_t_p(double t, double df) {
    if (!isfinite(t)) return isnan(t) ? NAN : 0;
    return incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

double student_t_quantile(double q, double df) {
    if (!(q > 0 && q < 1) || !(df > 0)) return NAN;
    if (q < 0.5) return -student_t_quantile(1 - q, df);
    double want = 2 * (1 - q), lo = 0, hi = 1; /* P(|T| >= t) falls from 1 as t grows */
    while (student_t_p(hi, df) > want && hi < 1e12) lo = hi, hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (student_t_p(mid, df) > want) lo = mid;
        else hi = mid;
    }
    return (lo + hi) / 2;
}

int seeds_for(double sd, double delta, double alpha, double power, int most) {
    if (!(sd >= 0) || !(delta > 0)) return -1;
    for (int n = 2; n <= most; n++)
        if ((student_t_quantile(1 - alpha / 2, n - 1) + student_t_quantile(power, n - 1)) * sd / sqrt(n) <= delta) return n;
    return -1;
}
