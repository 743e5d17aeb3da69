/* Distributions the verdicts need beyond the student_t table: the two-sided p-value of a
 * paired t statistic, so a family of verdicts can be adjusted for multiplicity (Holm). Also an
 * SQL function on every connection the harness opens: student_p(t, df). */
#ifndef MOEH_STATS_H
#define MOEH_STATS_H

/* I_x(a, b), the regularized incomplete beta function; x in [0, 1], a, b > 0 */
double incomplete_beta(double a, double b, double x);
/* P(|T| >= |t|) for Student's t with df degrees of freedom (df > 0); 1 at t = 0 */
double student_t_p(double t, double df);
/* the t with P(T <= t) = q (0 < q < 1) */
double student_t_quantile(double q, double df);
/* Seeds a paired comparison needs: the smallest n >= 2 whose two-sided level-alpha paired t
 * test detects a difference delta with the given power, at paired sd sd (the normal-shift
 * approximation the verdicts' min_detectable uses: (t_{1-alpha/2} + t_power) sd / sqrt(n)
 * <= delta, n - 1 degrees of freedom); -1 if more than most */
int seeds_for(double sd, double delta, double alpha, double power, int most);

/* the x with P(X <= x) = q for a chi-square X with df degrees of freedom */
double chi2_quantile(double q, double df);
/* the one-sided upper confidence bound at level (e.g. 0.8) of a standard deviation sd estimated
 * from n normal values: sd sqrt((n - 1) / chi2_quantile(1 - level, n - 1)); what a plan from a
 * small pilot should assume, since the pilot's own sd is as likely under as over */
double sd_upper_bound(double sd, int n, double level);
#endif
