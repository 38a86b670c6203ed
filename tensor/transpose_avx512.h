/* tensor/transpose_avx512.h: the 16 x 16 in-register transpose and the stride-2 stretch shared by the AVX-512
 * GEMM packers and the blocked direct convolution. Include only from *_avx512.c files (compiled with AVX-512 flags). */
#ifndef GAZELOC_TENSOR_TRANSPOSE_AVX512_H
#define GAZELOC_TENSOR_TRANSPOSE_AVX512_H

#include <immintrin.h>

/* In-register transpose of 16 rows of 16 floats (unpack, 64-bit shuffle, two 128-bit lane shuffles). */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
  /* r[q][i] -> r[i][q] */
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

/* Lanes 0..n-1 (n <= 16) = src[0], src[2], ..., src[2 (n - 1)], zeros past: a stride-2 stretch by two masked
 * loads and one two-source permute. Reads stop at src[2 (n - 1)], which may end the image. */
static inline __attribute__((always_inline)) __m512 even16(const float *src, int n) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const int span = 2 * n - 1; /* floats from src[0] to src[2 (n - 1)] */
  const __mmask16 ma = (__mmask16)(span >= 16 ? 0xFFFF : (1u << span) - 1);
  const __mmask16 mb = (__mmask16)(span <= 16 ? 0 : (1u << (span - 16)) - 1);
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(ma, src), even, _mm512_maskz_loadu_ps(mb, src + 16));
}

#endif
