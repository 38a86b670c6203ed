/* SGEMM micro-kernel for AVX-512: a 12 x 32 tile of C in 24 zmm accumulators. Per k: two loads of
 * the packed B row (32 floats), twelve broadcasts of the packed A column folded into the FMAs, 24
 * FMAs. 24 independent chains cover the FMA latency (4 cycles) times the issue width on Zen 4
 * (2 x 256-bit pipes) and Zen 5 (2 x 512-bit). Partial tiles (m < 12 or n < 32) go through a
 * stack buffer and masked stores, so nothing outside C is read or written. */
#include <immintrin.h>
#include <string.h>

#include "tensor/fma_avx512.h"
#include "tensor/kernels.h"
#include "tensor/transpose_avx512.h"

#define MR GZ_GEMM_MR_AVX512
#define NR GZ_GEMM_NR_AVX512

/* C's rows into L2 while the depth loop runs (thousands of cycles): the epilogue's loads (beta) and stores
 * otherwise waited on L3 or memory once per tile, C being too big for L2 (a 1024^3 product's 4 MB). Zen 4,
 * interleaved A/B, 2 threads, median GFLOP/s: 1024^3 179 -> 189, 2048^3 180 -> 195; 1x1 forward 1024 -> 2048
 * stride 2 at 32^2 147 -> 159, 512 -> 2048 at 16^2 144 -> 153, backward data 2048 -> 512 at 16^2 184 -> 190. */
static inline __attribute__((always_inline)) void tile_prefetch(const int R, const float *c, long ldc, int m, int n) {
#pragma GCC unroll 12
  for (int r = 0; r < R; r++)
    if (r < m) {
      _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T1);
      if (n > 16) _mm_prefetch((const char *)(c + r * ldc + 16), _MM_HINT_T1);
    }
}

/* The tile's epilogue: C = alpha acc + beta C over its m x n valid part (masked past n). alpha = 1 (every
 * caller in gazeloc) skips the multiplies: 24 of them against 12 x 32 x K FMAs cost 10 % at K = 10 (the
 * head's 512 -> 10 backward data), and 1 x acc is acc, so the bits are the same. */
static inline __attribute__((always_inline)) void tile_store(const int R, __m512 acc[][2], float *c, long ldc,
                                                              float alpha, float beta, int m, int n) {
  const __mmask16 n0 = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
  const __mmask16 n1 = (__mmask16)(n <= 16 ? 0 : n >= 32 ? 0xFFFF : (1u << (n - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (m == R && n == NR) {
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      float *cr = c + r * ldc;
      __m512 t0 = acc[r][0], t1 = acc[r][1];
      if (alpha != 1.0f) t0 = _mm512_mul_ps(va, t0), t1 = _mm512_mul_ps(va, t1);
      if (beta != 0.0f) {
        t0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr), t0);
        t1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + 16), t1);
      }
      _mm512_storeu_ps(cr, t0);
      _mm512_storeu_ps(cr + 16, t1);
    }
    return;
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) {
    if (r >= m) break;
    float *cr = c + r * ldc;
    __m512 t0 = acc[r][0], t1 = acc[r][1];
    if (alpha != 1.0f) t0 = _mm512_mul_ps(va, t0), t1 = _mm512_mul_ps(va, t1);
    if (beta != 0.0f) {
      t0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(n0, cr), t0);
      t1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(n1, cr + 16), t1);
    }
    _mm512_mask_storeu_ps(cr, n0, t0);
    _mm512_mask_storeu_ps(cr + 16, n1, t1);
  }
}

/* R rows of the tile (R = 2, 4, ..., 12; the A micro-panel keeps its stride of MR floats per k). Without
 * PACK, B is the packed micro-panel b; with PACK, B is read from its source rows (src, ldb floats apart,
 * n valid columns) and, PACK = 1, the packed micro-panel is written to bw as a side effect (gz_gemm_ukr_pack_avx512);
 * PACK = 2 (no tiles below to read it: M <= MR, the head's 10 rows) writes nothing. */
static inline __attribute__((always_inline)) void ukr_rows(const int R, const int FOLD, const int PACK, long kc,
                                                            const float *a, const float *b, float *bw, const float *src,
                                                            long ldb, float *c, long ldc, float alpha, float beta,
                                                            int m, int n) {
  __m512 acc[MR][2];
  const __mmask16 n0 = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
  const __mmask16 n1 = (__mmask16)(n <= 16 ? 0 : n >= 32 ? 0xFFFF : (1u << (n - 16)) - 1);
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  tile_prefetch(R, c, ldc, m, n);
  for (long k = 0; k < kc; k++, a += MR) {
    __m512 b0, b1;
    if (PACK) {
      b0 = _mm512_maskz_loadu_ps(n0, src), b1 = _mm512_maskz_loadu_ps(n1, src + 16);
      _mm_prefetch((const char *)(src + NR), _MM_HINT_T1); /* the next panel's stretch of this row */
      _mm_prefetch((const char *)(src + NR + 16), _MM_HINT_T1);
      if (PACK == 1) {
        _mm512_store_ps(bw, b0);
        _mm512_store_ps(bw + 16, b1);
        bw += NR;
      }
      src += ldb;
    } else {
      b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
      _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
      _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
      b += NR;
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      fma2_bcast(FOLD, &acc[r][0], &acc[r][1], b0, b1, a + r);
    }
  }
  tile_store(R, acc, c, ldc, alpha, beta, m, n);
}

/* A last tile of m < 12 rows runs an R-row loop, R = m rounded up to even, instead of 12 rows of which the
 * rest are zero padding: with M = 64 (5 x 12 + 4) the 12-row loop did 72 rows' work, with M = 10 (the
 * paper's classifier head) 12. BY_ROWS(m, F, args) calls F(R, args) for the R of m rows. */
#define BY_ROWS(m, F, ...)                                                                                           \
  switch (((m) + 1) / 2) {                                                                                           \
  case 1: F(2, __VA_ARGS__); break;                                                                                  \
  case 2: F(4, __VA_ARGS__); break;                                                                                  \
  case 3: F(6, __VA_ARGS__); break;                                                                                  \
  case 4: F(8, __VA_ARGS__); break;                                                                                  \
  case 5: F(10, __VA_ARGS__); break;                                                                                 \
  default: F(MR, __VA_ARGS__);                                                                                       \
  }

static inline __attribute__((always_inline)) void ukr_any(const int PACK, long kc, const float *a, const float *b,
                                                           float *bw, const float *src, long ldb, float *c, long ldc,
                                                           float alpha, float beta, int m, int n) {
  if (gz_fma_folded()) {
    BY_ROWS(m, ukr_rows, 1, PACK, kc, a, b, bw, src, ldb, c, ldc, alpha, beta, m, n)
  } else {
    BY_ROWS(m, ukr_rows, 0, PACK, kc, a, b, bw, src, ldb, c, ldc, alpha, beta, m, n)
  }
}

void gz_gemm_ukr_avx512(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta, int m,
                        int n) {
  ukr_any(0, kc, a, b, NULL, NULL, 0, c, ldc, alpha, beta, m, n);
}

/* The first row tile over a B micro-panel that is not packed yet (B stored K x N): the kernel reads B's
 * rows in place and writes the packed micro-panel to b for the tiles below it, so that the reads from
 * memory overlap the FMAs instead of a separate packing pass stalling on them (19 % of a 256 -> 64 1x1
 * forward at 128^2, packing at near the machine's read bandwidth with the cores idle otherwise). Same
 * arithmetic as gz_gemm_ukr_avx512. b = NULL: there are no tiles below (gemm.c passes it when the panel has one
 * row tile), so nothing is written: the head's 512 -> 10 1x1 forward at 32^2, 2 threads on Zen 5, 240 -> 290
 * GFLOP/s (one thread 129 -> 161). */
void gz_gemm_ukr_pack_avx512(long kc, const float *a, const float *src, long ldb, float *b, float *c, long ldc,
                             float alpha, float beta, int m, int n) {
  if (b) ukr_any(1, kc, a, NULL, b, src, ldb, c, ldc, alpha, beta, m, n);
  else ukr_any(2, kc, a, NULL, NULL, src, ldb, c, ldc, alpha, beta, m, n);
}

/* A in row layout (A stored M x K, B stored N x K: the weight gradients' dW = dy x^T): the A micro-panel
 * keeps A's own layout, row r at a + r KA (KA = GZ_GEMM_KA_AVX512 floats apart, an immediate offset), and each
 * broadcast reads A[r][k] there: no transpose. With src, the kernel first copies each 16-k stretch of the
 * R source rows (lda floats apart) into the panel, prefetching the rows PF floats ahead; f names rows to fetch
 * into L2 meanwhile, one line of each per 16-k stretch: shares of the next micro-panel's and of B's next block
 * (gemm.c), so that the copy and the packer read L2. A's reads from memory then overlap the FMAs instead of a
 * packing pass of their own stalling on them (16.6 % of a 64 -> 256 1x1 weight gradient at 128^2, perf, Zen 4).
 * Same FMAs in the same order as gz_gemm_ukr_avx512: same bits. */
#define KA GZ_GEMM_KA_AVX512
#define PF 64
static inline __attribute__((always_inline)) void ukr_rowa(const int R, const int FOLD, const int COPY, long kc,
                                                            float *a, const float *src, long lda,
                                                            const gz_gemm_fetch *f, const float *b, float *c, long ldc,
                                                            float alpha, float beta, int m, int n) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  tile_prefetch(R, c, ldc, m, n);
  for (long kb = 0; kb < kc; kb += 16) {
    const int nk = (int)(kc - kb < 16 ? kc - kb : 16);
    if (COPY) {
      const __mmask16 mk = (__mmask16)(nk == 16 ? 0xFFFF : (1u << nk) - 1);
#pragma GCC unroll 12
      for (int r = 0; r < R; r++) {
        __m512 v = _mm512_setzero_ps();
        if (r < m) {
          _mm_prefetch((const char *)(src + r * lda + kb + PF), _MM_HINT_T0);
          v = _mm512_maskz_loadu_ps(mk, src + r * lda + kb);
        }
        _mm512_store_ps(a + r * KA + kb, v);
      }
    }
    for (int g = 0; g < 2; g++)
      for (int q = 0; q < f->n[g]; q++) _mm_prefetch((const char *)(f->p[g] + q * f->ld[g] + kb), _MM_HINT_T1);
    const float *ak = a + kb;
    for (int k = 0; k < nk; k++, ak++, b += NR) {
      const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
      _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
      _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 12
      for (int r = 0; r < R; r++) {
        fma2_bcast(FOLD, &acc[r][0], &acc[r][1], b0, b1, ak + r * KA);
      }
    }
  }
  tile_store(R, acc, c, ldc, alpha, beta, m, n);
}

void gz_gemm_ukr_rowa_avx512(long kc, float *a, const float *src, long lda, const gz_gemm_fetch *f, const float *b,
                             float *c, long ldc, float alpha, float beta, int m, int n) {
  const int fold = gz_fma_folded();
  if (src && fold) {
    BY_ROWS(m, ukr_rowa, 1, 1, kc, a, src, lda, f, b, c, ldc, alpha, beta, m, n)
  } else if (src) {
    BY_ROWS(m, ukr_rowa, 0, 1, kc, a, src, lda, f, b, c, ldc, alpha, beta, m, n)
  } else if (fold) {
    BY_ROWS(m, ukr_rowa, 1, 0, kc, a, NULL, lda, f, b, c, ldc, alpha, beta, m, n)
  } else {
    BY_ROWS(m, ukr_rowa, 0, 0, kc, a, NULL, lda, f, b, c, ldc, alpha, beta, m, n)
  }
}

/* B micro-panels of 32 columns for the AVX-512 kernel (same layout as the plain-C packer in gemm.c) when B's
 * columns are rows of memory: 16 x 16 register transposes of 16 rows' 16-k stretches, where the plain loop
 * would store one float at a time. Column c of B is the row B + c ldb; its stretch at depth p is
 *   S2 = 0  (B stored N x K: the weight gradient's im2col operand, or x of a 1x1 one) the floats at p;
 *   S2 = 1  (a 1x1 stride-2 conv without padding, ResNet's downsampling shortcuts: the row is channel plane c
 *           of one image, ldb = its size) output pixels p.. sampled at (p / ow) rs + 2 (p % ow), rs floats
 *           between the input rows of consecutive output rows, over k pixels in all: 16 pixels of one output
 *           row by even16, 16 that span two output rows one by one. This replaces writing the subsampled image
 *           (im2col) and packing it again.
 * Each row's stretch of the next depth block (p + kcb) is fetched into L2 meanwhile: rows are often 64 KB
 * apart (image planes), too many short streams for the hardware prefetcher; 256 -> 64 weight gradient at
 * 128^2 +11 %, others +-2 % (interleaved A/B, Zen 4, 2 threads). With S2 the loads still waited on memory (perf,
 * Zen 5: the first load of each 16 rows held 14 % of the packer's samples): a column-split thread's next block of
 * x lines (128 channels x 512 pixels x 2) and its current B block outgrow L2 before their turn, so the stretch two
 * steps on (64 floats) is also fetched into L1: 256 -> 512 at 128^2 306-316 -> 322-334 GFLOP/s, 512 -> 1024
 * 315-344 -> 348-353, 1024 -> 2048 373-374 -> 381-388 (2 threads, interleaved; no gain without S2, not done
 * there). B stored K x N is packed by the first row
 * tile as it reads it (gz_gemm_ukr_pack_avx512). */
static inline __attribute__((always_inline)) void packb_t(const int S2, const int FETCH, const float *B, long ldb,
                                                           long rs, long ow, long k, long j0, long cols, long p0,
                                                           long kcb, float *dst, long t_lo, long t_hi) {
  for (long t = t_lo; t < t_hi; t++) {
    const long c0 = j0 + t * NR;
    const int n = (int)(cols - t * NR < NR ? cols - t * NR : NR);
    float *d = dst + t * NR * kcb;
    for (long kb = 0; kb < kcb; kb += 16) {
      const int nk = (int)(kcb - kb < 16 ? kcb - kb : 16); /* a short last step: masked loads */
      const __mmask16 mk = (__mmask16)(nk == 16 ? 0xFFFF : (1u << nk) - 1);
      const long p = p0 + kb, pn = p + kcb;
      /* the stretch's offset in its row, whether it lies in one output row, the next block's offset (or -1) */
      const long off = S2 ? p / ow * rs + 2 * (p % ow) : p;
      const int run = !S2 || p % ow + nk <= ow;
      const long noff = !FETCH ? -1 : !S2 ? pn : pn < k ? pn / ow * rs + 2 * (pn % ow) : -1;
      for (int h = 0; h < 2; h++) {
        __m512 r[16];
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++) {
          const int ch = h * 16 + q;
          r[q] = _mm512_setzero_ps();
          if (ch >= n) continue;
          const float *row = B + (c0 + ch) * ldb;
          if (noff >= 0) _mm_prefetch((const char *)(row + noff), _MM_HINT_T1);
          if (S2) { /* and the stretch two steps on into L1 (the far fetch above is evicted first, below) */
            _mm_prefetch((const char *)(row + off + 64), _MM_HINT_T0);
            _mm_prefetch((const char *)(row + off + 80), _MM_HINT_T0);
          }
          if (!S2) r[q] = _mm512_maskz_loadu_ps(mk, row + off);
          else if (run) r[q] = even16(row + off, nk);
          else {
            float g[16] = {0};
            for (int u = 0; u < nk; u++) g[u] = row[(p + u) / ow * rs + 2 * ((p + u) % ow)];
            r[q] = _mm512_loadu_ps(g);
          }
        }
        transpose16(r);
        for (int q = 0; q < nk; q++) _mm512_store_ps(d + (kb + q) * NR + h * 16, r[q]);
      }
    }
  }
}

void gz_gemm_packb_t_avx512(const float *B, long ldb, long j0, long cols, long p0, long kcb, float *dst, long t_lo,
                            long t_hi, int fetch_next) {
  if (fetch_next) packb_t(0, 1, B, ldb, 0, 1, 0, j0, cols, p0, kcb, dst, t_lo, t_hi);
  else packb_t(0, 0, B, ldb, 0, 1, 0, j0, cols, p0, kcb, dst, t_lo, t_hi);
}

void gz_gemm_packb_t_s2_avx512(const float *x, long cs, long rs, long ow, long k, long j0, long cols, long p0,
                               long kcb, float *dst) {
  packb_t(1, 1, x, cs, rs, ow, k, j0, cols, p0, kcb, dst, 0, (cols + NR - 1) / NR);
}

/* A micro-panels of 12 rows for the AVX-512 kernel when A is stored M x K (dst[t][k][12]): 16 x 16
 * register transposes of 12 rows x 16 k (4 rows of zeros) instead of one scalar store per element,
 * which cost 10-20 % of a 1024^3 product when the two threads split N and each packs all of A. As for
 * B stored N x K, the rows' stretch of the next depth block is fetched into L2 meanwhile (A is dy of a
 * weight gradient, K its pixels). */
void gz_gemm_packa_avx512(const float *A, long lda, long i0, long rows, long p0, long kcb, float *dst, long t_lo,
                          long t_hi) {
  for (long t = t_lo; t < t_hi; t++) {
    const long r0 = i0 + t * MR;
    const int m = (int)(rows - t * MR < MR ? rows - t * MR : MR);
    float *d = dst + t * MR * kcb;
    for (long kb = 0; kb < kcb; kb += 16) {
      const int nk = (int)(kcb - kb < 16 ? kcb - kb : 16);
      const __mmask16 mk = (__mmask16)(nk == 16 ? 0xFFFF : (1u << nk) - 1);
      __m512 r[16];
#pragma GCC unroll 16
      for (int q = 0; q < 16; q++) {
        if (q < m) _mm_prefetch((const char *)(A + (r0 + q) * lda + p0 + kb + kcb), _MM_HINT_T1);
        r[q] = q < m ? _mm512_maskz_loadu_ps(mk, A + (r0 + q) * lda + p0 + kb) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int k = 0; k < nk; k++) _mm512_mask_storeu_ps(d + (kb + k) * MR, 0x0FFF, r[k]);
    }
  }
}

/* A micro-panels when A is stored K x M (op(A) = A^T: backward data's W^T, dx = W^T dy): row k of a
 * micro-panel is 12 consecutive floats of A's row p0 + k, one masked load and store, with the row 16
 * ahead prefetched (rows are lda floats apart). The plain loop stalled on every load: 13 % of a
 * 512 -> 2048 1x1 backward data in perf, 11 % now; A/B 0-14 % faster on the 1x1 backward data. Rows
 * outer and panels inner was slower (43 write streams 24 KB apart). */
void gz_gemm_packa_t_avx512(const float *A, long lda, long i0, long rows, long p0, long kcb, float *dst, long t_lo,
                            long t_hi) {
  for (long t = t_lo; t < t_hi; t++) {
    const long r0 = t * MR, m = rows - r0 < MR ? rows - r0 : MR;
    const __mmask16 mk = (__mmask16)((1u << m) - 1);
    const float *s = A + p0 * lda + i0 + r0;
    float *d = dst + t * kcb * MR;
    for (long k = 0; k < kcb; k++, s += lda, d += MR) {
      _mm_prefetch((const char *)(s + 16 * lda), _MM_HINT_T0);
      _mm512_mask_storeu_ps(d, 0x0FFF, _mm512_maskz_loadu_ps(mk, s));
    }
  }
}

/* ------------------------------------------------------------------ dot-product form for few rows */

/* RO rows of A x RI rows of B over k in [k0, k1) of one image: acc[o][i] holds 16 lane sums (lane = k mod 16),
 * carried in st between calls, so that every element's lanes take the k of every image in order whatever the
 * chunking. Both operands are read in place (rows contiguous in K). pf: the rows whose lines this chunk asks
 * for into L1, one line of each of 4 rows per step (the next tile's x, NULL for none). */
#define AI static inline __attribute__((always_inline))
AI void dot_part(const int RO, const int RI, long k0, long k1, long K, const float *a, long lda, const float *b,
                 long ldb, const float *pf, __m512 *st) {
  __m512 acc[6][4];
#pragma GCC unroll 6
  for (int o = 0; o < RO; o++)
#pragma GCC unroll 4
    for (int i = 0; i < RI; i++) acc[o][i] = st[o * RI + i];
  const __mmask16 mt = (__mmask16)((1u << (K % 16)) - 1);
  for (long k = k0; k < k1; k += 16) {
    const int full = k + 16 <= K;
    if (pf)
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) _mm_prefetch((const char *)(pf + i * ldb + k - k0), _MM_HINT_T0);
    __m512 bv[4];
#pragma GCC unroll 4
    for (int i = 0; i < RI; i++)
      bv[i] = full ? _mm512_loadu_ps(b + i * ldb + k) : _mm512_maskz_loadu_ps(mt, b + i * ldb + k);
#pragma GCC unroll 6
    for (int o = 0; o < RO; o++) {
      const __m512 av = full ? _mm512_loadu_ps(a + o * lda + k) : _mm512_maskz_loadu_ps(mt, a + o * lda + k);
#pragma GCC unroll 4
      for (int i = 0; i < RI; i++) acc[o][i] = _mm512_fmadd_ps(av, bv[i], acc[o][i]);
    }
  }
#pragma GCC unroll 6
  for (int o = 0; o < RO; o++)
#pragma GCC unroll 4
    for (int i = 0; i < RI; i++) st[o * RI + i] = acc[o][i];
}

#define DOT_RI(RO, RI)                                                                                               \
  case RI:                                                                                                           \
    dot_part(RO, RI, k0, k1, K, a, lda, b, ldb, pf, st);                                                             \
    return;
#define DOT_RO(RO)                                                                                                   \
  static void dot_##RO(int ri, long k0, long k1, long K, const float *a, long lda, const float *b, long ldb,        \
                       const float *pf, __m512 *st) {                                                                \
    switch (ri) { DOT_RI(RO, 1) DOT_RI(RO, 2) DOT_RI(RO, 3) DOT_RI(RO, 4) }                                          \
  }
DOT_RO(1)
DOT_RO(2)
DOT_RO(3)
DOT_RO(4)
DOT_RO(5)
DOT_RO(6)

/* Chunks of 256 floats of K: A's rows of a chunk (10 KB for the head's 10) stay in L1 over all the columns
 * of a call, where each tile used to walk every image's whole K and read A's 80 KB from L2 (9 vector loads
 * per 20 FMAs, all from L2 or L3). The lane sums of a call's at most 16 columns wait in st (12 KB). */
#define DOT_CHUNK 256L

void gz_gemm_dot_avx512(int m, long j0, long j1, long K, int nimg, const float *A, long lda, long as, const float *B,
                        long ldb, long bs, float *C, long ldc, int accumulate) {
  static void (*const ro[7])(int, long, long, long, const float *, long, const float *, long, const float *,
                             __m512 *) = {NULL, dot_1, dot_2, dot_3, dot_4, dot_5, dot_6};
  const int nblk = (m + 5) / 6; /* equal row blocks of at most 6: 10 rows are 5 + 5 */
  __m512 st[GZ_GEMM_DOT_COLS / 4][2][24];
  for (long jc = j0; jc < j1; jc += GZ_GEMM_DOT_COLS) {
    const long jce = jc + GZ_GEMM_DOT_COLS < j1 ? jc + GZ_GEMM_DOT_COLS : j1;
    memset(st, 0, sizeof st);
    for (int n = 0; n < nimg; n++)
      for (long k0 = 0; k0 < K; k0 += DOT_CHUNK) {
        const long k1 = k0 + DOT_CHUNK < K ? k0 + DOT_CHUNK : K;
        const float *bn = B + n * bs;
        for (long j = jc; j < jce; j += 4) {
          /* the first row block fetches the next tile's x: the next 4 columns, else the next chunk's first */
          const float *next = j + 4 < jce ? bn + (j + 4) * ldb + k0 : k1 < K ? bn + jc * ldb + k1 : NULL;
          const int ri = jce - j < 4 ? (int)(jce - j) : 4;
          for (int q = 0; q < nblk; q++) {
            const int r0 = m * q / nblk, r1 = m * (q + 1) / nblk;
            ro[r1 - r0](ri, k0, k1, K, A + n * as + r0 * lda, lda, bn + j * ldb, ldb, q ? NULL : next,
                        st[(j - jc) / 4][q]);
          }
        }
      }
    for (long j = jc; j < jce; j += 4) {
      const int ri = jce - j < 4 ? (int)(jce - j) : 4;
      for (int q = 0; q < nblk; q++) {
        const int r0 = m * q / nblk, r1 = m * (q + 1) / nblk;
        for (int o = 0; o < r1 - r0; o++)
          for (int i = 0; i < ri; i++) {
            const float v = _mm512_reduce_add_ps(st[(j - jc) / 4][q][o * ri + i]);
            float *c = C + (r0 + o) * ldc + j + i;
            *c = accumulate ? *c + v : v;
          }
      }
    }
  }
}
