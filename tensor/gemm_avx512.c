/* SGEMM micro-kernel for AVX-512: a 12 x 32 tile of C in 24 zmm accumulators. Per k: two loads of
 * the packed B row (32 floats), twelve broadcasts of the packed A column folded into the FMAs, 24
 * FMAs. 24 independent chains cover the FMA latency (4 cycles) times the issue width on Zen 4
 * (2 x 256-bit pipes) and Zen 5 (2 x 512-bit). Partial tiles (m < 12 or n < 32) go through a
 * stack buffer and masked stores, so nothing outside C is read or written. */
#include <immintrin.h>

#include "tensor/kernels.h"

#define MR GZ_GEMM_MR_AVX512
#define NR GZ_GEMM_NR_AVX512

void gz_gemm_ukr_avx512(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta, int m,
                        int n) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long k = 0; k < kc; k++, a += MR, b += NR) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
    _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      __m512 ar = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (m == MR && n == NR) {
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      float *cr = c + r * ldc;
      __m512 t0 = _mm512_mul_ps(va, acc[r][0]), t1 = _mm512_mul_ps(va, acc[r][1]);
      if (beta != 0.0f) {
        t0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr), t0);
        t1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + 16), t1);
      }
      _mm512_storeu_ps(cr, t0);
      _mm512_storeu_ps(cr + 16, t1);
    }
    return;
  }
  __mmask16 k0 = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
  __mmask16 k1 = (__mmask16)(n <= 16 ? 0 : n >= 32 ? 0xFFFF : (1u << (n - 16)) - 1);
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++) {
    if (r >= m) break;
    float *cr = c + r * ldc;
    __m512 t0 = _mm512_mul_ps(va, acc[r][0]), t1 = _mm512_mul_ps(va, acc[r][1]);
    if (beta != 0.0f) {
      t0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k0, cr), t0);
      t1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k1, cr + 16), t1);
    }
    _mm512_mask_storeu_ps(cr, k0, t0);
    _mm512_mask_storeu_ps(cr + 16, k1, t1);
  }
}
