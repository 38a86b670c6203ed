/* conv2d on NCHW / OIHW by GEMM (docs/kernels.md):
 *
 *   1x1 stride 1, no padding   the image is already the GEMM operand: y_n = W x_n, dx_n = W^T dy_n,
 *                              dW += dy_n x_n^T, with no copy.
 *   everything else            forward: implicit GEMM, the im2col panels produced from the image
 *                              inside the GEMM, block by block; backward: im2col of a band of output
 *                              rows into the workspace and the GEMM (backward data: the GEMM into
 *                              columns and col2im back). The weight gradient on AVX-512 packs its
 *                              im2col panels from the image inside the GEMM too (wgrad_packed).
 *   small images (<= 512 px)   G images per GEMM (G x pixels <= 1024 columns): x / dy gathered side
 *                              by side, their im2col together, y scattered back (run_groups).
 *   1x1 weight gradients       (AVX-512) with ic > oc from 32^2 up, dW^T = x_n dy_n^T (only the narrower
 *                              operand is transposed when packed); stride 2 without padding, per image,
 *                              B's panels packed straight from x (s2t_packer), no im2col.
 *
 * With W viewed as [oc][ic*kh*kw] and col as [ic*kh*kw][pixels of the band]:
 *   forward           y_n[:, band] (+)= W col                  (bias first, then beta = 1)
 *   backward data     col = W^T dy_n[:, band];  dx_n += col2im(col)
 *   backward weights  dW += dy_n[:, band] col^T;  db[o] = sum over n, p of dy[n][o][p]
 * Bands have a fixed height (from the shape only), images and bands are visited in order and the GEMM
 * reduces K in fixed chunks: the weight gradient is the same for any thread count. col2im is split by
 * input channel, so every dx element has one writer and one order of additions.
 */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "tensor/kernels.h"

/* Largest im2col band of the backward passes, in floats (64 MB): the bound below the minimum band
 * widths (a 1.2 GB im2col per image for the decoder's 3x3 convs at 256 px would not do). */
#define COL_CAP (16L << 20)
/* The backward passes use smaller bands (4 MB, in L3): the weight gradient's im2col is read back
 * right away by the GEMM's transposing pack, backward data's columns by col2im, and from L3 that is
 * much faster than from memory (weight gradient: 1.2-2.2x on the 64-channel layers, the stem and the
 * decoder). A weight-gradient band keeps at least 512 pixels, so the GEMM's K stays long (dW is
 * re-read once per band). */
#define BWD_CAP (1L << 20)
#define BWD_MIN_PIXELS 512
/* Backward data re-packs W^T once per band: at least 2048 pixels keep that under a few per cent. */
#define BWD_DATA_MIN_PIXELS 2048
/* Small images (layer3/4 at 128 px, Block 5 of the demo): per image, the GEMM would pack all of W (or
 * W^T) for a few dozen columns and stream the weight gradient in and out of memory once per image. G
 * images side by side make one GEMM of G x pixels columns (up to GROUP_PIXELS), through gathered copies
 * of x / dy and the im2col of the G images (at most COL_CAP floats). */
#define GROUP_PIXELS 1024
/* ... except 1x1 convs (strided ones too) on outputs of 256 pixels or more: since B is packed inside the
 * micro-kernel straight from each image (gemm_avx512.c), or by the implicit packer's stride-2 permutes, the
 * gather of x (im2col of the group) and scatter of y cost more than packing W once per image saves (W's
 * pack is amortized over >= 256 columns). Batch 2 at 16^2, interleaved A/B, 2 threads, median
 * GFLOP/s grouped -> per image: 2048 -> 512 forward 196 -> 211, backward data 185 -> 188, weight gradient
 * 201 -> 211; 512 -> 2048 203 -> 210, 194 -> 206, 191 -> 194; batch 4, 512 -> 2048 forward 182 -> 207. At 4^2
 * (16 pixels) grouping stays essential (2048 -> 512 forward, batch 8: 190 grouped, 82 per image), at 8^2 the
 * two were mixed, so those stay grouped. Stride 2, 1024 -> 2048 from 32^2 to 16^2 (the only such shape):
 * forward 152 -> 159, backward data 182 -> 183, weight gradient 166 -> 176 (one thread 87 -> 96). */
#define POINTWISE_UNGROUPED 256
/* 1x1 weight gradients of few channels over many pixels (oc x ic <= 256^2, images of >= 64^2): a GEMM
 * of M = oc, N = ic, K = pixels, whose operands are both transposed when packed. Split over two threads
 * by rows or columns, one operand was packed by both (64 -> 64 at 128^2: 192 rows packed per pixel for
 * 64 x 64 outputs). Instead the pixels go in chunks of SPLIT_PIXELS (from the shape only), each chunk a
 * one-thread GEMM into its own partial dW, and the partials are added in chunk order: every operand is
 * packed once, and the sum is the same for any thread count. */
#define SPLIT_PIXELS 4096
#define IMGPAR_MACS (1L << 24) /* 1x1 products per image up to this size run image-parallel */
#define SPLIT_MAX_MN 65536
#define DOT_MAX_OC 12 /* 1x1 weight gradients of at most this many output channels: dot products (AVX-512) */

typedef struct {
  long kc, ohw, rows, band; /* im2col rows, output pixels, band height (output rows), band pixels */
  long brows, drows;        /* band heights of the weight gradient and of backward data */
  long group, crows;        /* images per GEMM (1: image by image, in bands); rows of its col operand */
  long nsplit;              /* pixel chunks of a split 1x1 weight gradient (0: not split) */
  int dpar;                 /* backward data of a strided 1x1: whole images per thread, a band each */
  int oh, ow, pointwise;
} geom;

int gz_conv2d_out(const gz_conv2d *d, int *oh, int *ow, gz_err *e) {
  if (!d) return gz_fail(e, GZ_EINVAL, "conv2d: no problem given");
  if (d->n < 1 || d->ic < 1 || d->ih < 1 || d->iw < 1 || d->oc < 1 || d->kh < 1 || d->kw < 1)
    return gz_fail(e, GZ_EINVAL, "conv2d: sizes must be >= 1 (n=%d ic=%d ih=%d iw=%d oc=%d kh=%d kw=%d)", d->n, d->ic,
                   d->ih, d->iw, d->oc, d->kh, d->kw);
  if (d->sh < 1 || d->sw < 1) return gz_fail(e, GZ_EINVAL, "conv2d: stride %dx%d must be >= 1", d->sh, d->sw);
  if (d->ph < 0 || d->pw < 0 || d->ph >= d->kh || d->pw >= d->kw)
    return gz_fail(e, GZ_EINVAL, "conv2d: padding %dx%d must be in [0, kernel %dx%d)", d->ph, d->pw, d->kh, d->kw);
  long h = (long)d->ih + 2L * d->ph - d->kh, w = (long)d->iw + 2L * d->pw - d->kw;
  if (h < 0 || w < 0)
    return gz_fail(e, GZ_ERANGE, "conv2d: kernel %dx%d larger than the padded input %dx%d", d->kh, d->kw,
                   d->ih + 2 * d->ph, d->iw + 2 * d->pw);
  long limit = 1L << 40;
  if ((double)d->n * d->ic * d->ih * d->iw >= (double)limit || (double)d->oc * d->ic * d->kh * d->kw >= (double)limit ||
      (double)d->n * d->oc * (h / d->sh + 1) * (w / d->sw + 1) >= (double)limit)
    return gz_fail(e, GZ_ERANGE, "conv2d: tensors too large");
  *oh = (int)(h / d->sh + 1);
  *ow = (int)(w / d->sw + 1);
  return 0;
}

/* A 1x1 conv's forward or backward data whose per-image product has M rows: run whole images per thread, each
 * a one-thread GEMM (images_parallel), when the images divide among the threads and either
 * - the product is small (the head's 512 -> 10 at 32^2: 5M multiply-adds per image): split over the threads
 *   it spent a third of its time in the OpenMP barrier (perf); or
 * - M <= pixels: the threads' GEMM would split the columns, so each thread packed all of W for every image;
 *   whole images pack it once per image (the 1x1 lines at 32^2 +2-5 %, 2 threads; at 64^2 and 128^2 no
 *   change; at 16^2, M up to 8x the pixels, 2-3 % slower, so those stay split).
 * A C element's sum does not depend on who computes it. */
static int images_divide(const gz_conv2d *d, const geom *g) {
  const int T = omp_get_max_threads();
  return d->kh == 1 && d->kw == 1 && g->group == 1 && T > 1 && d->n % T == 0;
}

static int images_parallel_wanted(const gz_conv2d *d, const geom *g, long M) {
  return images_divide(d, g) && ((long)d->oc * d->ic * g->ohw <= IMGPAR_MACS || M <= g->ohw);
}

/* Backward data of a large 1x1 conv with at most 64 channels on both sides (ResNet's 64 -> 64 at 128^2: K = 64,
 * 2^28 multiply-adds an image) goes as one GEMM per image split over the threads, not image by image: Zen 5 VM,
 * 2 threads, interleaved, medians of 51, GFLOP/s: 281-298 -> 307-330 (5 rounds, +7-11 % in each), and in a second
 * series 289-320 -> 300-343 (+1-15 %). Measured, not explained; with 256 input channels (256 -> 64) the same switch
 * was -5..+7 % and is not made, nor for the forward of 64 -> 64 (-9..+5 %). The sums are the same either way. */
static int backward_data_split(const gz_conv2d *d, const geom *g) {
  return d->oc <= 64 && d->ic <= 64 && (long)d->oc * d->ic * g->ohw > IMGPAR_MACS;
}

static void geometry(const gz_conv2d *d, int oh, int ow, geom *g) {
  g->oh = oh, g->ow = ow;
  g->kc = (long)d->ic * d->kh * d->kw;
  g->ohw = (long)oh * ow;
  g->pointwise = d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
  long rows = COL_CAP / (g->kc * ow);
  g->rows = rows < 1 ? 1 : rows > oh ? oh : rows;
  g->band = g->rows * ow;
  long br = BWD_CAP / (g->kc * ow), minr = (BWD_MIN_PIXELS + ow - 1) / ow;
  if (br < minr) br = minr;
  g->brows = br < 1 ? 1 : br > g->rows ? g->rows : br;
  long dr = BWD_CAP / (g->kc * ow), mind = (BWD_DATA_MIN_PIXELS + ow - 1) / ow;
  if (dr < mind) dr = mind;
  g->drows = dr < 1 ? 1 : dr > g->rows ? g->rows : dr;
  /* a fixed function of the shape: the weight gradient's order of additions never depends on threads */
  g->crows = g->pointwise ? d->ic : g->kc;
  g->group = 1;
  const int one = d->kh == 1 && d->kw == 1; /* 1x1, any stride and padding */
  if (d->n > 1 && 2 * g->ohw <= GROUP_PIXELS && !(one && g->ohw >= POINTWISE_UNGROUPED)) {
    long G = GROUP_PIXELS / g->ohw, cap = COL_CAP / (g->crows > d->oc ? g->crows : d->oc) / g->ohw;
    G = G > cap ? cap : G;
    g->group = G > d->n ? d->n : G < 1 ? 1 : G;
  }
  g->nsplit = 0;
  if (g->pointwise && g->group == 1 && g->ohw >= SPLIT_PIXELS && (long)d->oc * d->ic <= SPLIT_MAX_MN)
    g->nsplit = d->n * ((g->ohw + SPLIT_PIXELS - 1) / SPLIT_PIXELS);
  /* A strided 1x1's backward data with whole images per thread needs a band of col per thread: only while the
   * threads' bands together stay within BWD_CAP (512 -> 1024 stride 2 at 32^2, 2 MB a band: 195-198 -> 200-203
   * GFLOP/s; 256 -> 512 at 64^2, 4 MB a band: 192-195 -> 188-190, so that one stays split). */
  g->dpar = !g->pointwise && images_parallel_wanted(d, g, d->ic) &&
            (long)omp_get_max_threads() * g->kc * g->ow * g->drows <= BWD_CAP;
}

static long round16(long f) { return (f + 15) / 16 * 16; }

/* One thread's band of backward data's col when images run in parallel (g->dpar), 64-byte aligned. */
static long dpar_band(const geom *g) { return round16(g->kc * g->ow * g->drows); }

/* Workspace floats before the GEMM's: the backward passes' band (image by image), or a group's col
 * operand [crows][G x pixels] and its gathered x / dy / y operand [oc][G x pixels]. */
static long col_floats(const gz_conv2d *d, const geom *g) {
  if (g->group > 1) return round16(g->crows * g->group * g->ohw) + (long)d->oc * g->group * g->ohw;
  if (g->pointwise) return 0;
  const long band = g->kc * g->ow * (g->brows > g->drows ? g->brows : g->drows);
  const long dpar = g->dpar ? dpar_band(g) * omp_get_max_threads() : 0;
  return band > dpar ? band : dpar;
}

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* One one-thread GEMM workspace per thread (images_parallel, the split weight gradient). */
static size_t per_thread_ws(long M, long N, long K) {
  return gz_sgemm_workspace_threads(M, N, K, 1) * (size_t)omp_get_max_threads();
}

/* 1x1 weight gradients with more input than output channels, on images of at least 32^2 (AVX-512): the GEMM's
 * A, read in its own row layout (gemm.c), is x, and the narrower dy is the operand transposed into B's panels;
 * the product is dW^T. A 256 -> 64 at 128^2 packed 256 rows of x by transposes per pixel chunk, now 64 of dy
 * (the same sums: each element adds the same products in the same order). Interleaved, 2 threads, median
 * GFLOP/s: 256 -> 64 at 128^2 154 -> 177 (with the row layout), 1024 -> 256 at 32^2 172 -> 190, 1024 -> 512
 * 179 -> 184, 512 -> 256 at 64^2 195 -> 197; at 16^2, 2048 -> 512 fell 203 -> 173 (dW^T's transposed
 * add weighs 4x more against 256 pixels), so smaller images keep dW = dy x^T. */
#define TRANSPOSED_MIN_PIXELS 1024
static int wgrad_transposed(int isa, const gz_conv2d *d, long ohw) {
  return isa == GZ_ISA_AVX512 && d->ic > d->oc && ohw >= TRANSPOSED_MIN_PIXELS;
}

/* From this many output pixels per image on, the threads of a strided 1x1 weight gradient (s2t_packer) split dW's
 * columns (input channels), each packing its share of B, instead of the rows, each packing all of it: 256 -> 512
 * at 128^2 (4096 pixels) 163.0 -> 182.8 GFLOP/s; 512 -> 1024 at 64^2 (1024) 179.2 -> 165.3 and 1024 -> 2048 at
 * 32^2 (256) 204.1 -> 190.2 keep the rows (2 threads, interleaved, 9 rounds, medians). */
#define S2T_COLS_MIN_PIXELS 4096

/* 1x1 stride-2 weight gradients without padding on AVX-512: B's panels packed from x by s2t_packer. */
static int s2t_wanted(int isa, const gz_conv2d *d) {
  return isa == GZ_ISA_AVX512 && d->kh == 1 && d->kw == 1 && d->sw == 2 && d->ph == 0 && d->pw == 0;
}

/* The other weight gradients that are not pointwise, on AVX-512: B = col^T packed inside the GEMM straight from
 * the images (gz_conv_im2col_packer_avx512), A = dy in the micro-kernel's row layout, one GEMM per image (or
 * group of images) over all its pixels. The banded path wrote the im2col matrix to memory (Block 5: 56 MB a
 * band of 512 pixels) and packed it again by transposes; in perf, on 512 at 16^2, the micro-kernel's share went
 * 75 -> 85 %. Interleaved, 2 threads, median GFLOP/s: 512 at 16^2 152 -> 180, strided 512 at 32^2 165 -> 181,
 * Block 5 (3072 -> 512 at 32^2) 177 -> 185. */
static int wgrad_packed(int isa, const gz_conv2d *d, const geom *g) {
  return isa == GZ_ISA_AVX512 && !g->pointwise && !s2t_wanted(isa, d);
}

static gz_conv_wpack wpack_of(const gz_conv2d *d, const geom *g, const float *x) {
  return (gz_conv_wpack){x, (long)d->ic * d->ih * d->iw, g->ohw, d->ih, d->iw, g->ow, d->kh, d->kw, d->sh, d->sw,
                         d->ph, d->pw};
}

/* The per-image 1x1 weight gradient's dW^T [ic][oc], 64-byte aligned, before its GEMM workspace. */
static size_t dwt_bytes(const gz_conv2d *d) { return ((size_t)d->ic * d->oc + 16) * sizeof(float); }

static size_t gemm_ws(const gz_conv2d *d, const geom *g) {
  if (g->group > 1) {
    long P = g->group * g->ohw;
    return max3(gz_sgemm_workspace(d->oc, P, g->crows), gz_sgemm_workspace(g->crows, P, d->oc),
                gz_sgemm_workspace(d->oc, g->crows, P));
  }
  size_t ws;
  if (g->pointwise) {
    /* sized for the ISA that takes the transposed form, whichever runs */
    const int tr = wgrad_transposed(GZ_ISA_AVX512, d, g->ohw);
    const size_t dwt = tr ? dwt_bytes(d) + gz_sgemm_workspace(d->ic, d->oc, g->ohw) : 0;
    ws = max3(gz_sgemm_workspace(d->oc, g->ohw, d->ic), gz_sgemm_workspace(d->ic, g->ohw, d->oc),
              max3(gz_sgemm_workspace(d->oc, d->ic, g->ohw), dwt, 0));
  } else
    ws = max3(gz_sgemm_workspace(d->oc, g->ohw, g->kc), gz_sgemm_workspace(g->kc, g->band, d->oc),
              max3(gz_sgemm_workspace(d->oc, g->kc, g->band), gz_sgemm_workspace(d->oc, g->kc, g->ohw), 0));
  if (d->kh == 1 && d->kw == 1) /* images_parallel, backward_data_images_parallel */
    ws = max3(ws, per_thread_ws(d->oc, g->ohw, d->ic), per_thread_ws(d->ic, g->ohw, d->oc));
  return ws;
}

/* A split weight gradient's workspace: the partials [nsplit][oc][ic], then one one-thread GEMM workspace
 * per thread. */
static size_t split_ws(const gz_conv2d *d, const geom *g) {
  if (!g->nsplit) return 0;
  const size_t gemm = max3(per_thread_ws(d->oc, d->ic, SPLIT_PIXELS), per_thread_ws(d->ic, d->oc, SPLIT_PIXELS), 0);
  return (size_t)round16(g->nsplit * d->oc * d->ic) * sizeof(float) + 64 + gemm; /* either order (dW or dW^T) */
}

size_t gz_conv2d_workspace(const gz_conv2d *d) {
  int oh = 0, ow = 0;
  if (gz_conv2d_out(d, &oh, &ow, NULL)) return 0;
  geom g;
  geometry(d, oh, ow, &g);
  size_t gemm = (size_t)col_floats(d, &g) * sizeof(float) + 64 + gemm_ws(d, &g), direct = gz_cdir_workspace(d);
  return max3(gemm, direct, split_ws(d, &g));
}

/* Shared preamble: shape, ISA, pointers and workspace; splits the workspace into col and GEMM parts. */
static int prepare(int isa, const gz_conv2d *d, const void *p1, const void *p2, const void *p3, void *ws,
                   size_t wsb, geom *g, float **col, void **gws, size_t *gwsb, const char *what, gz_err *e) {
  int oh = 0, ow = 0, best;
  if (gz_conv2d_out(d, &oh, &ow, e)) return gz_err_prefix(e, "%s", what);
  if (gz_isa_resolve(NULL, gz_cpu_features(), &best, e)) return -1;
  if (isa < GZ_ISA_SCALAR || isa > best)
    return gz_fail(e, GZ_EUNSUPPORTED, "%s: ISA %s not available on this CPU (best %s)", what, gz_isa_name(isa),
                   gz_isa_name(best));
  if (!p1 || !p2 || !p3) return gz_fail(e, GZ_EINVAL, "%s: NULL tensor", what);
  geometry(d, oh, ow, g);
  size_t need = gz_conv2d_workspace(d);
  if (!ws || wsb < need)
    return gz_fail(e, GZ_ERANGE, "%s: workspace of %zu bytes, %zu needed (gz_conv2d_workspace)", what, wsb, need);
  size_t colb = (size_t)col_floats(d, g) * sizeof(float);
  *col = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
  *gws = (char *)*col + colb;
  *gwsb = wsb - colb - (size_t)((char *)*col - (char *)ws);
  return 0;
}

/* dst[u] = src[2 u] for u < n, by permutes (AVX-512), or NULL: the plain loop (im2col, fwd_packer). */
typedef void (*even_fn)(float *dst, const float *src, long n);
static even_fn even_rows(int isa) { return isa == GZ_ISA_AVX512 ? gz_conv_even_avx512 : NULL; }

/* col[r * ld + p] for output rows [oy0, oy1) of one image: r = (c, i, j), p = (oy - oy0, ox). Stride 2 on
 * AVX-512: rows by permutes (gz_conv_even_avx512), where the plain loop moved one float at a time (9 % of a
 * 512 -> 1024 stride-2 1x1 weight gradient, perf, one thread). */
static void im2col(int isa, const gz_conv2d *d, const geom *g, const float *x, int oy0, int oy1, float *col,
                   long ld) {
  const long khw = (long)d->kh * d->kw;
  const even_fn even = d->sw == 2 ? even_rows(isa) : NULL;
#pragma omp parallel for schedule(static)
  for (long r = 0; r < g->kc; r++) {
    int c = (int)(r / khw), i = (int)(r / d->kw % d->kh), j = (int)(r % d->kw);
    const float *src = x + (long)c * d->ih * d->iw;
    float *dst = col + r * ld;
    /* output columns whose input column ox*sw - pw + j lies inside [0, iw) */
    long lo = d->pw - j > 0 ? (d->pw - j + d->sw - 1) / d->sw : 0;
    long hi = d->iw - 1 + d->pw - j >= 0 ? (d->iw - 1 + d->pw - j) / d->sw + 1 : 0;
    if (hi > g->ow) hi = g->ow;
    if (lo > hi) lo = hi;
    for (int oy = oy0; oy < oy1; oy++, dst += g->ow) {
      long y = (long)oy * d->sh - d->ph + i;
      if (y < 0 || y >= d->ih) {
        memset(dst, 0, sizeof(float) * (size_t)g->ow);
        continue;
      }
      const float *s = src + y * d->iw - d->pw + j;
      for (long ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
      if (d->sw == 1) memcpy(dst + lo, s + lo, sizeof(float) * (size_t)(hi - lo));
      else if (even) even(dst + lo, s + 2 * lo, hi - lo);
      else
        for (long ox = lo; ox < hi; ox++) dst[ox] = s[ox * d->sw];
      for (long ox = hi; ox < g->ow; ox++) dst[ox] = 0.0f;
    }
  }
}

/* Forward's B operand, produced block by block inside the GEMM (gz_sgemm_implicit_isa): rows p0.. of
 * im2col (taps r = (c, i, j)) for output pixels j0.., as panels of nr pixels. The image stays in cache
 * and the im2col matrix never goes through memory. A panel's pixels are cut once into runs that stay
 * inside one output row; for stride 1 a run is a contiguous stretch of an input row. */
typedef struct {
  const gz_conv2d *d;
  const geom *g;
  const float *x; /* one image */
  even_fn even;   /* stride 2: dst[u] = src[2 u] (AVX-512), or NULL */
} fwd_packer_ctx;

static void fwd_packer(const void *vctx, long p0, long kcb, long j0, long ncb, int nr, float *dst) {
  const fwd_packer_ctx *q = vctx;
  const gz_conv2d *d = q->d;
  const long ow = q->g->ow, sw = d->sw, khw = (long)d->kh * d->kw;
  if (q->even && khw == 1 && d->sh == 2 && sw == 2 && d->ph == 0 && d->pw == 0 && nr == GZ_GEMM_NR_AVX512) {
    gz_conv_pack_s2_avx512(q->x, (long)d->ih * d->iw, 2L * d->iw, ow, q->g->ohw, p0, kcb, j0, ncb, dst);
    return; /* 1x1 stride 2, the downsampling shortcuts: panels by permutes, no segments */
  }
  const long ahead = (nr > ow ? nr / ow : 1) * d->sh * d->iw; /* floats to the next panel's input rows */
  for (long t = 0; t * nr < ncb; t++) {
    long seg_oy[64], seg_ox[64], seg_len[64], seg_off[64], nseg = 0;
    long pbeg = j0 + t * nr, pend = pbeg + nr < j0 + ncb ? pbeg + nr : j0 + ncb;
    for (long p = pbeg; p < pend && nseg < 64;) {
      long oy = p / ow, ox = p % ow, run = pend - p < ow - ox ? pend - p : ow - ox;
      seg_oy[nseg] = oy, seg_ox[nseg] = ox, seg_len[nseg] = run, seg_off[nseg] = p - pbeg;
      nseg++;
      p += run;
    }
    float *o0 = dst + t * kcb * nr;
    int c = (int)(p0 / khw), i = (int)(p0 / d->kw % d->kh), j = (int)(p0 % d->kw);
    for (long r = 0; r < kcb; r++, o0 += nr) {
      const float *src = q->x + (long)c * d->ih * d->iw;
      /* output columns whose input column ox*sw - pw + j lies inside [0, iw) */
      long lo = d->pw - j > 0 ? (d->pw - j + sw - 1) / sw : 0;
      long hi = d->iw - 1 + d->pw - j >= 0 ? (d->iw - 1 + d->pw - j) / sw + 1 : 0;
      if (hi > ow) hi = ow;
      if (lo > hi) lo = hi;
      for (long s = 0; s < nseg; s++) {
        long y = seg_oy[s] * d->sh - d->ph + i, ox = seg_ox[s], end = ox + seg_len[s];
        float *o = o0 + seg_off[s] - ox; /* o[ox'] for ox' in [ox, end) */
        int valid = y >= 0 && y < d->ih;
        const float *sr = valid ? src + y * d->iw - d->pw + j : src;
        long z1 = valid ? (lo < ox ? ox : lo > end ? end : lo) : end;
        long z2 = valid ? (hi < ox ? ox : hi > end ? end : hi) : end;
        if (z2 < z1) z2 = z1;
        for (long u = ox; u < z1; u++) o[u] = 0.0f;
        if (sw == 1)
          for (long u = z1; u < z2; u++) o[u] = sr[u];
        else if (sw == 2 && q->even) {
          q->even(o + z1, sr + 2 * z1, z2 - z1);
          /* The same columns of the next panel's output rows (ahead), fetched into L2: a panel reads a short
           * stretch of each of kcb channel planes, too many streams for the hardware prefetcher (as in
           * gemm_avx512.c). 1x1 stride 2 forward: 256 -> 512 at 128^2 174 -> 194 GFLOP/s, 512 -> 1024
           * at 64^2 170 -> 182 (2 threads, interleaved A/B, Zen 4). Rows narrower than a panel: a panel of
           * 32 pixels at ow 16 spans two output rows, and one row down was still this panel's; 1024 -> 2048
           * at 32^2: 168 -> 184, one thread 81 -> 92 (gz_conv_even_avx512 8.4 -> 4.5 % in perf). */
          if (valid)
            for (long f = 2 * z1; f < 2 * z2; f += 16) __builtin_prefetch(sr + ahead + f, 0, 2);
        }
        else
          for (long u = z1; u < z2; u++) o[u] = sr[u * sw];
        for (long u = z2; u < end; u++) o[u] = 0.0f;
      }
      for (long jj = pend - pbeg; jj < nr; jj++) o0[jj] = 0.0f;
      if (++j == d->kw) {
        j = 0;
        if (++i == d->kh) i = 0, c++;
      }
    }
  }
}

/* dx[c] += the columns col[r * ld + p] of the band, channel by channel (one writer per element, fixed
 * order). */
static void col2im(const gz_conv2d *d, const geom *g, const float *col, long ld, int oy0, int oy1, float *dx) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < d->ic; c++) {
    float *dst = dx + (long)c * d->ih * d->iw;
    for (int i = 0; i < d->kh; i++)
      for (int j = 0; j < d->kw; j++) {
        const float *src = col + (((long)c * d->kh + i) * d->kw + j) * ld;
        long lo = d->pw - j > 0 ? (d->pw - j + d->sw - 1) / d->sw : 0;
        long hi = d->iw - 1 + d->pw - j >= 0 ? (d->iw - 1 + d->pw - j) / d->sw + 1 : 0;
        if (hi > g->ow) hi = g->ow;
        for (int oy = oy0; oy < oy1; oy++, src += g->ow) {
          long y = (long)oy * d->sh - d->ph + i;
          if (y < 0 || y >= d->ih) continue;
          float *t = dst + y * d->iw - d->pw + j;
          if (d->sw == 1)
            for (long ox = lo; ox < hi; ox++) t[ox] += src[ox];
          else
            for (long ox = lo; ox < hi; ox++) t[ox * d->sw] += src[ox];
        }
      }
  }
}

/* p[0 .. n) = 0 on all threads (a whole dx image is up to 64 MB). */
static void zero(float *p, long n) {
  const long chunk = 1L << 16;
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i += chunk) memset(p + i, 0, sizeof(float) * (size_t)(n - i < chunk ? n - i : chunk));
}

/* col2im of a strided 1x1 conv without padding (ResNet's downsampling shortcuts): dx row oy sh holds col's
 * row oy at every sw-th pixel, the other pixels and rows of the band are zero. Written once, each dx element
 * set (or, accumulating, added to) in one pass. Against zeroing dx first (on one thread) and then adding the
 * columns: the 256 -> 512 shortcut's backward data 8.8-10.2 -> 7.0-7.4 ms, 512 -> 1024 unchanged (6.3 ms). */
static void col2im_strided_1x1(const gz_conv2d *d, const geom *g, const float *col, long ld, int oy0, int oy1,
                               float *dx, int accumulate) {
  const int y1 = oy1 * d->sh < d->ih ? oy1 * d->sh : d->ih;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < d->ic; c++) {
    const float *src = col + (long)c * ld;
    float *dst = dx + (long)c * d->ih * d->iw;
    for (int y = oy0 * d->sh; y < y1; y++) {
      float *t = dst + (long)y * d->iw;
      if (y % d->sh) {
        if (!accumulate) memset(t, 0, sizeof(float) * (size_t)d->iw);
        continue;
      }
      const float *r = src + (long)(y / d->sh - oy0) * g->ow;
      if (accumulate) {
        for (long ox = 0; ox < g->ow; ox++) t[ox * d->sw] += r[ox];
        continue;
      }
      const long whole = d->iw / d->sw; /* pixels ox with all sw columns inside the row */
      if (d->sw == 2)
        for (long ox = 0; ox < whole; ox++) t[2 * ox] = r[ox], t[2 * ox + 1] = 0.0f;
      else
        for (long ox = 0; ox < whole; ox++) {
          t[ox * d->sw] = r[ox];
          for (int k = 1; k < d->sw; k++) t[ox * d->sw + k] = 0.0f;
        }
      for (long x = whole * d->sw; x < d->iw; x++) t[x] = x % d->sw ? 0.0f : r[x / d->sw];
    }
  }
}

/* Backward data's last step for output rows oy0..oy1 (bands in order): dx (+)= col2im(col). A strided 1x1
 * without padding (the only 1x1 that gets here: pointwise ones skip col) writes its rows whole; any other
 * conv zeroes dx at the first band and adds the columns. */
static void col_to_dx(const gz_conv2d *d, const geom *g, const float *col, long ld, int oy0, int oy1, float *dx,
                      int accumulate) {
  if (d->kh * d->kw == 1 && d->ph == 0 && d->pw == 0) {
    col2im_strided_1x1(d, g, col, ld, oy0, oy1, dx, accumulate);
    return;
  }
  if (!accumulate && oy0 == 0) zero(dx, (long)d->ic * d->ih * d->iw);
  col2im(d, g, col, ld, oy0, oy1, dx);
}

/* ------------------------------------------------------------------ small images, G per GEMM */

/* dst[c][k * ohw + p] = src[n0 + k][c][p] for the G images of a group (P = G x ohw columns). */
static void gather(const float *src, long chans, long ohw, int n0, int G, float *dst) {
  const long P = G * ohw;
#pragma omp parallel for schedule(static)
  for (long c = 0; c < chans; c++)
    for (int k = 0; k < G; k++)
      memcpy(dst + c * P + k * ohw, src + ((long)(n0 + k) * chans + c) * ohw, sizeof(float) * (size_t)ohw);
}

/* dst[n0 + k][c][p] = src[c][k * ohw + p] */
static void scatter(const float *src, long chans, long ohw, int n0, int G, float *dst) {
  const long P = G * ohw;
#pragma omp parallel for schedule(static)
  for (long c = 0; c < chans; c++)
    for (int k = 0; k < G; k++)
      memcpy(dst + ((long)(n0 + k) * chans + c) * ohw, src + c * P + k * ohw, sizeof(float) * (size_t)ohw);
}

/* The group's col operand [crows][P]: the images themselves (1x1) or their im2col side by side. */
static void group_col(int isa, const gz_conv2d *d, const geom *g, const float *x, int n0, int G, float *col) {
  if (g->pointwise) {
    gather(x, d->ic, g->ohw, n0, G, col);
    return;
  }
  const long xs = (long)d->ic * d->ih * d->iw;
  for (int k = 0; k < G; k++) im2col(isa, d, g, x + (n0 + k) * xs, 0, g->oh, col + k * g->ohw, G * g->ohw);
}

/* One pass over the batch in groups. dir 0: y = W col (+ bias); 1: col = W^T dy, dx (+)= col2im(col);
 * 2: dW (+)= dy col^T. Forward and backward data give the same bits as image by image (the bias, or
 * dx to accumulate into, is C of the GEMM with beta = 1, as there; a GEMM's sums do not depend on N), so
 * a batch split over processes computes them alike; the weight gradient adds the G images' pixels in
 * one reduction (its order fixed by the shape). */
static int run_groups(int isa, int dir, const gz_conv2d *d, const geom *g, const float *in, const float *w,
                      const float *aux, float *out, int accumulate, float *col, void *gws, size_t gwsb, gz_err *e) {
  const float *bias = dir == 0 ? aux : NULL, *dy = dir == 2 ? aux : NULL; /* aux: the bias, or dy for dW */
  const long R = g->crows, xs = (long)d->ic * d->ih * d->iw;
  float *ops = col + round16(R * g->group * g->ohw); /* [oc][P]: y, dy */
  float beta = accumulate ? 1.0f : 0.0f;
  for (int n0 = 0; n0 < d->n; n0 += (int)g->group) {
    const int G = (int)(d->n - n0 < g->group ? d->n - n0 : g->group);
    const long P = G * g->ohw;
    if (dir == 0) { /* in = x, out = y */
      group_col(isa, d, g, in, n0, G, col);
      if (bias) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < d->oc; o++)
          for (long p = 0; p < P; p++) ops[o * P + p] = bias[o];
      }
      if (gz_sgemm_isa(isa, 0, 0, d->oc, P, R, 1.0f, w, R, col, P, bias ? 1.0f : 0.0f, ops, P, gws, gwsb, e))
        return -1;
      scatter(ops, d->oc, g->ohw, n0, G, out);
    } else if (dir == 1) { /* in = dy, out = dx */
      gather(in, d->oc, g->ohw, n0, G, ops);
      if (g->pointwise) {
        if (accumulate) gather(out, d->ic, g->ohw, n0, G, col);
        if (gz_sgemm_isa(isa, 1, 0, R, P, d->oc, 1.0f, w, R, ops, P, beta, col, P, gws, gwsb, e)) return -1;
        scatter(col, d->ic, g->ohw, n0, G, out);
        continue;
      }
      if (gz_sgemm_isa(isa, 1, 0, R, P, d->oc, 1.0f, w, R, ops, P, 0.0f, col, P, gws, gwsb, e)) return -1;
      for (int k = 0; k < G; k++) {
        float *dxn = out + (n0 + k) * xs;
        col_to_dx(d, g, col + k * g->ohw, P, 0, g->oh, dxn, accumulate);
      }
    } else { /* in = x, out = dW */
      gather(dy, d->oc, g->ohw, n0, G, ops);
      if (wgrad_packed(isa, d, g)) {
        const gz_conv_wpack q = wpack_of(d, g, in + n0 * xs);
        if (gz_sgemm_implicit_rowa_isa(isa, d->oc, R, P, 1.0f, ops, P, gz_conv_im2col_packer_avx512, &q, 0, beta, out,
                                       R, gws, gwsb, e))
          return -1;
      } else {
        group_col(isa, d, g, in, n0, G, col);
        if (gz_sgemm_isa(isa, 0, 1, d->oc, R, P, 1.0f, ops, P, col, P, beta, out, R, gws, gwsb, e)) return -1;
      }
      beta = 1.0f;
    }
  }
  return 0;
}

/* Inside a parallel loop of one-thread GEMMs: keep the first failure's message (images_parallel, the split
 * weight gradient). */
static void keep_first_error(int *failed, gz_err *first, const gz_err *mine) {
#pragma omp critical(gz_conv_first_error)
  if (!*failed) *failed = 1, *first = *mine;
}

/* C_i = op(A) B_i (+ beta C_i; bias rows first when given) for the n images, image i on one thread with its
 * one-thread GEMM workspace (gemm_ws holds one per thread). With pk, B_i is image i's im2col, which the
 * forward's packer writes inside the GEMM (pk's x is replaced by image i). */
static int images_parallel(int isa, int ta, long M, long N, long K, const float *A, long lda, const float *B, long bs,
                           const fwd_packer_ctx *pk, const float *bias, float beta, float *C, long cs, int n,
                           void *gws, gz_err *e) {
  const size_t per = gz_sgemm_workspace_threads(M, N, K, 1);
  int failed = 0;
  gz_err first = {0};
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) {
    gz_err mine = {0};
    float *ci = C + i * cs;
    if (bias)
      for (long r = 0; r < M; r++)
        for (long p = 0; p < N; p++) ci[r * N + p] = bias[r];
    void *mws = (char *)gws + (size_t)omp_get_thread_num() * per;
    int rc;
    if (pk) {
      fwd_packer_ctx q = *pk;
      q.x = B + i * bs;
      rc = gz_sgemm_implicit_isa(isa, ta, M, N, K, 1.0f, A, lda, fwd_packer, &q, bias ? 1.0f : beta, ci, N, mws, per,
                                 &mine);
    } else
      rc = gz_sgemm_isa(isa, ta, 0, M, N, K, 1.0f, A, lda, B + i * bs, N, bias ? 1.0f : beta, ci, N, mws, per, &mine);
    if (rc) keep_first_error(&failed, &first, &mine);
  }
  if (failed && e) *e = first;
  return failed ? -1 : 0;
}

int gz_conv2d_forward_isa(int isa, const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y,
                          void *workspace, size_t workspace_bytes, gz_err *e) {
  geom g;
  float *col;
  void *gws;
  size_t gwsb;
  if (isa == GZ_ISA_REFERENCE) return gz_conv2d_forward_ref(d, x, w, bias, y, e);
  if (prepare(isa, d, x, w, y, workspace, workspace_bytes, &g, &col, &gws, &gwsb, "conv2d forward", e)) return -1;
  if (gz_cdir_wanted(isa, d, 0)) { /* blocked direct convolution (conv_direct.c) */
    gz_cdir_forward(isa, d, x, w, bias, y, workspace);
    return 0;
  }
  if (g.group > 1) return run_groups(isa, 0, d, &g, x, w, bias, y, 0, col, gws, gwsb, e);
  const long xs = (long)d->ic * d->ih * d->iw, ys = (long)d->oc * g.ohw;
  /* A strided 1x1's forward runs whole images per thread at any M: its B panels (the image's stride-2 samples)
   * cost more than W's, and threads splitting the rows each packed all of them. 1024 -> 2048 from 32^2 to 16^2
   * (M = 8x the pixels): 181 -> 192 and 185 -> 199 GFLOP/s, 2 threads, interleaved; its backward data was equal
   * or 3 % slower that way, so backward data keeps the rule above. */
  if (images_parallel_wanted(d, &g, d->oc) || (images_divide(d, &g) && !g.pointwise)) {
    fwd_packer_ctx q = {d, &g, x, even_rows(isa)}; /* strided: im2col panels straight from each image */
    return images_parallel(isa, 0, d->oc, g.ohw, d->ic, w, d->ic, x, xs, g.pointwise ? NULL : &q, bias, 0.0f, y,
                           ys, d->n, gws, e);
  }
  for (int n = 0; n < d->n; n++) {
    const float *xn = x + n * xs;
    float *yn = y + n * ys;
    if (bias) {
#pragma omp parallel for schedule(static)
      for (int o = 0; o < d->oc; o++)
        for (long p = 0; p < g.ohw; p++) yn[o * g.ohw + p] = bias[o];
    }
    float beta = bias ? 1.0f : 0.0f;
    if (g.pointwise) {
      if (gz_sgemm_isa(isa, 0, 0, d->oc, g.ohw, d->ic, 1.0f, w, d->ic, xn, g.ohw, beta, yn, g.ohw, gws, gwsb, e))
        return -1;
      continue;
    }
    fwd_packer_ctx q = {d, &g, xn, even_rows(isa)};
    if (gz_sgemm_implicit_isa(isa, 0, d->oc, g.ohw, g.kc, 1.0f, w, g.kc, fwd_packer, &q, beta, yn, g.ohw, gws, gwsb,
                              e))
      return -1;
  }
  return 0;
}

/* Backward data of one image (not pointwise), band by band: col = W^T dy_band, dx (+)= col2im(col). */
static int backward_data_image(int isa, const gz_conv2d *d, const geom *g, const float *dyn, const float *w,
                               float *dxn, int accumulate, float *col, void *gws, size_t gwsb, gz_err *e) {
  for (int oy = 0; oy < g->oh; oy += (int)g->drows) {
    int oy1 = oy + (int)g->drows < g->oh ? oy + (int)g->drows : g->oh;
    long np = (long)(oy1 - oy) * g->ow;
    if (gz_sgemm_isa(isa, 1, 0, g->kc, np, d->oc, 1.0f, w, g->kc, dyn + (long)oy * g->ow, g->ohw, 0.0f, col, np, gws,
                     gwsb, e))
      return -1;
    col_to_dx(d, g, col, np, oy, oy1, dxn, accumulate);
  }
  return 0;
}

/* Backward data of a strided 1x1 conv with whole images per thread (g->dpar): each thread its own band of col
 * (col_floats holds one per thread) and its own one-thread GEMM workspace (gemm_ws). */
static int backward_data_images_parallel(int isa, const gz_conv2d *d, const geom *g, const float *dy, const float *w,
                                         float *dx, int accumulate, float *col, void *gws, gz_err *e) {
  const long xs = (long)d->ic * d->ih * d->iw, ys = (long)d->oc * g->ohw;
  const size_t per = gz_sgemm_workspace_threads(d->ic, g->ohw, d->oc, 1); /* as gemm_ws counts it */
  int failed = 0;
  gz_err first = {0};
#pragma omp parallel for schedule(static)
  for (int n = 0; n < d->n; n++) {
    const int t = omp_get_thread_num();
    gz_err mine = {0};
    if (backward_data_image(isa, d, g, dy + n * ys, w, dx + n * xs, accumulate, col + t * dpar_band(g),
                            (char *)gws + (size_t)t * per, per, &mine))
      keep_first_error(&failed, &first, &mine);
  }
  if (failed && e) *e = first;
  return failed ? -1 : 0;
}

int gz_conv2d_backward_data_isa(int isa, const gz_conv2d *d, const float *dy, const float *w, float *dx,
                                int accumulate, void *workspace, size_t workspace_bytes, gz_err *e) {
  geom g;
  float *col;
  void *gws;
  size_t gwsb;
  if (isa == GZ_ISA_REFERENCE) return gz_conv2d_backward_data_ref(d, dy, w, dx, accumulate, e);
  if (prepare(isa, d, dy, w, dx, workspace, workspace_bytes, &g, &col, &gws, &gwsb, "conv2d backward data", e))
    return -1;
  if (gz_cdir_wanted(isa, d, 1)) {
    gz_cdir_backward_data(isa, d, dy, w, dx, accumulate, workspace);
    return 0;
  }
  if (g.group > 1) return run_groups(isa, 1, d, &g, dy, w, NULL, dx, accumulate, col, gws, gwsb, e);
  const long xs = (long)d->ic * d->ih * d->iw, ys = (long)d->oc * g.ohw;
  if (g.pointwise && !backward_data_split(d, &g) && images_parallel_wanted(d, &g, d->ic))
    return images_parallel(isa, 1, d->ic, g.ohw, d->oc, w, d->ic, dy, ys, NULL, NULL, accumulate ? 1.0f : 0.0f, dx,
                           xs, d->n, gws, e);
  if (g.dpar)
    return backward_data_images_parallel(isa, d, &g, dy, w, dx, accumulate, col, gws, e);
  for (int n = 0; n < d->n; n++) {
    const float *dyn = dy + n * ys;
    float *dxn = dx + n * xs;
    if (g.pointwise) {
      if (gz_sgemm_isa(isa, 1, 0, d->ic, g.ohw, d->oc, 1.0f, w, d->ic, dyn, g.ohw, accumulate ? 1.0f : 0.0f, dxn,
                       g.ohw, gws, gwsb, e))
        return -1;
      continue;
    }
    if (backward_data_image(isa, d, &g, dyn, w, dxn, accumulate, col, gws, gwsb, e)) return -1;
  }
  return 0;
}

/* The weight gradient of a 1x1 stride-2 conv without padding (ResNet's downsampling shortcuts) on AVX-512: per
 * image dW (+)= dy_n B with B's panels packed from x_n by gz_gemm_packb_t_s2_avx512, where the banded path wrote
 * the subsampled image (im2col) to memory and packed it again by transposes. */
typedef struct {
  const float *x;
  long cs, rs, ow, k; /* floats between channel planes, between the input rows of output rows; output width, pixels */
} s2t_ctx;

static void s2t_packer(const void *vctx, long p0, long kcb, long j0, long ncb, int nr, float *dst) {
  const s2t_ctx *q = vctx;
  (void)nr; /* GZ_GEMM_NR_AVX512 */
  gz_gemm_packb_t_s2_avx512(q->x, q->cs, q->rs, q->ow, q->k, j0, ncb, p0, kcb, dst);
}

/* dw[o][i] (+)= dwt[i][o] (dw oc x ic), in 32 x 32 blocks: whole lines of dwt read per block, where the plain
 * loop read one float per line. */
static void add_transposed(long oc, long ic, const float *dwt, float *dw, int accumulate) {
#pragma omp parallel for schedule(static)
  for (long o0 = 0; o0 < oc; o0 += 32)
    for (long i0 = 0; i0 < ic; i0 += 32)
      for (long o = o0; o < o0 + 32 && o < oc; o++)
        for (long i = i0; i < i0 + 32 && i < ic; i++)
          dw[o * ic + i] = accumulate ? dw[o * ic + i] + dwt[i * oc + o] : dwt[i * oc + o];
}

/* dW (+)= sum over the pixel chunks of dy_chunk x_chunk^T (SPLIT_PIXELS): one one-thread GEMM per chunk into
 * its partial, then the partials added in chunk order, element by element. */
static int backward_weights_split(int isa, const gz_conv2d *d, const geom *g, const float *x, const float *dy,
                                  float *dw, int accumulate, void *ws, gz_err *e) {
  /* The wider of dy and x is the GEMM's A, read in its own row layout; the narrower is transposed into B's panels
   * (gemm.c): with ic > oc each partial is dW^T = x dy^T. */
  const int tr = wgrad_transposed(isa, d, g->ohw);
  const long M = tr ? d->ic : d->oc, N = tr ? d->oc : d->ic, MN = M * N;
  const long cpi = (g->ohw + SPLIT_PIXELS - 1) / SPLIT_PIXELS;
  const long xs = (long)d->ic * g->ohw, ys = (long)d->oc * g->ohw;
  float *part = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
  char *gws = (char *)(part + round16(g->nsplit * MN));
  const size_t per = gz_sgemm_workspace_threads(M, N, SPLIT_PIXELS, 1);
  int failed = 0;
  gz_err first = {0};
#pragma omp parallel for schedule(static)
  for (long c = 0; c < g->nsplit; c++) {
    const long n = c / cpi, p0 = c % cpi * SPLIT_PIXELS, np = g->ohw - p0 < SPLIT_PIXELS ? g->ohw - p0 : SPLIT_PIXELS;
    gz_err mine = {0};
    const float *a = tr ? x + n * xs + p0 : dy + n * ys + p0, *b = tr ? dy + n * ys + p0 : x + n * xs + p0;
    if (gz_sgemm_isa(isa, 0, 1, M, N, np, 1.0f, a, g->ohw, b, g->ohw, 0.0f, part + c * MN, N,
                     gws + (size_t)omp_get_thread_num() * per, per, &mine))
      keep_first_error(&failed, &first, &mine);
  }
  if (failed) {
    if (e) *e = first;
    return -1;
  }
  /* dW[o][i] = (dW or 0) + part_0 + part_1 + ... in chunk order, in 16 x 16 blocks of dW: with the partials
   * transposed (part[i][o]) a block reads 16 lines per partial, each for 16 of its rows, where a run along
   * dW's rows read a new line per element and partial. */
  const long oc = d->oc, ic = d->ic;
#pragma omp parallel for schedule(static)
  for (long o0 = 0; o0 < oc; o0 += 16)
    for (long i0 = 0; i0 < ic; i0 += 16)
      for (long o = o0; o < o0 + 16 && o < oc; o++)
        for (long i = i0; i < i0 + 16 && i < ic; i++) {
          const long pi = tr ? i * oc + o : o * ic + i;
          float v = accumulate ? dw[o * ic + i] : 0.0f;
          for (long c = 0; c < g->nsplit; c++) v += part[c * MN + pi];
          dw[o * ic + i] = v;
        }
  return 0;
}

/* dbias[o] (+)= the sum of dy over images and pixels, in double, one thread per channel. Pixel i of each image
 * goes to lane i mod 8 (images in order) and the lanes are added pairwise at the end: the same sum for any team
 * and any fast ISA. One running sum was a chain of dependent adds, an add's latency per
 * float: 0.7-1 ms on top of the 14.5 ms of the decoder's 128 -> 64 weight gradient at 128^2 (2 threads);
 * 8 chains read at memory speed. */
static void bias_gradient(const gz_conv2d *d, long ohw, const float *dy, float *dbias, int accumulate) {
  const long ys = (long)d->oc * ohw;
#pragma omp parallel for schedule(static)
  for (int o = 0; o < d->oc; o++) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int n = 0; n < d->n; n++) {
      const float *p = dy + n * ys + (long)o * ohw;
      long i = 0;
      for (; i + 8 <= ohw; i += 8)
        for (int k = 0; k < 8; k++) l[k] += p[i + k];
      for (; i < ohw; i++) l[i & 7] += p[i];
    }
    const double s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    dbias[o] = accumulate ? dbias[o] + (float)s : (float)s;
  }
}

int gz_conv2d_backward_weights_isa(int isa, const gz_conv2d *d, const float *x, const float *dy, float *dw,
                                   float *dbias, int accumulate, void *workspace, size_t workspace_bytes, gz_err *e) {
  geom g;
  float *col;
  void *gws;
  size_t gwsb;
  if (isa == GZ_ISA_REFERENCE) return gz_conv2d_backward_weights_ref(d, x, dy, dw, dbias, accumulate, e);
  if (prepare(isa, d, x, dy, dw, workspace, workspace_bytes, &g, &col, &gws, &gwsb, "conv2d backward weights", e))
    return -1;
  const long xs = (long)d->ic * d->ih * d->iw, ys = (long)d->oc * g.ohw;
  float beta = accumulate ? 1.0f : 0.0f;
  const int direct = gz_cdir_wanted(isa, d, 2);
  /* Few output channels (the head's 512 -> 10): dot products along the pixels, dy and x read in place; the
   * GEMM packed x^T into panels for only 10 rows (packing 31 % of its time, perf). Threads take 4-column
   * blocks of dW; every element is one sum over all images, in order. 512 -> 10 at 32^2: 105 -> 195 GFLOP/s. */
  const int dot = !direct && isa == GZ_ISA_AVX512 && g.pointwise && g.group == 1 && d->oc <= DOT_MAX_OC;
  if (direct) gz_cdir_backward_weights(isa, d, x, dy, dw, accumulate, workspace);
  else if (dot) {
#pragma omp parallel for schedule(static)
    for (long j = 0; j < d->ic; j += GZ_GEMM_DOT_COLS)
      gz_gemm_dot_avx512(d->oc, j, j + GZ_GEMM_DOT_COLS < d->ic ? j + GZ_GEMM_DOT_COLS : d->ic, g.ohw, d->n, dy, g.ohw,
                         ys, x, g.ohw, xs, dw, d->ic, accumulate);
  } else if (g.group > 1 && run_groups(isa, 2, d, &g, x, NULL, dy, dw, accumulate, col, gws, gwsb, e)) return -1;
  else if (g.nsplit && backward_weights_split(isa, d, &g, x, dy, dw, accumulate, workspace, e)) return -1;
  const int tr = !direct && !dot && g.group == 1 && !g.nsplit && g.pointwise && wgrad_transposed(isa, d, g.ohw);
  float *dwt = tr ? (float *)(((uintptr_t)gws + 63) & ~(uintptr_t)63) : NULL;
  for (int n = 0; n < d->n && tr; n++) { /* dW^T = sum x_n dy_n^T, then dW (+)= its transpose */
    char *gws2 = (char *)gws + dwt_bytes(d);
    if (gz_sgemm_isa(isa, 0, 1, d->ic, d->oc, g.ohw, 1.0f, x + n * xs, g.ohw, dy + n * ys, g.ohw, n ? 1.0f : 0.0f,
                     dwt, d->oc, gws2, gwsb - dwt_bytes(d), e))
      return -1;
    if (n == d->n - 1) add_transposed(d->oc, d->ic, dwt, dw, accumulate);
  }
  const int s2t = s2t_wanted(isa, d);
  for (int n = 0; n < d->n && !direct && !dot && g.group == 1 && !g.nsplit && !tr; n++) {
    const float *xn = x + n * xs, *dyn = dy + n * ys;
    if (g.pointwise) {
      if (gz_sgemm_isa(isa, 0, 1, d->oc, d->ic, g.ohw, 1.0f, dyn, g.ohw, xn, g.ohw, beta, dw, d->ic, gws, gwsb, e))
        return -1;
      beta = 1.0f;
      continue;
    }
    if (wgrad_packed(isa, d, &g)) { /* the whole image, B's panels packed from x */
      const gz_conv_wpack q = wpack_of(d, &g, xn);
      if (gz_sgemm_implicit_rowa_isa(isa, d->oc, g.kc, g.ohw, 1.0f, dyn, g.ohw, gz_conv_im2col_packer_avx512, &q, 0,
                                     beta, dw, g.kc, gws, gwsb, e))
        return -1;
      beta = 1.0f;
      continue;
    }
    if (s2t) { /* the whole image, its B panels packed straight from x */
      const s2t_ctx q = {xn, (long)d->ih * d->iw, (long)d->sh * d->iw, g.ow, g.ohw};
      if (gz_sgemm_implicit_rowa_isa(isa, d->oc, d->ic, g.ohw, 1.0f, dyn, g.ohw, s2t_packer, &q,
                                     g.ohw >= S2T_COLS_MIN_PIXELS, beta, dw, d->ic, gws, gwsb, e))
        return -1;
      beta = 1.0f;
      continue;
    }
    for (int oy = 0; oy < g.oh; oy += (int)g.brows) {
      int oy1 = oy + (int)g.brows < g.oh ? oy + (int)g.brows : g.oh;
      long np = (long)(oy1 - oy) * g.ow;
      im2col(isa, d, &g, xn, oy, oy1, col, np);
      if (gz_sgemm_isa(isa, 0, 1, d->oc, g.kc, np, 1.0f, dyn + (long)oy * g.ow, g.ohw, col, np, beta, dw, g.kc, gws,
                       gwsb, e))
        return -1;
      beta = 1.0f;
    }
  }
  if (dbias) bias_gradient(d, g.ohw, dy, dbias, accumulate);
  return 0;
}

/* ------------------------------------------------------------------ dispatch */

int gz_conv2d_forward(const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y,
                      void *workspace, size_t workspace_bytes, gz_err *e) {
  int isa;
  if (gz_isa_active(&isa, e)) return -1;
  return gz_conv2d_forward_isa(isa, d, x, w, bias, y, workspace, workspace_bytes, e);
}

int gz_conv2d_backward_data(const gz_conv2d *d, const float *dy, const float *w, float *dx, int accumulate,
                            void *workspace, size_t workspace_bytes, gz_err *e) {
  int isa;
  if (gz_isa_active(&isa, e)) return -1;
  return gz_conv2d_backward_data_isa(isa, d, dy, w, dx, accumulate, workspace, workspace_bytes, e);
}

int gz_conv2d_backward_weights(const gz_conv2d *d, const float *x, const float *dy, float *dw, float *dbias,
                               int accumulate, void *workspace, size_t workspace_bytes, gz_err *e) {
  int isa;
  if (gz_isa_active(&isa, e)) return -1;
  return gz_conv2d_backward_weights_isa(isa, d, x, dy, dw, dbias, accumulate, workspace, workspace_bytes, e);
}

double gz_conv2d_macs(const gz_conv2d *d) {
  int oh = 0, ow = 0;
  if (gz_conv2d_out(d, &oh, &ow, NULL)) return 0;
  return (double)d->n * d->oc * oh * ow * (double)d->ic * d->kh * d->kw;
}
