/* Max-pool 3x3 stride 2 (the stem's pool), forward and backward, over ops_fast_body.h's vector abstraction.
 * Included only by ops_fast_body.h, once per ISA. */

#if VW > 1
/* The stem's pool (padding 1) a plane at a time. Its output row oh reads input rows 2oh - 1, 2oh and 2oh + 1,
 * and row 2oh + 1 is also the first row of output row oh + 1: each row is scanned across (3 taps per output,
 * from two deinterleaved loads) once, its result kept for the next output row, and the rows' results combined
 * in order. PyTorch's scan (b replaces a where b > a or b is NaN: the first maximum, or the last NaN) is
 * associative, so that gives its values and indices. The left column's tap 0 and the right column's tap 2 at
 * odd widths are padding: those chunks load -inf there (masked loads, never taken: nothing outside the row is
 * read), and column 0's scan starts at its tap 1. Planes wider than POOL_MAX_OW outputs go in strips of
 * columns; planes narrower than VW outputs go one window at a time (pool_plane). */
#define POOL_MAX_OW 1024 /* per-thread row results on the stack: 4 x 4 KB */

/* VW outputs' row scan: taps 2(o + l) - 1, 2(o + l), 2(o + l) + 1 of row xr (plane row r). edge: at the row's
 * ends, where the loads take -inf outside the row (column -1, and W, W + 1 that the last chunk's loads reach) and
 * output column 0's scan starts at tap 1. */
static inline void SFX(pool_hscan)(const float *xr, int64_t r, int64_t W, int64_t o, int edge, vf *m, vi *k) {
  const int64_t c = 2 * o - 1;
  const vi k0 = VI_ADD(VI_SET1((int32_t)(r * W + c)), VI_IOTA2), k1 = VI_ADD(k0, VI_SET1(1));
  vf t0, t1, t2, unused;
  if (!edge) {
    vdeint(xr + c, &t0, &t1);
    vdeint(xr + c + 2, &t2, &unused);
  } else {
    vdeint_v(vload_cols(xr, c, W), vload_cols(xr, c + VW, W), &t0, &t1);
    vdeint_v(vload_cols(xr, c + 2, W), vload_cols(xr, c + 2 + VW, W), &t2, &unused);
  }
  *m = t0, *k = k0;
  if (edge && o == 0) { /* output column 0: tap 0 is padding; the scan starts at tap 1 (the step below keeps it) */
#if VW == 16
    *m = _mm512_mask_mov_ps(*m, 1, t1), *k = _mm512_mask_mov_epi32(*k, 1, k1);
#else
    *m = _mm256_blend_ps(*m, t1, 1), *k = _mm256_blend_epi32(*k, k1, 1);
#endif
  }
  VPOOL_STEP(*m, *k, t1, k1);
  VPOOL_STEP(*m, *k, t2, VI_ADD(k0, VI_SET1(2)));
}

static int SFX(pool3s2_fwd_plane)(const float *xp, int64_t H, int64_t W, float *yp, int32_t *ip, int64_t OH,
                                  int64_t OW) {
  if (OW < VW) return 0;
  float keep_m[2][POOL_MAX_OW];
  int32_t keep_k[2][POOL_MAX_OW]; /* the last row's scans ([oh & 1]) for the next output row, from column s0 */
  for (int64_t strip = 0; strip < OW; strip += POOL_MAX_OW) {
    const int64_t s1 = strip + POOL_MAX_OW < OW ? strip + POOL_MAX_OW : OW, s0 = s1 - strip < VW ? s1 - VW : strip;
    const int64_t last = s1 - VW; /* the last chunk, overlapping the one before where VW does not divide the strip */
    for (int64_t oh = 0; oh < OH; oh++) {
      const int64_t rb = 2 * oh, rc = 2 * oh + 1;
      float *km = keep_m[oh & 1];
      int32_t *kk = keep_k[oh & 1];
      const float *pm = keep_m[(oh + 1) & 1];
      const int32_t *pk = keep_k[(oh + 1) & 1];
      for (int64_t o = s0;; o = o + VW < last ? o + VW : last) {
        /* the row's ends: column -1, and columns W, W + 1 that the last chunk's loads reach */
        const int edge = o == 0 || 2 * o + 2 * VW + 1 > W;
        /* the two rows that the output row two below adds: short runs that the hardware did not fetch ahead (the
         * row-at-a-time version: one thread, 2x64x256x256, 8.4 -> 4.5-4.9 ms) */
        for (int64_t r = rb + 4; r <= rb + 5; r++)
          for (int l = 0; l < 2 * VW; l += 16) __builtin_prefetch(xp + r * W + 2 * o + l, 0, 3);
        vf m, mb;
        vi k, kb;
        SFX(pool_hscan)(xp + rb * W, rb, W, o, edge, &mb, &kb);
        if (oh > 0) { /* row 2oh - 1, scanned for the output row above */
          m = VLOAD(pm + o - s0), k = VI_LOADU(pk + o - s0);
          VPOOL_STEP(m, k, mb, kb);
        } else {
          m = mb, k = kb;
        }
        if (rc < H) {
          vf mc;
          vi kc;
          SFX(pool_hscan)(xp + rc * W, rc, W, o, edge, &mc, &kc);
          VPOOL_STEP(m, k, mc, kc);
          VSTORE(km + o - s0, mc), VI_STORE(kk + o - s0, kc);
        }
        VSTORE(yp + oh * OW + o, m);
        VI_STORE(ip + oh * OW + o, k);
        if (o == last) break;
      }
    }
  }
  return 1;
}
#define POOL_PLANE SFX(pool3s2_fwd_plane)
#else
#define POOL_PLANE NULL
#endif

static void SFX(maxpool_fwd)(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx) {
  gz_par_maxpool_fwd_stem(x, p, y, idx, POOL_PLANE);
}

/* ---------------------------------------------------------------- backward: a gather */

#if VW > 1
/* The scatter dx[idx[o]] += dy[o] reads and writes dx at random, after a pass that zeroes it, so each dx line
 * crosses the memory bus three times. Here each dx element is made once, from the windows that hold it: with
 * stride 2, row ih lies in the windows of output row ih / 2 and, when odd, of the row after; column iw likewise
 * with output columns iw / 2 and, when odd, iw / 2 + 1. Those are at most 4 windows, visited in output order, and
 * dy is added where the window chose this element, so the sum is the scatter's, bit for bit (a masked add: +0
 * is never added, so -0 stays -0). Every (element, window) pair is visited once, so the number of matches is the
 * number of outputs exactly when every index lies in its own window; otherwise the plane is left to the scatter. */
#if VW == 16
typedef __mmask16 pmask;
#define PM_ALL ((__mmask16)0xffff)
#define PM_FIRST(n) ((__mmask16)((1u << (n)) - 1))
#define VI_LOADN(p, m) _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), m, p) /* lanes off m: -1 */
#define VLOADN(p, m) _mm512_maskz_loadu_ps(m, p)
#define VSTOREN(p, v, m) _mm512_mask_storeu_ps(p, m, v)
#define VI_PERM(v, i) _mm512_permutexvar_epi32(i, v)
#define VF_PERM(v, i) _mm512_permutexvar_ps(i, v)
#define VI_HSUM _mm512_reduce_add_epi32
#define VI_HALF _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)      /* lane l: output iw / 2 */
#define VI_HALF_NEXT _mm512_setr_epi32(0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8) /* (iw + 1) / 2 */
#define PM_ODD(live) ((__mmask16)((live) & 0xaaaa)) /* window iw / 2 + 1 exists for odd iw only */
#define VI_ODD_ONLY(e) (e)
/* v += g in the live lanes where e == p, counting them in hits */
static inline void vadd_where_eq(vf *v, vi *hits, vi e, vi p, vf g, pmask live) {
  __mmask16 m = _mm512_mask_cmpeq_epi32_mask(live, e, p);
  *v = _mm512_mask_add_ps(*v, m, *v, g);
  *hits = _mm512_mask_sub_epi32(*hits, m, *hits, _mm512_set1_epi32(-1));
}
#else /* VW == 8 */
typedef __m256i pmask;
#define PM_ALL _mm256_set1_epi32(-1)
#define PM_FIRST(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), VI_IOTA)
#define VI_LOADN(p, m) _mm256_blendv_epi8(_mm256_set1_epi32(-1), _mm256_maskload_epi32(p, m), m)
#define VLOADN(p, m) _mm256_maskload_ps(p, m)
#define VSTOREN(p, v, m) _mm256_maskstore_ps(p, m, v)
#define VI_PERM(v, i) _mm256_permutevar8x32_epi32(v, i)
#define VF_PERM(v, i) _mm256_permutevar8x32_ps(v, i)
static inline int VI_HSUM(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1)));
}
#define VI_HALF _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)
#define VI_HALF_NEXT _mm256_setr_epi32(0, 1, 1, 2, 2, 3, 3, 4)
#define PM_ODD(live) (live)
#define VI_ODD_ONLY(e) VI_OR(e, _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0)) /* even lanes: index -1 */
static inline void vadd_where_eq(vf *v, vi *hits, vi e, vi p, vf g, pmask live) {
  __m256i m = _mm256_and_si256(_mm256_cmpeq_epi32(e, p), live);
  *v = _mm256_blendv_ps(*v, _mm256_add_ps(*v, g), _mm256_castsi256_ps(m));
  *hits = _mm256_sub_epi32(*hits, m);
}
#endif

/* The two dx candidates that one output row offers VW elements: its VW outputs from the first element's column / 2
 * on, spread to the elements by window iw / 2 (e0, g0) and, odd iw only, window iw / 2 + 1 (e1, g1). */
typedef struct {
  vi e0, e1;
  vf g0, g1;
} SFX(pool_cand);
static inline SFX(pool_cand) SFX(pool_spread)(vi I, vf G) {
  return (SFX(pool_cand)){VI_PERM(I, VI_HALF), VI_ODD_ONLY(VI_PERM(I, VI_HALF_NEXT)), VF_PERM(G, VI_HALF),
                          VF_PERM(G, VI_HALF_NEXT)};
}
static inline void SFX(pool_take)(vf *v, vi *hits, SFX(pool_cand) c, vi pix, pmask live) {
  vadd_where_eq(v, &hits[0], c.e0, pix, c.g0, live);
  vadd_where_eq(v, &hits[1], c.e1, pix, c.g1, PM_ODD(live));
}

/* Stores VW elements of dx (the first ones of mx where the row ends). */
static inline void SFX(pool_put)(float *x, vf v, int full, pmask mx, int stream) {
  if (!full)
    VSTOREN(x, v, mx);
  else if (stream && !((uintptr_t)x & (VW * 4 - 1)))
    VSTREAM(x, v);
  else
    VSTORE(x, v);
}

/* dx rows 2a and, below H, 2a + 1, columns iw .. iw + VW (pix: row 2a's element indices). Row 2a is the middle row
 * of output row a's windows, row 2a + 1 the bottom row of a's and the top row of a + 1's, so a's candidates are
 * spread once for both. full: the rows hold VW whole outputs from iw / 2 on; else mo marks those they hold (the
 * rest load index -1) and mx the dx columns left. */
static inline void SFX(pool_rows)(const float *gp, const int32_t *ip, float *xp, int64_t H, int64_t W, int64_t OH,
                                  int64_t OW, int64_t a, int64_t iw, vi pix, int full, pmask mo, pmask mx, int stream,
                                  vi *hits) {
#define POOL_SPREAD(a)                                                                              \
  SFX(pool_spread)(full ? VI_LOADU(ip + (a) * OW + iw / 2) : VI_LOADN(ip + (a) * OW + iw / 2, mo), \
                   full ? VLOAD(gp + (a) * OW + iw / 2) : VLOADN(gp + (a) * OW + iw / 2, mo))
  const SFX(pool_cand) ca = POOL_SPREAD(a);
  vf v = VZERO();
  SFX(pool_take)(&v, hits, ca, pix, mx);
  SFX(pool_put)(xp + 2 * a * W + iw, v, full, mx, stream);
  if (2 * a + 1 >= H) return;
  pix = VI_ADD(pix, VI_SET1((int32_t)W));
  v = VZERO();
  SFX(pool_take)(&v, hits, ca, pix, mx);
  if (a + 1 < OH) SFX(pool_take)(&v, hits + 2, POOL_SPREAD(a + 1), pix, mx);
  SFX(pool_put)(xp + (2 * a + 1) * W + iw, v, full, mx, stream);
#undef POOL_SPREAD
}

int SFX(gz_pool3s2_bwd_plane)(const float *gp, const int32_t *ip, float *xp, int64_t H, int64_t W, int64_t OH,
                              int64_t OW, int stream) {
  vi hits[4] = {VI_SET1(0), VI_SET1(0), VI_SET1(0), VI_SET1(0)}; /* four counts: no chain of dependent adds */
  for (int64_t a = 0; a < OH; a++) {
    vi pix = VI_ADD(VI_SET1((int32_t)(2 * a * W)), VI_IOTA);
    int64_t iw = 0;
    for (; iw / 2 + VW <= OW; iw += VW, pix = VI_ADD(pix, VI_SET1(VW)))
      SFX(pool_rows)(gp, ip, xp, H, W, OH, OW, a, iw, pix, 1, PM_ALL, PM_ALL, stream, hits);
    for (; iw < W; iw += VW, pix = VI_ADD(pix, VI_SET1(VW))) /* the rows' ends */
      SFX(pool_rows)(gp, ip, xp, H, W, OH, OW, a, iw, pix, 0, PM_FIRST((int)(OW - iw / 2)),
                     PM_FIRST((int)(W - iw < VW ? W - iw : VW)), stream, hits);
  }
  if (stream) VFENCE();
  return VI_HSUM(VI_ADD(VI_ADD(hits[0], hits[1]), VI_ADD(hits[2], hits[3]))) == OH * OW;
}

static int64_t SFX(maxpool_bwd)(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate) {
  return gz_par_maxpool_bwd_gather(dy, idx, dx, accumulate, SFX(gz_pool3s2_bwd_plane), stream_output(gz_tensor_numel(dx)));
}
#define POOL_BWD SFX(maxpool_bwd)
#else
#define POOL_BWD gz_par_maxpool_bwd
#endif
