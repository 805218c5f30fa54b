/*
 * mt_rng.h - the seeded random number generator.
 *
 * PCG32 (XSH-RR, O'Neill 2014): 64-bit state, 32-bit output, selectable
 * stream. Integer outputs are exact on every machine; floats are derived with
 * exact arithmetic (uniform) or with IEEE double sqrt/log/cos (normal, via
 * Box-Muller) and then rounded to float, so that a seed gives the same numbers
 * everywhere. Not thread-safe: give each thread its own generator.
 */
#ifndef MT_RNG_H
#define MT_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_rng {
    uint64_t state;
    uint64_t inc;
} mt_rng;

/* Seeds a generator; stream selects one of 2^63 independent sequences. */
void mt_rng_seed(mt_rng *r, uint64_t seed, uint64_t stream);

/* The next 32 random bits. */
uint32_t mt_rng_u32(mt_rng *r);

/* Moves the generator as if mt_rng_u32 had been called n times, in O(log n) steps: pieces of
 * one sequence can then be drawn on different threads and still match the serial draws. */
void mt_rng_advance(mt_rng *r, uint64_t n);

/* A uniform integer in [0, bound) without modulo bias; bound > 0. */
uint32_t mt_rng_below(mt_rng *r, uint32_t bound);

/* A uniform integer in [lo, hi); returns lo when hi <= lo. */
int64_t mt_rng_range(mt_rng *r, int64_t lo, int64_t hi);

/* A uniform double in [0, 1) with 24 random bits (exactly a float). */
double mt_rng_unit(mt_rng *r);

/* A standard normal pair (Box-Muller); both values are returned. */
void mt_rng_normal2(mt_rng *r, double *z0, double *z1);

/* Fills n floats with U[a, b) and with N(mean, std^2). */
void mt_rng_fill_uniform(mt_rng *r, float *dst, int64_t n, double a, double b);
void mt_rng_fill_normal(mt_rng *r, float *dst, int64_t n, double mean, double std);

/* The process-wide default generator (seed 0x2016, stream 54 at start). */
mt_rng *mt_rng_default(void);

#ifdef __cplusplus
}
#endif

#endif
