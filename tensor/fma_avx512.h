/* tensor/fma_avx512.h: the broadcast-and-multiply-add pair of the AVX-512 register tiles (SGEMM micro-kernel,
 * direct convolution). Include only from *_avx512.c files (compiled with AVX-512 flags). */
#ifndef GAZELOC_TENSOR_FMA_AVX512_H
#define GAZELOC_TENSOR_FMA_AVX512_H

#include <immintrin.h>

/* a0 += bcast(*x) w0, a1 += bcast(*x) w1. FOLD (gz_fma_folded(); callers instantiate both and pick at run time):
 *   1  each FMA broadcasts *x from memory itself ({1to16}). Zen 4 runs a 512-bit FMA as two halves, one a cycle,
 *      with load slots to spare: against a vbroadcastss and two register FMAs (what GCC makes of two uses of one
 *      set1) 1-5 % faster (interleaved, 2 threads, GFLOP/s: 3x3 forward 512 at 16^2 189 -> 200, 128 at 64^2
 *      207 -> 211, 3072 at 32^2 212 -> 215; 1x1 weight gradient 64 -> 256 at 128^2 186 -> 193).
 *   0  one vbroadcastss, two register FMAs. Zen 5 issues two full-width FMAs a cycle: the 12 x 32 GEMM tile's 24
 *      FMAs take 12 cycles, and folded they need 26 loads, more than its vector load ports give in that time
 *      (micro-kernel alone, one thread, L1: 205 folded, 230 here; 2 threads, 3x3 256 at 32^2 forward 278 -> 322).
 * The same products and sums: the same bits. */
static inline __attribute__((always_inline)) void fma2_bcast(const int FOLD, __m512 *a0, __m512 *a1, __m512 w0,
                                                             __m512 w1, const float *x) {
  if (!FOLD) {
    const __m512 b = _mm512_set1_ps(*x);
    *a0 = _mm512_fmadd_ps(b, w0, *a0);
    *a1 = _mm512_fmadd_ps(b, w1, *a1);
    return;
  }
  __asm__("vfmadd231ps %[x]%{1to16%}, %[w0], %[a0]\n\t"
          "vfmadd231ps %[x]%{1to16%}, %[w1], %[a1]"
          : [a0] "+v"(*a0), [a1] "+v"(*a1)
          : [w0] "v"(w0), [w1] "v"(w1), [x] "m"(*x));
}

#endif
