/* tensor/fma_avx512.h: the broadcast-and-multiply-add pair of the AVX-512 register tiles (SGEMM micro-kernel,
 * direct convolution). Include only from *_avx512.c files (compiled with AVX-512 flags). */
#ifndef GAZELOC_TENSOR_FMA_AVX512_H
#define GAZELOC_TENSOR_FMA_AVX512_H

#include <immintrin.h>

/* a0 += bcast(*x) w0, a1 += bcast(*x) w1, each FMA broadcasting *x from memory itself ({1to16}). GCC folds a
 * broadcast into its FMA only when it has one use, and for two it kept a vbroadcastss and two register FMAs:
 * the same products and sums (so the same bits), one instruction more per pair, and 1-5 % slower on Zen 4
 * (interleaved, 2 threads, GFLOP/s: 3x3 forward 512 at 16^2 189 -> 200, 128 at 64^2 207 -> 211, 3072 at 32^2
 * 212 -> 215; 1x1 weight gradient 64 -> 256 at 128^2 186 -> 193; more in docs/kernels.md). */
static inline __attribute__((always_inline)) void fma2_bcast(__m512 *a0, __m512 *a1, __m512 w0, __m512 w1,
                                                             const float *x) {
  __asm__("vfmadd231ps %[x]%{1to16%}, %[w0], %[a0]\n\t"
          "vfmadd231ps %[x]%{1to16%}, %[w1], %[a1]"
          : [a0] "+v"(*a0), [a1] "+v"(*a1)
          : [w0] "v"(w0), [w1] "v"(w1), [x] "m"(*x));
}

#endif
