/* Every layer's backward against central finite differences of L = sum(out * R), R random.
 * Float32 forward passes; eps = 1e-2 (a central difference's truncation error is O(eps^2),
 * its rounding error ~ 1e-7 * |L| / eps), tolerance |a - n| <= 2e-3 + 1e-2 |n|. */
#include "check.h"
#include "gradcheck.h"
#include "models/layers.h"
#include "models/gemm.h"
#include "models/gemm_plan.h"
#include "models/profile.h"
#include "util/rng.h"
#include <omp.h>
#include <string.h>

#define EPS 1e-2f
#define ATOL 2e-3
#define RTOL 1e-2

static Rng rng;
static float *randn(size_t n, float scale) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_normal(&rng);
    return p;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- layernorm ---- */
typedef struct { int N, C; float *out, *mean, *rstd, *inp, *w, *b, *R; } LnCtx;
static double ln_loss(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dot(c->out, c->R, (size_t)c->N * c->C);
}
static void test_layernorm(void) {
    LnCtx c = {6, 10};
    size_t n = (size_t)c.N * c.C;
    c.out = zeros(n); c.mean = zeros(c.N); c.rstd = zeros(c.N);
    c.inp = randn(n, 1.5f); c.w = randn(c.C, 1); c.b = randn(c.C, 1); c.R = randn(n, 1);
    float *dinp = zeros(n), *dw = zeros(c.C), *db = zeros(c.C);
    ln_loss(&c);
    layernorm_backward(dinp, dw, db, c.R, c.inp, c.w, c.mean, c.rstd, c.N, c.C);
    printf("layernorm N=%d C=%d\n", c.N, c.C);
    CHECK(!gradcheck("dinp", c.inp, n, dinp, ln_loss, &c, EPS, ATOL, RTOL, 1000), "layernorm dinp");
    CHECK(!gradcheck("dw", c.w, c.C, dw, ln_loss, &c, EPS, ATOL, RTOL, 1000), "layernorm dw");
    CHECK(!gradcheck("db", c.b, c.C, db, ln_loss, &c, EPS, ATOL, RTOL, 1000), "layernorm db");
}

/* ---- matmul ---- */
typedef struct { int N, IC, OC; float *out, *inp, *w, *bias, *R; } MmCtx;
static double mm_loss(void *p) {
    MmCtx *c = p;
    matmul_forward(c->out, c->inp, c->w, c->bias, c->N, c->IC, c->OC);
    return dot(c->out, c->R, (size_t)c->N * c->OC);
}
static void test_matmul(void) {
    MmCtx c = {7, 5, 9};
    c.out = zeros((size_t)c.N * c.OC); c.inp = randn((size_t)c.N * c.IC, 1);
    c.w = randn((size_t)c.OC * c.IC, 1); c.bias = randn(c.OC, 1); c.R = randn((size_t)c.N * c.OC, 1);
    float *dinp = zeros((size_t)c.N * c.IC), *dw = zeros((size_t)c.OC * c.IC), *db = zeros(c.OC);
    mm_loss(&c);
    matmul_backward(dinp, dw, db, c.R, c.inp, c.w, c.N, c.IC, c.OC);
    printf("matmul N=%d IC=%d OC=%d\n", c.N, c.IC, c.OC);
    CHECK(!gradcheck("dinp", c.inp, (size_t)c.N * c.IC, dinp, mm_loss, &c, EPS, ATOL, RTOL, 1000), "matmul dinp");
    CHECK(!gradcheck("dw", c.w, (size_t)c.OC * c.IC, dw, mm_loss, &c, EPS, ATOL, RTOL, 1000), "matmul dw");
    CHECK(!gradcheck("dbias", c.bias, c.OC, db, mm_loss, &c, EPS, ATOL, RTOL, 1000), "matmul dbias");
}

/* ---- attention ---- */
typedef struct { int B, T, C, NH, causal, prefix; unsigned char *mask; float *out, *att, *qkv, *R; } AttCtx;
static double att_loss(void *p) {
    AttCtx *c = p;
    attention_forward(c->out, c->att, c->qkv, c->mask, c->causal, c->prefix, c->B, c->T, c->C, c->NH);
    return dot(c->out, c->R, (size_t)c->B * c->T * c->C);
}
static void test_attention(int causal, int prefix, int masked) {
    AttCtx c = {2, 5, 8, 2, causal, prefix, NULL};
    size_t nq = (size_t)c.B * c.T * 3 * c.C, no = (size_t)c.B * c.T * c.C;
    unsigned char mask[10] = {1, 1, 1, 0, 0, 1, 1, 1, 1, 0};
    if (masked) c.mask = mask;
    c.out = zeros(no); c.att = zeros((size_t)c.B * c.NH * c.T * c.T); c.qkv = randn(nq, 1); c.R = randn(no, 1);
    int slots = omp_get_max_threads();
    float *dqkv = zeros(nq), *scratch = zeros((size_t)slots * c.T * c.T);
    att_loss(&c);
    attention_backward(dqkv, scratch, slots, c.R, c.qkv, c.att, c.B, c.T, c.C, c.NH);
    printf("attention B=%d T=%d C=%d NH=%d causal=%d prefix=%d key_mask=%d\n", c.B, c.T, c.C, c.NH, causal, prefix, masked);
    CHECK(!gradcheck("dqkv", c.qkv, nq, dqkv, att_loss, &c, EPS, ATOL, RTOL, 1000), "attention causal=%d prefix=%d mask=%d", causal, prefix, masked);
    if (causal) { /* a query must not see the future past the prefix, and sees all of the prefix */
        float *att = c.att;
        int leak = 0, blind = 0;
        for (int i = 0; i < c.T; i++)
            for (int j = 0; j < c.T; j++) {
                if (j > i && j >= prefix) leak |= att[i * c.T + j] != 0;
                if (j < prefix && (!masked || mask[j])) blind |= att[i * c.T + j] == 0;
            }
        CHECK(!leak, "causal attention puts weight on a later position past the prefix");
        CHECK(!blind, "a query does not see the whole prefix");
    }
    if (masked) {
        int leak = 0;
        for (int b = 0; b < c.B; b++) for (int h = 0; h < c.NH; h++) for (int i = 0; i < c.T; i++)
            for (int j = 0; j < c.T; j++) if (!mask[b * c.T + j]) leak |= c.att[(((size_t)b * c.NH + h) * c.T + i) * c.T + j] != 0;
        CHECK(!leak, "masked key receives attention");
    }
}

/* ---- gelu, residual, encoder ---- */
typedef struct { size_t n; float *out, *inp, *R; } GeluCtx;
static double gelu_loss(void *p) { GeluCtx *c = p; gelu_forward(c->out, NULL, c->inp, c->n); return dot(c->out, c->R, c->n); }

typedef struct { size_t n; float *out, *a, *b, *R; } ResCtx;
static double res_loss(void *p) { ResCtx *c = p; residual_forward(c->out, c->a, c->b, c->n); return dot(c->out, c->R, c->n); }

typedef struct { int B, T, C; int *tok; float *out, *wte, *wpe, *R; } EncCtx;
static double enc_loss(void *p) {
    EncCtx *c = p;
    encoder_forward(c->out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
    return dot(c->out, c->R, (size_t)c->B * c->T * c->C);
}

static void test_elementwise(void) {
    GeluCtx g = {50};
    g.out = zeros(g.n); g.inp = randn(g.n, 2); g.R = randn(g.n, 1);
    float *dg = zeros(g.n), *slope = zeros(g.n), *out = zeros(g.n), *inplace = zeros(g.n);
    gelu_loss(&g);
    gelu_forward(out, slope, g.inp, g.n);
    gelu_backward(dg, slope, g.R, g.n);
    printf("gelu n=%zu\n", g.n);
    CHECK(!gradcheck("dinp", g.inp, g.n, dg, gelu_loss, &g, EPS, ATOL, RTOL, 1000), "gelu");
    /* the training forward (slope kept) gives the eval forward's output, and the slope written
     * over its own input (as the model keeps it) is the slope written aside, bit for bit */
    memcpy(inplace, g.inp, sizeof(float) * g.n);
    gelu_forward(g.out, NULL, g.inp, g.n);
    CHECK(!memcmp(out, g.out, sizeof(float) * g.n), "gelu: the forward that keeps the slope changes the output");
    gelu_forward(out, inplace, inplace, g.n);
    CHECK(!memcmp(inplace, slope, sizeof(float) * g.n) && !memcmp(out, g.out, sizeof(float) * g.n), "gelu: the slope in place of the input differs");
    free(slope); free(out); free(inplace);

    ResCtx r = {20};
    r.out = zeros(r.n); r.a = randn(r.n, 1); r.b = randn(r.n, 1); r.R = randn(r.n, 1);
    float *da = zeros(r.n), *db = zeros(r.n);
    residual_backward(da, db, r.R, r.n);
    printf("residual n=%zu\n", r.n);
    CHECK(!gradcheck("da", r.a, r.n, da, res_loss, &r, EPS, ATOL, RTOL, 1000), "residual a");
    CHECK(!gradcheck("db", r.b, r.n, db, res_loss, &r, EPS, ATOL, RTOL, 1000), "residual b");

    int tok[6] = {3, 1, 3, 0, 2, 3}; /* token 3 repeats: its gradient rows must add up */
    EncCtx e = {2, 3, 4, tok};
    e.out = zeros(24); e.wte = randn(4 * 4, 1); e.wpe = randn(3 * 4, 1); e.R = randn(24, 1);
    float *dwte = zeros(16), *dwpe = zeros(12);
    encoder_backward(dwte, dwpe, e.R, tok, e.B, e.T, e.C);
    printf("encoder B=2 T=3 C=4 V=4\n");
    CHECK(!gradcheck("dwte", e.wte, 16, dwte, enc_loss, &e, EPS, ATOL, RTOL, 1000), "encoder wte");
    CHECK(!gradcheck("dwpe", e.wpe, 12, dwpe, enc_loss, &e, EPS, ATOL, RTOL, 1000), "encoder wpe");
}

/* ---- cross-entropy, with ignored targets ---- */
typedef struct { int N, V; int *tgt; float *probs, *losses, *logits; } CeCtx;
static double ce_loss(void *p) {
    CeCtx *c = p;
    int count;
    return crossentropy_forward(c->probs, c->losses, c->logits, c->tgt, c->N, c->V, &count);
}
static void test_crossentropy(void) {
    int tgt[5] = {2, -1, 0, 6, -1};
    CeCtx c = {5, 7, tgt};
    c.probs = zeros(35); c.losses = zeros(5); c.logits = randn(35, 2);
    float *d = zeros(35);
    int count;
    float loss = crossentropy_forward(c.probs, c.losses, c.logits, tgt, c.N, c.V, &count);
    CHECK(count == 3, "counted %d rows, want 3", count);
    /* reference from the definition: -log softmax at the target, averaged over counted rows */
    double ref = 0;
    for (int n = 0; n < 5; n++) {
        if (tgt[n] < 0) continue;
        double s = 0;
        for (int v = 0; v < 7; v++) s += exp(c.logits[n * 7 + v]);
        ref += -(c.logits[n * 7 + tgt[n]] - log(s));
    }
    ref /= 3;
    CHECK(fabs(loss - ref) < 1e-5, "loss %g, reference %g", loss, ref);
    crossentropy_backward(d, c.probs, tgt, c.N, c.V, 1.0f / count);
    printf("crossentropy N=5 V=7 (2 rows ignored)\n");
    CHECK(!gradcheck("dlogits", c.logits, 35, d, ce_loss, &c, EPS, ATOL, RTOL, 1000), "crossentropy");
    /* large logits must not overflow */
    for (int i = 0; i < 35; i++) c.logits[i] *= 1000;
    loss = crossentropy_forward(c.probs, c.losses, c.logits, tgt, c.N, c.V, &count);
    CHECK(isfinite(loss), "loss not finite for large logits: %g", loss);
}

/* the op profile: each class gets its own time (an op timed inside another is taken out of
 * the outer one's, so the classes add up to the outer op's elapsed time), a GEMM's shape is
 * counted with the beta it was called with, and an op inside a parallel region is not timed
 * but its shape is still counted */
static void test_profile(void) {
    int N = 64, IC = 32, OC = 48;
    float *inp = randn((size_t)N * IC, 1), *w = randn((size_t)OC * IC, 1), *bias = randn(OC, 1), *out = zeros((size_t)N * OC);
    profile_reset();
    profile_enable(1);
    double t0 = omp_get_wtime();
    OpTimer outer = op_begin(OP_EXPERTS);
    matmul_forward(out, inp, w, bias, N, IC, OC);
    matmul_forward(out, inp, w, NULL, N, IC, OC);
    op_end(outer, 0, 0);
    double elapsed = omp_get_wtime() - t0;
    int team = 1;
#pragma omp parallel num_threads(2)
    {
        matmul_forward(out, inp, w, NULL, N, IC, OC); /* one call per thread, untimed in a team of 2 */
#pragma omp single
        team = omp_get_num_threads();
    }
    profile_enable(0);
    matmul_forward(out, inp, w, NULL, N, IC, OC); /* off: nothing counted */
    const OpTotals *t = profile_totals();
    double sum = 0;
    for (int c = 0; c < OP_COUNT; c++) sum += t[c].seconds;
    CHECK(t[OP_GEMM].calls == 2 && t[OP_BIAS].calls == 1 && t[OP_EXPERTS].calls == 1, "profile calls gemm %ld bias %ld experts %ld",
          t[OP_GEMM].calls, t[OP_BIAS].calls, t[OP_EXPERTS].calls);
    CHECK(sum <= elapsed + 1e-9 && sum >= 0.5 * elapsed, "profile: classes add to %g s of %g s elapsed", sum, elapsed);
    CHECK(t[OP_EXPERTS].seconds >= 0 && t[OP_EXPERTS].seconds < elapsed, "profile: the outer op kept its inner ops' time");
    CHECK(fabs(t[OP_GEMM].flops - 2 * 2.0 * N * IC * OC) < 1, "profile: gemm flops %g", t[OP_GEMM].flops);
    int n;
    const GemmShape *sh = profile_shapes(&n);
    int with_bias = -1, without = -1;
    for (int i = 0; i < n; i++)
        if (sh[i].M == N && sh[i].N == OC && sh[i].K == IC && !sh[i].trans_a && sh[i].trans_b) {
            if (sh[i].accumulate) with_bias = i; else without = i;
        }
    CHECK(n == 2 && with_bias >= 0 && without >= 0, "profile: %d shapes, expected the product with and without beta", n);
    if (with_bias >= 0 && without >= 0) {
        CHECK(sh[with_bias].calls == 1 && sh[with_bias].timed_calls == 1, "profile: the bias product counted %ld", sh[with_bias].calls);
        CHECK(sh[without].calls == 1 + team && sh[without].timed_calls == 1 + (team == 1),
              "profile: %ld calls (%ld timed) of the product without beta; expected %d (%d)", sh[without].calls,
              sh[without].timed_calls, 1 + team, 1 + (team == 1));
    }
    free(inp); free(w); free(bias); free(out);
}

/* every backend of the build against a plain triple loop: each transpose, beta 0 and 1, and
 * leading dimensions wider than the matrices (the strided views attention uses) */
static void test_gemm_backends(void) {
    int M = 37, N = 29, K = 23, pad = 5;
    for (int be = 0; be < gemm_backend_count(); be++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++) {
                    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                    float *A = randn((size_t)(ta ? K : M) * lda, 1), *B = randn((size_t)(tb ? N : K) * ldb, 1);
                    float *C = randn((size_t)M * ldc, 1), *R = malloc(sizeof(float) * (size_t)M * ldc);
                    memcpy(R, C, sizeof(float) * (size_t)M * ldc);
                    float alpha = 0.75f, beta = acc ? 1.0f : 0.0f;
                    gemm_use(be);
                    gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                    gemm_use(0);
                    double worst = 0;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double sum = 0;
                            for (int k = 0; k < K; k++)
                                sum += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                                       (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                            double want = alpha * sum + beta * R[(size_t)i * ldc + j], d = fabs(C[(size_t)i * ldc + j] - want);
                            if (d > worst) worst = d;
                        }
                    int pad_kept = 1; /* columns past N belong to someone else */
                    for (int i = 0; i < M; i++)
                        for (int j = N; j < ldc; j++) pad_kept &= C[(size_t)i * ldc + j] == R[(size_t)i * ldc + j];
                    CHECK(worst < 1e-4 && pad_kept, "gemm backend %s trans %d%d beta %d: worst |C - reference| %g, padding kept %d",
                          gemm_backend_name(be), ta, tb, acc, worst, pad_kept);
                    free(A); free(B); free(C); free(R);
                }
    printf("gemm: %d backend(s) of this build checked against a triple loop\n", gemm_backend_count());
}

/* gemm= plans: the text goes round unchanged, a side-by-side class matches whatever its rows
 * (M, or K of a transposed A), a timed shape only itself, and malformed plans are refused */
static void test_gemm_plan(void) {
    int two = gemm_backend_count() > 1;
    const char *plan = two ? "onednn,openblas@NT*x1965x32+,openblas@TN1965x32x*+,openblas@NN2048x128x256+"
                           : "openblas,openblas@NT*x1965x32+,openblas@TN1965x32x*+,openblas@NN2048x128x256+";
    char err[512], text[512];
    CHECK(gemm_plan_parse(plan, err, sizeof err) == 0, "plan refused: %s", err);
    gemm_plan_text(text, sizeof text);
    CHECK(!strcmp(text, plan), "plan text %s, parsed from %s", text, plan);
    int def = two ? 1 : 0;
    CHECK(gemm_plan_backend(0, 1, 999, 1965, 32, 1, 1) == 0 && gemm_plan_backend(0, 1, 5, 1965, 32, 1, 1) == 0,
          "a side-by-side class did not match other rows");
    CHECK(gemm_plan_backend(0, 1, 999, 1965, 32, 1, 0) == def, "a side-by-side class matched a product outside a parallel region");
    CHECK(gemm_plan_backend(1, 0, 1965, 32, 777, 1, 1) == 0, "a weight-gradient class did not match its rows in K");
    CHECK(gemm_plan_backend(0, 0, 2048, 128, 256, 1, 0) == 0 && gemm_plan_backend(0, 0, 2047, 128, 256, 1, 0) == def &&
          gemm_plan_backend(0, 0, 2048, 128, 256, 0, 0) == def, "an exact shape matched another");
    const char *bad[] = {"", "mkl", "openblas,openblas", "openblas@NN1x2x3", "openblas,openblas@XT1x2x3",
                         "openblas,openblas@NT*x2x*", "openblas,openblas@TN*x2x3", "openblas,openblas@NN1x2x*",
                         "openblas,openblas@NN01x2x3", "openblas,openblas@NN1x2x3++", "openblas,openblas@NN1x2", ",openblas",
                         "openblas,", "openblas,mkl@NN1x2x3", "openblas,openblas@NN1x-2x3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK(gemm_plan_parse(bad[i], err, sizeof err) == -1 && strstr(err, "gemm="), "plan \"%s\" accepted (or no message)", bad[i]);
    }
    gemm_use(0);
}

int main(void) {
    rng_seed(&rng, 1234);
    test_gemm_plan();
    test_gemm_backends();
    test_profile();
    test_layernorm();
    test_matmul();
    test_attention(0, 0, 0);
    test_attention(1, 0, 0);
    test_attention(0, 0, 1);
    test_attention(1, 0, 1);
    test_attention(1, 3, 0); /* prefix LM: positions 0..2 see each other */
    test_attention(1, 3, 1);
    test_elementwise();
    test_crossentropy();
    CHECK_FINISH();
}
