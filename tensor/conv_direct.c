/* Blocked direct convolution (docs/kernels.md): forward and backward data without im2col.
 *
 * Per image, the source (x forward, dy backward data) is copied once into a blocked, zero-padded
 * layout [channel block of 16][padded row][padded column][16] (tensor/conv_direct_avx512.c), and the
 * weights into slabs [group of 32 output channels][channel block][tap][16][32]. The register tile
 * (conv_direct_avx512.c) then reads both in place: no per-tile packing.
 *
 * Backward data is a convolution too. Split dx into sh x sw phase classes (iy = a sh + ry, ix = b sw
 * + rx): each class is a stride-1 convolution of dy with the taps i = ry + ph (mod sh), j likewise,
 * weights transposed (w[o][c][i][j] with dy's channels as input), at dy row a + (ry + ph - i) / sh.
 * Stride 1 is one class with all taps (the usual flipped kernel); a 3x3 stride-2 conv has classes of
 * 1, 2, 2 and 4 taps. A class without taps (1x1 stride 2: odd rows or columns) gets zeros.
 *
 * Threads take (group of output channels, class row) items of one image, each doing that row of every
 * class, claimed (tensor/claim.h: each thread its static range first, then the tails of the others);
 * each output element is written by one tile with one fixed sum, so results do not depend on the
 * thread count or on who took which item. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "tensor/claim.h"
#include "tensor/kernels.h"

static int method = GZ_CONV_AUTO;

void gz_conv2d_set_method(int m) { method = m; }

static long cdiv(long a, long b) { return (a + b - 1) / b; }

/* One phase class: its taps and where its output pixels and their inputs lie. */
typedef struct {
  int ntap, ry, rx;
  int tsrc[GZ_CDIR_MAX_TAPS];                     /* kernel tap (i, j) of each entry, as i kw + j */
  long toff[GZ_CDIR_MAX_TAPS];                    /* its input offset in the blocked image (floats) */
  long na_y, na_x;                                /* output rows and columns of the class */
  long wofs;                                      /* its weight slab in the workspace (floats) */
} cls;

/* The whole plan for one direction. Kernel input: C channels of H x W placed at (top, left) in a
 * Hp x Wp frame. Output: OC channels of OH x OW; class pixel (a, b) is output (a*oys + ry, b*oxs + rx)
 * and reads input (a*iys + top0, b*ixs + left0) plus the tap offset. */
typedef struct {
  int C, H, W, top, left, Hp, Wp, nicb, lanes; /* lanes: channels per block, 16 or 1 (plain planes) */
  int chunk;                                   /* channel blocks summed per pass (run_images) */
  long rows;                                   /* class rows with taps: run_images' item a is row a of each */
  int OC, OH, OW, ngroup;
  int oys, oxs, iys, ixs, top0, left0;
  int ncls, bwd;
  int gblock;                                  /* output-channel groups per block of items (run_images) */
  cls k[4];
  long img_floats, w_floats;
  int nimg;                                    /* frames held at once: every image's, or one (run) */
} plan;

static int ok_sizes(const gz_conv2d *d) {
  return d->kh * d->kw <= GZ_CDIR_MAX_TAPS && d->sh * d->sw <= 4 &&
         !(d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0);
}

/* Every image's frame is made up front, in the same pass as the weight slabs, while all of them together
 * take at most this many floats (6 MB), or at most FRAMES_OUT_CAP floats (16 MB) with one image's output;
 * larger ones go image by image, one frame at a time. Zen 5 VM, 2 threads, interleaved A/B, 3-4 rounds, with
 * all frames up to 12 MB up front: 256 at 64^2 stride 2 forward +3-5 % (8.9 MB of frames, 2 MB of output an
 * image), 64 channels 3x3 at 128^2 -2..+4 %, but the head's 64 -> 10 backward data -3-4 % and the stem's
 * forward -0-1 % (8.5 and 6.4 MB of frames, 16 MB of output an image): the frames of the later images then
 * leave the L3 while the first image's output goes out. */
#define FRAMES_CAP (3L << 19)
#define FRAMES_OUT_CAP (1L << 22)

/* Few input channels (the stem's 3): the forward's frames are plain zero-padded planes, one channel per step,
 * instead of blocks of 16 of which 3 would be busy; the tile's input values are broadcasts, so any layout
 * serves (run; gz_cdir_workspace counts both layouts). */
static int plain_frames(const gz_conv2d *d, int bwd) { return !bwd && d->ic < 16; }

static void make_plan(const gz_conv2d *d, int bwd, int lanes, plan *p) {
  int oh, ow;
  gz_conv2d_out(d, &oh, &ow, NULL);
  memset(p, 0, sizeof *p);
  p->bwd = bwd, p->lanes = lanes;
  if (!bwd) {
    p->C = d->ic, p->H = d->ih, p->W = d->iw, p->top = d->ph, p->left = d->pw;
    p->Hp = d->ih + 2 * d->ph, p->Wp = d->iw + 2 * d->pw;
    p->OC = d->oc, p->OH = oh, p->OW = ow;
    p->oys = p->oxs = 1, p->iys = d->sh, p->ixs = d->sw;
    p->ncls = 1;
    cls *c = &p->k[0];
    c->na_y = oh, c->na_x = ow;
    for (int i = 0; i < d->kh; i++)
      for (int j = 0; j < d->kw; j++) c->tsrc[c->ntap++] = i * d->kw + j;
  } else {
    p->C = d->oc, p->H = oh, p->W = ow;
    p->OC = d->ic, p->OH = d->ih, p->OW = d->iw;
    p->oys = d->sh, p->oxs = d->sw, p->iys = p->ixs = 1;
    /* padding: the most negative dy row offset (ry + ph - i) / sh over all classes and taps */
    int pt = 0, pl = 0;
    for (int i = 0; i < d->kh; i++)
      for (int r = 0; r < d->sh; r++)
        if ((r + d->ph - i) % d->sh == 0 && -(r + d->ph - i) / d->sh > pt) pt = -(r + d->ph - i) / d->sh;
    for (int j = 0; j < d->kw; j++)
      for (int r = 0; r < d->sw; r++)
        if ((r + d->pw - j) % d->sw == 0 && -(r + d->pw - j) / d->sw > pl) pl = -(r + d->pw - j) / d->sw;
    p->top = p->top0 = pt, p->left = p->left0 = pl;
    p->Hp = pt + oh, p->Wp = pl + ow;
    for (int ry = 0; ry < d->sh; ry++)
      for (int rx = 0; rx < d->sw; rx++) {
        cls *c = &p->k[p->ncls++];
        c->ry = ry, c->rx = rx;
        c->na_y = ry < d->ih ? cdiv(d->ih - ry, d->sh) : 0;
        c->na_x = rx < d->iw ? cdiv(d->iw - rx, d->sw) : 0;
        /* taps from the last: their dy offsets then ascend, as in the forward. In the natural order the
         * tile walked its input backwards and backward data ran 10-25 % slower than the forward of the same
         * shape (3x3 stride 1, 64-256 channels: 279 -> 332, 316 -> 388 GFLOP/s; measured, not explained) */
        for (int i = d->kh - 1; i >= 0; i--)
          for (int j = d->kw - 1; j >= 0; j--)
            if ((ry + d->ph - i) % d->sh == 0 && (rx + d->pw - j) % d->sw == 0) {
              c->tsrc[c->ntap++] = i * d->kw + j;
              /* the frame must hold the last row and column this tap reads */
              long yr = c->na_y - 1 + (ry + d->ph - i) / d->sh + pt + 1;
              long xr = c->na_x - 1 + (rx + d->pw - j) / d->sw + pl + 1;
              if (c->na_y > 0 && yr > p->Hp) p->Hp = (int)yr;
              if (c->na_x > 0 && xr > p->Wp) p->Wp = (int)xr;
            }
      }
  }
  p->nicb = (int)cdiv(p->C, lanes);
  p->chunk = lanes == 16 ? GZ_CDIR_CHUNK : p->nicb; /* plain planes (the stem's 3 channels): one pass */
  p->ngroup = (int)cdiv(p->OC, 32);
  p->img_floats = cdiv((long)p->nicb * p->Hp * p->Wp * lanes, 16) * 16; /* the weight slabs follow, aligned */
  const long all = (long)d->n * p->img_floats, out = (long)p->OC * p->OH * p->OW;
  p->nimg = all <= FRAMES_CAP || all + out <= FRAMES_OUT_CAP ? d->n : 1;
  long wofs = 0;
  for (int q = 0; q < p->ncls; q++) {
    cls *c = &p->k[q];
    for (int t = 0; t < c->ntap; t++) {
      int i = c->tsrc[t] / d->kw, j = c->tsrc[t] % d->kw;
      long dyr = bwd ? (c->ry + d->ph - i) / d->sh : i, dxc = bwd ? (c->rx + d->pw - j) / d->sw : j;
      c->toff[t] = (dyr * p->Wp + dxc) * lanes;
    }
    c->wofs = wofs;
    wofs += (long)p->ngroup * p->nicb * c->ntap * lanes * 32;
    if (c->ntap > 0 && c->na_y > p->rows) p->rows = c->na_y;
  }
  p->w_floats = wofs;
  /* Groups per block (run_images): as many as have their weight slabs for one chunk (all classes) in L2. */
  gz_gemm_blocking b;
  gz_gemm_blocking_for(GZ_ISA_SCALAR, &b, NULL); /* only the cache sizes are used */
  const long cpc = cdiv(p->nicb, cdiv(p->nicb, p->chunk)); /* blocks per chunk, as run_images splits them */
  long slab = 0;
  for (int q = 0; q < p->ncls; q++) slab += cpc * p->k[q].ntap * lanes * 32 * (long)sizeof(float);
  const long gmax = slab > 0 && b.l2 / slab > 1 ? b.l2 / slab : 1, nblk = cdiv(p->ngroup, gmax);
  p->gblock = (int)cdiv(p->ngroup, nblk); /* blocks of equal size: 8 groups by 3 at most are 3 + 3 + 2 */
}

/* Where class c's weights for output-channel group g start at input block icb (floats into the slabs):
 * [block][tap][lanes][ocw] per group, groups 32 channels apart (ocw = 16 for a last group of at most 16
 * channels). Written by pack_weights, read by the tiles of run_images. */
static long slab_at(const plan *p, const cls *c, int g, int icb) {
  const int ocw = p->OC - g * 32 > 16 ? 32 : 16;
  return c->wofs + ((long)g * p->nicb * 32 + (long)icb * ocw) * c->ntap * p->lanes;
}

/* The register tiles of one ISA (tensor/conv_direct_avx512.c, tensor/conv_direct_avx2.c). */
typedef struct {
  void (*tile)(const gz_cdir_tile *t);
  void (*wtile)(const gz_cdir_wtile *t);
  void (*block_row)(const float *src, int C, int H, int W, int top, int left, int Wp, int icb, int y, float *dst);
  void (*pack_slab)(const float *k0, long sl, long sj, const int *tsrc, int ntap, int lanes, int nl, int nj, int ocw,
                    float *o); /* NULL: the plain loop of pack_weights */
  void (*pack_fwd)(const float *k0, long sj, int khw, int nl, int nj, int ocw, float *o); /* NULL: pack_slab */
} kernels;

static kernels kernels_for(int isa) {
  if (isa == GZ_ISA_AVX512)
    return (kernels){gz_cdir_tile_avx512, gz_cdir_wtile_avx512, gz_cdir_block_row_avx512, gz_cdir_pack_slab_avx512,
                     gz_cdir_pack_fwd_avx512};
  return (kernels){gz_cdir_tile_avx2, gz_cdir_wtile_avx2, gz_cdir_block_row_avx2, NULL, NULL};
}

/* Output channels per weight-gradient tile, as each ISA's tile defines it. */
int gz_cdir_wtile_rows(int isa, int kw, int oc) {
  return isa == GZ_ISA_AVX512 ? gz_cdir_wtile_rows_avx512(kw, oc) : gz_cdir_wtile_rows_avx2(kw, oc);
}

/* Weight gradient: the accumulator [group of NO output channels][channel block][kernel row][NO][kw][16]. */
static long wacc_floats(int isa, const gz_conv2d *d, int nicb) {
  int no = gz_cdir_wtile_rows(isa, d->kw, d->oc);
  return cdiv(d->oc, no) * no * (long)nicb * 16 * d->kh * d->kw;
}

/* Weight gradient for few input channels (AVX-512). x as zero-padded phase planes [channel][column phase
 * r][padded row][Wq], plane r holding the padded columns r, r + sw, r + 2 sw, ...: tap (c, i, j) of output
 * pixel (oy, ox) is plane (c, j % sw), row oy sh + i, column ox + j / sw, so 16 consecutive output pixels
 * are 16 consecutive floats and no im2col is needed. Tiles of GZ_CDIR_PO output channels x GZ_CDIR_PT taps. */
typedef struct {
  int Hp, Wq, ntap, ntg, nog, band;
  long frame, acc; /* floats */
} pplan;

static void make_pplan(const gz_conv2d *d, pplan *q) {
  q->Hp = d->ih + 2 * d->ph, q->Wq = (int)cdiv(d->iw + 2 * d->pw, d->sw);
  q->ntap = d->ic * d->kh * d->kw, q->ntg = (int)cdiv(q->ntap, GZ_CDIR_PT), q->nog = (int)cdiv(d->oc, GZ_CDIR_PO);
  q->frame = cdiv((long)d->ic * d->sw * q->Hp * q->Wq, 16) * 16;
  q->acc = (long)q->nog * q->ntg * GZ_CDIR_PO * GZ_CDIR_PT * 16;
  /* bands: dy rows of all output channels in about 256 KB (read once per tap group, from L2). Copying
   * them with a 64-byte skew between channels (NCHW puts them 4 KB multiples apart) changed nothing. */
  int oh, ow;
  gz_conv2d_out(d, &oh, &ow, NULL);
  q->band = (int)((256L << 10) / ((long)d->oc * ow * 4));
  q->band = q->band < 1 ? 1 : q->band > oh ? oh : q->band;
}

/* Pixel-vector forward (tensor/conv_pvec_avx512.c) for the head's few output channels: 16 pixels per
 * zmm instead of 16 output channels, of which 10 would be busy. Same sums in the same order as the
 * blocked tile (one chunk: at most 256 input channels; blocks of 16, so not the plain planes). */
static int pvec_applies(int isa, const gz_conv2d *d) {
  return isa == GZ_ISA_AVX512 && d->oc <= 12 && d->sh == 1 && d->sw == 1 && d->kw <= GZ_CDIR_PVEC_KW && d->ic >= 16 &&
         d->ic <= 16 * GZ_CDIR_CHUNK;
}

static long pvec_w_floats(const gz_conv2d *d) { return cdiv(d->ic, 16) * 16 * d->kh * d->kw * d->oc; }

size_t gz_cdir_workspace(const gz_conv2d *d) {
  int oh, ow;
  if (gz_conv2d_out(d, &oh, &ow, NULL) || !ok_sizes(d)) return 0;
  size_t best = 0;
  /* Blocked frames in both directions; plain planes (run: the forward of fewer than 16 input channels) are
   * smaller per image, but more of them may go up front at once (FRAMES_CAP), so they count too. */
  for (int bwd = 0; bwd < 2; bwd++)
    for (int lanes = 16; lanes >= 1; lanes -= 15) {
      if (lanes == 1 && !plain_frames(d, bwd)) continue;
      plan p;
      make_plan(d, bwd, lanes, &p);
      long extra = 0; /* weight gradient: forward's frame and the accumulator of either ISA */
      for (int isa = GZ_ISA_AVX2; !bwd && lanes == 16 && d->kw <= 7 && isa <= GZ_ISA_AVX512; isa++)
        if (wacc_floats(isa, d, p.nicb) > extra) extra = wacc_floats(isa, d, p.nicb);
      const long wb = p.nimg * p.img_floats + p.w_floats, wg = p.img_floats + extra;
      size_t b = (size_t)(wb > wg ? wb : wg) * sizeof(float) + 128;
      if (b > best) best = b;
    }
  if (d->ic < 16) {
    pplan q;
    make_pplan(d, &q);
    size_t b = (size_t)(q.frame + q.acc) * sizeof(float) + 128;
    if (b > best) best = b;
  }
  if (pvec_applies(GZ_ISA_AVX512, d) && (size_t)pvec_w_floats(d) * sizeof(float) + 128 > best)
    best = (size_t)pvec_w_floats(d) * sizeof(float) + 128;
  return best;
}

int gz_cdir_wanted(int isa, const gz_conv2d *d, int direction) {
  if (isa < GZ_ISA_AVX2 || method == GZ_CONV_GEMM || !ok_sizes(d)) return 0;
  if (direction == 2 && d->kw > 7) return 0;
  if (method == GZ_CONV_DIRECT) return 1;
  /* Measured per shape (docs/kernels.md): the implicit GEMM stays ahead for 1x1 convs (strided ones
   * included), for the backward passes of few input channels, and for weight gradients over more than 256
   * output channels on images under 64x64 (the dy bands outgrow L2 there, while the GEMM's K is long). */
  if (d->kh * d->kw == 1) return 0;
  /* Few input channels (the stem): the forward on plain planes wins on both ISAs (0.56x the GEMM's time
   * on AVX-512, 0.64x on AVX2), the weight gradient on phase planes on AVX-512 (0.76-0.89x); backward data
   * would use 3 of 16 lanes of a block and stays on the GEMM (direct 2-3.6x slower). */
  if (d->ic < 16) return direction == 0 || (direction == 2 && isa == GZ_ISA_AVX512);
  /* AVX2 (measured with GAZELOC_ISA=avx2, docs/kernels.md): the 6 x 16 tile wins forward up to 512 input
   * channels; both backward passes only up to 128 output channels (beyond, the GEMM's longer K wins). */
  if (isa == GZ_ISA_AVX2) return direction == 0 ? d->ic <= 512 : d->oc <= 128;
  int oh, ow;
  gz_conv2d_out(d, &oh, &ow, NULL);
  /* Over 256 channels summed on images under 64x64 (the direct method sums them in L2-sized chunks,
   * run_images): forward and backward data are direct. Since the weight slabs are packed by gathers
   * (gz_cdir_pack_slab_avx512) the direct method wins every such shape of the model (interleaved A/B on 2
   * threads, 2026-12-06, GFLOP/s GEMM -> direct): 512 at 16^2 forward 274 -> 377, backward data 308 -> 346;
   * strided 512 at 32^2 forward 274 -> 340, backward data 278 -> 298 (8-pixel tiles); Block 5's backward data
   * 296 -> 397. The weight gradient stays on the GEMM (355 -> 290, 321 -> 301). */
  return direction != 2 || (long)oh * ow >= 4096 || d->oc <= 256;
}

/* One padded row of one channel plane (the plain layout, lanes = 1): dst[x] for x in [0, Wp). */
static void plain_row(const float *src, int C, int H, int W, int top, int left, int Wp, int c, int y, float *dst) {
  const int sy = y - top;
  memset(dst, 0, sizeof(float) * (size_t)Wp);
  if (c < C && sy >= 0 && sy < H) memcpy(dst + left, src + ((long)c * H + sy) * W, sizeof(float) * (size_t)W);
}

/* Weight slabs: class q, group g, [channel block][tap][lanes input channels][ocb*16 output channels],
 * zero past the channel counts. Forward: w[co][ci][i][j]; backward data: w[ci][co][i][j] (dy's
 * channels are the input). Items (group, channel block). AVX-512: the forward by register transposes
 * of 16 kernel rows (gz_cdir_pack_fwd_avx512), backward data row by row (there the kernels of a row lie
 * side by side): 3x3 by permutes of the row's 288 floats, others by gathers of 16 kernels' taps; the
 * plain loop (AVX2) reads whole kh x kw kernels in
 * the order in which they lie in w (forward: ci fastest, backward data: co fastest) and scatters their
 * taps into the item's slab
 * (a few KB, in L1). Scalar, either costs about 4 cycles per float: 18 % of a 512-channel 3x3 stride-2
 * forward at batch 2 (9.4 MB of weights for 2.4 GFLOP), 14 % with the gathers, which wait on memory. */
static void pack_item(const kernels *kn, const gz_conv2d *d, const plan *p, const float *w, float *wb, int g, int icb) {
  const int khw = d->kh * d->kw;
  /* the kernel of (lane l, column j) of item (g, icb) starts at w + (icb lanes + l) sl + (g 32 + j) sj */
  const long sl = p->bwd ? (long)d->ic * khw : khw, sj = p->bwd ? khw : (long)d->ic * khw;
  const int ocw = p->OC - g * 32 > 16 ? 32 : 16, n = p->lanes * ocw;
  const float *k0 = w + (long)icb * p->lanes * sl + (long)g * 32 * sj;
  const int nl = p->C - icb * p->lanes < p->lanes ? p->C - icb * p->lanes : p->lanes; /* rows and columns */
  const int nj = p->OC - g * 32 < ocw ? p->OC - g * 32 : ocw;                        /* with weights */
  /* The item reads runs of w that lie far apart (forward: nj runs of nl khw floats, sj apart; backward
   * data: nl runs of nj khw floats, sl apart), each too short for the hardware to fetch ahead, and the
   * packer's loads of one run waited for the last run's permutes: all of the item's lines are asked for
   * first (into L2), so that their misses overlap. 512 -> 512 backward data at 16^2, all items, one
   * thread: 1.5-2.2 -> 0.8-1.0 ms; whole calls on 2 threads (interleaved, GFLOP/s) 197 -> 198-207
   * (backward data), 204 -> 209 (forward). */
  {
    const int nrun = p->bwd ? nl : nj;
    const long stride = p->bwd ? sl : sj, len = (long)(p->bwd ? nj : nl) * khw;
    for (int r = 0; r < nrun; r++)
      for (long f = 0; f < len; f += 16) __builtin_prefetch(k0 + r * stride + f, 0, 2);
  }
  if (!p->bwd && p->lanes == 16 && kn->pack_fwd) { /* one class, taps in kernel order (make_plan) */
    kn->pack_fwd(k0, sj, khw, nl, nj, ocw, wb + slab_at(p, &p->k[0], g, icb));
    return;
  }
  if (kn->pack_slab && 31 * sj < (1L << 31)) { /* gathers: 32-bit indices */
    for (int q = 0; q < p->ncls; q++)
      kn->pack_slab(k0, sl, sj, p->k[q].tsrc, p->k[q].ntap, p->lanes, nl, nj, ocw, wb + slab_at(p, &p->k[q], g, icb));
    return;
  }
  for (int u = 0; u < n; u++) {
    const int l = p->bwd ? u / ocw : u % p->lanes, j = p->bwd ? u % ocw : u / p->lanes;
    const int in = l < nl && j < nj;
    const float *k = k0 + l * sl + j * sj;
    for (int q = 0; q < p->ncls; q++) {
      const cls *c = &p->k[q];
      float *o = wb + slab_at(p, c, g, icb) + (long)l * ocw + j;
      for (int t = 0; t < c->ntap; t++) o[(long)t * n] = in ? k[c->tsrc[t]] : 0.0f;
    }
  }
}

/* Every item's slab, shared by all threads (no barrier at the end). */
static void pack_weights(const kernels *kn, const gz_conv2d *d, const plan *p, const float *w, float *wb) {
#pragma omp for collapse(2) schedule(static) nowait
  for (int g = 0; g < p->ngroup; g++)
    for (int icb = 0; icb < p->nicb; icb++) pack_item(kn, d, p, w, wb, g, icb);
}

/* Frame rows handed out per claim (make_frames): a row is a few KB, a claim an atomic operation. */
#define FRAME_ROWS_PER_CLAIM 8

/* The claims of make_frames for nn images, `threads` threads. */
static void frames_claim(gz_claim *c, const plan *p, int nn, int threads) {
  gz_claim_init(c, (long)nn * p->nicb * p->Hp, threads, FRAME_ROWS_PER_CLAIM);
}

/* The frames of the images from n0 on (source blocked), their rows claimed from c (frames_claim: how many
 * images); no barrier at the end. */
static void make_frames(const kernels *kn, const plan *p, const float *src, int n0, float *img, gz_claim *c) {
  const long ss = (long)p->C * p->H * p->W;
  for (long lo, hi; gz_claim_next(c, omp_get_thread_num(), &lo, &hi);)
    for (long r = lo; r < hi; r++) { /* image k, channel block icb, padded row y */
      const int y = (int)(r % p->Hp), icb = (int)(r / p->Hp % p->nicb), k = (int)(r / p->Hp / p->nicb);
      float *row = img + k * p->img_floats + ((long)icb * p->Hp + y) * p->Wp * p->lanes;
      (p->lanes == 1 ? plain_row : kn->block_row)(src + (n0 + k) * ss, p->C, p->H, p->W, p->top, p->left, p->Wp, icb,
                                                  y, row);
    }
}

/* Row a of every class of image k, output-channel group g, input blocks cb0 .. cb1 - 1 (one chunk; the
 * bias goes in with the first, later chunks add to the stored output). */
static void row_tiles(const kernels *kn, const plan *p, long k, long a, int g, int cb0, int cb1, const float *wb,
                      const float *bias, float *out, int accumulate, const float *img) {
  const long ohw = (long)p->OH * p->OW, os = (long)p->OC * ohw;
  for (int q = 0; q < p->ncls; q++) {
    const cls *c = &p->k[q];
    if (c->ntap == 0 || a >= c->na_y) continue;
    const int noc = p->OC - g * 32 < 32 ? p->OC - g * 32 : 32, ocb = noc > 16 ? 2 : 1;
    gz_cdir_tile t = {.icbs = (long)p->Hp * p->Wp * p->lanes, .nicb = cb1 - cb0, .ntap = c->ntap, .s = p->ixs,
                      .lanes = p->lanes, .toff = c->toff, .noc = noc, .ocb = ocb,
                      .lastl = cb1 == p->nicb ? p->C - (p->nicb - 1) * p->lanes : p->lanes,
                      .w = wb + slab_at(p, c, g, cb0), .chs = ohw, .ops = p->oxs, .accumulate = accumulate,
                      .bias = bias && cb0 == 0 ? bias + g * 32 : NULL};
    const long pxmax = ocb == 2 ? 12 : 24, nt = cdiv(c->na_x, pxmax);
    const float *irow = img + k * p->img_floats + (long)cb0 * t.icbs +
                        ((a * p->iys + p->top0) * p->Wp + p->left0) * p->lanes;
    float *orow = out + k * os + (long)g * 32 * ohw + (a * p->oys + c->ry) * p->OW + c->rx;
    for (long tt = 0; tt < nt; tt++) { /* equal tiles: 16 pixels are 8 + 8, not 12 + 4 */
      long b0 = c->na_x * tt / nt, b1 = c->na_x * (tt + 1) / nt;
      t.px = (int)(b1 - b0);
      t.in = irow + b0 * p->ixs * p->lanes;
      t.out = orow + b0 * p->oxs;
      kn->tile(&t);
    }
  }
}

/* The claims of run_images' one-chunk items for nn images, `threads` threads. */
static void tiles_claim(gz_claim *c, const plan *p, int nn, int threads) {
  gz_claim_init(c, (long)nn * p->rows * p->ngroup, threads, 1);
}

/* nn images whose frames are made: every class's tiles. */
static void run_images(const kernels *kn, const plan *p, int nn, const float *wb, const float *bias, float *out,
                       int accumulate, const float *img, gz_claim *claim) {
  const long ohw = (long)p->OH * p->OW, os = (long)p->OC * ohw;
  for (int q = 0; q < p->ncls; q++) {
    const cls *c = &p->k[q];
    if (c->ntap > 0 || accumulate) continue;
#pragma omp for collapse(3) schedule(static) nowait
    for (int k = 0; k < nn; k++)
      for (int o = 0; o < p->OC; o++) /* no tap reaches these outputs */
        for (long a = 0; a < c->na_y; a++)
          for (long b = 0; b < c->na_x; b++)
            out[k * os + o * ohw + (a * p->oys + c->ry) * p->OW + b * p->oxs + c->rx] = 0.0f;
  }
  /* One loop over all classes, no barrier between them: each class's tile writes only its own pixels
   * (masked or scalar stores, never a load + merge of a neighbour's), so the classes of one item may
   * share cache lines, and an item writes its dx rows whole while they are in cache. With one channel
   * chunk the items are claimed (tensor/claim.h): each thread starts on the items a static schedule gave it,
   * and a thread that is done takes the others' last items, where a slower core or a colder cache held them.
   * Channel chunks (p->chunk blocks each, from the shape only): every item's tiles sum one chunk, the
   * next chunk adds to the stored output, so a group's weight slab for one chunk stays in L2 over all
   * rows instead of being streamed from L3 once per row (3072 channels: 3.5 MB per group). No barrier
   * between chunks: schedule(static) gives each thread the same items in every chunk, so an output is
   * read and written by one thread in chunk order.
   * Item order: the groups go in blocks whose slabs fit in L2 together (make_plan), and within a block
   * image by image, row by row, every group of the block for a row before the next row, so the row's
   * input is read from memory once per block instead of once per group; the block's slabs stay in L2.
   * Measured on Zen 4 (2 threads, interleaved medians, GFLOP/s, group-major order -> blocks): 128 channels
   * 3x3 stride 2 at 128^2 forward 109 -> 151 (blocks of 2) -> 174 (one block of 4, slabs sized by the
   * blocks a chunk really has), 256 stride 2 at 64^2 forward 136 -> 170 (blocks of 3), 256 at 32^2
   * forward 194 -> 212, 512 -> 128 at 64^2 forward 192 -> 205; the others within noise (3072 at 32^2
   * 210 -> 210). Which thread owns an output stays fixed by the shape. */
  const int nchunk = (int)cdiv(p->nicb, p->chunk);
  if (nchunk == 1) { /* the same items in the same order, claimed (tensor/claim.h): block, image and row, group */
    const long per = nn * p->rows, full = per * p->gblock;
    for (long lo, hi; gz_claim_next(claim, omp_get_thread_num(), &lo, &hi);)
      for (long i = lo; i < hi; i++) {
        const int g0 = (int)(i / full) * p->gblock, ng = p->ngroup - g0 < p->gblock ? p->ngroup - g0 : p->gblock;
        const long ka = i % full / ng;
        row_tiles(kn, p, ka / p->rows, ka % p->rows, g0 + (int)(i % full % ng), 0, p->nicb, wb, bias, out, accumulate,
                  img);
      }
    return;
  }
  for (int ch = 0; ch < nchunk; ch++) {
    const int cb0 = (int)((long)p->nicb * ch / nchunk), cb1 = (int)((long)p->nicb * (ch + 1) / nchunk);
    for (int g0 = 0; g0 < p->ngroup; g0 += p->gblock) {
      const int ng = p->ngroup - g0 < p->gblock ? p->ngroup - g0 : p->gblock;
#pragma omp for collapse(2) schedule(static) nowait
      for (long ka = 0; ka < nn * p->rows; ka++) /* image k, row a of every class: dx rows a sh .. a sh + sh - 1 */
        for (int g = g0; g < g0 + ng; g++) row_tiles(kn, p, ka / p->rows, ka % p->rows, g, cb0, cb1, wb, bias, out,
                                                      accumulate || ch > 0, img);
    }
  }
}

static void run(int isa, const gz_conv2d *d, int bwd, const float *src, const float *w, const float *bias,
                float *out, int accumulate, void *ws) {
  const kernels kn = kernels_for(isa);
  plan p;
  make_plan(d, bwd, plain_frames(d, bwd) ? 1 : 16, &p);
  float *img = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63), *wb = img + p.nimg * p.img_floats;
  const long os = (long)p.OC * p.OH * p.OW;
  /* Slabs and frames in one pass, one barrier; with every image's frame made, the tiles of all images
   * follow without a barrier between images (each one cost the faster thread a wait). */
  gz_claim fclaim, tclaim; /* frame rows; tiles' items (run_images) */
  frames_claim(&fclaim, &p, p.nimg, omp_get_max_threads());
  tiles_claim(&tclaim, &p, p.nimg, omp_get_max_threads());
#pragma omp parallel
  {
    pack_weights(&kn, d, &p, w, wb);
    for (int n = 0; n < d->n; n += p.nimg) {
      if (n > 0) {
#pragma omp barrier /* before the next image overwrites the frame */
#pragma omp single
        {
          frames_claim(&fclaim, &p, p.nimg, omp_get_num_threads());
          tiles_claim(&tclaim, &p, p.nimg, omp_get_num_threads());
        }
      }
      make_frames(&kn, &p, src, n, img, &fclaim);
#pragma omp barrier
      run_images(&kn, &p, p.nimg, wb, bias, out + n * os, accumulate, img, &tclaim);
    }
  }
}

static void pvec_forward(const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y, void *ws) {
  float *wp = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
  int oh, ow;
  gz_conv2d_out(d, &oh, &ow, NULL);
  const int kh = d->kh, kw = d->kw, oc = d->oc, nicb = (int)cdiv(d->ic, 16);
  const long xs = (long)d->ic * d->ih * d->iw, ys = (long)oc * oh * ow;
  gz_claim claim;
  gz_claim_init(&claim, (long)d->n * oh, omp_get_max_threads(), 1);
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int cb = 0; cb < nicb; cb++) /* wp[cb][i][j][l][o] = w[o][cb 16 + l][i][j], zeros past ic */
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++)
          for (int l = 0; l < 16; l++)
            for (int o = 0; o < oc; o++) {
              const int c = cb * 16 + l;
              wp[((((long)cb * kh + i) * kw + j) * 16 + l) * oc + o] =
                  c < d->ic ? w[(((long)o * d->ic + c) * kh + i) * kw + j] : 0.0f;
            }
    /* rows claimed (tensor/claim.h), image by image: the weights' copy above ends in a barrier */
    for (long lo, hi; gz_claim_next(&claim, omp_get_thread_num(), &lo, &hi);)
      for (long r = lo; r < hi; r++) {
        const int n = (int)(r / oh), oy = (int)(r % oh);
        gz_cdir_prow t = {.x = x + n * xs, .wp = wp, .bias = bias, .y = y + n * ys + (long)oy * ow, .c = d->ic,
                          .h = d->ih, .w = d->iw, .oc = oc, .kh = kh, .kw = kw, .pw = d->pw, .iy0 = oy - d->ph,
                          .ow = ow, .ohw = (long)oh * ow};
        gz_cdir_pvec_row_avx512(&t);
      }
  }
}

void gz_cdir_forward(int isa, const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y,
                     void *ws) {
  if (pvec_applies(isa, d)) pvec_forward(d, x, w, bias, y, ws);
  else run(isa, d, 0, x, w, bias, y, 0, ws);
}

void gz_cdir_backward_data(int isa, const gz_conv2d *d, const float *dy, const float *w, float *dx, int accumulate,
                           void *ws) {
  run(isa, d, 1, dy, w, NULL, dx, accumulate, ws);
}

static void backward_weights_planes(const gz_conv2d *d, const float *x, const float *dy, float *dw, int accumulate,
                                    void *ws) {
  pplan q;
  make_pplan(d, &q);
  float *fr = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63), *acc = fr + q.frame;
  int oh, ow;
  gz_conv2d_out(d, &oh, &ow, NULL);
  const long ohw = (long)oh * ow, xs = (long)d->ic * d->ih * d->iw, ys = (long)d->oc * ohw, khw = d->kh * d->kw;
  long toff[GZ_CDIR_MAX_TAPS * 16 + GZ_CDIR_PT]; /* every tap, padded to whole groups with tap 0 (not stored) */
  for (long t = 0; t < (long)q.ntg * GZ_CDIR_PT; t++) {
    const long tt = t < q.ntap ? t : 0, c = tt / khw, i = tt / d->kw % d->kh, j = tt % d->kw;
    toff[t] = ((c * d->sw + j % d->sw) * q.Hp + i) * q.Wq + j / d->sw;
  }
  const int band = q.band;
#pragma omp parallel
  {
    for (int n = 0; n < d->n; n++) {
#pragma omp for collapse(2) schedule(static)
      for (int cr = 0; cr < d->ic * d->sw; cr++)
        for (int y = 0; y < q.Hp; y++) {
          const int c = cr / d->sw, r = cr % d->sw, sy = y - d->ph;
          float *o = fr + ((long)cr * q.Hp + y) * q.Wq;
          /* columns k with 0 <= sx = k sw + r - pw < iw; the rest is padding */
          int k0 = 0, k1 = 0;
          if (sy >= 0 && sy < d->ih) {
            k0 = d->pw > r ? (d->pw - r + d->sw - 1) / d->sw : 0;
            k1 = (int)cdiv(d->iw + d->pw - r, d->sw);
            k1 = k1 > q.Wq ? q.Wq : k1 < k0 ? k0 : k1;
          }
          for (int k = 0; k < k0; k++) o[k] = 0.0f;
          if (k1 > k0) {
            const float *src = x + n * xs + ((long)c * d->ih + sy) * d->iw;
            for (int k = k0; k < k1; k++) o[k] = src[(long)k * d->sw + r - d->pw];
          }
          for (int k = k1; k < q.Wq; k++) o[k] = 0.0f;
        }
      for (int oy0 = 0; oy0 < oh; oy0 += band) {
        const int rows = oh - oy0 < band ? oh - oy0 : band;
        /* no barrier between bands: schedule(static) over the same items gives each thread the same
         * tiles, hence the same accumulators, in every band (the barriers cost 10-15 % of the call) */
#pragma omp for collapse(2) schedule(static) nowait
        for (int tg = 0; tg < q.ntg; tg++)
          for (int og = 0; og < q.nog; og++) {
            gz_cdir_ptile t = {.x = fr + (long)oy0 * d->sh * q.Wq, .xrow = (long)d->sh * q.Wq, .ow = ow,
                               .toff = toff + tg * GZ_CDIR_PT, .rows = rows, .first = n == 0 && oy0 == 0,
                               .acc = acc + ((long)og * q.ntg + tg) * GZ_CDIR_PO * GZ_CDIR_PT * 16};
            for (int o = 0; o < GZ_CDIR_PO; o++) { /* past oc: a valid channel, its sums are not stored */
              const int oc = og * GZ_CDIR_PO + o < d->oc ? og * GZ_CDIR_PO + o : d->oc - 1;
              t.dy[o] = dy + n * ys + oc * ohw + (long)oy0 * ow;
            }
            gz_cdir_ptile_avx512(&t);
          }
      }
#pragma omp barrier /* before the next image overwrites the frame */
    }
    /* dw[o][tap] = the 16 lane sums, added in lane order */
#pragma omp for schedule(static)
    for (int o = 0; o < d->oc; o++)
      for (int tap = 0; tap < q.ntap; tap++) {
        const float *a = acc + (((long)(o / GZ_CDIR_PO) * q.ntg + tap / GZ_CDIR_PT) * GZ_CDIR_PO * GZ_CDIR_PT +
                                (o % GZ_CDIR_PO) * GZ_CDIR_PT + tap % GZ_CDIR_PT) * 16;
        float v = 0.0f;
        for (int l = 0; l < 16; l++) v += a[l];
        float *dst = dw + (long)o * q.ntap + tap;
        *dst = accumulate ? *dst + v : v;
      }
  }
}

/* Weight gradient. Per image, x goes into the forward's blocked frame; output rows are cut into bands
 * (their x rows and dy in L2, from the shape only), and each band's sums are added to a blocked
 * accumulator in band order: dw[o][c][i][j] = sum over images, bands, then pixels in order, for any
 * thread count. Items of a band: (input channel block, kernel row, group of output channels). */
void gz_cdir_backward_weights(int isa, const gz_conv2d *d, const float *x, const float *dy, float *dw,
                              int accumulate, void *ws) {
  if (isa == GZ_ISA_AVX512 && d->ic < 16) {
    backward_weights_planes(d, x, dy, dw, accumulate, ws);
    return;
  }
  const kernels kn = kernels_for(isa);
  plan p;
  make_plan(d, 0, 16, &p);
  float *img = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63), *acc = img + p.img_floats;
  const int no = gz_cdir_wtile_rows(isa, d->kw, d->oc), ngo = (int)cdiv(d->oc, no), kh = d->kh, kw = d->kw;
  const long ohw = (long)p.OH * p.OW, ys = (long)d->oc * ohw;
  const long blk = (long)no * kw * 16; /* one item's accumulator */
  /* band: the dy rows of all output channels and the x rows of one channel block in about 512 KB. A
   * thread takes consecutive items, (channel block, kernel row) outer: its x stays in L1, the band's
   * dy in L2. (Bands sized on x instead were 3 rows at 512 channels: too short.) */
  long per_row = ((long)d->oc * p.OW + 16L * d->sh * p.Wp) * 4;
  int band = (int)(((512L << 10) / per_row) > 0 ? (512L << 10) / per_row : 1);
  if (band > p.OH) band = p.OH;
  gz_claim fclaim, bclaim; /* frame rows; a band's items */
  const long nitems = (long)p.nicb * kh * ngo;
  frames_claim(&fclaim, &p, 1, omp_get_max_threads());
#pragma omp parallel
  {
    for (int n = 0; n < d->n; n++) {
      if (n > 0) {
#pragma omp single /* the frame's rows for this image (the last band's barrier: the frame is free) */
        frames_claim(&fclaim, &p, 1, omp_get_num_threads());
      }
      make_frames(&kn, &p, x, n, img, &fclaim);
      for (int oy0 = 0; oy0 < p.OH; oy0 += band) {
        int rows = p.OH - oy0 < band ? p.OH - oy0 : band;
        /* the barrier of the single: the frames are made, the last band's items are done (an item adds to
         * its own accumulator, band after band) */
#pragma omp single
        gz_claim_init(&bclaim, nitems, omp_get_num_threads(), 1);
        for (long lo, hi; gz_claim_next(&bclaim, omp_get_thread_num(), &lo, &hi);)
          for (long it = lo; it < hi; it++) { /* (icb, i, g), g fastest */
            const int g = (int)(it % ngo), i = (int)(it / ngo % kh), icb = (int)(it / ngo / kh);
            gz_cdir_wtile t = {.x = img + (((long)icb * p.Hp + (long)oy0 * d->sh + i) * p.Wp) * 16,
                               .xrow = (long)d->sh * p.Wp * 16, .ow = p.OW, .sw = d->sw, .kw = kw, .rows = rows,
                               .first = n == 0 && oy0 == 0, .no = no,
                               .acc = acc + (((long)g * p.nicb + icb) * kh + i) * blk};
            for (int o = 0; o < no; o++) { /* past oc: a valid channel, its sums are not stored */
              int oc = g * no + o < d->oc ? g * no + o : d->oc - 1;
              t.dy[o] = dy + n * ys + oc * ohw + (long)oy0 * p.OW;
            }
            kn.wtile(&t);
          }
#pragma omp barrier
      }
    }
    /* blocked accumulator -> dw[o][c][i][j], reading the accumulator in its own order (16 channels in a
     * row) and writing dw kh kw floats apart: in dw's order the reads jumped through the 2.4 MB
     * accumulator of a 256-channel 3x3 and waited on memory (3.5 % of a one-thread weight gradient). */
#pragma omp for collapse(2) schedule(static)
    for (int g = 0; g < ngo; g++)
      for (int cb = 0; cb < p.nicb; cb++) {
        const int nc = d->ic - cb * 16 < 16 ? d->ic - cb * 16 : 16, noo = d->oc - g * no < no ? d->oc - g * no : no;
        const long cs = (long)kh * kw; /* dw's channel stride */
        for (int i = 0; i < kh; i++)
          for (int oo = 0; oo < noo; oo++)
            for (int j = 0; j < kw; j++) {
              const float *v = acc + (((long)g * p.nicb + cb) * kh + i) * blk + ((long)oo * kw + j) * 16;
              float *q = dw + ((long)(g * no + oo) * d->ic + cb * 16) * cs + i * kw + j;
              for (int c = 0; c < nc; c++) q[c * cs] = accumulate ? q[c * cs] + v[c] : v[c];
            }
      }
  }
}
