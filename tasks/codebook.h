/* The visual tokens of masked image modelling (BEiT's tokenizer, here without a learned VAE):
 * k-means centres of training-image patches. A masked patch's target is the id of its
 * nearest centre. Built once per (image_size, patch, K) and kept next to the data set. */
#ifndef MOEH_CODEBOOK_H
#define MOEH_CODEBOOK_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int K, dim;
    float *centres; /* (K, dim) */
} Codebook;

/* k-means++ seeding, then `iters` Lloyd iterations over x (n, dim); deterministic from seed.
 * An emptied cluster restarts at the point farthest from its centre. cb->centres allocated. */
int codebook_kmeans(Codebook *cb, const float *x, size_t n, int dim, int K, int iters, uint64_t seed);
/* ids[i] = nearest centre of x[i] (squared Euclidean), x (n, dim); dist2 may be NULL */
void codebook_assign(const Codebook *cb, const float *x, size_t n, int *ids, float *dist2);

/* Loads the codebook at path if it is there with K centres of dim values; otherwise builds it
 * from x (n, dim) and writes it (atomically). 0, or -1 with err naming the file. */
int codebook_open(Codebook *cb, const char *path, const float *x, size_t n, int dim, int K, char *err, size_t errlen);
void codebook_free(Codebook *cb);

#endif
