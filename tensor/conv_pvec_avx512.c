/* Pixel-vector direct convolution, forward, for few output channels (AVX-512; driver in tensor/conv_direct.c).
 *
 * The blocked direct method puts 16 output channels in a zmm; with the head's 10 output channels 6 lanes
 * of every FMA are idle. Here a zmm holds 16 consecutive output pixels of one row instead, and the
 * output channels are separate accumulators: OC channels x V vectors (OC V <= 24). Per input channel and
 * tap: V unaligned loads of the input row, shifted by the tap's column, straight from NCHW x (masked
 * where the tap reaches into the zero padding), and OC broadcasts of packed weights, OC V FMAs. Taps whose
 * input row lies in the padding are skipped (their products are zeros). Every output element is one sum
 * in the blocked method's order (block of 16 input channels, kernel row, kernel column, channel of the
 * block), so both methods, and the AVX2 tile, give the same bits, whatever the thread count. */
#include <immintrin.h>

#include "tensor/kernels.h"

#define AI static inline __attribute__((always_inline))

/* Lanes l of the vector whose first input column is c0 that read a column of [0, W). */
static __mmask16 col_mask(long c0, long W) {
  long lo = -c0 > 0 ? -c0 : 0, hi = W - c0 < 16 ? W - c0 : 16;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

AI void pvec_row(const int OC, const int V, const gz_cdir_prow *t) {
  const long W = t->w, OW = t->ow;
  const int kh = t->kh, kw = t->kw;
  for (long x0 = 0; x0 < OW; x0 += 16L * V) {
    __m512 acc[24];
#pragma GCC unroll 24
    for (int q = 0; q < OC * V; q++) acc[q] = _mm512_setzero_ps();
    __mmask16 m[4][GZ_CDIR_PVEC_KW]; /* loads of vector v, kernel column j */
    for (int v = 0; v < V; v++)
      for (int j = 0; j < kw; j++) m[v][j] = col_mask(x0 + 16L * v + j - t->pw, W);
    const int i0 = t->iy0 < 0 ? -t->iy0 : 0, i1 = t->iy0 + kh > t->h ? t->h - t->iy0 : kh; /* rows in the image */
    const long cs = (long)t->h * W; /* floats between input channels */
    for (int cb = 0; cb * 16 < t->c; cb++) {
      const int nl = t->c - cb * 16 < 16 ? t->c - cb * 16 : 16;
      const float *xb = t->x + ((long)cb * 16 * t->h + t->iy0) * W + x0 - t->pw;
      for (int i = i0; i < i1; i++) {
        /* the lines of the next 16 V pixels of this kernel row in the block's 16 planes, into L1: the planes lie
         * h W floats apart, too many streams for the hardware prefetcher, and the loads waited on L2 or memory */
        for (int l = 0; l < nl; l++)
          for (int v = 0; v <= V; v++) _mm_prefetch((const char *)(xb + i * W + l * cs + 16L * (V + v)), _MM_HINT_T0);
        for (int j = 0; j < kw; j++) {
          const float *xr = xb + (long)i * W + j, *wt = t->wp + (((long)cb * kh + i) * kw + j) * 16 * OC;
          for (int l = 0; l < nl; l++, xr += cs, wt += OC) {
            __m512 xv[4];
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) xv[v] = _mm512_maskz_loadu_ps(m[v][j], xr + 16 * v);
#pragma GCC unroll 12
            for (int o = 0; o < OC; o++) {
              const __m512 wv = _mm512_set1_ps(wt[o]);
#pragma GCC unroll 4
              for (int v = 0; v < V; v++) acc[o * V + v] = _mm512_fmadd_ps(wv, xv[v], acc[o * V + v]);
            }
          }
        }
      }
    }
#pragma GCC unroll 12
    for (int o = 0; o < OC; o++) {
      const __m512 b = _mm512_set1_ps(t->bias ? t->bias[o] : 0.0f);
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) {
        const long c0 = x0 + 16L * v, n = OW - c0 < 16 ? OW - c0 : 16;
        if (n <= 0) break;
        const __m512 r = t->bias ? _mm512_add_ps(acc[o * V + v], b) : acc[o * V + v];
        _mm512_mask_storeu_ps(t->y + (long)o * t->ohw + c0, (__mmask16)((1u << n) - 1), r);
      }
    }
  }
}

#define ROW(OC, V)                                                                                                   \
  case OC:                                                                                                           \
    pvec_row(OC, V, t);                                                                                              \
    return;

void gz_cdir_pvec_row_avx512(const gz_cdir_prow *t) {
  switch (t->oc) { /* V = 24 / OC vectors, at most 4 */
    ROW(1, 4) ROW(2, 4) ROW(3, 4) ROW(4, 4) ROW(5, 4) ROW(6, 4) ROW(7, 3) ROW(8, 3) ROW(9, 2) ROW(10, 2) ROW(11, 2)
    ROW(12, 2)
  }
}
