/* Deterministic random numbers: a 64-bit state per stream, so the same seed gives the same
 * numbers on every machine and thread count. */
#ifndef MOEH_RNG_H
#define MOEH_RNG_H
#include <stdint.h>

typedef struct { uint64_t s; } Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
/* uniform in [0, 1) with 24 random bits, exact in float */
float rng_uniform(Rng *r);
/* uniform integer in [0, n) */
uint64_t rng_below(Rng *r, uint64_t n);
/* standard normal (Box-Muller, one value per call) */
float rng_normal(Rng *r);

#endif
