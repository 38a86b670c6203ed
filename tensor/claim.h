/* tensor/claim.h: balanced claiming of a loop's items by the threads of a team (internal).
 *
 * A static schedule gives every thread the same number of items, so a call lasts as long as its slowest
 * core takes for them. On the shared VMs this project runs on, one vCPU is at times several per cent slower
 * than the other for minutes (one-thread SGEMM pinned to cpu0 and cpu1: 186-192 against 197-206 GFLOP/s,
 * docs/kernels.md), and then the other waits at the end of every call. Here thread t starts on the contiguous
 * range a static schedule would give it and takes chunks from its front; once it is empty it takes chunks
 * from the back of the range with the most items left. So a thread's items stay contiguous (neighbouring
 * rows share input lines in its cache) and only a tail moves, where one is left.
 *
 * Every item is done by exactly one thread, whole: where an item's arithmetic does not depend on which
 * thread runs it, the results are the same bits as with a static schedule. Items that must run in order on
 * one thread (a later channel chunk adding to an earlier one's output) cannot be claimed.
 *
 * Use: one thread calls gz_claim_init before the parallel region (or before a barrier); then, inside it,
 *   for (long lo, hi; gz_claim_next(&c, omp_get_thread_num(), &lo, &hi);) for (long i = lo; i < hi; i++) ...
 */
#ifndef GAZELOC_TENSOR_CLAIM_H
#define GAZELOC_TENSOR_CLAIM_H

#include <stdatomic.h>
#include <stdint.h>

#define GZ_CLAIM_RANGES 64 /* threads beyond this many own no range and only take from the others */

/* One range per cache line: front in the low 32 bits, end (one past its last item) in the high 32 bits. */
typedef struct {
  _Alignas(64) _Atomic uint64_t v;
} gz_claim_range;

typedef struct {
  gz_claim_range r[GZ_CLAIM_RANGES];
  int nr;     /* ranges in use */
  long chunk; /* items per claim */
} gz_claim;

static inline uint64_t gz_claim_pack(uint64_t front, uint64_t end) { return front | end << 32; }

/* n items (n < 2^32) over `threads` threads, `chunk` items per claim. */
static inline void gz_claim_init(gz_claim *c, long n, int threads, long chunk) {
  c->nr = threads < 1 ? 1 : threads > GZ_CLAIM_RANGES ? GZ_CLAIM_RANGES : threads;
  c->chunk = chunk < 1 ? 1 : chunk;
  for (int t = 0; t < c->nr; t++)
    atomic_init(&c->r[t].v, gz_claim_pack((uint64_t)(n * t / c->nr), (uint64_t)(n * (t + 1) / c->nr)));
}

/* The next items [*lo, *hi) for thread t; 0 when every item is taken. */
static inline int gz_claim_next(gz_claim *c, int t, long *lo, long *hi) {
  if (t < c->nr) { /* from the front of its own range */
    gz_claim_range *r = &c->r[t];
    uint64_t v = atomic_load_explicit(&r->v, memory_order_relaxed);
    for (;;) {
      const uint64_t f = v & 0xFFFFFFFFu, e = v >> 32;
      if (f >= e) break;
      const uint64_t nf = f + (uint64_t)c->chunk < e ? f + (uint64_t)c->chunk : e;
      if (atomic_compare_exchange_weak_explicit(&r->v, &v, gz_claim_pack(nf, e), memory_order_relaxed,
                                                memory_order_relaxed)) {
        *lo = (long)f, *hi = (long)nf;
        return 1;
      }
    }
  }
  for (;;) { /* from the back of the fullest range */
    int best = -1;
    uint64_t most = 0, bv = 0;
    for (int q = 0; q < c->nr; q++) {
      const uint64_t v = atomic_load_explicit(&c->r[q].v, memory_order_relaxed), f = v & 0xFFFFFFFFu, e = v >> 32;
      if (e > f && e - f > most) most = e - f, best = q, bv = v;
    }
    if (best < 0) return 0;
    const uint64_t f = bv & 0xFFFFFFFFu, e = bv >> 32, ne = e - f > (uint64_t)c->chunk ? e - (uint64_t)c->chunk : f;
    if (atomic_compare_exchange_strong_explicit(&c->r[best].v, &bv, gz_claim_pack(f, ne), memory_order_relaxed,
                                                memory_order_relaxed)) {
      *lo = (long)ne, *hi = (long)e;
      return 1;
    }
  }
}

#endif
