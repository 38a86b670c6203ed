/* SGEMM, BLIS-style (docs/kernels.md): five loops around a register-tile micro-kernel.
 *
 *   for i0 in M by MC           A panel rows (packed A panel: MC x KC, lives in L3)
 *     for p0 in K by KC         depth (fixed chunks: the only reduction, always in this order)
 *       pack A panel            micro-panels of MR rows, k-major
 *       for j0 in N by NC       packed B block: KC x NC, lives in L2
 *         pack B block          micro-panels of NR columns, k-major
 *         for ir, jr            micro-tiles MR x NR, ir outer: the A micro-panel stays in L1
 *
 * All threads of one OpenMP team walk the same loops: they pack the shared panels cooperatively and
 * split the micro-tiles of each MC x NC block between them. A C element is computed by exactly one
 * micro-kernel call per KC chunk, so the result does not depend on the thread count. The packed B
 * block is double-buffered, so one barrier per block suffices.
 */
#include "tensor/kernels.h"

#include <hwloc.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
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
        memcpy(d + k * nr, B + (p0 + k) * ldb + c0, sizeof(float) * (size_t)n);
        for (int j = n; j < nr; j++) d[k * nr + j] = 0.0f;
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

static size_t ws_floats(const gz_gemm_blocking *b, long M, long N, long K) {
  long kc = minl(b->kc, K), mc = minl(b->mc, cdiv(M, b->mr) * b->mr), nc = minl(b->nc, cdiv(N, b->nr) * b->nr);
  return (size_t)(mc * kc + 2 * kc * nc);
}

size_t gz_sgemm_workspace(long M, long N, long K) {
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  size_t best = 0;
  for (int isa = GZ_ISA_SCALAR; isa <= GZ_ISA_AVX512; isa++) {
    gz_gemm_blocking b;
    blocking(isa, &b);
    size_t f = ws_floats(&b, M, N, K);
    if (f > best) best = f;
  }
  return best * sizeof(float) + 3 * 64;
}

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

typedef struct {
  int ta, tb;
  long M, N, K;
  float alpha, beta;
  const float *A, *B;
  long lda, ldb, ldc;
  float *C, *apack, *bpack[2];
  gz_gemm_blocking bl;
  gz_gemm_ukr ukr;
} gemm_job;

static void range(long n, int tid, int nt, long *lo, long *hi) {
  *lo = n * tid / nt;
  *hi = n * (tid + 1) / nt;
}

static void gemm_thread(const gemm_job *j, int tid, int nt) {
  const int mr = j->bl.mr, nr = j->bl.nr;
  for (long i0 = 0; i0 < j->M; i0 += j->bl.mc) {
    long mcb = minl(j->bl.mc, j->M - i0), mt = cdiv(mcb, mr);
    for (long p0 = 0; p0 < j->K; p0 += j->bl.kc) {
      long kcb = minl(j->bl.kc, j->K - p0), lo, hi;
      float beta = p0 == 0 ? j->beta : 1.0f;
#pragma omp barrier
      range(mt, tid, nt, &lo, &hi);
      pack_a(j->ta, j->A, j->lda, i0, mcb, p0, kcb, mr, j->apack, lo, hi);
      long s = 0;
      for (long j0 = 0; j0 < j->N; j0 += j->bl.nc, s++) {
        long ncb = minl(j->bl.nc, j->N - j0), ntl = cdiv(ncb, nr);
        float *bp = j->bpack[s & 1];
        range(ntl, tid, nt, &lo, &hi);
        pack_b(j->tb, j->B, j->ldb, j0, ncb, p0, kcb, nr, bp, lo, hi);
#pragma omp barrier
        range(mt * ntl, tid, nt, &lo, &hi);
        for (long t = lo; t < hi; t++) {
          long ir = t / ntl, jr = t % ntl;
          int m = (int)minl(mr, mcb - ir * mr), n = (int)minl(nr, ncb - jr * nr);
          float *c = j->C + (i0 + ir * mr) * j->ldc + j0 + jr * nr;
          j->ukr(kcb, j->apack + ir * mr * kcb, bp + jr * nr * kcb, c, j->ldc, j->alpha, beta, m, n);
        }
      }
    }
  }
}

static float *align64(void *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

int gz_sgemm_isa(int isa, int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
                 const float *B, long ldb, float beta, float *C, long ldc, void *workspace, size_t workspace_bytes,
                 gz_err *e) {
  if (check_args(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, e)) return -1;
  unsigned f = gz_cpu_features();
  int best;
  if (gz_isa_resolve(NULL, f, &best, e)) return -1;
  if (isa < GZ_ISA_SCALAR || isa > best)
    return gz_fail(e, GZ_EUNSUPPORTED, "sgemm: ISA %s not available on this CPU (best %s)", gz_isa_name(isa),
                   gz_isa_name(best));
  if (M == 0 || N == 0) return 0;
  if (alpha == 0.0f || K == 0) {
    scale_c(M, N, beta, C, ldc);
    return 0;
  }
  gemm_job j = {.ta = transA != 0, .tb = transB != 0, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
                .A = A, .B = B, .lda = lda, .ldb = ldb, .ldc = ldc, .C = C};
  blocking(isa, &j.bl);
  j.ukr = isa == GZ_ISA_AVX512 ? gz_gemm_ukr_avx512 : isa == GZ_ISA_AVX2 ? gz_gemm_ukr_avx2 : ukr_scalar;
  long kc = minl(j.bl.kc, K), mc = minl(j.bl.mc, cdiv(M, j.bl.mr) * j.bl.mr);
  long nc = minl(j.bl.nc, cdiv(N, j.bl.nr) * j.bl.nr);
  size_t need = ws_floats(&j.bl, M, N, K) * sizeof(float) + 3 * 64;
  if (!workspace || workspace_bytes < need)
    return gz_fail(e, GZ_ERANGE, "sgemm: workspace of %zu bytes, %zu needed (gz_sgemm_workspace)", workspace_bytes,
                   need);
  j.apack = align64(workspace);
  j.bpack[0] = align64(j.apack + mc * kc);
  j.bpack[1] = align64(j.bpack[0] + kc * nc);
  /* Threads only pay off beyond a few hundred microseconds of work. */
  int nt = (double)M * N * K < 3e5 ? 1 : omp_get_max_threads();
  if (nt <= 1) {
    gemm_thread(&j, 0, 1);
  } else {
#pragma omp parallel num_threads(nt)
    gemm_thread(&j, omp_get_thread_num(), omp_get_num_threads());
  }
  return 0;
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
  for (long i = 0; i < M; i++)
    for (long jj = 0; jj < N; jj++) {
      float s = 0.0f;
      for (long k = 0; k < K; k++) {
        float a = transA ? A[k * lda + i] : A[i * lda + k];
        float b = transB ? B[jj * ldb + k] : B[k * ldb + jj];
        s += a * b;
      }
      float t = alpha * s;
      C[i * ldc + jj] = beta == 0.0f ? t : t + beta * C[i * ldc + jj];
    }
  return 0;
}
