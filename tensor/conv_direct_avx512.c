/* Blocked direct convolution, AVX-512 parts (driver and layouts: tensor/conv_direct.c).
 *
 * The input is held as [channel block][padded row][padded column][16 channels] (NCHW16c with the zero
 * padding stored), the weights of a group of up to 32 output channels as [channel block][tap][16 input
 * channels][up to 32 output channels] (OIhw16i16o, two output blocks side by side). A tile of PX output
 * pixels of one row x OCB blocks of 16 output channels lives in PX*OCB zmm accumulators (at most 24):
 * per input channel and tap, OCB weight vectors are loaded and each pixel's input value is broadcast
 * into OCB FMAs. The whole reduction (channel blocks, taps, 16 channels, always in this order) runs in
 * registers, and the tile is written once to the NCHW output: every output element is one fixed sum,
 * whatever the thread count. Nothing is packed per tile, unlike the implicit GEMM, whose im2col panel
 * costs as much as the arithmetic when the output channels are few. Also here: the stride-2 row copy of
 * that im2col panel (gz_conv_even_avx512, used by tensor/conv.c). */
#include <immintrin.h>
#include <string.h>

#include "tensor/fma_avx512.h"
#include "tensor/kernels.h"
#include "tensor/transpose_avx512.h"

#define AI static inline __attribute__((always_inline))


/* Input channel c of one (block, tap) step: OCB weight vectors, PX broadcasts, OCB x PX FMAs. */
AI void lane_fma(const int FOLD, const int OCB, const int PX, const int S, const int L, __m512 acc[24][2],
                 const float *w, const float *ip, int c) {
  __m512 w0 = _mm512_load_ps(w), w1 = OCB > 1 ? _mm512_load_ps(w + 16) : w0;
#pragma GCC unroll 24
  for (int p = 0; p < PX; p++) {
    if (OCB > 1) {
      fma2_bcast(FOLD, &acc[p][0], &acc[p][1], w0, w1, ip + p * S * L + c);
      continue;
    }
    __m512 x = _mm512_set1_ps(ip[p * S * L + c]);
    acc[p][0] = _mm512_fmadd_ps(x, w0, acc[p][0]);
  }
}

/* OCB output blocks x PX pixels, input pixels S*L floats apart (S = the stride, L = the channels per input
 * block: 16, or 1 for plain planes where a "block" is one channel). */
AI void tile_body(const int FOLD, const int OCB, const int PX, const int S, const int L, const gz_cdir_tile *t) {
  __m512 acc[24][2]; /* fixed sizes: arrays sized by the parameters would be VLAs, kept in memory */
#pragma GCC unroll 24
  for (int p = 0; p < PX; p++)
#pragma GCC unroll 2
    for (int b = 0; b < OCB; b++) acc[p][b] = _mm512_setzero_ps();
  /* The lines the epilogue will write, into L1 while the reduction runs: the first and last pixel of each of
   * the tile's output rows. Its stores otherwise waited on memory for every line (dx of the head's 64 -> 10
   * at 256^2 is 32 MB, written after only 90 lane steps per tile). Interleaved, 2 threads, medians of 11, 6
   * rounds: 64 -> 10 backward data 6.4-7.4 -> 5.6-6.7 ms, the decoder's 128 -> 64 forward and backward data
   * -1-3 %, the rest equal. Into L2 (T1) gained less; with write intent (PREFETCHW) the same. */
  if (t->ops <= 2)
    for (int o = 0; o < t->noc; o++) {
      const float *yo = t->out + (long)o * t->chs;
      _mm_prefetch((const char *)yo, _MM_HINT_T0);
      _mm_prefetch((const char *)(yo + (PX - 1) * t->ops), _MM_HINT_T0);
    }
  /* One flat loop over (channel block, tap): with two nested loops GCC kept the accumulators in
   * memory between taps. */
  const float *w = t->w;
  const int nstep = t->nicb * t->ntap;
  /* A last block of lastl < L channels (the head's 10 dy channels in backward data) skips its zero lanes:
   * their products are 0 x 0, and skipping them leaves every sum as it was. */
  const int nfull = t->lastl < L ? nstep - t->ntap : nstep;
  const float *ib = t->in;
  int st = 0, k = 0;
  for (; st < nfull; st++) {
    const float *ip = ib + t->toff[k];
    if (++k == t->ntap) k = 0, ib += t->icbs;
    /* Stride 2: the next step's PX input pixels (one line each) into L1. A step's 16 channels touch all of
     * them at once, and a new kernel row or channel block starts a new run of 2 PX lines that the hardware
     * did not fetch ahead: one thread, 128 channels at 128^2 forward 92 -> 101 GFLOP/s, 256 at 64^2 98 ->
     * 107 (2 threads +5 %). At stride 1 (half as many lines, most shared with the last step) no gain. */
    if (S == 2 && L == 16 && st + 1 < nstep) {
      const float *next = ib + t->toff[k];
#pragma GCC unroll 24
      for (int p = 0; p < PX; p++) _mm_prefetch((const char *)(next + p * S * L), _MM_HINT_T0);
    }
#pragma GCC unroll 2
    for (int c = 0; c < L; c++, w += OCB * 16) lane_fma(FOLD, OCB, PX, S, L, acc, w, ip, c);
  }
  for (; st < nstep; st++, w += (long)L * OCB * 16) {
    const float *ip = ib + t->toff[k++];
    for (int c = 0; c < t->lastl; c++) lane_fma(FOLD, OCB, PX, S, L, acc, w + c * OCB * 16, ip, c);
  }
  /* To NCHW: 16 x 16 transposes turn pixel vectors into channel rows (masked stores; output pixel step
   * 2, a phase class of backward data: spread by permutes). Other steps through a stack buffer. */
#pragma GCC unroll 2
  for (int b = 0; b < OCB; b++) {
    if (b * 16 >= t->noc) break;
    const int nv = t->noc - b * 16 < 16 ? t->noc - b * 16 : 16;
    const float *bias = t->bias ? t->bias + b * 16 : NULL;
    float *yb = t->out + (long)b * 16 * t->chs;
    if (t->ops <= 2) {
#pragma GCC unroll 2
      for (int p0 = 0; p0 < PX; p0 += 16) {
        const int np = PX - p0 < 16 ? PX - p0 : 16;
        const __mmask16 m = (__mmask16)(np == 16 ? 0xFFFF : (1u << np) - 1);
        __m512 r[16];
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++) r[q] = q < np ? acc[p0 + q][b] : _mm512_setzero_ps();
        transpose16(r);
        if (t->ops == 1) {
          for (int o = 0; o < nv; o++) {
            float *yo = yb + (long)o * t->chs + p0;
            __m512 v = bias ? _mm512_add_ps(r[o], _mm512_set1_ps(bias[o])) : r[o];
            if (t->accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yo), v);
            _mm512_mask_storeu_ps(yo, m, v);
          }
          continue;
        }
        /* Every other pixel (a stride-2 phase class of backward data): the np values are spread over
         * 2 np - 1 floats by permutes and written by masked stores that leave the pixels between them,
         * another class's, untouched. No load of dx unless accumulating: merging by load + blend made
         * those loads, cache misses on dx, a fifth of the tile's time (perf, 3x3 stride 2). */
        const __m512i ilo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
        const __m512i ihi = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
        const int span = 2 * np - 1;
        const __mmask16 mlo = (__mmask16)((span >= 16 ? 0xFFFF : (1u << span) - 1) & 0x5555);
        const __mmask16 mhi = (__mmask16)((span <= 16 ? 0 : (1u << (span - 16)) - 1) & 0x5555);
        for (int o = 0; o < nv; o++) {
          float *yo = yb + (long)o * t->chs + 2L * p0;
          __m512 v = bias ? _mm512_add_ps(r[o], _mm512_set1_ps(bias[o])) : r[o];
          __m512 vlo = _mm512_permutexvar_ps(ilo, v), vhi = _mm512_permutexvar_ps(ihi, v);
          if (t->accumulate) {
            vlo = _mm512_add_ps(_mm512_maskz_loadu_ps(mlo, yo), vlo);
            vhi = _mm512_add_ps(_mm512_maskz_loadu_ps(mhi, yo + 16), vhi);
          }
          _mm512_mask_storeu_ps(yo, mlo, vlo);
          _mm512_mask_storeu_ps(yo + 16, mhi, vhi);
        }
      }
      continue;
    }
    float tmp[24 * 16] __attribute__((aligned(64)));
#pragma GCC unroll 24
    for (int p = 0; p < PX; p++) _mm512_store_ps(tmp + p * 16, acc[p][b]);
    for (int o = 0; o < nv; o++) {
      float *yo = yb + (long)o * t->chs, bo = bias ? bias[o] : 0.0f;
      for (int p = 0; p < PX; p++) {
        float v = bias ? tmp[p * 16 + o] + bo : tmp[p * 16 + o];
        yo[p * t->ops] = t->accumulate ? yo[p * t->ops] + v : v;
      }
    }
  }
}

#define CASE(OCB, S, PX)                                                                                             \
  case PX:                                                                                                           \
    tile_body(FOLD, OCB, PX, S, L, t);                                                                                     \
    return;
#define PX12(OCB, S)                                                                                                 \
  CASE(OCB, S, 1) CASE(OCB, S, 2) CASE(OCB, S, 3) CASE(OCB, S, 4) CASE(OCB, S, 5) CASE(OCB, S, 6) CASE(OCB, S, 7) \
  CASE(OCB, S, 8) CASE(OCB, S, 9) CASE(OCB, S, 10) CASE(OCB, S, 11) CASE(OCB, S, 12)
#define PX24(OCB, S)                                                                                                 \
  PX12(OCB, S)                                                                                                       \
  CASE(OCB, S, 13) CASE(OCB, S, 14) CASE(OCB, S, 15) CASE(OCB, S, 16) CASE(OCB, S, 17) CASE(OCB, S, 18)         \
  CASE(OCB, S, 19) CASE(OCB, S, 20) CASE(OCB, S, 21) CASE(OCB, S, 22) CASE(OCB, S, 23) CASE(OCB, S, 24)

/* tile_OCB_S_L_FOLD (FOLD: tensor/fma_avx512.h; only two-block tiles broadcast for two FMAs) */
#define TILE(OCB, S, LL, FD, PXS)                                                                                    \
  static void tile_##OCB##_##S##_##LL##_##FD(const gz_cdir_tile *t) {                                                \
    const int L = LL, FOLD = FD;                                                                                     \
    switch (t->px) { PXS(OCB, S) }                                                                                   \
  }
#define TILES_2(FD) TILE(2, 1, 16, FD, PX12) TILE(2, 2, 16, FD, PX12) TILE(2, 1, 1, FD, PX12) TILE(2, 2, 1, FD, PX12)
TILES_2(1)
TILES_2(0)
TILE(1, 1, 16, 0, PX24)
TILE(1, 2, 16, 0, PX24)
TILE(1, 1, 1, 0, PX24)
TILE(1, 2, 1, 0, PX24)

void gz_cdir_tile_avx512(const gz_cdir_tile *t) {
  const int fold = gz_fma_folded(), s1 = t->s == 1;
  if (t->ocb != 2) {
    if (t->lanes == 1) s1 ? tile_1_1_1_0(t) : tile_1_2_1_0(t);
    else s1 ? tile_1_1_16_0(t) : tile_1_2_16_0(t);
  } else if (t->lanes == 1) {
    if (fold) s1 ? tile_2_1_1_1(t) : tile_2_2_1_1(t);
    else s1 ? tile_2_1_1_0(t) : tile_2_2_1_0(t);
  } else if (fold) s1 ? tile_2_1_16_1(t) : tile_2_2_16_1(t);
  else s1 ? tile_2_1_16_0(t) : tile_2_2_16_0(t);
}

/* One padded row y of channel block icb: dst[x][16] for x in [0, Wp), from the NCHW image src (C x H x
 * W), placed at (top, left) in the zero frame. */
void gz_cdir_block_row_avx512(const float *src, int C, int H, int W, int top, int left, int Wp, int icb, int y,
                              float *dst) {
  const int sy = y - top, c0 = icb * 16, nc = C - c0 < 16 ? C - c0 : 16;
  if (sy < 0 || sy >= H) {
    memset(dst, 0, sizeof(float) * 16 * (size_t)Wp);
    return;
  }
  memset(dst, 0, sizeof(float) * 16 * (size_t)left);
  memset(dst + (long)(left + W) * 16, 0, sizeof(float) * 16 * (size_t)(Wp - left - W));
  const float *s = src + ((long)c0 * H + sy) * W;
  const long cs = (long)H * W;
  float *d = dst + (long)left * 16;
  for (int x0 = 0; x0 < W; x0 += 16) {
    int nx = W - x0 < 16 ? W - x0 : 16;
    __mmask16 m = (__mmask16)(nx == 16 ? 0xFFFF : (1u << nx) - 1);
    __m512 r[16];
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++) r[q] = q < nc ? _mm512_maskz_loadu_ps(m, s + q * cs + x0) : _mm512_setzero_ps();
    transpose16(r);
    /* unrolled with constant indices: a loop to nx indexed r at run time, and GCC kept all of r on the
     * stack and copied it with rep movs (15 % of this function's samples on that one instruction, perf) */
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++)
      if (q < nx) _mm512_storeu_ps(d + (long)(x0 + q) * 16, r[q]);
  }
}

/* pack_slab for 3x3 kernels whose columns are the kernels of a row (backward data: w[ci][co], a row is one
 * co's ci kernels side by side, 9 floats each): tap tau of the 32 columns is the floats 9 j + tau of the row,
 * a deinterleave by 9. Each half row is 16 kernels of 9 taps: one masked 9-float load per kernel gives a
 * 16 x 16 matrix (kernels x taps, zeros past tap 8), and the in-register transpose turns it into one vector per
 * tap. The class's taps are stored by their kernel index (cls: tap t of the class is kernel tap tsrc[t]).
 * Zen 5, one thread, perf: 5 two-source permutes and 4 masked moves per output vector, their 90 masks spilled
 * to the stack, held 10-11 % of a 512 -> 512 backward data at 16^2 and of the strided one at 32^2; a gather
 * (even from L1) took 22 cycles per 16 floats on Zen 4. */
static void pack_slab_deint9(const float *k0, long sl, const int *tsrc, int ntap, int nl, int nj, int ocw, float *o) {
  int slot[9]; /* the class's index of each kernel tap, or -1 */
  for (int tau = 0; tau < 9; tau++) slot[tau] = -1;
  for (int t = 0; t < ntap; t++) slot[tsrc[t]] = t;
  const int nh = ocw / 16;
  for (int l = 0; l < 16; l++) {
    const float *row = k0 + l * sl;
    for (int h = 0; h < nh; h++) {
      __m512 r[16];
#pragma GCC unroll 16
      for (int j = 0; j < 16; j++) { /* lanes past nl and kernels past nj load nothing: zeros */
        const int live = l < nl && 16 * h + j < nj;
        r[j] = _mm512_maskz_loadu_ps(live ? 0x01FF : 0, live ? row + 9 * (16 * h + j) : k0);
      }
      transpose16(r);
#pragma GCC unroll 9
      for (int tau = 0; tau < 9; tau++)
        if (slot[tau] >= 0) _mm512_store_ps(o + ((long)slot[tau] * 16 + l) * ocw + h * 16, r[tau]);
    }
  }
}

void gz_cdir_pack_slab_avx512(const float *k0, long sl, long sj, const int *tsrc, int ntap, int lanes, int nl, int nj,
                              int ocw, float *o) {
  if (sj == 9 && lanes == 16 && ntap <= 9) {
    pack_slab_deint9(k0, sl, tsrc, ntap, nl, nj, ocw, o);
    return;
  }
  const __m512i j16 = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i i0 = _mm512_mullo_epi32(j16, _mm512_set1_epi32((int)sj));
  const __m512i i1 = _mm512_add_epi32(i0, _mm512_set1_epi32((int)(16 * sj)));
  const __mmask16 m0 = (__mmask16)(nj >= 16 ? 0xFFFF : (1u << nj) - 1);
  const __mmask16 m1 = (__mmask16)(nj >= 32 ? 0xFFFF : nj > 16 ? (1u << (nj - 16)) - 1 : 0);
  const __m512 zero = _mm512_setzero_ps();
  for (int t = 0; t < ntap; t++)
    for (int l = 0; l < lanes; l++, o += ocw) {
      const float *b = k0 + l * sl + tsrc[t];
      _mm512_store_ps(o, l < nl ? _mm512_mask_i32gather_ps(zero, m0, i0, b, 4) : zero);
      if (ocw == 32) _mm512_store_ps(o + 16, l < nl ? _mm512_mask_i32gather_ps(zero, m1, i1, b, 4) : zero);
    }
}

/* dst[u] = src[2 u] for u < n: a stride-2 row of the implicit GEMM's im2col panel (conv.c, fwd_packer),
 * 16 outputs from two loads and one two-source permute; the plain loop is compiled for the baseline ISA
 * and moved one float at a time (12.5 % of a 512 -> 1024 stride-2 1x1 forward, perf, Zen 4). Reads
 * stop at src[2 (n - 1)] (masked loads): the row may end the image. */
void gz_conv_even_avx512(float *dst, const float *src, long n) {
  long u = 0;
  for (; u + 16 <= n; u += 16) _mm512_storeu_ps(dst + u, even16(src + 2 * u, 16));
  if (u < n) _mm512_mask_storeu_ps(dst + u, (__mmask16)((1u << (n - u)) - 1), even16(src + 2 * u, (int)(n - u)));
}

/* The forward's slab of one item (32 output channels of a group, one block of 16 input channels) from
 * OIHW, by 16 x 16 register transposes: for 16 output channels at a time, 16 consecutive floats of each
 * kernel row (input channel x tap, as they lie in w) become 16 vectors of 16 output channels, each stored
 * whole at its (tap, lane) row, o[(t 16 + l) ocw + column]. Every load is a full run of one row
 * (sequential, prefetchable); the gathers of gz_cdir_pack_slab_avx512 touched 16 rows sj floats apart
 * per 16 floats. Lanes past nl and columns past nj are zero (masked loads).
 * The stores stream past the caches: both threads' tiles read the slabs of the last call, so an ordinary
 * store first had to take each line from the other core (0.5 ms of a 256-channel 3x3 forward at 32^2, in
 * a loop of calls, against 0.04 ms for the same pack alone; 0.1 ms streamed). Interleaved, 2 threads:
 * 512 at 16^2 215 -> 218 GFLOP/s, strided 512 at 32^2 208 -> 211, the rest unchanged. */
void gz_cdir_pack_fwd_avx512(const float *k0, long sj, int khw, int nl, int nj, int ocw, float *o) {
  const long nf = (long)nl * khw; /* valid floats of each kernel row: nl input channels x khw taps */
  for (int h = 0; h * 16 < ocw; h++) {
    const int nq = nj - h * 16 < 16 ? nj - h * 16 : 16;
    for (int kk = 0; kk < khw; kk++) {
      const long f0 = (long)kk * 16;
      const __mmask16 mk = (__mmask16)(f0 + 16 <= nf ? 0xFFFF : f0 >= nf ? 0 : (1u << (nf - f0)) - 1);
      __m512 r[16];
#pragma GCC unroll 16
      for (int q = 0; q < 16; q++)
        r[q] = q < nq ? _mm512_maskz_loadu_ps(mk, k0 + (long)(h * 16 + q) * sj + f0) : _mm512_setzero_ps();
      transpose16(r);
      int l = (int)(f0 / khw), t = (int)(f0 % khw);
#pragma GCC unroll 16
      for (int m = 0; m < 16; m++) {
        _mm512_stream_ps(o + ((long)t * 16 + l) * ocw + h * 16, r[m]);
        if (++t == khw) t = 0, l++;
      }
    }
  }
  _mm_sfence(); /* the streamed slabs are in memory before the barrier that hands them to the tiles */
}

/* Weight gradient tile: NO output channels x KW taps of one kernel row, 16 input channels per zmm:
 * acc[o][j] += dy[o][pixel] * x[channel block][input pixel + j][16], over the pixels of a band of
 * output rows, in order. Per pixel: KW input vectors (NCHW16c, contiguous), NO broadcasts of dy read
 * straight from NCHW, NO*KW FMAs. */
AI void wtile_body(const int NO, const int KW, const gz_cdir_wtile *t) {
  __m512 acc[8][7]; /* fixed sizes: arrays sized by the parameters would be VLAs, kept in memory */
#pragma GCC unroll 8
  for (int o = 0; o < NO; o++)
#pragma GCC unroll 8
    for (int j = 0; j < KW; j++) acc[o][j] = _mm512_setzero_ps();
  const long xs = (long)t->sw * 16;
  for (int r = 0; r < t->rows; r++) {
    const float *xp = t->x + r * t->xrow;
    const long p0 = (long)r * t->ow;
    for (long ox = 0; ox < t->ow; ox++, xp += xs) {
      __m512 xv[7];
#pragma GCC unroll 8
      for (int j = 0; j < KW; j++) xv[j] = _mm512_loadu_ps(xp + j * 16);
#pragma GCC unroll 8
      for (int o = 0; o < NO; o++) {
        __m512 g = _mm512_set1_ps(t->dy[o][p0 + ox]);
#pragma GCC unroll 8
        for (int j = 0; j < KW; j++) acc[o][j] = _mm512_fmadd_ps(g, xv[j], acc[o][j]);
      }
    }
  }
  float *d = t->acc;
#pragma GCC unroll 8
  for (int o = 0; o < NO; o++)
#pragma GCC unroll 8
    for (int j = 0; j < KW; j++, d += 16)
      _mm512_store_ps(d, t->first ? acc[o][j] : _mm512_add_ps(_mm512_load_ps(d), acc[o][j]));
}

/* Output channels per tile for kernel width kw: NO x kw zmm accumulators of the 32. The one definition of
 * the accumulator layout's group size (gz_cdir_wtile_rows reports it to the driver). 3x3 kernels split
 * their output channels into equal groups of at most 8: the head's 10 as 5 + 5, where 8 + 8 computed 6
 * rows of copies in the second group (38 % of the FMAs; 109 -> 147 GFLOP/s for 64 -> 10 at 256^2). */
#define NO(kw) ((kw) <= 3 ? 8 : (kw) == 4 ? 6 : (kw) <= 6 ? 4 : 3)

int gz_cdir_wtile_rows_avx512(int kw, int oc) {
  const int groups = (oc + NO(kw) - 1) / NO(kw);
  return kw == 3 && oc > 0 ? (oc + groups - 1) / groups : NO(kw);
}

void gz_cdir_wtile_avx512(const gz_cdir_wtile *t) {
  switch (t->kw) {
  case 1: wtile_body(NO(1), 1, t); return;
  case 2: wtile_body(NO(2), 2, t); return;
  case 3:
    switch (t->no) {
    case 1: wtile_body(1, 3, t); return;
    case 2: wtile_body(2, 3, t); return;
    case 3: wtile_body(3, 3, t); return;
    case 4: wtile_body(4, 3, t); return;
    case 5: wtile_body(5, 3, t); return;
    case 6: wtile_body(6, 3, t); return;
    case 7: wtile_body(7, 3, t); return;
    case 8: wtile_body(8, 3, t); return;
    }
    return;
  case 4: wtile_body(NO(4), 4, t); return;
  case 5: wtile_body(NO(5), 5, t); return;
  case 6: wtile_body(NO(6), 6, t); return;
  case 7: wtile_body(NO(7), 7, t); return;
  }
}

/* Weight gradient on plain phase planes (few input channels, tensor/conv_direct.c): PO output channels x PT
 * taps, 16 consecutive output pixels per zmm lane set. Per 16 pixels: PO dy vectors read straight from NCHW,
 * PT input vectors (contiguous in the phase planes), PO x PT FMAs (2 x 12: dy, the larger stream, is read once
 * per 12 taps). Lane sums stay in the accumulator acc[o][t][16]
 * across bands (fixed order); conv_direct.c adds the 16 lanes at the end. */
#define PO GZ_CDIR_PO
#define PT GZ_CDIR_PT
/* PO x PT lanes of 16 pixels: the body of one row step, full (unmasked loads) or the row's masked tail. */
AI void ptile_step(__m512 acc[PO][PT], const float *const dyo[PO], const float *const xk[PT], long p0, __mmask16 m,
                   int full) {
  __m512 g[PO];
#pragma GCC unroll 4
  for (int o = 0; o < PO; o++) g[o] = full ? _mm512_loadu_ps(dyo[o] + p0) : _mm512_maskz_loadu_ps(m, dyo[o] + p0);
  /* dy 512 B ahead: an item's dy rows are short streams from L2 (the loads above held a third of the samples;
   * stem weight gradient +3-8 % in interleaved A/B on 2 threads, +5 % on one) */
#pragma GCC unroll 4
  for (int o = 0; o < PO; o++) _mm_prefetch((const char *)(dyo[o] + p0 + 128), _MM_HINT_T0);
#pragma GCC unroll 12
  for (int k = 0; k < PT; k++) {
    const __m512 xv = full ? _mm512_loadu_ps(xk[k] + p0) : _mm512_maskz_loadu_ps(m, xk[k] + p0);
#pragma GCC unroll 4
    for (int o = 0; o < PO; o++) acc[o][k] = _mm512_fmadd_ps(g[o], xv, acc[o][k]);
  }
}

void gz_cdir_ptile_avx512(const gz_cdir_ptile *t) {
  __m512 acc[PO][PT];
#pragma GCC unroll 4
  for (int o = 0; o < PO; o++)
#pragma GCC unroll 12
    for (int k = 0; k < PT; k++) acc[o][k] = t->first ? _mm512_setzero_ps() : _mm512_load_ps(t->acc + (o * PT + k) * 16);
  /* the row pointers live in registers: reloading the tap offsets and the masks every 16 pixels cost a
   * quarter of the kernel's time (135-175 -> 200 GFLOP/s on one thread, data in L1/L2) */
  const float *dyo[PO], *xk[PT];
#pragma GCC unroll 4
  for (int o = 0; o < PO; o++) dyo[o] = t->dy[o];
#pragma GCC unroll 12
  for (int k = 0; k < PT; k++) xk[k] = t->x + t->toff[k];
  const long full = t->ow & ~15L;
  const __mmask16 tail = (__mmask16)((1u << (t->ow - full)) - 1);
  for (int r = 0; r < t->rows; r++) {
    for (long p0 = 0; p0 < full; p0 += 16) ptile_step(acc, dyo, xk, p0, 0, 1);
    if (tail) ptile_step(acc, dyo, xk, full, tail, 0);
#pragma GCC unroll 4
    for (int o = 0; o < PO; o++) dyo[o] += t->ow;
#pragma GCC unroll 12
    for (int k = 0; k < PT; k++) xk[k] += t->xrow;
  }
#pragma GCC unroll 4
  for (int o = 0; o < PO; o++)
#pragma GCC unroll 12
    for (int k = 0; k < PT; k++) _mm512_store_ps(t->acc + (o * PT + k) * 16, acc[o][k]);
}
