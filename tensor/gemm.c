/* SGEMM, BLIS-style (docs/kernels.md): five loops around a register-tile micro-kernel.
 *
 *   for i0 in M by MC           A panel rows (packed A panel: MC x KC, L2/L3)
 *     for p0 in K by KC         depth (fixed chunks: the only reduction, always in this order)
 *       pack A panel            micro-panels of MR rows, k-major
 *       for j0 in N by NC       packed B block: KC x NC, lives in L2
 *         pack B block          micro-panels of NR columns, k-major
 *         for ir, jr            micro-tiles MR x NR, ir outer: the A micro-panel stays in L1
 *
 * On AVX-512, B stored K x N is not packed in a pass of its own: the ir = 0 micro-kernels read it in place
 * and write the packed micro-panels for the rows below (gz_gemm_ukr_pack_avx512).
 * With B stored N x K (the weight gradients), A stored M x K is not packed either: its micro-panels keep
 * A's row layout, copied by their first tile (rowa_tile, gz_gemm_ukr_rowa_avx512).
 *
 * Threads split C into rectangles aligned to the register tile and run these loops independently,
 * each with its own packing buffers: no barrier inside a call. A C element is computed by exactly one
 * micro-kernel call per KC chunk, with the same K chunks (fixed by K and the cache sizes) in the same
 * order whatever the thread count, so the result is bitwise the same for any OMP_NUM_THREADS.
 */
#include "tensor/kernels.h"

#include <hwloc.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ cache sizes (hwloc) */

static long cache_bytes[3] = {48 << 10, 1 << 20, 16 << 20}; /* fallback: a Zen 4 core */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void query_caches(void) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo)) return;
  if (hwloc_topology_load(topo) == 0) {
    const hwloc_obj_type_t types[3] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE};
    for (int i = 0; i < 3; i++) {
      hwloc_obj_t o = hwloc_get_obj_by_type(topo, types[i], 0);
      if (o && o->attr && o->attr->cache.size >= 4096) cache_bytes[i] = (long)o->attr->cache.size;
    }
  }
  hwloc_topology_destroy(topo);
}

static long clampl(long v, long lo, long hi) { return v < lo ? lo : v > hi ? hi : v; }

static void blocking(int isa, gz_gemm_blocking *b) {
  pthread_once(&cache_once, query_caches);
  b->mr = isa == GZ_ISA_AVX512 ? GZ_GEMM_MR_AVX512 : isa == GZ_ISA_AVX2 ? GZ_GEMM_MR_AVX2 : 4;
  b->nr = isa == GZ_ISA_AVX512 ? GZ_GEMM_NR_AVX512 : isa == GZ_ISA_AVX2 ? GZ_GEMM_NR_AVX2 : 16;
  b->l1 = cache_bytes[0];
  b->l2 = cache_bytes[1];
  b->l3 = cache_bytes[2];
  /* A micro-panel (MR x KC) in half of L1; B block (KC x NC) in half of L2; A panel (MC x KC) in a
   * quarter of L3 (shared with the other core and the streams). */
  b->kc = clampl(b->l1 / 2 / (4L * b->mr) / 16 * 16, 64, 512);
  b->nc = clampl(b->l2 / 2 / (4L * b->kc) / b->nr * b->nr, b->nr, 4096);
  b->mc = clampl(b->l3 / 4 / (4L * b->kc) / b->mr * b->mr, b->mr, 4096 / b->mr * b->mr);
}

/* ------------------------------------------------------------------ broadcast style of the AVX-512 tiles */

static pthread_once_t fold_once = PTHREAD_ONCE_INIT;
static int fold_default, fold_forced = -1;

static void query_fold(void) {
  fold_default = gz_cpu_avx512_halves();
  const char *env = getenv("GAZELOC_FMA_BCAST");
  if (!env || !*env) return;
  if (!strcmp(env, "folded")) fold_default = 1;
  else if (!strcmp(env, "register")) fold_default = 0;
  else
    gz_warn("GAZELOC_FMA_BCAST='%s' is not 'folded' or 'register'; using %s", env,
            fold_default ? "folded" : "register");
}

int gz_fma_folded(void) {
  pthread_once(&fold_once, query_fold);
  return fold_forced >= 0 ? fold_forced : fold_default;
}

void gz_fma_set_folded(int folded) { fold_forced = folded < 0 ? -1 : !!folded; }

#define STREAM_L3_CAP (32L << 20)
long gz_stream_min_floats(void) {
  pthread_once(&cache_once, query_caches);
  const long l3 = cache_bytes[2] < STREAM_L3_CAP ? cache_bytes[2] : STREAM_L3_CAP;
  return l3 / (2 * (long)sizeof(float));
}

int gz_gemm_blocking_for(int isa, gz_gemm_blocking *b, gz_err *e) {
  if (isa < GZ_ISA_SCALAR || isa > GZ_ISA_AVX512) return gz_fail(e, GZ_EINVAL, "gemm: unknown ISA %d", isa);
  blocking(isa, b);
  return 0;
}

/* ------------------------------------------------------------------ plain-C micro-kernel (ISA scalar) */

static void ukr_scalar(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta, int m,
                       int n) {
  float acc[4][16];
  memset(acc, 0, sizeof acc);
  for (long k = 0; k < kc; k++, a += 4, b += 16)
    for (int r = 0; r < 4; r++)
      for (int j = 0; j < 16; j++) acc[r][j] += a[r] * b[j];
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) {
      float t = alpha * acc[r][j];
      c[r * ldc + j] = beta == 0.0f ? t : t + beta * c[r * ldc + j];
    }
}

/* ------------------------------------------------------------------ packing */

/* Micro-panels [t_lo, t_hi) of the A panel rows i0.., depth p0..p0+kcb: dst[t][k][MR], zero-padded. */
static void pack_a(int trans, const float *A, long lda, long i0, long rows, long p0, long kcb, int mr, float *dst,
                   long t_lo, long t_hi) {
  for (long t = t_lo; t < t_hi; t++) {
    long r0 = i0 + t * mr;
    int m = (int)(rows - t * mr < mr ? rows - t * mr : mr);
    float *d = dst + t * mr * kcb;
    if (!trans) {
      for (int r = 0; r < m; r++) {
        const float *s = A + (r0 + r) * lda + p0;
        for (long k = 0; k < kcb; k++) d[k * mr + r] = s[k];
      }
      for (int r = m; r < mr; r++)
        for (long k = 0; k < kcb; k++) d[k * mr + r] = 0.0f;
    } else {
      for (long k = 0; k < kcb; k++) {
        const float *s = A + (p0 + k) * lda + r0;
        for (int r = 0; r < m; r++) d[k * mr + r] = s[r];
        for (int r = m; r < mr; r++) d[k * mr + r] = 0.0f;
      }
    }
  }
}

/* Micro-panels [t_lo, t_hi) of the B block columns j0.., depth p0..: dst[t][k][NR], zero-padded. */
static void pack_b(int trans, const float *B, long ldb, long j0, long cols, long p0, long kcb, int nr, float *dst,
                   long t_lo, long t_hi) {
  for (long t = t_lo; t < t_hi; t++) {
    long c0 = j0 + t * nr;
    int n = (int)(cols - t * nr < nr ? cols - t * nr : nr);
    float *d = dst + t * nr * kcb;
    if (!trans) {
      for (long k = 0; k < kcb; k++) {
        const float *s = B + (p0 + k) * ldb + c0;
        if (n == 16 && nr == 16) /* the AVX2 and plain-C width: a fixed-size copy the compiler vectorizes */
          for (int j = 0; j < 16; j++) d[k * 16 + j] = s[j];
        else
          for (int j = 0; j < nr; j++) d[k * nr + j] = j < n ? s[j] : 0.0f;
      }
    } else {
      for (int j = 0; j < n; j++) {
        const float *s = B + (c0 + j) * ldb + p0;
        for (long k = 0; k < kcb; k++) d[k * nr + j] = s[k];
      }
      for (int j = n; j < nr; j++)
        for (long k = 0; k < kcb; k++) d[k * nr + j] = 0.0f;
    }
  }
}

/* ------------------------------------------------------------------ checks and workspace */

static long cdiv(long a, long b) { return (a + b - 1) / b; }
static long minl(long a, long b) { return a < b ? a : b; }

static int check_args(int transA, int transB, long M, long N, long K, const float *A, long lda, const float *B,
                      long ldb, const float *C, long ldc, gz_err *e) {
  if (M < 0 || N < 0 || K < 0)
    return gz_fail(e, GZ_EINVAL, "sgemm: negative size M=%ld N=%ld K=%ld", M, N, K);
  if (M > (1L << 40) / (N ? N : 1) || K > (1L << 31))
    return gz_fail(e, GZ_ERANGE, "sgemm: size M=%ld N=%ld K=%ld too large", M, N, K);
  long acols = transA ? M : K, bcols = transB ? K : N;
  if (lda < (acols > 1 ? acols : 1))
    return gz_fail(e, GZ_EINVAL, "sgemm: lda=%ld < %ld (A is %s, M=%ld K=%ld)", lda, acols, transA ? "K x M" : "M x K",
                   M, K);
  if (ldb < (bcols > 1 ? bcols : 1))
    return gz_fail(e, GZ_EINVAL, "sgemm: ldb=%ld < %ld (B is %s, K=%ld N=%ld)", ldb, bcols, transB ? "N x K" : "K x N",
                   K, N);
  if (ldc < (N > 1 ? N : 1)) return gz_fail(e, GZ_EINVAL, "sgemm: ldc=%ld < N=%ld", ldc, N);
  if (M && N && !C) return gz_fail(e, GZ_EINVAL, "sgemm: C is NULL");
  if (M && N && K && (!A || !B)) return gz_fail(e, GZ_EINVAL, "sgemm: A or B is NULL");
  return 0;
}

/* alpha == 0 or K == 0: C = beta C without reading A and B (BLAS semantics). */
static void scale_c(long M, long N, float beta, float *C, long ldc) {
  for (long i = 0; i < M; i++)
    for (long j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

/* ------------------------------------------------------------------ the five loops */

typedef void (*packb_fn)(int trans, const float *B, long ldb, long j0, long cols, long p0, long kcb, int nr,
                         float *dst, long t_lo, long t_hi);

typedef struct {
  int ta, tb;
  long M, N, K;
  float alpha, beta;
  const float *A, *B;
  long lda, ldb, ldc;
  float *C;
  gz_gemm_blocking bl;
  gz_gemm_ukr ukr;
  packb_fn pack_b;
  gz_gemm_packer packer; /* B produced block by block by the caller (gz_sgemm_implicit_isa), or NULL */
  int rowa;              /* A micro-panels in row layout (gz_gemm_ukr_rowa_avx512) */
  const void *pctx;
} gemm_job;

/* AVX-512 packs B stored K x N inside the micro-kernel (gemm_rect), so only B^T reaches this; the plain
 * packer stays as the general case. */
static void packb_avx512(int trans, const float *B, long ldb, long j0, long cols, long p0, long kcb, int nr,
                         float *dst, long t_lo, long t_hi) {
  if (trans) gz_gemm_packb_t_avx512(B, ldb, j0, cols, p0, kcb, dst, t_lo, t_hi, 1);
  else pack_b(trans, B, ldb, j0, cols, p0, kcb, nr, dst, t_lo, t_hi);
}

/* One tile of C with A in row layout (gz_gemm_ukr_rowa_avx512): micro-panel ir of the A panel at rows i0.. is
 * copied from A's rows by its first tile (the first column tile of the first column block) and read by the
 * rest. Each tile also fetches into L2 its share of what the coming copies and packs will read from memory,
 * spread over the tiles so that no tile stalls on a burst: the next micro-panel's rows (after the last, the
 * next depth block's first), and B's rows of the next block (the next columns, else the next depth block's
 * first). A's rows lie 16-64 KB apart in a 1x1 weight gradient (image planes), too many short streams for
 * the hardware prefetcher. */
static void rowa_tile(const gemm_job *j, long i0, long mcb, long mt, long ir, long p0, long kcb, long n0, long n1,
                      long j0, long ncb, long ntl, long jr, float *apack, const float *bpack, float *c, float beta,
                      int m, int n) {
  const int mr = j->bl.mr, nr = j->bl.nr;
  gz_gemm_fetch f = {{NULL, NULL}, {j->lda, j->ldb}, {0, 0}};
  if (j0 == n0) {
    const int last = ir + 1 == mt;
    const long row = last ? i0 : i0 + (ir + 1) * mr, rows = minl(mr, mcb - (last ? 0 : (ir + 1) * mr));
    const long depth = last ? p0 + kcb : p0;
    if (depth + kcb <= j->K) { /* a next depth block as deep as this one (the kernel fetches kcb floats a row) */
      const long q0 = rows * jr / ntl, q1 = rows * (jr + 1) / ntl;
      f.p[0] = j->A + (row + q0) * j->lda + depth, f.n[0] = (int)(q1 - q0);
    }
  }
  const int more_cols = j0 + ncb < n1;
  const long nj = more_cols ? j0 + ncb : n0, np0 = more_cols ? p0 : p0 + kcb;
  if (np0 + kcb <= j->K && !j->packer) { /* likewise (a packer fetches its own) */
    const long rows = minl(j->bl.nc, n1 - nj);
    const long calls = mt * ntl, call = ir * ntl + jr, b0 = rows * call / calls, b1 = rows * (call + 1) / calls;
    f.p[1] = j->B + (nj + b0) * j->ldb + np0, f.n[1] = (int)(b1 - b0);
  }
  gz_gemm_ukr_rowa_avx512(kcb, apack + ir * mr * GZ_GEMM_KA_AVX512,
                          j0 == n0 && jr == 0 ? j->A + (i0 + ir * mr) * j->lda + p0 : NULL, j->lda, &f,
                          bpack + jr * kcb * nr, c, j->ldc, j->alpha, beta, m, n);
}

/* One thread's rectangle of C, rows [m0, m1) x columns [n0, n1), with its own packing buffers. */
static void gemm_rect(const gemm_job *j, long m0, long m1, long n0, long n1, float *apack, float *bpack) {
  const int mr = j->bl.mr, nr = j->bl.nr;
  for (long i0 = m0; i0 < m1; i0 += j->bl.mc) {
    long mcb = minl(j->bl.mc, m1 - i0), mt = cdiv(mcb, mr);
    for (long p0 = 0; p0 < j->K; p0 += j->bl.kc) {
      long kcb = minl(j->bl.kc, j->K - p0);
      float beta = p0 == 0 ? j->beta : 1.0f;
      /* A in row layout (A stored M x K, B stored N x K, AVX-512): no packing pass, rowa_tile copies it */
      const int rowa = j->rowa && kcb <= GZ_GEMM_KA_AVX512 - 16;
      if (!rowa) {
        if (mr == GZ_GEMM_MR_AVX512 && j->ukr == gz_gemm_ukr_avx512)
          (j->ta ? gz_gemm_packa_t_avx512 : gz_gemm_packa_avx512)(j->A, j->lda, i0, mcb, p0, kcb, apack, 0, mt);
        else pack_a(j->ta, j->A, j->lda, i0, mcb, p0, kcb, mr, apack, 0, mt);
      }
      for (long j0 = n0; j0 < n1; j0 += j->bl.nc) {
        long ncb = minl(j->bl.nc, n1 - j0), ntl = cdiv(ncb, nr);
        /* B stored K x N on AVX-512: the first row tile packs each micro-panel as it reads it */
        const int fused = !j->packer && !j->tb && j->ukr == gz_gemm_ukr_avx512;
        if (j->packer) j->packer(j->pctx, p0, kcb, j0, ncb, nr, bpack);
        else if (rowa) /* B stored N x K on AVX-512 (j.rowa); rowa_tile fetches this block's successor already */
          gz_gemm_packb_t_avx512(j->B, j->ldb, j0, ncb, p0, kcb, bpack, 0, ntl, 0);
        else if (!fused) j->pack_b(j->tb, j->B, j->ldb, j0, ncb, p0, kcb, nr, bpack, 0, ntl);
        for (long ir = 0; ir < mt; ir++) /* A micro-panel in L1; the B block, just packed, in L2 */
          for (long jr = 0; jr < ntl; jr++) {
            int m = (int)minl(mr, mcb - ir * mr), n = (int)minl(nr, ncb - jr * nr);
            float *c = j->C + (i0 + ir * mr) * j->ldc + j0 + jr * nr;
            if (rowa) rowa_tile(j, i0, mcb, mt, ir, p0, kcb, n0, n1, j0, ncb, ntl, jr, apack, bpack, c, beta, m, n);
            else if (fused && ir == 0)
              gz_gemm_ukr_pack_avx512(kcb, apack, j->B + p0 * j->ldb + j0 + jr * nr, j->ldb,
                                      mt > 1 ? bpack + jr * kcb * nr : NULL, c, j->ldc, j->alpha, beta, m, n);
            else j->ukr(kcb, apack + ir * mr * kcb, bpack + jr * kcb * nr, c, j->ldc, j->alpha, beta, m, n);
          }
      }
    }
  }
}

static float *align64(void *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* Floats per row of the A panel: KC, or on AVX-512 the row layout's stride if that is more. */
static long apanel_depth(const gz_gemm_blocking *b, long kc) {
  return b->mr == GZ_GEMM_MR_AVX512 && kc < GZ_GEMM_KA_AVX512 ? GZ_GEMM_KA_AVX512 : kc;
}

/* Per-thread packing buffers: an A panel (MC x KC, or MC x KA in row layout) and a B block (KC x NC), each 64-byte
 * aligned. */
static size_t per_thread_bytes(const gz_gemm_blocking *b, long M, long N, long K) {
  long kc = minl(b->kc, K), mc = minl(b->mc, cdiv(M, b->mr) * b->mr), nc = minl(b->nc, cdiv(N, b->nr) * b->nr);
  return (size_t)(mc * apanel_depth(b, kc) + kc * nc) * sizeof(float) + 2 * 64;
}

size_t gz_sgemm_workspace_threads(long M, long N, long K, int threads) {
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  size_t best = 0;
  for (int isa = GZ_ISA_SCALAR; isa <= GZ_ISA_AVX512; isa++) {
    gz_gemm_blocking b;
    blocking(isa, &b);
    size_t f = per_thread_bytes(&b, M, N, K);
    if (f > best) best = f;
  }
  return best * (size_t)(threads > 1 ? threads : 1) + 64;
}

size_t gz_sgemm_workspace(long M, long N, long K) { return gz_sgemm_workspace_threads(M, N, K, omp_get_max_threads()); }

static int sgemm_run(int isa, int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
                     const float *B, long ldb, gz_gemm_packer packer, const void *pctx, int packer_rowa, int split_cols,
                     float beta, float *C, long ldc, void *workspace, size_t workspace_bytes, gz_err *e) {
  if (check_args(transA, transB, M, N, K, A, lda, packer ? A : B, ldb, C, ldc, e)) return -1;
  unsigned f = gz_cpu_features();
  int best;
  if (gz_isa_resolve(NULL, f, &best, e)) return -1;
  if (isa < GZ_ISA_SCALAR || isa > best)
    return gz_fail(e, GZ_EUNSUPPORTED, "sgemm: ISA %s not available on this CPU (best %s)", gz_isa_name(isa),
                   gz_isa_name(best));
  if (M == 0 || N == 0) return 0;
  gemm_job j = {.ta = transA != 0, .tb = transB != 0, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
                .A = A, .B = B, .lda = lda, .ldb = ldb, .ldc = ldc, .C = C, .packer = packer,
                .pctx = pctx};
  blocking(isa, &j.bl);
  size_t per = per_thread_bytes(&j.bl, M, N, K);
  long fit = workspace && workspace_bytes > 64 ? (long)((workspace_bytes - 64) / per) : 0;
  if (K > 0 && alpha != 0.0f && fit < 1)
    return gz_fail(e, GZ_ERANGE, "sgemm: workspace of %zu bytes, at least %zu needed (gz_sgemm_workspace)",
                   workspace_bytes, per + 64);
  if (alpha == 0.0f || K == 0) {
    scale_c(M, N, beta, C, ldc);
    return 0;
  }
  j.ukr = isa == GZ_ISA_AVX512 ? gz_gemm_ukr_avx512 : isa == GZ_ISA_AVX2 ? gz_gemm_ukr_avx2 : ukr_scalar;
  j.pack_b = isa == GZ_ISA_AVX512 ? packb_avx512 : pack_b;
  j.rowa = isa == GZ_ISA_AVX512 && !j.ta && (packer ? packer_rowa : j.tb);
  /* Equal K chunks (576 -> 288 + 288, not 512 + 64): fewer short micro-kernel runs; fixed by K alone.
   * Rounded up to 16 floats, a whole vector for the transposing packers: with KC 336 (a 32 KB L1), K 4096
   * went in chunks of 316, and the B^T packer's scalar tail loop of 12 columns x 32 rows took 16 % of its
   * time in a 1x1 weight gradient (perf). */
  j.bl.kc = cdiv(cdiv(K, cdiv(K, j.bl.kc)), 16) * 16;

  /* Threads: as many as the workspace holds (gz_sgemm_workspace sizes it for omp_get_max_threads()),
   * none beyond a few hundred microseconds of work. The T threads tile C as Tm x Tn rectangles aligned
   * to the register tile; each packs its own operands, so they never wait for one another (no
   * barrier: on a shared, oversubscribed machine a descheduled thread delays only its own part). Tm is
   * chosen to minimize the duplicated packing, Tn * M * K + Tm * K * N * wb. Where the micro-kernel packs B
   * as it reads it (AVX-512, B stored K x N) a duplicated B costs reads that overlap the FMAs, while A is
   * packed in a pass of its own: wb = 1/2, so with two threads the rows are split unless N >= 2M
   * (square products split the rows, each thread packing half of A; interleaved A/B, 2 threads, Zen 4,
   * GFLOP/s: 256^3 198 -> 210, 512^3 205 -> 219, 1024^3 213 -> 219, 1024^3 A^T 208 -> 217, 2048^3 214 ->
   * 217, 1024 x 1024 x 256 190 -> 211, 768 x 1024 x 512 178 -> 212). */
  long mt_all = cdiv(M, j.bl.mr), nt_all = cdiv(N, j.bl.nr);
  int T = (double)M * N * K < 3e5 ? 1 : omp_get_max_threads();
  if (T > fit) T = (int)fit;
  if (T > mt_all * nt_all) T = (int)(mt_all * nt_all);
  int tm = 1;
  double bestcost = -1;
  const double wb = isa == GZ_ISA_AVX512 && !j.tb && !packer ? 0.5 : 1.0; /* B packed inside the kernel */
  /* Ties (B^T square products on AVX-512: both operands packed by transposes) split the rows: 2 threads,
   * interleaved, GFLOP/s columns -> rows: 1024^3 B^T 210 -> 215, A^T B^T 204 -> 213, 512^3 B^T 215 -> 218,
   * 2048^3 B^T equal. */
  const int tie_rows = isa == GZ_ISA_AVX512 && j.tb;
  for (int a = 1; a <= T; a++) {
    if (T % a || a > mt_all || T / a > nt_all) continue;
    double cost = (double)(T / a) * M * K + (double)a * K * N * wb;
    if (bestcost < 0 || cost < bestcost || (tie_rows && cost == bestcost)) bestcost = cost, tm = a;
  }
  if (bestcost < 0) T = 1, tm = 1;
  if (split_cols && T <= nt_all) tm = 1; /* the caller measured its shape (gz_sgemm_implicit_rowa_isa) */
  const int tn = T / tm;
  char *base = (char *)align64(workspace);
  long kc = minl(j.bl.kc, K), mc = minl(j.bl.mc, cdiv(M, j.bl.mr) * j.bl.mr);
  /* The team may be smaller than T (inside another parallel region, where nested teams have one thread;
   * OMP_DYNAMIC): each thread then takes rectangles t, t + team, ... with its own buffers. A C element's
   * arithmetic does not depend on which thread computes it. */
#pragma omp parallel num_threads(T) if (T > 1)
  {
    const int team = omp_get_num_threads(), t = omp_get_thread_num();
    float *apack = align64(base + (size_t)t * per);
    float *bpack = align64(apack + mc * apanel_depth(&j.bl, kc));
    for (int r = t; r < T; r += team) {
      const int ti = r / tn, tj = r % tn;
      long m0 = minl(M, mt_all * ti / tm * j.bl.mr), m1 = minl(M, mt_all * (ti + 1) / tm * j.bl.mr);
      long n0 = minl(N, nt_all * tj / tn * j.bl.nr), n1 = minl(N, nt_all * (tj + 1) / tn * j.bl.nr);
      if (m0 < m1 && n0 < n1) gemm_rect(&j, m0, m1, n0, n1, apack, bpack);
    }
  }
  return 0;
}

int gz_sgemm_isa(int isa, int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
                 const float *B, long ldb, float beta, float *C, long ldc, void *workspace, size_t workspace_bytes,
                 gz_err *e) {
  if (isa == GZ_ISA_REFERENCE) return gz_sgemm_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, e);
  return sgemm_run(isa, transA, transB, M, N, K, alpha, A, lda, B, ldb, NULL, NULL, 0, 0, beta, C, ldc, workspace,
                   workspace_bytes, e);
}

int gz_sgemm_implicit_isa(int isa, int transA, long M, long N, long K, float alpha, const float *A, long lda,
                          gz_gemm_packer packer, const void *ctx, float beta, float *C, long ldc, void *workspace,
                          size_t workspace_bytes, gz_err *e) {
  if (!packer) return gz_fail(e, GZ_EINVAL, "sgemm: no B packer");
  return sgemm_run(isa, transA, 0, M, N, K, alpha, A, lda, NULL, N, packer, ctx, 0, 0, beta, C, ldc, workspace,
                   workspace_bytes, e);
}

int gz_sgemm_implicit_rowa_isa(int isa, long M, long N, long K, float alpha, const float *A, long lda,
                               gz_gemm_packer packer, const void *ctx, int split_cols, float beta, float *C, long ldc,
                               void *workspace, size_t workspace_bytes, gz_err *e) {
  if (!packer) return gz_fail(e, GZ_EINVAL, "sgemm: no B packer");
  return sgemm_run(isa, 0, 0, M, N, K, alpha, A, lda, NULL, N, packer, ctx, 1, split_cols, beta, C, ldc, workspace,
                   workspace_bytes, e);
}

int gz_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda, const float *B,
             long ldb, float beta, float *C, long ldc, void *workspace, size_t workspace_bytes, gz_err *e) {
  int isa;
  if (gz_isa_active(&isa, e)) return -1;
  return gz_sgemm_isa(isa, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, workspace, workspace_bytes,
                      e);
}

/* ------------------------------------------------------------------ reference */

int gz_sgemm_ref(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda, const float *B,
                 long ldb, float beta, float *C, long ldc, gz_err *e) {
  if (check_args(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, e)) return -1;
  if (alpha == 0.0f || K == 0) {
    scale_c(M, N, beta, C, ldc);
    return 0;
  }
  /* Each element is one float64 sum in increasing k, rounded once; rows in parallel change no bit. */
#pragma omp parallel for schedule(static)
  for (long i = 0; i < M; i++)
    for (long jj = 0; jj < N; jj++) {
      double s = 0.0;
      for (long k = 0; k < K; k++) {
        float a = transA ? A[k * lda + i] : A[i * lda + k];
        float b = transB ? B[jj * ldb + k] : B[k * ldb + jj];
        s += (double)a * b;
      }
      double t = alpha * s;
      C[i * ldc + jj] = (float)(beta == 0.0f ? t : t + (double)beta * C[i * ldc + jj]);
    }
  return 0;
}
