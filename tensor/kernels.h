/* tensor/kernels.h: the compute kernels on raw pointers (internal; tensor/tensor.h includes it).
 *
 *   gz_sgemm        C = alpha * op(A) * op(B) + beta * C, row-major, every transpose combination
 *   gz_conv2d_*     2-D convolution on NCHW activations and OIHW weights: forward (+ bias),
 *                   backward data, backward weights (+ bias gradient)
 *
 * Conventions (docs/kernels.md has the algorithms and the numbers):
 * - No allocation inside: the caller passes a workspace of at least the bytes the matching
 *   *_workspace() query returns. The size does not depend on the thread count.
 * - Every function returns 0, or -1 with `e` filled (GZ_EINVAL / GZ_ERANGE) for a bad shape, a
 *   leading dimension too small, a NULL buffer or a workspace too small. Nothing is written then.
 * - Each operation has a plain-C reference (`*_ref`, the audit baseline, kept forever) and a fast
 *   version; the plain name picks the ISA with gz_isa_active() (GAZELOC_ISA honoured; `reference`
 *   runs the `*_ref` versions), `*_isa`
 *   runs a given ISA (tests force each path the CPU has; asking for one it lacks is an error).
 * - Determinism: for a given ISA and machine, results are bitwise identical for any
 *   OMP_NUM_THREADS. Threads only split independent output blocks; every reduction (GEMM's K,
 *   the batch and spatial sums of the weight and bias gradients) runs in chunks fixed by the
 *   shape and the cache sizes, summed in a fixed order.
 * - BLAS semantics for beta: beta == 0 means C is not read (it may hold NaN).
 */
#ifndef GAZELOC_TENSOR_KERNELS_H
#define GAZELOC_TENSOR_KERNELS_H

#include <stddef.h>

#include "base/base.h"

/* ------------------------------------------------------------------ SGEMM */

/* op(A) is M x K, op(B) is K x N, C is M x N; all row-major. transA = 0: A is stored M x K with
 * row stride lda >= K; transA = 1: A is stored K x M (lda >= M). Likewise B (K x N, ldb >= N, or
 * N x K with ldb >= K). ldc >= N. */
size_t gz_sgemm_workspace(long M, long N, long K);
/* The workspace for at most `threads` threads: a call given this much runs on at most that many (1: on
 * the calling thread, as inside a parallel region). */
size_t gz_sgemm_workspace_threads(long M, long N, long K, int threads);
int gz_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda, const float *B,
             long ldb, float beta, float *C, long ldc, void *workspace, size_t workspace_bytes, gz_err *e);
int gz_sgemm_isa(int isa, int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
                 const float *B, long ldb, float beta, float *C, long ldc, void *workspace, size_t workspace_bytes,
                 gz_err *e);
/* Plain triple loop: each element one float64 sum in increasing k, rounded to float once (rows split over
 * threads, which changes no bit). GAZELOC_ISA=reference runs every product through it. */
int gz_sgemm_ref(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda, const float *B,
                 long ldb, float beta, float *C, long ldc, gz_err *e);

/* The same with B never stored: `packer` writes each B block as the micro-kernel reads it, from
 * whatever B is implicitly (conv2d: the input image, so im2col never goes through memory). For rows
 * p0..p0+kcb of op(B) and columns j0..j0+ncb it fills ceil(ncb / nr) panels of nr columns,
 * dst[(t*kcb + k)*nr + jj] = B[p0 + k][j0 + t*nr + jj], zero past column j0 + ncb. It runs on the
 * GEMM's threads, concurrently, each call for a different block. */
typedef void (*gz_gemm_packer)(const void *ctx, long p0, long kcb, long j0, long ncb, int nr, float *dst);
int gz_sgemm_implicit_isa(int isa, int transA, long M, long N, long K, float alpha, const float *A, long lda,
                          gz_gemm_packer packer, const void *ctx, float beta, float *C, long ldc, void *workspace,
                          size_t workspace_bytes, gz_err *e);
/* The same with A stored M x K, taken on AVX-512 in the micro-kernel's row layout as for B stored N x K (no
 * transposing pass over A; gz_gemm_ukr_rowa_avx512): for a packer whose B is the transpose of data stored N x K
 * (a weight gradient's dW = dy B). split_cols: the threads split C's columns (each copies all of A and packs its
 * share of B), where the cost model would split the rows (each packing all of B); the same sums either way. */
int gz_sgemm_implicit_rowa_isa(int isa, long M, long N, long K, float alpha, const float *A, long lda,
                               gz_gemm_packer packer, const void *ctx, int split_cols, float beta, float *C, long ldc,
                               void *workspace, size_t workspace_bytes, gz_err *e);

/* The blocking gz_sgemm uses for an ISA: register tile MR x NR, and KC (depth, A micro-panel in
 * L1), NC (columns of the packed B block, in L2), MC (rows of the packed A panel, in L3), derived
 * from the cache sizes hwloc reports. */
typedef struct gz_gemm_blocking {
  int mr, nr;
  long kc, nc, mc;
  long l1, l2, l3; /* bytes, as reported (or the fallback constants) */
} gz_gemm_blocking;
int gz_gemm_blocking_for(int isa, gz_gemm_blocking *b, gz_err *e);
/* Memory-bound ops (batch norm) stream outputs of more floats than this past the caches: the op's input and output
 * (the same size) together outgrow the last-level cache a core can count on, hwloc's L3 but at most 32 MB. The cap:
 * the Zen 5 VM of 2026-12-07 reports an L3 of 508 MB for its 2 cores, where a Zen 4 or 5 core sees its CCD's 32 MB
 * (docs/tensor.md). */
long gz_stream_min_floats(void);

/* How the AVX-512 register tiles (SGEMM micro-kernels, direct convolution) broadcast: 1 folded, each FMA reading
 * its broadcast operand from memory ({1to16}); 0 one register broadcast shared by the FMAs that use it
 * (tensor/fma_avx512.h). Folded on Zen 4 (gz_cpu_avx512_halves), register elsewhere; GAZELOC_FMA_BCAST=folded or
 * register overrides. Same products and sums either way: the same bits. */
int gz_fma_folded(void);
/* Test and benchmark hook: force the style (-1: back to the default). Not thread-safe. */
void gz_fma_set_folded(int folded);

/* Register-tile micro-kernels (internal to tensor/gemm*.c): C[m x n] (m <= MR, n <= NR, row stride
 * ldc) = alpha * a * b + beta * C over a packed A micro-panel a[kc][MR] and B micro-panel b[kc][NR]
 * (64-byte aligned, zero-padded). */
typedef void (*gz_gemm_ukr)(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta,
                            int m, int n);
#define GZ_GEMM_MR_AVX512 12
#define GZ_GEMM_NR_AVX512 32
#define GZ_GEMM_MR_AVX2 6
#define GZ_GEMM_NR_AVX2 16
void gz_gemm_ukr_avx512(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta, int m,
                        int n);
void gz_gemm_ukr_pack_avx512(long kc, const float *a, const float *src, long ldb, float *b, float *c, long ldc,
                             float alpha, float beta, int m, int n);
/* A micro-panel in row layout (row r at a + r GZ_GEMM_KA_AVX512, for kc <= GZ_GEMM_KA_AVX512 - 16: rows 2112 bytes
 * apart, not a multiple of 4 KB, so the 12 rows fall in different L1 sets); with src != NULL the kernel
 * first copies the micro-panel from A's rows (lda floats apart), zeroing rows m..R. */
#define GZ_GEMM_KA_AVX512 528
/* Rows a row-layout tile fetches into L2 while it runs: group g is n[g] rows ld[g] floats apart from p[g], and at
 * each 16-float step kb of its depth the kernel fetches each row's line at kb. */
typedef struct gz_gemm_fetch {
  const float *p[2];
  long ld[2];
  int n[2];
} gz_gemm_fetch;
void gz_gemm_ukr_rowa_avx512(long kc, float *a, const float *src, long lda, const gz_gemm_fetch *f, const float *b,
                             float *c, long ldc, float alpha, float beta, int m, int n);
/* Columns j0..j1 of C (m x N, row stride ldc) (+)= sum over nimg images of A_n B_n^T for few rows m <= 12
 * (A_n = A + n as: m rows of K floats; B_n = B + n bs: N rows of K floats): dot products along K, both
 * operands read in place, 16 lane sums per element added at the end. A 1x1 weight gradient of few output
 * channels (the head's 10), where the packed GEMM re-read a transposed B panel for only 10 rows. Each element:
 * one fixed sum, the same for any split of the columns; callers give threads GZ_GEMM_DOT_COLS at a time. */
#define GZ_GEMM_DOT_COLS 16
void gz_gemm_dot_avx512(int m, long j0, long j1, long K, int nimg, const float *A, long lda, long as, const float *B,
                        long ldb, long bs, float *C, long ldc, int accumulate);
/* Packs B micro-panels [t_lo, t_hi) of the block at columns j0 (cols wide), depth p0..p0+kcb; fetch_next: also
 * fetch each row's stretch of the next depth block into L2 (off where the row-layout tiles fetch it already). */
void gz_gemm_packb_t_avx512(const float *B, long ldb, long j0, long cols, long p0, long kcb, float *dst,
                            long t_lo, long t_hi, int fetch_next);
/* Packs the B block at columns j0 (cols wide), depth p0..p0+kcb, of a 1x1 stride-2 weight gradient without padding:
 * B[p][c] = x[c cs + (p / ow) rs + 2 (p % ow)] over k pixels (tensor/conv.c). */
void gz_gemm_packb_t_s2_avx512(const float *x, long cs, long rs, long ow, long k, long j0, long cols, long p0,
                               long kcb, float *dst);
/* Packs A micro-panels [t_lo, t_hi) (A stored M x K) of the panel at rows i0 (rows tall), depth p0.. */
void gz_gemm_packa_avx512(const float *A, long lda, long i0, long rows, long p0, long kcb, float *dst, long t_lo,
                          long t_hi);
/* The same when A is stored K x M (op(A) = A^T). */
void gz_gemm_packa_t_avx512(const float *A, long lda, long i0, long rows, long p0, long kcb, float *dst, long t_lo,
                            long t_hi);
void gz_gemm_ukr_avx2(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta, int m,
                      int n);

/* ------------------------------------------------------------------ conv2d */

/* A convolution problem: input x [n][ic][ih][iw], weights w [oc][ic][kh][kw], bias [oc], output
 * y [n][oc][oh][ow] with oh = (ih + 2 ph - kh) / sh + 1 (likewise ow). No groups, no dilation. */
typedef struct gz_conv2d {
  int n, ic, ih, iw;
  int oc, kh, kw;
  int sh, sw, ph, pw;
} gz_conv2d;

/* Validates the problem (positive sizes, padding < kernel, output at least 1x1, sizes that fit)
 * and returns the output size. */
int gz_conv2d_out(const gz_conv2d *d, int *oh, int *ow, gz_err *e);
/* Bytes of workspace for any of the three directions. */
size_t gz_conv2d_workspace(const gz_conv2d *d);

/* y = conv(x, w) + bias (bias may be NULL). */
int gz_conv2d_forward(const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y,
                      void *workspace, size_t workspace_bytes, gz_err *e);
/* dx = conv_transpose(dy, w); with accumulate, dx += that instead. */
int gz_conv2d_backward_data(const gz_conv2d *d, const float *dy, const float *w, float *dx, int accumulate,
                            void *workspace, size_t workspace_bytes, gz_err *e);
/* dw = sum over images and positions of dy (x) x; dbias (may be NULL) = sum of dy per channel.
 * With accumulate, both are added to what the buffers hold. */
int gz_conv2d_backward_weights(const gz_conv2d *d, const float *x, const float *dy, float *dw, float *dbias,
                               int accumulate, void *workspace, size_t workspace_bytes, gz_err *e);

int gz_conv2d_forward_isa(int isa, const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y,
                          void *workspace, size_t workspace_bytes, gz_err *e);
int gz_conv2d_backward_data_isa(int isa, const gz_conv2d *d, const float *dy, const float *w, float *dx,
                                int accumulate, void *workspace, size_t workspace_bytes, gz_err *e);
int gz_conv2d_backward_weights_isa(int isa, const gz_conv2d *d, const float *x, const float *dy, float *dw,
                                   float *dbias, int accumulate, void *workspace, size_t workspace_bytes, gz_err *e);

/* Plain direct loops, same semantics: each output one float64 sum over its taps in a fixed order, rounded
 * to float once (independent outputs split over threads, which changes no bit). gz_conv2d_*_isa with
 * GZ_ISA_REFERENCE (GAZELOC_ISA=reference) runs these and ignores the workspace. */
int gz_conv2d_forward_ref(const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y, gz_err *e);
int gz_conv2d_backward_data_ref(const gz_conv2d *d, const float *dy, const float *w, float *dx, int accumulate,
                                gz_err *e);
int gz_conv2d_backward_weights_ref(const gz_conv2d *d, const float *x, const float *dy, float *dw, float *dbias,
                                   int accumulate, gz_err *e);

/* Multiply-adds of one direction (the same for all three): n*oc*oh*ow*ic*kh*kw. */
double gz_conv2d_macs(const gz_conv2d *d);


/* ------------------------------------------------------------------ blocked direct conv2d (internal) */

/* tensor/conv_direct.c: forward and backward data by a blocked direct convolution (AVX-512, AVX2), used by
 * gz_conv2d_*_isa where gz_cdir_wanted() says so. The workspace it needs is part of
 * gz_conv2d_workspace(). */
#define GZ_CDIR_MAX_TAPS 64
#define GZ_CDIR_CHUNK 16 /* input channel blocks summed in registers per pass (tensor/conv_direct.c) */
enum { GZ_CONV_AUTO = -1, GZ_CONV_GEMM = 0, GZ_CONV_DIRECT = 1 };
/* Test and benchmark hook: force a method for every conv2d call (GZ_CONV_AUTO: chosen per shape).
 * Not thread-safe; a forced method that cannot run a shape falls back to the GEMM. */
void gz_conv2d_set_method(int method);
/* direction: 0 forward, 1 backward data, 2 backward weights */
int gz_cdir_wanted(int isa, const gz_conv2d *d, int direction);
size_t gz_cdir_workspace(const gz_conv2d *d);
/* The caller has validated shapes, pointers and the workspace size. */
void gz_cdir_forward(int isa, const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y,
                     void *ws);
void gz_cdir_backward_data(int isa, const gz_conv2d *d, const float *dy, const float *w, float *dx, int accumulate,
                           void *ws);
/* dw only (kw <= 7); the caller adds the bias gradient. */
void gz_cdir_backward_weights(int isa, const gz_conv2d *d, const float *x, const float *dy, float *dw,
                              int accumulate, void *ws);

/* One register tile: px (1..24/ocb) output pixels x ocb (1, 2) blocks of 16 output channels (AVX2 does it
 * as pieces of at most 6 pixels x 16 channels). */
typedef struct gz_cdir_tile {
  const float *in; /* blocked input at the tile's first pixel, channel block 0 */
  long icbs;       /* floats between channel blocks of the input */
  int nicb, ntap, s, px, ocb, noc; /* s: input pixel step (stride) in pixels; noc: valid output channels */
  int lanes;                       /* input channels per block: 16 (NCHW16c) or 1 (plain padded planes) */
  int lastl;                       /* channels of the last block (1..lanes); its other lanes are zeros */
  const long *toff;                /* input offset of each tap, floats */
  const float *w;                  /* [nicb][ntap][lanes][ocb*16] */
  float *out;                      /* NCHW output at the tile's first pixel and channel */
  long chs;                        /* floats between output channels */
  int ops, accumulate;             /* floats between output pixels; add to out instead of storing */
  const float *bias;               /* per output channel of the tile, or NULL */
} gz_cdir_tile;
void gz_cdir_tile_avx512(const gz_cdir_tile *t);
void gz_cdir_tile_avx2(const gz_cdir_tile *t);
/* Weight-gradient tile: no = gz_cdir_wtile_rows(isa, kw, oc) output channels x kw taps of one kernel row x 16
 * input channels, summed over `rows` output rows of ow pixels; stored to acc[o][j][16] (first) or added. */
typedef struct gz_cdir_wtile {
  const float *x;    /* blocked input: channel block, input row of the first output row and tap row */
  long xrow, ow;     /* floats between the input rows of consecutive output rows; output row width */
  int sw, kw, rows, first, no;
  const float *dy[8]; /* NCHW dy of each output channel at the band's first pixel */
  float *acc;
} gz_cdir_wtile;
int gz_cdir_wtile_rows(int isa, int kw, int oc);
int gz_cdir_wtile_rows_avx512(int kw, int oc);
int gz_cdir_wtile_rows_avx2(int kw, int oc);
/* Weight-gradient tile on plain phase planes (few input channels, AVX-512): GZ_CDIR_PO output channels x
 * GZ_CDIR_PT taps, lane sums over the pixels of `rows` output rows of ow pixels, kept in acc[PO][PT][16]
 * (zeroed first when first). */
#define GZ_CDIR_PO 4
#define GZ_CDIR_PT 6
typedef struct gz_cdir_ptile {
  const float *x;     /* phase-plane frame at the band's first output row (row offset applied) */
  long xrow, ow;      /* floats between the input rows of consecutive output rows; output row width */
  const long *toff;   /* the PT taps' offsets in the frame */
  int rows, first;
  const float *dy[GZ_CDIR_PO]; /* NCHW dy of each output channel at the band's first pixel */
  float *acc;                  /* 64-byte aligned */
} gz_cdir_ptile;
void gz_cdir_ptile_avx512(const gz_cdir_ptile *t);
/* Pixel-vector forward (tensor/conv_pvec_avx512.c): one output row oy of one image for oc <= 12 output
 * channels, stride 1, kw <= GZ_CDIR_PVEC_KW, c <= 256 input channels (one pass of the blocked method). */
#define GZ_CDIR_PVEC_KW 7
typedef struct gz_cdir_prow {
  const float *x;        /* NCHW input image */
  const float *wp;       /* packed weights [c block][kh][kw][16 channels][oc], gz_cdir_pvec_pack */
  const float *bias;     /* oc values, or NULL */
  float *y;              /* output image at row oy (channel 0) */
  int c, h, w, oc, kh, kw, pw;
  int iy0;               /* input row of kernel row 0: oy - ph */
  long ow, ohw;          /* output row width; floats between output channels */
} gz_cdir_prow;
void gz_cdir_pvec_row_avx512(const gz_cdir_prow *t);
void gz_cdir_wtile_avx512(const gz_cdir_wtile *t);
void gz_cdir_wtile_avx2(const gz_cdir_wtile *t);
void gz_cdir_block_row_avx512(const float *src, int C, int H, int W, int top, int left, int Wp, int icb, int y,
                              float *dst);
void gz_cdir_block_row_avx2(const float *src, int C, int H, int W, int top, int left, int Wp, int icb, int y,
                            float *dst);
/* One weight slab of the direct convolution (tensor/conv_direct.c, pack_weights): for each of ntap taps and
 * lanes rows l, ocw floats o[j] = k0[l sl + j sj + tsrc[tap]] for l < nl and j < nj, zeros elsewhere. AVX-512:
 * one gather per 16 floats (sj = 9, 3x3 backward data: permutes of the row); needs 31 sj < 2^31. */
void gz_cdir_pack_slab_avx512(const float *k0, long sl, long sj, const int *tsrc, int ntap, int lanes, int nl, int nj,
                              int ocw, float *o);
void gz_cdir_pack_fwd_avx512(const float *k0, long sj, int khw, int nl, int nj, int ocw, float *o);
/* dst[u] = src[2 u] for u < n (the implicit GEMM's stride-2 im2col rows, tensor/conv.c). */
void gz_conv_even_avx512(float *dst, const float *src, long n);
/* The forward's B panels of a 1x1 stride-2 conv without padding (tensor/conv.c, fwd_packer): rows p0..p0+kcb
 * (input channels, cs floats apart from x) for output pixels j0..j0+ncb of the N = oh ow (ow columns, input rows
 * rs floats apart per output row), as panels dst[t][k][32], zeros past N. */
void gz_conv_pack_s2_avx512(const float *x, long cs, long rs, long ow, long N, long p0, long kcb, long j0, long ncb,
                            float *dst);
/* The weight gradient's B = col^T packed from the images (tensor/conv_pack_avx512.c): depth k is pixel k of the
 * images side by side (pixel k % ohw of image k / ohw, images xs floats apart from x), column r the kernel tap
 * (c, i, j). */
typedef struct {
  const float *x;
  long xs, ohw;
  int ih, iw, ow, kh, kw, sh, sw, ph, pw;
} gz_conv_wpack;
/* A gz_gemm_packer over a gz_conv_wpack (nr = GZ_GEMM_NR_AVX512). */
void gz_conv_im2col_packer_avx512(const void *ctx, long p0, long kcb, long j0, long ncb, int nr, float *dst);

#endif
