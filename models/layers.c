#include "layers.h"
#include "gemm.h"
#include "profile.h"
#include <math.h>
#include <omp.h>
#include <string.h>

/* columns per thread block in the column-sum loops (parameter gradients of biases, norms) */
#define COL_BLOCK 64

void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe,
                     int B, int T, int C) {
    OpTimer t_ = op_begin(OP_EMBED);
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *e = wte + (size_t)tokens[b * T + t] * C, *p = wpe + (size_t)t * C;
            for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
        }
    op_end(t_, (double)B * T * C, 12.0 * B * T * C);
}

/* serial on purpose: token rows collide, and a fixed order keeps the sums bit-exact */
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
                      int B, int T, int C) {
    OpTimer t_ = op_begin(OP_EMBED);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *e = dwte + (size_t)tokens[b * T + t] * C, *p = dwpe + (size_t)t * C;
            for (int c = 0; c < C; c++) { e[c] += d[c]; p[c] += d[c]; }
        }
    op_end(t_, 2.0 * B * T * C, 20.0 * B * T * C);
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C) {
    OpTimer t_ = op_begin(OP_NORM);
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        /* float sums in SIMD lanes (a fixed order for a given build): a serial double sum
         * was latency-bound, a quarter of the bandwidth this pass can have */
        float m = 0, v = 0;
#pragma omp simd reduction(+ : m)
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) { float d = x[c] - m; v += d * d; }
        v /= C;
        float s = 1.0f / sqrtf(v + 1e-5f);
#pragma omp simd
        for (int c = 0; c < C; c++) o[c] = ((x[c] - m) * s) * w[c] + b[c];
        mean[n] = m;
        rstd[n] = s;
    }
    op_end(t_, 7.0 * N * C, 8.0 * N * C);
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C) {
    OpTimer t_ = op_begin(OP_NORM);
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        float *di = dinp + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        float dnorm_mean = 0, dnorm_norm_mean = 0;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s, dnorm = w[c] * d[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s, dnorm = w[c] * d[c];
            di[c] += s * (dnorm - dnorm_mean - norm * dnorm_norm_mean);
        }
    }
    /* parameter gradients: threads own blocks of channels and walk the rows (contiguous) */
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        double gw[COL_BLOCK] = {0}, gb[COL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            float m = mean[n], s = rstd[n];
            for (int c = c0; c < c1; c++) { gw[c - c0] += (x[c] - m) * s * d[c]; gb[c - c0] += d[c]; }
        }
        for (int c = c0; c < c1; c++) { dw[c] += (float)gw[c - c0]; db[c] += (float)gb[c - c0]; }
    }
    op_end(t_, 20.0 * N * C, 24.0 * N * C);
}


/* sums[j] += sum over n of x[n][j], x (N,K): threads own blocks of columns and walk the rows,
 * so reads stay contiguous and every sum is added in the same order whatever the threads */
static void column_sums_add(float *sums, const float *x, int N, int K) {
    OpTimer t_ = op_begin(OP_BIAS);
    int nblocks = (K + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for
    for (int blk = 0; blk < nblocks; blk++) {
        int j0 = blk * COL_BLOCK, j1 = j0 + COL_BLOCK < K ? j0 + COL_BLOCK : K;
        double acc[COL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = x + (size_t)n * K;
            for (int j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        for (int j = j0; j < j1; j++) sums[j] += (float)acc[j - j0];
    }
    op_end(t_, (double)N * K, 4.0 * N * K);
}

/* With a bias, out's rows start as the bias and the product adds to them (beta 1): one
 * write pass instead of the BLAS zeroing out (beta 0) and a second pass adding the bias. */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC) {
    if (bias) {
        OpTimer t_ = op_begin(OP_BIAS);
#pragma omp parallel for
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, sizeof(float) * OC);
        op_end(t_, 0, 4.0 * N * OC);
    }
    gemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, bias ? 1.0f : 0.0f, out, OC);
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                     const float *w, int N, int IC, int OC) {
    if (dinp)
        gemm(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC,
                    1.0f, dinp, IC);
    gemm(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC,
                1.0f, dw, IC);
    if (dbias) column_sums_add(dbias, dout, N, OC);
}

/* One parallel region over the (b, h) pairs: each thread takes whole pairs, so the T x T
 * probabilities of a pair stay in its cache between the two products, and the products run
 * single-threaded inside the region (OpenBLAS's OpenMP build does so by itself) instead of one
 * fork-join per product and per softmax (3 B NH of them per layer forward, 6 B NH backward).
 * Each pair is computed whole by one thread in a fixed order, so the result does not depend on
 * the thread count. Each (b, h) reads strided views of qkv (leading dimension 3C): q, k and v
 * are never copied out per head. */
static void attention_pair_forward(float *out, float *P, const float *qkv, const unsigned char *km, int causal,
                                   int prefix, int T, int C, int hs, float scale) {
    int C3 = 3 * C;
    const float *q = qkv, *k = q + C, *v = q + 2 * C;
    gemm(0, 1, T, T, hs, scale, q, C3, k, C3, 0.0f, P, T);
    for (int i = 0; i < T; i++) {
        float *row = P + (size_t)i * T, mx = -INFINITY;
        int jend = !causal ? T : i + 1 > prefix ? i + 1 : prefix;
        for (int j = 0; j < jend; j++)
            if (!km || km[j]) mx = row[j] > mx ? row[j] : mx;
        double sum = 0;
        for (int j = 0; j < T; j++) {
            int seen = j < jend && (!km || km[j]);
            row[j] = seen ? expf(row[j] - mx) : 0.0f;
            sum += row[j];
        }
        float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
        for (int j = 0; j < jend; j++) row[j] *= inv;
    }
    gemm(0, 0, T, hs, T, 1.0f, P, T, v, C3, 0.0f, out, C);
}

void attention_forward(float *out, float *att, const float *qkv, const unsigned char *key_mask,
                       int causal, int prefix, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    OpTimer t_ = op_begin(OP_ATTENTION);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            attention_pair_forward(out + (size_t)b * T * C + h * hs, att + ((size_t)b * NH + h) * T * T,
                                   qkv + (size_t)b * T * C3 + h * hs, key_mask ? key_mask + (size_t)b * T : NULL,
                                   causal, prefix, T, C, hs, scale);
    /* the products' FLOPs and the softmax's traffic */
    op_end(t_, 4.0 * B * NH * T * T * hs + 4.0 * B * NH * T * T, 8.0 * B * NH * T * T);
}

static void attention_pair_backward(float *dq, float *dS, const float *dO, const float *q, const float *P, int T,
                                    int C, int hs, float scale) {
    int C3 = 3 * C;
    const float *k = q + C, *v = q + 2 * C;
    float *dk = dq + C, *dv = dq + 2 * C;
    /* dP = dO V^T ; dV += P^T dO */
    gemm(0, 1, T, T, hs, 1.0f, dO, C, v, C3, 0.0f, dS, T);
    gemm(1, 0, T, hs, T, 1.0f, P, T, dO, C, 1.0f, dv, C3);
    /* softmax backward in place: dS = P * (dP - sum_j P dP); hidden keys have P = 0 */
    for (int i = 0; i < T; i++) {
        const float *p = P + (size_t)i * T;
        float *d = dS + (size_t)i * T;
        double dot = 0;
        for (int j = 0; j < T; j++) dot += (double)p[j] * d[j];
        for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - (float)dot);
    }
    /* dQ += scale dS K ; dK += scale dS^T Q */
    gemm(0, 0, T, hs, T, scale, dS, T, k, C3, 1.0f, dq, C3);
    gemm(1, 0, T, hs, T, scale, dS, T, q, C3, 1.0f, dk, C3);
}

void attention_backward(float *dqkv, float *scratch, int scratch_slots, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    OpTimer t_ = op_begin(OP_ATTENTION);
    /* each thread its own (T, T) slot of scratch; pairs write disjoint columns of dqkv */
#pragma omp parallel for collapse(2) schedule(static) num_threads(scratch_slots)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            attention_pair_backward(dqkv + (size_t)b * T * C3 + h * hs, scratch + (size_t)omp_get_thread_num() * T * T,
                                    dout + (size_t)b * T * C + h * hs, qkv + (size_t)b * T * C3 + h * hs,
                                    att + ((size_t)b * NH + h) * T * T, T, C, hs, scale);
    op_end(t_, 8.0 * B * NH * T * T * hs + 4.0 * B * NH * T * T, 12.0 * B * NH * T * T);
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

/* exp for GELU's tanh, written so that the compiler vectorises the GELU loops (glibc's tanhf
 * took 30% of a training step, a scalar expf still 15%): 2^n * p(r) with r in [-ln2/2, ln2/2]
 * and a degree-6 polynomial, relative error < 2e-7 over the clamped range. */
static inline float gelu_exp(float x) {
    x = x < -87.0f ? -87.0f : x > 87.0f ? 87.0f : x;
    /* round to nearest by the 1.5 * 2^23 trick: vectorises, unlike a call to roundf */
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145752f - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666418f +
              r * (0.00833345205f + r * 0.00138873165f)))));
    union { float f; int i; } scale = {.i = ((int)n + 127) << 23};
    return p * scale.f;
}
/* tanh(u) = 1 - 2 / (e^{2u} + 1): saturates cleanly to +-1 */
static inline float fast_tanh(float u) { return 1.0f - 2.0f / (gelu_exp(2.0f * u) + 1.0f); }

void gelu_forward(float *out, float *slope, const float *inp, size_t N) {
    OpTimer t_ = op_begin(OP_GELU);
    if (!slope) {
#pragma omp parallel for simd
        for (size_t i = 0; i < N; i++) {
            float x = inp[i];
            out[i] = 0.5f * x * (1.0f + fast_tanh(GELU_SCALE * (x + 0.044715f * x * x * x)));
        }
        op_end(t_, 25.0 * N, 8.0 * N);
        return;
    }
    /* simd: slope[i] may be inp[i], read before it is written */
#pragma omp parallel for simd
    for (size_t i = 0; i < N; i++) {
        float x = inp[i], u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float th = fast_tanh(u), sech2 = 1.0f - th * th;
        out[i] = 0.5f * x * (1.0f + th);
        slope[i] = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    }
    op_end(t_, 35.0 * N, 12.0 * N);
}

void gelu_backward(float *dinp, const float *slope, const float *dout, size_t N) {
    OpTimer t_ = op_begin(OP_GELU);
#pragma omp parallel for simd
    for (size_t i = 0; i < N; i++) dinp[i] += slope[i] * dout[i];
    op_end(t_, 2.0 * N, 16.0 * N);
}

void residual_forward(float *out, const float *a, const float *b, size_t N) {
    OpTimer t_ = op_begin(OP_RESIDUAL);
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
    op_end(t_, (double)N, 12.0 * N);
}

void residual_backward(float *da, float *db, const float *dout, size_t N) {
    OpTimer t_ = op_begin(OP_RESIDUAL);
#pragma omp parallel for
    for (size_t i = 0; i < N; i++) { da[i] += dout[i]; db[i] += dout[i]; }
    op_end(t_, 2.0 * N, 20.0 * N);
}

float crossentropy_forward(float *probs, float *losses, const float *logits, const int *targets,
                           int N, int V, int *count) {
    OpTimer t_ = op_begin(OP_LOSS);
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V, mx = -INFINITY;
        for (int v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double sum = 0;
        for (int v = 0; v < V; v++) { p[v] = expf(z[v] - mx); sum += p[v]; }
        float inv = (float)(1.0 / sum);
        for (int v = 0; v < V; v++) p[v] *= inv;
        /* from the logits, not log(p): exact even where p underflows */
        losses[n] = targets[n] < 0 ? 0.0f : (float)(log(sum) - (z[targets[n]] - mx));
    }
    /* a serial sum: an OpenMP reduction would add in thread-finishing order, not bit-stable */
    double total = 0;
    int n_counted = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) { total += losses[n]; n_counted++; }
    *count = n_counted;
    op_end(t_, 5.0 * N * V, 8.0 * N * V);
    return n_counted ? (float)(total / n_counted) : 0.0f;
}

void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           int N, int V, float scale) {
    OpTimer t_ = op_begin(OP_LOSS);
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        float *d = dlogits + (size_t)n * V;
        const float *p = probs + (size_t)n * V;
        if (targets[n] < 0) { memset(d, 0, sizeof(float) * V); continue; }
        for (int v = 0; v < V; v++) d[v] = scale * p[v];
        d[targets[n]] -= scale;
    }
    op_end(t_, (double)N * V, 8.0 * N * V);
}
