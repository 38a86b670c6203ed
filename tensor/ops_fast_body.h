/* The fast CPU kernels, written once over a small vector abstraction and compiled three times:
 * ops_fast.c (baseline x86-64, one lane), ops_fast_avx2.c (8 lanes) and ops_fast_avx512.c (16 lanes),
 * each with its file's ISA flags. Included only by those three files.
 *
 * Batch norm is the op these exist for (it runs after every conv): one pass over DRAM per direction.
 * Each channel is owned by one thread; its statistics are built from chunks of at most GZ_BN_CHUNK
 * elements of one (n, c) plane (a float mean and a float sum of squared deviations per chunk, each
 * from L1), combined in double in (n, chunk) order with Chan et al.'s pairwise update; the channel is
 * then normalized while it is still in L2. The order depends on the shape only, never on the thread
 * count, so the bits do not either. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tensor/ops_internal.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define VW 16
typedef __m512 vf;
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VSTREAM _mm512_stream_ps
#define VFENCE _mm_sfence
#define VSET1 _mm512_set1_ps
#define VZERO _mm512_setzero_ps
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VSQRT _mm512_sqrt_ps
#define VFMA _mm512_fmadd_ps /* a*b + c, fused */
#define VFMA_X _mm512_fmadd_ps
#define VHSUM _mm512_reduce_add_ps
/* x < 0 ? 0 : x (NaN and -0 pass through) */
#define VRELU(x) _mm512_max_ps(_mm512_setzero_ps(), x)
/* y <= 0 ? 0 : g (NaN y passes g) */
#define VGATE(y, g) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_NLE_UQ), g)
/* NaN-propagating max(a, b) */
#define VMAXNAN(a, b) _mm512_mask_mov_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a)
#define SFX(name) name##_avx512
/* for the vector exp/log (ops_fast_vmath.h) */
#define VMIN _mm512_min_ps
#define VMAX _mm512_max_ps
#define VABS _mm512_abs_ps
#define VSEL_LT(a, b, x, y) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x) /* a < b ? x : y */
#define VSEL_EQ(a, b, x, y) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), y, x)
#define VROUND_I _mm512_cvtps_epi32 /* nearest, ties to even */
#define VI_TO_F _mm512_cvtepi32_ps
#define VI_AS_F _mm512_castsi512_ps
#define VF_AS_I _mm512_castps_si512
#define VI_SLLI _mm512_slli_epi32
#define VI_SRLI _mm512_srli_epi32
#define VI_SUB _mm512_sub_epi32
#define VI_AND _mm512_and_si512
#define VI_OR _mm512_or_si512
typedef __m512i vi;
#define VI_SET1 _mm512_set1_epi32
#define VI_ADD _mm512_add_epi32
#define VI_IOTA _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define VI_IOTA2 _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define VI_STORE(p, v) _mm512_storeu_si512((void *)(p), v)
#define VI_LOADU(p) _mm512_loadu_si512((const void *)(p))
/* select b where b > a or b is NaN (PyTorch's max-pool rule), tracking indices */
#define VPOOL_STEP(m, k, v, kv)                                                                   \
  do {                                                                                            \
    __mmask16 t_ = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); \
    m = _mm512_mask_mov_ps(m, t_, v);                                                             \
    k = _mm512_mask_mov_epi32(k, t_, kv);                                                         \
  } while (0)
/* even and odd elements of (lo, hi), and of p[0 .. 2*VW) */
static inline void vdeint_v(vf lo, vf hi, vf *even, vf *odd) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  *even = _mm512_permutex2var_ps(lo, ie, hi);
  *odd = _mm512_permutex2var_ps(lo, io, hi);
}
static inline void vdeint(const float *p, vf *even, vf *odd) { vdeint_v(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), even, odd); }
/* row[c .. c + VW), -inf in the lanes outside columns [0, W) (which are not read) */
static inline vf vload_cols(const float *row, int64_t c, int64_t W) {
  if (c >= 0 && c + 16 <= W) return _mm512_loadu_ps(row + c);
  const int64_t l0 = c < 0 ? -c : 0, l1 = W - c < 16 ? W - c : 16;
  const __mmask16 m = l1 > l0 ? (__mmask16)(((1u << l1) - 1) & ~((1u << l0) - 1)) : 0;
  return _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, row + c);
}
#elif defined(__AVX2__)
#include <immintrin.h>
#define VW 8
typedef __m256 vf;
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VSTREAM _mm256_stream_ps
#define VFENCE _mm_sfence
#define VSET1 _mm256_set1_ps
#define VZERO _mm256_setzero_ps
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VSQRT _mm256_sqrt_ps
#define VFMA _mm256_fmadd_ps
#define VFMA_X _mm256_fmadd_ps
static inline float VHSUM(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#define VRELU(x) _mm256_max_ps(_mm256_setzero_ps(), x)
#define VGATE(y, g) _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_NLE_UQ), g)
#define VMAXNAN(a, b) _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q))
#define SFX(name) name##_avx2
#define VMIN _mm256_min_ps
#define VMAX _mm256_max_ps
#define VABS(x) _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)))
#define VSEL_LT(a, b, x, y) _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define VSEL_EQ(a, b, x, y) _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_EQ_OQ))
#define VROUND_I _mm256_cvtps_epi32
#define VI_TO_F _mm256_cvtepi32_ps
#define VI_AS_F _mm256_castsi256_ps
#define VF_AS_I _mm256_castps_si256
#define VI_SLLI _mm256_slli_epi32
#define VI_SRLI _mm256_srli_epi32
#define VI_SUB _mm256_sub_epi32
#define VI_AND _mm256_and_si256
#define VI_OR _mm256_or_si256
typedef __m256i vi;
#define VI_SET1 _mm256_set1_epi32
#define VI_ADD _mm256_add_epi32
#define VI_IOTA _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
#define VI_IOTA2 _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)
#define VI_STORE(p, v) _mm256_storeu_si256((__m256i *)(p), v)
#define VI_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define VPOOL_STEP(m, k, v, kv)                                                                        \
  do {                                                                                                 \
    __m256 t_ = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));      \
    m = _mm256_blendv_ps(m, v, t_);                                                                    \
    k = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(k), _mm256_castsi256_ps(kv), t_));    \
  } while (0)
static inline void vdeint_v(vf lo, vf hi, vf *even, vf *odd) {
  *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), 0xd8));
  *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))), 0xd8));
}
static inline void vdeint(const float *p, vf *even, vf *odd) { vdeint_v(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), even, odd); }
static inline vf vload_cols(const float *row, int64_t c, int64_t W) {
  if (c >= 0 && c + 8 <= W) return _mm256_loadu_ps(row + c);
  const __m256i col = _mm256_add_epi32(_mm256_set1_epi32((int32_t)c), VI_IOTA);
  const __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), col),
                                         _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)W), col));
  return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(row + c, in), _mm256_castsi256_ps(in));
}
#else
#define VW 1
typedef float vf;
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VSTREAM(p, v) (*(p) = (v))
#define VFENCE() ((void)0)
#define VSET1(x) (x)
#define VZERO() 0.0f
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
#define VSQRT sqrtf
#define VFMA(a, b, c) ((a) * (b) + (c)) /* no FMA unit at baseline: plain, fast */
#define VFMA_X fmaf                     /* exact fused form where rounding must match */
#define VHSUM(v) (v)
#define VRELU(x) ((x) < 0 ? 0.0f : (x))
#define VGATE(y, g) ((y) <= 0 ? 0.0f : (g))
#define VMAXNAN(a, b) (((a) >= (b) || isnan(a)) ? (a) : (b))
#define SFX(name) name##_scalar
#endif

/* Scalar tails use the same formulas one element at a time. */
#define SRELU(x) ((x) < 0 ? 0.0f : (x))
#define SGATE(y, g) ((y) <= 0 ? 0.0f : (g))
#define SMAXNAN(a, b) (((a) >= (b) || isnan(a)) ? (a) : (b))

/* ---------------------------------------------------------------- chunk sums (batch norm) */

/* sum(p[0..n)) with four vector accumulators (fixed order for a given n). */
static inline float sum_chunk(const float *p, int64_t n) {
  vf a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
  int64_t i = 0;
  for (; i + 4 * VW <= n; i += 4 * VW) {
    a0 = VADD(a0, VLOAD(p + i));
    a1 = VADD(a1, VLOAD(p + i + VW));
    a2 = VADD(a2, VLOAD(p + i + 2 * VW));
    a3 = VADD(a3, VLOAD(p + i + 3 * VW));
  }
  for (; i + VW <= n; i += VW) a0 = VADD(a0, VLOAD(p + i));
  float s = VHSUM(VADD(VADD(a0, a1), VADD(a2, a3)));
  for (; i < n; i++) s += p[i];
  return s;
}

/* sum((p - mu)^2). */
static inline float sqdev_chunk(const float *p, int64_t n, float mu) {
  vf a0 = VZERO(), a1 = VZERO(), m = VSET1(mu);
  int64_t i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    vf d0 = VSUB(VLOAD(p + i), m), d1 = VSUB(VLOAD(p + i + VW), m);
    a0 = VFMA(d0, d0, a0);
    a1 = VFMA(d1, d1, a1);
  }
  for (; i + VW <= n; i += VW) {
    vf d = VSUB(VLOAD(p + i), m);
    a0 = VFMA(d, d, a0);
  }
  float s = VHSUM(VADD(a0, a1));
  for (; i < n; i++) s += (p[i] - mu) * (p[i] - mu);
  return s;
}

/* *sg = sum(g), *sgx = sum(g (x - mu)). */
static inline void dot_chunk(const float *g, const float *x, int64_t n, float mu, float *sg, float *sgx) {
  vf a0 = VZERO(), a1 = VZERO(), b0 = VZERO(), b1 = VZERO(), m = VSET1(mu);
  int64_t i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    vf g0 = VLOAD(g + i), g1 = VLOAD(g + i + VW);
    a0 = VADD(a0, g0);
    a1 = VADD(a1, g1);
    b0 = VFMA(g0, VSUB(VLOAD(x + i), m), b0);
    b1 = VFMA(g1, VSUB(VLOAD(x + i + VW), m), b1);
  }
  for (; i + VW <= n; i += VW) {
    vf g0 = VLOAD(g + i);
    a0 = VADD(a0, g0);
    b0 = VFMA(g0, VSUB(VLOAD(x + i), m), b0);
  }
  float s = VHSUM(VADD(a0, a1)), t = VHSUM(VADD(b0, b1));
  for (; i < n; i++) s += g[i], t += g[i] * (x[i] - mu);
  *sg = s, *sgx = t;
}

/* Outputs whose op does not fit in the last-level cache (gz_stream_min_floats) are written with streaming stores: they
 * go to memory either way, and an ordinary store first reads each line it fills (a third of batch norm's traffic).
 * 2x64x256x256 (33.5 MB, the stem's and layer1's batch norms at 512 px), 10 alternating runs of gazeloc-bench ops,
 * median GB/s: forward 26.4 -> 29.0, backward 25.8 -> 28.4 (Zen 4 VM, 32 MB L3; its copy figure swung 27-84 GB/s
 * in those runs). Smaller outputs stay in the cache for the op that reads them next. */
static inline int stream_output(int64_t floats) { return VW > 1 && floats > gz_stream_min_floats(); }

/* Plane n of channel c + 1 of t, or NULL past the last channel: what a streamed batch-norm pass fetches ahead. */
static inline const float *next_plane(const gz_tensor *t, int64_t n, int64_t c) {
  return c + 1 < t->shape[1] ? gz_plane(t, n, c + 1) : NULL;
}

/* y = (x - mu) * scale + beta over one plane; stream: streaming stores where the plane is aligned, with the same
 * place of the next channel's plane (next, or NULL) fetched meanwhile (see bn_fwd_train). */
static inline void bn_apply_plane(const float *x, float *y, int64_t n, float mu, float scale, float beta, int stream,
                                  const float *next) {
  vf m = VSET1(mu), s = VSET1(scale), b = VSET1(beta);
#define BN_Y(i) VFMA(VSUB(VLOAD(x + (i)), m), s, b)
  int64_t i = 0;
  if (stream && !((uintptr_t)y & (VW * 4 - 1))) /* aligned planes only: the same vectors, so the same bits */
    for (; i + VW <= n; i += VW) {
      if (next) __builtin_prefetch(next + i, 0, 2);
      VSTREAM(y + i, BN_Y(i));
    }
  for (; i + VW <= n; i += VW) VSTORE(y + i, BN_Y(i));
#undef BN_Y
  for (; i < n; i++) y[i] = (x[i] - mu) * scale + beta;
}

/* ---------------------------------------------------------------- batch norm */

static void SFX(bn_fwd_train)(const gz_tensor *x, const float *gamma, const float *beta, float eps, gz_tensor *y,
                              float *mean, float *var) {
  const int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  const int st = stream_output(N * C * HW);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    double cnt = 0, mu = 0, m2 = 0;
    for (int64_t n = 0; n < N; n++) {
      const float *p = gz_plane(x, n, c);
      for (int64_t s = 0; s < HW; s += GZ_BN_CHUNK) {
        int64_t len = HW - s < GZ_BN_CHUNK ? HW - s : GZ_BN_CHUNK;
        double cmu = (double)sum_chunk(p + s, len) / (double)len;
        double cq = sqdev_chunk(p + s, len, (float)cmu);
        double tot = cnt + (double)len, d = cmu - mu; /* Chan et al. pairwise combination */
        mu += d * (double)len / tot;
        m2 += cq + d * d * cnt * (double)len / tot;
        cnt = tot;
      }
    }
    double v = m2 / cnt, inv = 1.0 / sqrt(v + eps);
    mean[c] = (float)mu;
    var[c] = (float)v;
    /* Each channel reads x from memory in its statistics pass and from L2 in this one, whose streaming stores leave
     * the reads idle: they fetch the next channel's planes meanwhile (the next channel of this thread's share, or
     * the first of the next thread's, fetched for nothing). 2x64x256x256, Zen 5, 3 alternating runs, medians: 1
     * thread 1.85 -> 1.74 ms (backward, likewise: 4.18 -> 3.78), 2 threads 1.18 -> 1.14 (2.40 -> 2.32). */
    for (int64_t n = 0; n < N; n++)
      bn_apply_plane(gz_plane(x, n, c), gz_plane(y, n, c), HW, (float)mu, (float)(gamma[c] * inv), beta[c], st,
                     st ? next_plane(x, n, c) : NULL);
    if (st) VFENCE();
  }
}

static void SFX(bn_fwd_eval)(const gz_tensor *x, const float *gamma, const float *beta, const float *mean,
                             const float *var, float eps, gz_tensor *y) {
  const int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    int64_t c = nc % C;
    float scale = (float)(gamma[c] / sqrt((double)var[c] + eps));
    bn_apply_plane(gz_plane(x, nc / C, c), gz_plane(y, nc / C, c), HW, mean[c], scale, beta[c], 0, NULL);
  }
}

static void SFX(bn_bwd)(const gz_tensor *x, const gz_tensor *dy, const float *gamma, const float *mean,
                        const float *var, float eps, int training, gz_tensor *dx, float *dgamma, float *dbeta,
                        int accumulate) {
  const int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  const double M = (double)(N * HW);
  const int st = dx && !accumulate && stream_output(N * C * HW);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    const float mu = mean[c];
    const double inv = 1.0 / sqrt((double)var[c] + eps);
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; n++) {
      const float *g = gz_plane(dy, n, c), *p = gz_plane(x, n, c);
      for (int64_t s = 0; s < HW; s += GZ_BN_CHUNK) {
        float a, b;
        dot_chunk(g + s, p + s, HW - s < GZ_BN_CHUNK ? HW - s : GZ_BN_CHUNK, mu, &a, &b);
        sdy += a, sdyx += b;
      }
    }
    if (dbeta) dbeta[c] = (float)((accumulate ? dbeta[c] : 0.0) + sdy);
    if (dgamma) dgamma[c] = (float)((accumulate ? dgamma[c] : 0.0) + sdyx * inv);
    if (!dx) continue;
    /* dx = a dy + b (x - mu) + k: a = gamma/sigma, b = -a sum(dy xhat)/(M sigma), k = -a mean(dy). */
    const float a = (float)(gamma[c] * inv);
    const float b = training ? (float)(-(gamma[c] * inv) * inv * inv * sdyx / M) : 0.0f;
    const float k = training ? (float)(-(gamma[c] * inv) * sdy / M) : 0.0f;
    const vf va = VSET1(a), vb = VSET1(b), vk = VSET1(k), vm = VSET1(mu);
    for (int64_t n = 0; n < N; n++) {
      const float *g = gz_plane(dy, n, c), *p = gz_plane(x, n, c);
      /* as in the forward: the next channel's planes of dy and x, fetched while this pass streams dx out */
      const float *ng = st ? next_plane(dy, n, c) : NULL, *np = st ? next_plane(x, n, c) : NULL;
      float *o = gz_plane(dx, n, c);
      int64_t i = 0;
#define BN_DX(i) VFMA(va, VLOAD(g + (i)), VFMA(vb, VSUB(VLOAD(p + (i)), vm), vk))
      if (st && !((uintptr_t)o & (VW * 4 - 1)))
        for (; i + VW <= HW; i += VW) {
          if (ng) __builtin_prefetch(ng + i, 0, 2), __builtin_prefetch(np + i, 0, 2);
          VSTREAM(o + i, BN_DX(i));
        }
      for (; i + VW <= HW; i += VW) {
        vf r = BN_DX(i);
        VSTORE(o + i, accumulate ? VADD(VLOAD(o + i), r) : r);
      }
#undef BN_DX
      for (; i < HW; i++) {
        float r = a * g[i] + (b * (p[i] - mu) + k);
        o[i] = accumulate ? o[i] + r : r;
      }
    }
    if (st) VFENCE();
  }
}

/* ---------------------------------------------------------------- elementwise */

static void SFX(relu_fwd)(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  int64_t rows, len;
  gz_elt_rows(ts, 2, &rows, &len);
  const int st = stream_output(rows * len); /* as batch norm's: the same values, written past the caches */
  GZ_PAR_BLOCKS(rows, len, r, b0, b1, {
    const float *xp = gz_row(x, r);
    float *yp = gz_row(y, r);
    int64_t i = b0;
    if (st) {
      for (; i < b1 && ((uintptr_t)(yp + i) & (VW * 4 - 1)); i++) yp[i] = SRELU(xp[i]);
      for (; i + VW <= b1; i += VW) VSTREAM(yp + i, VRELU(VLOAD(xp + i)));
      VFENCE();
    }
    for (; i + VW <= b1; i += VW) VSTORE(yp + i, VRELU(VLOAD(xp + i)));
    for (; i < b1; i++) yp[i] = SRELU(xp[i]);
  });
}

static void SFX(relu_bwd)(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate) {
  const gz_tensor *ts[] = {y, dy, dx};
  int64_t rows, len;
  gz_elt_rows(ts, 3, &rows, &len);
  const int st = !accumulate && stream_output(rows * len);
  GZ_PAR_BLOCKS(rows, len, r, b0, b1, {
    const float *yp = gz_row(y, r), *gp = gz_row(dy, r);
    float *o = gz_row(dx, r);
    int64_t i = b0;
    if (st) {
      for (; i < b1 && ((uintptr_t)(o + i) & (VW * 4 - 1)); i++) o[i] = SGATE(yp[i], gp[i]);
      for (; i + VW <= b1; i += VW) VSTREAM(o + i, VGATE(VLOAD(yp + i), VLOAD(gp + i)));
      VFENCE();
    }
    for (; i + VW <= b1; i += VW) {
      vf v = VGATE(VLOAD(yp + i), VLOAD(gp + i));
      VSTORE(o + i, accumulate ? VADD(VLOAD(o + i), v) : v);
    }
    for (; i < b1; i++) o[i] = accumulate ? o[i] + SGATE(yp[i], gp[i]) : SGATE(yp[i], gp[i]);
  });
}

static void SFX(add)(const gz_tensor *a, const gz_tensor *b, gz_tensor *y) {
  const gz_tensor *ts[] = {a, b, y};
  int64_t rows, len;
  gz_elt_rows(ts, 3, &rows, &len);
  GZ_PAR_BLOCKS(rows, len, r, b0, b1, {
    const float *ap = gz_row(a, r), *bp = gz_row(b, r);
    float *yp = gz_row(y, r);
    int64_t i = b0;
    for (; i + VW <= b1; i += VW) VSTORE(yp + i, VADD(VLOAD(ap + i), VLOAD(bp + i)));
    for (; i < b1; i++) yp[i] = ap[i] + bp[i];
  });
}

/* ---------------------------------------------------------------- max-pool 3x3 stride 2: ops_pool_body.h */

#include "tensor/ops_pool_body.h"

/* ---------------------------------------------------------------- bilinear upsampling: an output row */

#if VW > 1
/* gz_lin_row with vectors, the same products and sums (no fused multiply-adds), so the same bits. Along the row
 * the VW outputs' sources, upsampling, lie within 2 VW floats from the first one's: two loads and a two-source
 * permute (AVX-512), or gathers (AVX2). A downsampling row's rest goes one output at a time. */
static void SFX(lin_row)(const float *t, const float *b, int64_t W, float l0, float l1, const int32_t *i0,
                         const int32_t *i1, const float *c0, const float *c1, int64_t OW, float *row, float *y) {
  const vf a0 = VSET1(l0), a1 = VSET1(l1);
  int64_t w = 0, o = 0;
  for (; w + VW <= W; w += VW) VSTORE(row + w, VADD(VMUL(VLOAD(t + w), a0), VMUL(VLOAD(b + w), a1)));
  for (; w < W; w++) row[w] = t[w] * l0 + b[w] * l1;
  for (; o + VW <= OW; o += VW) {
#if VW == 16
    const int32_t base = i0[o];
    if (i1[o + VW - 1] - base >= 2 * VW) break; /* row[base .. base + 32) readable: W + GZ_LIN_SLACK */
    const vi k = VI_SET1(base);
    const vf lo = VLOAD(row + base), hi = VLOAD(row + base + VW);
    const vf v0 = _mm512_permutex2var_ps(lo, VI_SUB(VI_LOADU(i0 + o), k), hi);
    const vf v1 = _mm512_permutex2var_ps(lo, VI_SUB(VI_LOADU(i1 + o), k), hi);
#else
    const vf v0 = _mm256_i32gather_ps(row, VI_LOADU(i0 + o), 4), v1 = _mm256_i32gather_ps(row, VI_LOADU(i1 + o), 4);
#endif
    VSTORE(y + o, VADD(VMUL(v0, VLOAD(c0 + o)), VMUL(v1, VLOAD(c1 + o))));
  }
  for (; o < OW; o++) y[o] = row[i0[o]] * c0[o] + row[i1[o]] * c1[o];
}
static void SFX(up_bilinear_fwd)(const gz_tensor *x, gz_tensor *y) { gz_par_up_bilinear_fwd_rows(x, y, SFX(lin_row)); }
#define UP_BILINEAR_FWD SFX(up_bilinear_fwd)
#else
#define UP_BILINEAR_FWD gz_par_up_bilinear_fwd
#endif

/* ---------------------------------------------------------------- AMSGrad (see ops_ref.c for the rounding) */

static void SFX(amsgrad)(float *p, const float *grad, float *m, float *v, float *vmax, size_t n,
                         const gz_adam_hp *hp) {
  const float wd = (float)hp->weight_decay, b1 = (float)hp->beta1, omb1 = (float)(1 - hp->beta1);
  const float b2 = (float)hp->beta2, omb2 = (float)(1 - hp->beta2), eps = (float)hp->eps;
  const double bc1 = 1 - pow(hp->beta1, (double)hp->step), bc2 = 1 - pow(hp->beta2, (double)hp->step);
  const float nstep = (float)(-(hp->lr / bc1)), bc2s = (float)sqrt(bc2);
  const int64_t len = (int64_t)n;
  GZ_PAR_BLOCKS(1, len, r, b0, b1_, {
    (void)r;
    int64_t i = b0;
    const vf vwd = VSET1(wd), vb1 = VSET1(b1), vomb1 = VSET1(omb1), vb2 = VSET1(b2), vomb2 = VSET1(omb2);
    const vf veps = VSET1(eps), vns = VSET1(nstep), vbc2s = VSET1(bc2s);
    for (; i + VW <= b1_; i += VW) {
      vf g = VLOAD(grad + i), pp = VLOAD(p + i);
      if (wd != 0) g = VFMA_X(pp, vwd, g);
      vf mm = VFMA_X(g, vomb1, VMUL(VLOAD(m + i), vb1));
      vf vv = VFMA_X(VMUL(vomb2, g), g, VMUL(VLOAD(v + i), vb2));
      vf vx = VMAXNAN(VLOAD(vmax + i), vv);
      vf denom = VADD(VDIV(VSQRT(vx), vbc2s), veps);
      VSTORE(m + i, mm);
      VSTORE(v + i, vv);
      VSTORE(vmax + i, vx);
      VSTORE(p + i, VADD(pp, VDIV(VMUL(vns, mm), denom)));
    }
    for (; i < b1_; i++) {
      float g = wd != 0 ? fmaf(p[i], wd, grad[i]) : grad[i];
      m[i] = fmaf(g, omb1, m[i] * b1);
      v[i] = fmaf(omb2 * g, g, v[i] * b2);
      vmax[i] = SMAXNAN(vmax[i], v[i]);
      float denom = sqrtf(vmax[i]) / bc2s + eps;
      p[i] = p[i] + (nstep * m[i]) / denom;
    }
  });
}

#include "tensor/ops_fast_vmath.h" /* the sigmoid family: SIMD for AVX2 / AVX-512, libm otherwise */

const gz_ops_table SFX(gz_ops_table) = {
    .name = "cpu-" GZ_OPS_ISA_NAME,
    .bn_fwd_train = SFX(bn_fwd_train),
    .bn_fwd_eval = SFX(bn_fwd_eval),
    .bn_bwd = SFX(bn_bwd),
    .relu_fwd = SFX(relu_fwd),
    .relu_bwd = SFX(relu_bwd),
    .add = SFX(add),
    .copy = gz_par_copy,
    .maxpool_fwd = SFX(maxpool_fwd),
    .maxpool_bwd = POOL_BWD,
    .up_nearest_fwd = gz_par_up_nearest_fwd,
    .up_nearest_bwd = gz_par_up_nearest_bwd,
    .up_bilinear_fwd = UP_BILINEAR_FWD,
    .up_bilinear_bwd = gz_par_up_bilinear_bwd,
    .sigmoid_fwd = SIG_SIGMOID_FWD,
    .sigmoid_bwd = SIG_SIGMOID_BWD,
    .logsigmoid_fwd = SIG_LOGSIGMOID_FWD,
    .logsigmoid_bwd = SIG_LOGSIGMOID_BWD,
    .bce_logits_fwd = SIG_BCE_LOGITS_FWD,
    .bce_logits_bwd = SIG_BCE_LOGITS_BWD,
    .reduce = gz_par_reduce,
    .amsgrad = SFX(amsgrad),
};
