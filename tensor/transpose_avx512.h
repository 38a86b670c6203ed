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

/* Lanes u0..u0+n-1 (u0 + n <= 16) = src[0], src[2], ..., src[2 (n - 1)]: a stride-2 stretch by two masked loads
 * and one two-source permute. Lanes past them are zero; lanes below u0 hold whatever the permute picks (callers
 * mask them). Reads stop at src[2 (n - 1)], which may end the image. */
static inline __attribute__((always_inline)) __m512 even16_at(const float *src, int n, int u0) {
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i idx = _mm512_slli_epi32(_mm512_sub_epi32(iota, _mm512_set1_epi32(u0)), 1);
  const int span = 2 * n - 1; /* floats from src[0] to src[2 (n - 1)] */
  const __mmask16 ma = (__mmask16)(span >= 16 ? 0xFFFF : (1u << span) - 1);
  const __mmask16 mb = (__mmask16)(span <= 16 ? 0 : (1u << (span - 16)) - 1);
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(ma, src), idx, _mm512_maskz_loadu_ps(mb, src + 16));
}

/* Lanes 0..n-1 (n <= 16) = src[0], src[2], ..., src[2 (n - 1)], zeros past. */
static inline __attribute__((always_inline)) __m512 even16(const float *src, int n) { return even16_at(src, n, 0); }

#endif
