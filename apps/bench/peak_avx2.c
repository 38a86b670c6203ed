/* FMA peak loop, AVX2: 12 independent ymm chains (of 16 registers). */
#include <immintrin.h>

#include "apps/bench/peak.h"

double peak_loop_avx2(long iters) {
  __m256 acc[12];
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
#pragma GCC unroll 12
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
#pragma GCC unroll 12
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
  float v[8];
  _mm256_storeu_ps(v, s);
  volatile float sink = v[0] + v[7];
  (void)sink;
  return (double)iters * 12 * 8 * 2;
}
