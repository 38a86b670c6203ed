/* Reduction trees over shards (dist.h): the one definition of the order in which deterministic training
 * adds partial results. Node [lo, hi) of S shards splits at (lo + hi) / 2; autograd's per-shard weight
 * gradients (autograd/ops_shard.c) use the same split for the shards inside one process. */
#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

static int node_ok(int lo, int hi, int b) {
  if (hi - lo == b) return lo % b == 0;
  if (hi - lo < b) return 0;
  int mid = (lo + hi) / 2;
  return node_ok(lo, mid, b) && node_ok(mid, hi, b);
}

int gz_tree_blocks_ok(int S, int N) {
  if (S < 1 || N < 1 || S % N) return 0;
  return node_ok(0, S, S / N);
}

/* Leaves are blocks of b shards (already combined): block index lo / b. Children first, then
 * merge(right into left), so the left child's result stays in the left block and the root's in block 0. */
typedef struct {
  void *blocks;
  size_t stride, len;
} walk_ctx;

static void walk(const walk_ctx *w, int lo, int hi, int b, void (*merge)(const walk_ctx *, size_t, size_t)) {
  if (hi - lo <= b) return;
  int mid = (lo + hi) / 2;
  walk(w, lo, mid, b, merge);
  walk(w, mid, hi, b, merge);
  merge(w, (size_t)(lo / b), (size_t)(mid / b));
}

static void merge_f32(const walk_ctx *w, size_t dst, size_t src) {
  float *x = (float *)w->blocks + dst * w->stride;
  const float *y = (const float *)w->blocks + src * w->stride;
  size_t len = w->len;
#pragma omp parallel for schedule(static) if (len > 65536)
  for (size_t i = 0; i < len; i++) x[i] += y[i];
}

static void merge_f64(const walk_ctx *w, size_t dst, size_t src) {
  double *x = (double *)w->blocks + dst * w->stride;
  const double *y = (const double *)w->blocks + src * w->stride;
  for (size_t i = 0; i < w->len; i++) x[i] += y[i];
}

static void merge_moments(const walk_ctx *w, size_t dst, size_t src) {
  double *x = (double *)w->blocks + dst * w->stride;
  const double *y = (const double *)w->blocks + src * w->stride;
  for (size_t i = 0; i < w->len; i++, x += 3, y += 3) {
    double na = x[0], nb = y[0], n = na + nb;
    if (nb == 0) continue;
    if (na == 0) {
      memcpy(x, y, 3 * sizeof *x);
      continue;
    }
    double d = y[1] - x[1];
    x[0] = n;
    x[1] = x[1] + d * nb / n;
    x[2] = x[2] + y[2] + d * d * na * nb / n;
  }
}

void gz_tree_sum_f32(float *blocks, size_t stride, size_t len, int S, int b) {
  walk_ctx w = {blocks, stride, len};
  walk(&w, 0, S, b, merge_f32);
}
void gz_tree_sum_f64(double *blocks, size_t stride, size_t len, int S, int b) {
  walk_ctx w = {blocks, stride, len};
  walk(&w, 0, S, b, merge_f64);
}
void gz_tree_moments(double *blocks, size_t stride, size_t len, int S, int b) {
  walk_ctx w = {blocks, stride, len};
  walk(&w, 0, S, b, merge_moments);
}

/* The exchange buffers persist between calls (one per step: 2 x the gradient arena, whose pages would
 * otherwise be faulted in again every step); gz_dist_tree_release frees them. */
static float *g_send, *g_recv;
static size_t g_cap;

void gz_dist_tree_release(void) {
  free(g_send), free(g_recv);
  g_send = g_recv = NULL, g_cap = 0;
}

int gz_dist_allreduce_tree_f32(float *buf, size_t n, int S, gz_err *e) {
  int N = gz_dist_size();
  if (N == 1) return 0;
  if (!gz_tree_blocks_ok(S, N))
    return gz_fail(e, GZ_EINVAL, "deterministic all-reduce: %d ranks do not split %d shards into tree nodes", N, S);
  /* slices of `chunk` floats (a multiple of 16: 64-byte rows), the last one padded with zeros */
  size_t chunk = ((n + (size_t)N - 1) / (size_t)N + 15) / 16 * 16, total = chunk * (size_t)N;
  if (g_cap < total) {
    gz_dist_tree_release();
    g_send = malloc(total * sizeof *g_send), g_recv = malloc(total * sizeof *g_recv);
    if (!g_send || !g_recv) {
      gz_dist_tree_release();
      return gz_fail(e, GZ_ENOMEM, "deterministic all-reduce: no memory for 2 x %zu floats", total);
    }
    g_cap = total;
  }
  memcpy(g_send, buf, n * sizeof *buf);
  memset(g_send + n, 0, (total - n) * sizeof *g_send);
  if (gz_dist_alltoall(g_send, g_recv, chunk * sizeof *g_send, e)) return -1;
  gz_tree_sum_f32(g_recv, chunk, chunk, S, S / N); /* recv block j: rank j's partial of my slice */
  if (gz_dist_allgather(g_recv, g_send, chunk * sizeof *g_send, e)) return -1;
  memcpy(buf, g_send, n * sizeof *buf);
  return 0;
}
