/* Blocked direct convolution, AVX2 + FMA parts (driver and layouts: tensor/conv_direct.c; the AVX-512
 * twin: tensor/conv_direct_avx512.c).
 *
 * Same layouts as AVX-512 (input NCHW16c with the padding stored, weights [channel block][tap][16 input
 * channels][ocb*16 output channels]), so the driver does not change; a block of 16 channels is two ymm
 * instead of one zmm. With 16 ymm registers the forward / backward-data tile is 6 pixels x 16 output
 * channels (12 accumulators, two weight vectors, one broadcast: the 6 x 16 SGEMM shape of
 * gemm_avx2.c), and a driver tile of up to 24 pixels x 32 channels is done as such pieces.
 *
 * Every output element is the same sum, in the same order (channel blocks, taps, 16 channels), as on
 * AVX-512, each term one FMA: AVX2 and AVX-512 give the same bits (tests/tensor/test_conv.c checks it),
 * and neither depends on the thread count. */
#include <immintrin.h>
#include <string.h>

#include "tensor/kernels.h"

#define AI static inline __attribute__((always_inline))

/* PX pixels (input pixels S*L floats apart, L channels per input block: 16 or 1) x the 16 output channels
 * of half `h` of the tile. */
AI void piece(const int PX, const int S, const int L, const gz_cdir_tile *t, int h, int p0) {
  __m256 acc[6][2];
#pragma GCC unroll 6
  for (int p = 0; p < PX; p++) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
  const int wstep = t->ocb * 16;
  const float *w = t->w + h * 16;
  const int nstep = t->nicb * t->ntap;
  const float *ib = t->in + (long)p0 * S * L;
  for (int st = 0, k = 0; st < nstep; st++) { /* one flat loop: see conv_direct_avx512.c */
    const float *ip = ib + t->toff[k];
    if (++k == t->ntap) k = 0, ib += t->icbs;
#pragma GCC unroll 2
    for (int c = 0; c < L; c++, w += wstep) {
      const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
#pragma GCC unroll 6
      for (int p = 0; p < PX; p++) {
        const __m256 x = _mm256_broadcast_ss(ip + p * S * L + c);
        acc[p][0] = _mm256_fmadd_ps(x, w0, acc[p][0]);
        acc[p][1] = _mm256_fmadd_ps(x, w1, acc[p][1]);
      }
    }
  }
  /* To NCHW through a stack buffer: an output element costs 16 * taps * channel blocks FMAs of the
   * loop above, one scalar store is small beside that. Bias, then accumulate: AVX-512's order. */
  float tmp[6 * 16];
#pragma GCC unroll 6
  for (int p = 0; p < PX; p++) _mm256_storeu_ps(tmp + p * 16, acc[p][0]), _mm256_storeu_ps(tmp + p * 16 + 8, acc[p][1]);
  const int nv = t->noc - h * 16 < 16 ? t->noc - h * 16 : 16;
  const float *bias = t->bias ? t->bias + h * 16 : NULL;
  for (int o = 0; o < nv; o++) {
    float *yo = t->out + (long)(h * 16 + o) * t->chs + (long)p0 * t->ops;
    const float bo = bias ? bias[o] : 0.0f;
    for (int p = 0; p < PX; p++) {
      const float v = bias ? tmp[p * 16 + o] + bo : tmp[p * 16 + o];
      yo[p * t->ops] = t->accumulate ? yo[p * t->ops] + v : v;
    }
  }
}

#define PIECE(S, L, PX)                                                                                              \
  case PX:                                                                                                           \
    piece(PX, S, L, t, h, p0);                                                                                       \
    break;
#define PIECES(S, L)                                                                                                 \
  static void piece_##S##_##L(const gz_cdir_tile *t, int h, int p0, int px) {                                        \
    switch (px) { PIECE(S, L, 1) PIECE(S, L, 2) PIECE(S, L, 3) PIECE(S, L, 4) PIECE(S, L, 5) PIECE(S, L, 6) }        \
  }
PIECES(1, 16)
PIECES(2, 16)
PIECES(1, 1)
PIECES(2, 1)

void gz_cdir_tile_avx2(const gz_cdir_tile *t) {
  const int n = (t->px + 5) / 6; /* equal pieces: 8 pixels are 4 + 4, not 6 + 2 */
  for (int h = 0; h < t->ocb; h++) {
    if (h * 16 >= t->noc) break;
    for (int q = 0; q < n; q++) {
      const int p0 = t->px * q / n, p1 = t->px * (q + 1) / n;
      if (t->lanes == 1) (t->s == 1 ? piece_1_1 : piece_2_1)(t, h, p0, p1 - p0);
      else (t->s == 1 ? piece_1_16 : piece_2_16)(t, h, p0, p1 - p0);
    }
  }
}

/* One padded row y of channel block icb (see gz_cdir_block_row_avx512), by plain loops: the copy is
 * read once per image, the convolution reads it taps x output-channel-groups times. */
void gz_cdir_block_row_avx2(const float *src, int C, int H, int W, int top, int left, int Wp, int icb, int y,
                            float *dst) {
  const int sy = y - top, c0 = icb * 16, nc = C - c0 < 16 ? C - c0 : 16;
  memset(dst, 0, sizeof(float) * 16 * (size_t)Wp);
  if (sy < 0 || sy >= H) return;
  const float *s = src + ((long)c0 * H + sy) * W;
  const long cs = (long)H * W;
  float *d = dst + (long)left * 16;
  for (int x = 0; x < W; x++)
    for (int q = 0; q < nc; q++) d[(long)x * 16 + q] = s[q * cs + x];
}

/* Weight gradient tile: NO output channels x KW taps x 16 input channels (two ymm), summed over the
 * pixels of a band in order, like wtile_body of conv_direct_avx512.c (same sums, same order). NO x KW
 * x 2 accumulators stay at most 14 of the 16 registers; the input vectors are reloaded per output
 * channel (FMAs with a memory operand, L1 hits) rather than held. */
AI void wtile_body(const int NO, const int KW, const gz_cdir_wtile *t) {
  __m256 acc[6][7][2];
#pragma GCC unroll 6
  for (int o = 0; o < NO; o++)
#pragma GCC unroll 7
    for (int j = 0; j < KW; j++) acc[o][j][0] = acc[o][j][1] = _mm256_setzero_ps();
  const long xs = (long)t->sw * 16;
  for (int r = 0; r < t->rows; r++) {
    const float *xp = t->x + r * t->xrow;
    const long p0 = (long)r * t->ow;
    for (long ox = 0; ox < t->ow; ox++, xp += xs) {
#pragma GCC unroll 6
      for (int o = 0; o < NO; o++) {
        const __m256 g = _mm256_broadcast_ss(t->dy[o] + p0 + ox);
#pragma GCC unroll 7
        for (int j = 0; j < KW; j++) {
          acc[o][j][0] = _mm256_fmadd_ps(g, _mm256_loadu_ps(xp + j * 16), acc[o][j][0]);
          acc[o][j][1] = _mm256_fmadd_ps(g, _mm256_loadu_ps(xp + j * 16 + 8), acc[o][j][1]);
        }
      }
    }
  }
  float *d = t->acc;
#pragma GCC unroll 6
  for (int o = 0; o < NO; o++)
#pragma GCC unroll 7
    for (int j = 0; j < KW; j++, d += 16)
      for (int h = 0; h < 2; h++)
        _mm256_storeu_ps(d + h * 8, t->first ? acc[o][j][h] : _mm256_add_ps(_mm256_loadu_ps(d + h * 8), acc[o][j][h]));
}

/* Output channels per tile for kernel width kw: NO x kw x 2 ymm accumulators, at most 14 of the 16. The one
 * definition of the accumulator layout's group size (gz_cdir_wtile_rows reports it to the driver). */
#define NO(kw) ((kw) == 1 ? 6 : (kw) == 2 ? 3 : (kw) == 3 ? 2 : 1)

int gz_cdir_wtile_rows_avx2(int kw, int oc) {
  (void)oc;
  return NO(kw);
}

void gz_cdir_wtile_avx2(const gz_cdir_wtile *t) {
  switch (t->kw) {
  case 1: wtile_body(NO(1), 1, t); return;
  case 2: wtile_body(NO(2), 2, t); return;
  case 3: wtile_body(NO(3), 3, t); return;
  case 4: wtile_body(NO(4), 4, t); return;
  case 5: wtile_body(NO(5), 5, t); return;
  case 6: wtile_body(NO(6), 6, t); return;
  case 7: wtile_body(NO(7), 7, t); return;
  }
}
