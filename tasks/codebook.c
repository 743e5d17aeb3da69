#include "util/xalloc.h"
#include "codebook.h"
#include "util/atomic_file.h"
#include "util/rng.h"
#include <cblas.h>
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096
static const char MAGIC[8] = "MOEHCB1";

static float sqdist(const float *a, const float *b, int d) {
    float s = 0;
    for (int i = 0; i < d; i++) { float t = a[i] - b[i]; s += t * t; }
    return s;
}

/* argmin_k |x - c_k|^2 = argmin_k (|c_k|^2 - 2 x.c_k): one sgemm per chunk of rows */
void codebook_assign(const Codebook *cb, const float *x, size_t n, int *ids, float *dist2) {
    int K = cb->K, d = cb->dim;
    float *cn = xmalloc(sizeof(float) * K), *dots = xmalloc(sizeof(float) * CHUNK * K);
    for (int k = 0; k < K; k++) {
        float s = 0;
        for (int i = 0; i < d; i++) s += cb->centres[(size_t)k * d + i] * cb->centres[(size_t)k * d + i];
        cn[k] = s;
    }
    for (size_t at = 0; at < n; at += CHUNK) {
        int m = n - at < CHUNK ? (int)(n - at) : CHUNK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, K, d, 1.0f, x + at * d, d, cb->centres, d, 0.0f, dots, K);
        for (int i = 0; i < m; i++) {
            const float *row = dots + (size_t)i * K;
            int best = 0;
            float bv = cn[0] - 2 * row[0];
            for (int k = 1; k < K; k++) {
                float v = cn[k] - 2 * row[k];
                if (v < bv) { bv = v; best = k; }
            }
            ids[at + i] = best;
            if (dist2) dist2[at + i] = sqdist(x + (at + i) * d, cb->centres + (size_t)best * d, d);
        }
    }
    free(cn);
    free(dots);
}

int codebook_kmeans(Codebook *cb, const float *x, size_t n, int dim, int K, int iters, uint64_t seed) {
    cb->K = K;
    cb->dim = dim;
    cb->centres = xmalloc(sizeof(float) * K * dim);
    float *d2 = xmalloc(sizeof(float) * n), *sum = xmalloc(sizeof(float) * K * dim);
    int *ids = xmalloc(sizeof(int) * n), *count = xmalloc(sizeof(int) * K);
    if (!cb->centres || !d2 || !sum || !ids || !count || n == 0) {
        free(d2); free(sum); free(ids); free(count);
        return -1;
    }
    Rng r;
    rng_seed(&r, seed);
    /* k-means++: each new centre drawn with probability ~ squared distance to the nearest one,
     * so the many identical background patches do not take many centres */
    memcpy(cb->centres, x + rng_below(&r, n) * dim, sizeof(float) * dim);
    for (size_t i = 0; i < n; i++) d2[i] = sqdist(x + i * dim, cb->centres, dim);
    for (int k = 1; k < K; k++) {
        double total = 0;
        for (size_t i = 0; i < n; i++) total += d2[i];
        double u = rng_uniform(&r) * total, acc = 0;
        size_t pick = n - 1;
        for (size_t i = 0; i < n; i++) { acc += d2[i]; if (acc > u) { pick = i; break; } }
        if (total <= 0) pick = rng_below(&r, n); /* fewer distinct points than centres */
        float *c = cb->centres + (size_t)k * dim;
        memcpy(c, x + pick * dim, sizeof(float) * dim);
        for (size_t i = 0; i < n; i++) {
            float t = sqdist(x + i * dim, c, dim);
            if (t < d2[i]) d2[i] = t;
        }
    }
    for (int it = 0; it < iters; it++) {
        codebook_assign(cb, x, n, ids, d2);
        memset(sum, 0, sizeof(float) * K * dim);
        memset(count, 0, sizeof(int) * K);
        for (size_t i = 0; i < n; i++) {
            float *s = sum + (size_t)ids[i] * dim;
            const float *p = x + i * dim;
            for (int j = 0; j < dim; j++) s[j] += p[j];
            count[ids[i]]++;
        }
        for (int k = 0; k < K; k++) {
            float *c = cb->centres + (size_t)k * dim;
            if (count[k]) {
                for (int j = 0; j < dim; j++) c[j] = sum[(size_t)k * dim + j] / count[k];
                continue;
            }
            size_t far = 0; /* an empty cluster restarts at the worst-served point */
            for (size_t i = 1; i < n; i++) if (d2[i] > d2[far]) far = i;
            memcpy(c, x + far * dim, sizeof(float) * dim);
            d2[far] = 0;
        }
    }
    free(d2); free(sum); free(ids); free(count);
    return 0;
}

static int codebook_load(Codebook *cb, const char *path, int dim, int K, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return 1; /* not there: build it */
    char magic[8];
    int hdr[2];
    int ok = fread(magic, 8, 1, f) == 1 && !memcmp(magic, MAGIC, 8) && fread(hdr, sizeof hdr, 1, f) == 1;
    if (ok && (hdr[0] != K || hdr[1] != dim)) {
        snprintf(err, errlen, "%s: holds %d centres of %d values, expected %d of %d (delete it to rebuild)", path, hdr[0], hdr[1], K, dim);
        fclose(f);
        return -1;
    }
    cb->K = K;
    cb->dim = dim;
    cb->centres = xmalloc(sizeof(float) * K * dim);
    ok = ok && cb->centres && fread(cb->centres, sizeof(float) * K * dim, 1, f) == 1 && fgetc(f) == EOF;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: not a codebook file, or cut short (delete it to rebuild)", path);
        codebook_free(cb);
        return -1;
    }
    return 0;
}

int codebook_open(Codebook *cb, const char *path, const float *x, size_t n, int dim, int K, char *err, size_t errlen) {
    memset(cb, 0, sizeof *cb);
    int rc = codebook_load(cb, path, dim, K, err, errlen);
    if (rc <= 0) return rc;
    if (n < (size_t)K) { snprintf(err, errlen, "%s: %zu training patches cannot make %d visual tokens", path, n, K); return -1; }
    if (codebook_kmeans(cb, x, n, dim, K, 20, 4242)) { snprintf(err, errlen, "%s: out of memory building the codebook", path); return -1; }
    int hdr[2] = {K, dim};
    FilePart parts[3] = {{MAGIC, 8}, {hdr, sizeof hdr}, {cb->centres, sizeof(float) * K * dim}};
    if (atomic_write(path, parts, 3, err, errlen)) { codebook_free(cb); return -1; }
    return 0;
}

void codebook_free(Codebook *cb) {
    free(cb->centres);
    cb->centres = NULL;
}
