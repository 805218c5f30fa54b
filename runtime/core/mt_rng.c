/* mt_rng.c - PCG32 and the float distributions built on it. */
#include "core/mt_rng.h"

#include <math.h>

#define PCG_MULT 6364136223846793005ULL

void mt_rng_seed(mt_rng *r, uint64_t seed, uint64_t stream) {
    /* the initialisation of the PCG reference (pcg32_srandom_r) */
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    mt_rng_u32(r);
    r->state += seed;
    mt_rng_u32(r);
}

uint32_t mt_rng_u32(mt_rng *r) {
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void mt_rng_advance(mt_rng *r, uint64_t n) {
    /* One draw maps the state s to a*s + c. Applying it n times is again an affine map,
     * A*s + C, built from the binary digits of n with the map squared at each digit (the
     * square of s -> a*s + c is s -> a*a*s + (a+1)*c); all arithmetic is mod 2^64. */
    uint64_t a = PCG_MULT, c = r->inc, A = 1, C = 0;
    for (; n; n >>= 1) {
        if (n & 1) {
            A *= a;
            C = C * a + c;
        }
        c *= a + 1;
        a *= a;
    }
    r->state = A * r->state + C;
}

uint32_t mt_rng_below(mt_rng *r, uint32_t bound) {
    /* reject the low values that would make r % bound uneven */
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t x = mt_rng_u32(r);
        if (x >= threshold) return x % bound;
    }
}

int64_t mt_rng_range(mt_rng *r, int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)(hi - lo);
    if (span <= UINT32_MAX) return lo + (int64_t)mt_rng_below(r, (uint32_t)span);
    /* wide ranges: 64 bits from two draws, rejection on the top */
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    for (;;) {
        uint64_t x = ((uint64_t)mt_rng_u32(r) << 32) | mt_rng_u32(r);
        if (x < limit) return lo + (int64_t)(x % span);
    }
}

double mt_rng_unit(mt_rng *r) { return (double)(mt_rng_u32(r) >> 8) * (1.0 / 16777216.0); }

void mt_rng_normal2(mt_rng *r, double *z0, double *z1) {
    /* u1 in (0, 1] keeps the log finite */
    double u1 = (double)((mt_rng_u32(r) >> 8) + 1) * (1.0 / 16777216.0);
    double u2 = mt_rng_unit(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925 * u2;
    *z0 = rad * cos(th);
    *z1 = rad * sin(th);
}

void mt_rng_fill_uniform(mt_rng *r, float *dst, int64_t n, double a, double b) {
    double w = b - a;
    for (int64_t i = 0; i < n; i++) {
        float v = (float)(a + w * mt_rng_unit(r));
        /* rounding to float can land on b; keep the interval half-open */
        if (v >= (float)b && b > a) v = nextafterf((float)b, (float)a);
        dst[i] = v;
    }
}

void mt_rng_fill_normal(mt_rng *r, float *dst, int64_t n, double mean, double std) {
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        double z0, z1;
        mt_rng_normal2(r, &z0, &z1);
        dst[i] = (float)(mean + std * z0);
        dst[i + 1] = (float)(mean + std * z1);
    }
    if (i < n) {
        double z0, z1;
        mt_rng_normal2(r, &z0, &z1);
        dst[i] = (float)(mean + std * z0);
    }
}

static mt_rng default_rng = {0, 0};
static int default_seeded = 0;

mt_rng *mt_rng_default(void) {
    if (!default_seeded) {
        mt_rng_seed(&default_rng, 0x2016, 54);
        default_seeded = 1;
    }
    return &default_rng;
}
