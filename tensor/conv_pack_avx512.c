/* The weight gradient's im2col operand packed straight from the images (AVX-512), for the GEMM
 * dW (+)= dy col^T of tensor/conv.c: B[k][r] = col[r][k], tap r = (c, i, j) of the kernel, depth k a
 * pixel of the images side by side. The packer writes B's micro-panels of 32 taps x kcb pixels
 * (dst[t][k][32], the layout of gz_gemm_packb_t_avx512) from x itself, where the banded path wrote
 * the im2col matrix to memory (up to 56 MB a band for Block 5's 3072 channels) and packed it again.
 *
 * Per 16 pixels and 16 taps: 16 vectors of one tap's 16 pixels, one 16 x 16 transpose, 16 stores. The
 * 16 pixels are cut into segments that stay in one output row of one image (one segment when a row
 * holds them all); a segment of tap (c, i, j) is a stretch of x's row oy sh - ph + i from column
 * ox sw - pw + j, every sw-th float: one masked load (stride 1) or two and a permute (stride 2), the
 * padding's lanes left zero. The loads start at the first float inside the row, so nothing outside x is
 * addressed. Other strides go float by float. */
#include <immintrin.h>
#include <stdint.h>

#include "tensor/kernels.h"
#include "tensor/transpose_avx512.h"

#define NR GZ_GEMM_NR_AVX512

typedef struct {
  int ua, ub;       /* lanes of the 16-pixel step */
  const float *xi;  /* the image */
  int oy, ox;       /* output row and column of lane ua */
} segment;

/* Lanes [lo, hi) of the step (one segment) for one tap, merged into v: lane u takes row[x0 + (u - lo) S], row being
 * the tap's input row; lanes whose column falls outside [0, iw) (the padding) keep v's zero. */
static inline __attribute__((always_inline)) __m512 stretch(const int S, __m512 v, const float *row, int iw, int x0,
                                                            int lo, int hi) {
  /* lanes whose column lies in [0, iw) */
  const int first = x0 < 0 ? (-x0 + S - 1) / S : 0, last = iw - x0 > 0 ? (iw - x0 + S - 1) / S : 0;
  const int fa = lo + first, la = hi < lo + last ? hi : lo + last;
  if (la <= fa) return v;
  const int cnt = la - fa;
  const float *p = row + x0 + first * S; /* inside the row */
  const __mmask16 lanes = (__mmask16)(((1u << cnt) - 1) << fa);
  if (S == 2) return _mm512_mask_mov_ps(v, lanes, even16_at(p, cnt, fa)); /* lane u takes p[2 (u - fa)] */
  const __m512 s = _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1), p);
  if (fa == 0) return _mm512_mask_mov_ps(v, lanes, s);
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  return _mm512_mask_permutexvar_ps(v, lanes, _mm512_sub_epi32(iota, _mm512_set1_epi32(fa)), s);
}

/* One tap's 16 (or nk) pixels: the segments' stretches, zero where the kernel reads padding. */
static inline __attribute__((always_inline)) __m512 tap_pixels(const int S, const gz_conv_wpack *q, const segment *sg,
                                                               int nseg, long coff, int di, int dj) {
  __m512 v = _mm512_setzero_ps();
  for (int s = 0; s < nseg; s++) {
    const int y = sg[s].oy * q->sh + di;
    if (y < 0 || y >= q->ih) continue;
    const float *row = sg[s].xi + coff + (long)y * q->iw;
    const int x0 = sg[s].ox * q->sw + dj;
    if (S) {
      v = stretch(S, v, row, q->iw, x0, sg[s].ua, sg[s].ub);
      continue;
    }
    float g[16] __attribute__((aligned(64)));
    _mm512_store_ps(g, v);
    for (int u = sg[s].ua; u < sg[s].ub; u++) {
      const int xc = x0 + (u - sg[s].ua) * q->sw;
      if (xc >= 0 && xc < q->iw) g[u] = row[xc];
    }
    v = _mm512_load_ps(g);
  }
  return v;
}

/* S: the stride along rows when it is 1 or 2 (vector stretches), 0 for any other (float by float). */
static inline __attribute__((always_inline)) void pack(const int S, const gz_conv_wpack *q, long p0, long kcb, long j0,
                                                       long ncb, float *dst) {
  const int khw = q->kh * q->kw;
  for (long t = 0; t * NR < ncb; t++) {
    const long r0 = j0 + t * NR;
    const int n = (int)(ncb - t * NR < NR ? ncb - t * NR : NR);
    long coff[NR];
    int di[NR], dj[NR];
    for (int u = 0; u < n; u++) { /* tap r0 + u = (c, i, j) */
      const long r = r0 + u, c = r / khw;
      const int ij = (int)(r - c * khw), i = ij / q->kw, j = ij - i * q->kw;
      coff[u] = c * q->ih * q->iw, di[u] = i - q->ph, dj[u] = j - q->pw;
    }
    float *d = dst + t * NR * kcb;
    for (long kb = 0; kb < kcb; kb += 16) {
      const int nk = (int)(kcb - kb < 16 ? kcb - kb : 16);
      segment sg[16];
      int nseg = 0;
      for (int u = 0; u < nk;) { /* runs of the step's pixels along one output row */
        const long g = p0 + kb + u, img = g / q->ohw, pix = g - img * q->ohw;
        const int oy = (int)(pix / q->ow), ox = (int)(pix - (long)oy * q->ow);
        const int len = nk - u < q->ow - ox ? nk - u : q->ow - ox;
        sg[nseg++] = (segment){u, u + len, q->x + img * q->xs, oy, ox};
        u += len;
      }
      for (int h = 0; h < 2; h++) {
        __m512 v[16];
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) {
          const int u = h * 16 + k;
          v[k] = u < n ? tap_pixels(S, q, sg, nseg, coff[u], di[u], dj[u]) : _mm512_setzero_ps();
        }
        transpose16(v);
        for (int k = 0; k < nk; k++) _mm512_store_ps(d + (kb + k) * NR + h * 16, v[k]);
      }
    }
  }
}

void gz_conv_im2col_packer_avx512(const void *ctx, long p0, long kcb, long j0, long ncb, int nr, float *dst) {
  const gz_conv_wpack *q = ctx;
  (void)nr; /* GZ_GEMM_NR_AVX512 */
  if (q->sw == 1) pack(1, q, p0, kcb, j0, ncb, dst);
  else if (q->sw == 2) pack(2, q, p0, kcb, j0, ncb, dst);
  else pack(0, q, p0, kcb, j0, ncb, dst);
}

/* 1x1 stride 2 without padding (ResNet's downsampling shortcuts), forward:
 * B[k][p] = x[k cs + (p / ow) rs + 2 (p % ow)]. Each 16-pixel half of a panel that lies in one output row is two
 * loads and a permute (even16) per channel; a half that crosses a row or the end goes pixel by pixel. The generic packer (conv.c, fwd_packer) worked out the
 * panel's row segments and made a call per channel and segment: 16 % of a 256 -> 512 forward at 128^2 on Zen 5
 * (perf, 2 threads; its share doubled with the FMA rate). The same columns of the rows one output row down (or,
 * for rows narrower than a panel, of the next panel's rows) are fetched into L2 meanwhile, as fwd_packer did. */
void gz_conv_pack_s2_avx512(const float *x, long cs, long rs, long ow, long N, long p0, long kcb, long j0, long ncb,
                            float *dst) {
  const long ahead = (NR > ow ? NR / ow : 1) * rs;
  for (long t = 0; t * NR < ncb; t++) {
    float *d = dst + t * kcb * NR;
    const float *src[2];
    int whole[2];
    for (int h = 0; h < 2; h++) {
      const long p = j0 + t * NR + h * 16, oy = p / ow, ox = p % ow;
      whole[h] = p + 16 <= j0 + ncb && p + 16 <= N && ox + 16 <= ow;
      src[h] = x + p0 * cs + oy * rs + 2 * ox;
    }
    if (whole[0] && whole[1]) {
      for (long k = 0; k < kcb; k++, d += NR) {
        const float *s0 = src[0] + k * cs, *s1 = src[1] + k * cs;
        _mm512_store_ps(d, even16(s0, 16));
        _mm512_store_ps(d + 16, even16(s1, 16));
        __builtin_prefetch(s0 + ahead, 0, 2);
        __builtin_prefetch(s0 + ahead + 16, 0, 2);
        __builtin_prefetch(s1 + ahead, 0, 2);
        __builtin_prefetch(s1 + ahead + 16, 0, 2);
      }
      continue;
    }
    for (long k = 0; k < kcb; k++, d += NR)
      for (int u = 0; u < NR; u++) {
        const long p = j0 + t * NR + u;
        d[u] = p < j0 + ncb && p < N ? x[(p0 + k) * cs + p / ow * rs + 2 * (p % ow)] : 0.0f;
      }
  }
}
