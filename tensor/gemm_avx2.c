/* SGEMM micro-kernel for AVX2 + FMA: a 6 x 16 tile of C in 12 ymm accumulators (of 16 registers:
 * two B loads and one broadcast left), the classic Haswell shape. Partial tiles are finished with
 * masked loads and stores. */
#include <immintrin.h>

#include "tensor/kernels.h"

#define MR GZ_GEMM_MR_AVX2
#define NR GZ_GEMM_NR_AVX2

static __m256i lane_mask(int n) { /* lanes [0, n) set, n in 0..8 */
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void gz_gemm_ukr_avx2(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta, int m,
                      int n) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (long k = 0; k < kc; k++, a += MR, b += NR) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      __m256 ar = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (m == MR && n == NR) {
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      float *cr = c + r * ldc;
      __m256 t0 = acc[r][0], t1 = acc[r][1];
      if (alpha != 1.0f) t0 = _mm256_mul_ps(va, t0), t1 = _mm256_mul_ps(va, t1); /* as gemm_avx512.c */
      if (beta != 0.0f) {
        t0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), t0);
        t1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), t1);
      }
      _mm256_storeu_ps(cr, t0);
      _mm256_storeu_ps(cr + 8, t1);
    }
    return;
  }
  __m256i k0 = lane_mask(n >= 8 ? 8 : n), k1 = lane_mask(n <= 8 ? 0 : n - 8);
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    if (r >= m) break;
    float *cr = c + r * ldc;
    __m256 t0 = acc[r][0], t1 = acc[r][1];
    if (alpha != 1.0f) t0 = _mm256_mul_ps(va, t0), t1 = _mm256_mul_ps(va, t1); /* as gemm_avx512.c */
    if (beta != 0.0f) {
      t0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr, k0), t0);
      t1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr + 8, k1), t1);
    }
    _mm256_maskstore_ps(cr, k0, t0);
    _mm256_maskstore_ps(cr + 8, k1, t1);
  }
}
