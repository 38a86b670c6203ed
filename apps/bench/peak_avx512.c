/* FMA peak loop, AVX-512: 16 independent zmm chains (latency 4 x 2 pipes x 2 to spare). */
#include <immintrin.h>

#include "apps/bench/peak.h"

double peak_loop_avx512(long iters) {
  __m512 acc[16];
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps((float)i);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
#pragma GCC unroll 16
  for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return (double)iters * 16 * 16 * 2;
}
