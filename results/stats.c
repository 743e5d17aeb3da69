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

/* P(a, x), the regularized lower incomplete gamma function: its series below a + 1, the
 * continued fraction of Q = 1 - P above (modified Lentz), as in the usual references */
static double lower_gamma_p(double a, double x) {
    if (x <= 0) return 0;
    double front = exp(a * log(x) - x - lgamma(a));
    if (x < a + 1) {
        double term = 1 / a, sum = term;
        for (int n = 1; n < 1000 && fabs(term) > fabs(sum) * 1e-15; n++) sum += term *= x / (a + n);
        return front * sum;
    }
    double b = x + 1 - a, c = 1 / 1e-300, d = 1 / b, h = d;
    for (int i = 1; i < 1000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < 1e-300) d = 1e-300;
        c = b + an / c;
        if (fabs(c) < 1e-300) c = 1e-300;
        d = 1 / d;
        double step = d * c;
        h *= step;
        if (fabs(step - 1) < 1e-15) break;
    }
    return 1 - front * h;
}

double chi2_quantile(double q, double df) {
    if (!(q > 0 && q < 1) || !(df > 0)) return NAN;
    double lo = 0, hi = df + 10 * sqrt(2 * df) + 10; /* the CDF rises from 0: widen hi until it holds q */
    while (lower_gamma_p(df / 2, hi / 2) < q) hi *= 2;
    for (int i = 0; i < 200; i++) {
        double mid = (lo + hi) / 2;
        if (lower_gamma_p(df / 2, mid / 2) < q) lo = mid;
        else hi = mid;
    }
    return (lo + hi) / 2;
}

double sd_upper_bound(double sd, int n, double level) {
    if (n < 2 || !(level > 0 && level < 1)) return NAN;
    return sd * sqrt((n - 1) / chi2_quantile(1 - level, n - 1));
}
