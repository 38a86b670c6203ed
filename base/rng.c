/* Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011). Key = the 64-bit seed; counter = (block index, stream). The i-th word
 * of a stream is a pure function of (seed, stream, i): data order and augmentation do not depend on how
 * many threads or processes draw them. */
#include "base.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

void gz_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

static void block(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  gz_philox4x32(ctr, key, out);
}

void gz_rng_init(gz_rng *r, uint64_t seed, uint64_t stream) {
  r->seed = seed;
  r->stream = stream;
  r->counter = 0;
  r->used = 4;
}

void gz_rng_seek(gz_rng *r, uint64_t word) {
  r->counter = word / 4;
  r->used = 4;
  if (word % 4) {
    block(r->seed, r->stream, r->counter++, r->buf);
    r->used = (int)(word % 4);
  }
}

uint32_t gz_rng_u32(gz_rng *r) {
  if (r->used == 4) {
    block(r->seed, r->stream, r->counter++, r->buf);
    r->used = 0;
  }
  return r->buf[r->used++];
}

uint64_t gz_rng_u64(gz_rng *r) {
  uint64_t hi = gz_rng_u32(r);
  return (hi << 32) | gz_rng_u32(r);
}

float gz_rng_uniform(gz_rng *r) { return (float)(gz_rng_u32(r) >> 8) * 0x1.0p-24f; }

double gz_rng_uniform_d(gz_rng *r) { return (double)(gz_rng_u64(r) >> 11) * 0x1.0p-53; }

double gz_rng_range(gz_rng *r, double lo, double hi) { return lo + (hi - lo) * gz_rng_uniform_d(r); }

double gz_rng_normal(gz_rng *r) {
  double u1 = 1.0 - gz_rng_uniform_d(r); /* (0, 1]: log is finite */
  double u2 = gz_rng_uniform_d(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Lemire's multiply-shift with rejection: exactly uniform on [0, n). */
uint32_t gz_rng_below(gz_rng *r, uint32_t n) {
  if (n == 0) return 0;
  uint64_t m = (uint64_t)gz_rng_u32(r) * n;
  uint32_t low = (uint32_t)m;
  if (low < n) {
    uint32_t threshold = (uint32_t)(-n) % n;
    while (low < threshold) {
      m = (uint64_t)gz_rng_u32(r) * n;
      low = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

uint32_t gz_rng_word_at(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t out[4];
  block(seed, stream, index / 4, out);
  return out[index % 4];
}

void gz_rng_shuffle(gz_rng *r, int *a, size_t n) {
  for (size_t i = n; i > 1; i--) {
    size_t j = gz_rng_below(r, (uint32_t)i);
    int t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}
