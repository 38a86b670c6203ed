/* gazeloc-train over several processes (docs/mpi.md): data-parallel training with dist/.
 *
 * Every rank holds the whole model. Rank 0's initial (or resumed) weights, buffers and optimizer state are
 * broadcast; each rank loads its part of every global batch (gz_loader_start_part: the same order and
 * augmentation as one process); batch norm is synchronized (autograd's shard plan, whose combine() is
 * below); the gradient arena is summed over the ranks, the Adam step then runs identically everywhere.
 *
 * Two modes:
 *   fast (default)   one shard per rank: each rank's sums over its part of the batch in one kernel call,
 *                    the ranks' results added in rank-tree order (GAZELOC_ALLREDUCE=mpi: MPI_Allreduce).
 *                    Agrees with one process to float rounding (docs/mpi.md has the measured difference).
 *   --deterministic  the global batch is S shards (--shards, default the batch size), each rank holding
 *                    S / N contiguous ones; every sum over the batch (conv weight gradients, batch-norm
 *                    statistics and their gradients, the logged loss) is formed per shard and added over
 *                    the pairwise tree of dist.h, and the gradient arena is reduced in that tree by
 *                    gz_dist_allreduce_tree_f32. 1, 2 or 4 ranks (any N dividing S whose blocks are tree
 *                    nodes) then compute the same bits; a checkpoint resumes exactly with another N. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "train.h"
#include "train_dist.h"

struct train_dist {
  int rank, size, deterministic, shards; /* shards: S of the global batch (fast mode: one per rank) */
  gz_shard_plan plan;
  double *gather;                        /* combine()'s buffer of every rank's block */
  size_t gather_n;
  double comm_s;                         /* seconds in the gradient reduction, summed over steps */
  long steps;
};

static train_dist g_dist;
static char g_bind[256];

/* GAZELOC_FAULT_RANK=<r>s kills rank r right after the start (the tests' cheap dead rank); <r> alone, at
 * its first step (dist_step.c). */
/* When a rank dies, the launcher (mpirun, srun --kill-on-bad-exit) ends the others with SIGTERM: each then
 * says so itself, so that every rank's output names the end of the job (issue 10). Only write(2) and
 * _exit in the handler (async-signal-safe); the message is formatted beforehand. Checkpoints are written to
 * a temporary file and renamed, so the last complete one survives. */
static char g_term_msg[320];
static size_t g_term_len;
static void on_sigterm(int sig) {
  (void)sig;
  ssize_t w = write(STDERR_FILENO, g_term_msg, g_term_len);
  (void)w;
  _exit(143);
}

int train_dist_start(int *argc, char ***argv, gz_err *e) {
  if (gz_dist_init(argc, argv, e)) return -1;
  if (gz_dist_size() > 1) {
    int n = snprintf(g_term_msg, sizeof g_term_msg,
                     "gazeloc-train: error: rank %d of %d: ended by the launcher (SIGTERM): another rank failed or the "
                     "job was cancelled; restart with --resume, on any number of ranks\n",
                     gz_dist_rank(), gz_dist_size());
    g_term_len = n > 0 && (size_t)n < sizeof g_term_msg ? (size_t)n : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigterm;
    sigemptyset(&sa.sa_mask);
    if (g_term_len && sigaction(SIGTERM, &sa, NULL)) return gz_fail(e, GZ_EIO, "cannot install the SIGTERM handler");
  }
  const char *fault = getenv("GAZELOC_FAULT_RANK");
  if (fault && *fault && fault[strlen(fault) - 1] == 's' && atoi(fault) == gz_dist_rank()) raise(SIGKILL);
  /* hybrid MPI x OpenMP: this rank's threads on its own cores (GAZELOC_BIND=0 leaves them alone) */
  const char *bind = getenv("GAZELOC_BIND");
  if (gz_dist_size() > 1 && !(bind && !strcmp(bind, "0"))) {
    gz_err be = {0};
    if (gz_dist_bind_threads(g_bind, sizeof g_bind, &be)) snprintf(g_bind, sizeof g_bind, "threads not bound: %.200s", be.msg);
  }
  return 0;
}
int train_dist_rank(void) { return gz_dist_rank(); }
int train_dist_size(void) { return gz_dist_size(); }

void train_dist_die(const char *prog, const char *msg) {
  if (gz_dist_size() > 1) gz_dist_abort(prog, msg); /* every rank ends, each says why it was ended */
  fprintf(stderr, "%s: error: %s\n", prog, msg);
}

/* plan->combine: this rank's shards over their subtree, then every rank's block over the nodes above. */
static int combine(void *ctx, int kind, double *in, size_t len, double *out, gz_err *e) {
  train_dist *d = ctx;
  size_t w = kind == GZ_SHARD_MOMENTS ? 3 : 1, blk = len * w;
  int ns = d->plan.nshards;
  if (kind == GZ_SHARD_MOMENTS) gz_tree_moments(in, blk, len, ns, 1);
  else gz_tree_sum_f64(in, blk, blk, ns, 1);
  if (d->gather_n < blk * (size_t)d->size) {
    double *g = realloc(d->gather, blk * (size_t)d->size * sizeof *g);
    if (!g) return gz_fail(e, GZ_ENOMEM, "batch-norm synchronization: out of memory");
    d->gather = g, d->gather_n = blk * (size_t)d->size;
  }
  if (gz_dist_allgather(in, d->gather, blk * sizeof *in, e)) return gz_err_prefix(e, "batch-norm synchronization");
  int S = d->plan.total_shards, b = S / d->size;
  if (kind == GZ_SHARD_MOMENTS) gz_tree_moments(d->gather, blk, len, S, b);
  else gz_tree_sum_f64(d->gather, blk, blk, S, b);
  memcpy(out, d->gather, blk * sizeof *out);
  return 0;
}

int train_dist_configure(train_run *r, int deterministic, int shards, gz_err *e) {
  train_dist *d = &g_dist;
  d->rank = gz_dist_rank(), d->size = gz_dist_size(), d->deterministic = deterministic;
  r->dist = NULL;
  if (!deterministic && d->size == 1) return 0; /* one process, fast mode: the plain program */
  int B = r->cfg.batch, N = d->size;
  if (B % N) return gz_fail(e, GZ_EINVAL, "--batch %d is not divisible by the %d ranks", B, N);
  d->shards = deterministic ? (shards ? shards : B) : N;
  if (deterministic) {
    if (B % d->shards || d->shards % N)
      return gz_fail(e, GZ_EINVAL, "--shards %d must divide --batch %d and be a multiple of the %d ranks", d->shards, B, N);
    if (!gz_tree_blocks_ok(d->shards, N))
      return gz_fail(e, GZ_EINVAL,
                     "--deterministic: %d ranks do not split %d shards along the reduction tree (use a power of two "
                     "that divides the shards, or another --shards)",
                     N, d->shards);
  }
  d->plan = (gz_shard_plan){.nshards = d->shards / N, .total_shards = d->shards, .param_grad_owner = d->rank == 0,
                            .combine = combine, .ctx = d};
  r->tape.shards = &d->plan;
  r->dist = d;
  return 0;
}

int train_dist_sync_model(train_run *r, gz_err *e) {
  if (gz_dist_size() == 1) return 0;
  gz_model *m = &r->net.m;
  int rc = gz_dist_bcast(m->params.param.base, m->params.param.used, 0, e) ||
           gz_dist_bcast(m->buffers.base, m->buffers.used, 0, e) ||
           gz_dist_bcast(&r->opt.hp, sizeof r->opt.hp, 0, e) || gz_dist_bcast(&r->st, sizeof r->st, 0, e);
  for (int i = 0; !rc && i < m->params.nstate; i++) rc = gz_dist_bcast(m->params.state[i].base, m->params.state[i].used, 0, e);
  return rc ? gz_err_prefix(e, "broadcasting the model from rank 0") : 0;
}

int train_dist_loader(const train_run *r, gz_loader *ld, const gz_sample_list *list, int shuffle, int augment,
                      int drop_last, uint64_t epoch, gz_err *e) {
  return gz_loader_start_part(ld, &r->ds, list, r->cfg.batch, shuffle, augment, drop_last, r->cfg.seed, epoch, r->threads,
                              0, gz_dist_rank(), gz_dist_size(), e);
}

int train_dist_reduce_grads(train_run *r, gz_err *e) {
  train_dist *d = r->dist;
  if (d->size == 1) return 0;
  gz_params *p = &r->net.m.params;
  size_t n = p->grad.used / sizeof(float);
  double t0 = gz_now();
  /* Both modes reduce-scatter by alltoall, add the slices in tree order and all-gather them (fast mode: one
   * shard per rank, so the tree is over the ranks): measured here 5-20x faster than Open MPI 4.1's
   * MPI_Allreduce on 150 MB (docs/mpi.md "Scaling"). GAZELOC_ALLREDUCE=mpi uses MPI_Allreduce instead in
   * fast mode, for clusters whose library does better (hierarchical or offloaded reductions). */
  const char *how = getenv("GAZELOC_ALLREDUCE");
  int rc = !d->deterministic && how && !strcmp(how, "mpi") ? gz_dist_allreduce_f32((float *)p->grad.base, n, e)
                                                           : gz_dist_allreduce_tree_f32((float *)p->grad.base, n, d->shards, e);
  d->comm_s += gz_now() - t0, d->steps++;
  return rc ? gz_err_prefix(e, "summing the gradients over the ranks") : 0;
}

size_t train_dist_grad_bytes(const train_run *r) { return r->net.m.params.grad.used; }
double train_dist_comm_seconds(const train_run *r) { return r->dist && r->dist->steps ? r->dist->comm_s / r->dist->steps : 0; }
const char *train_dist_describe(const train_run *r, char *buf, size_t n) {
  if (!r->dist) snprintf(buf, n, "1 process");
  else if (g_bind[0])
    snprintf(buf, n, "%d rank%s, %s over %d shards (%.60s); rank 0: %.200s", r->dist->size, r->dist->size > 1 ? "s" : "",
             r->dist->deterministic ? "deterministic" : "fast mode", r->dist->shards, gz_dist_backend(), g_bind);
  else if (r->dist->deterministic)
    snprintf(buf, n, "%d rank%s, deterministic over %d shards (%s)", r->dist->size, r->dist->size > 1 ? "s" : "",
             r->dist->shards, gz_dist_backend());
  else snprintf(buf, n, "%d ranks, fast mode (%s)", r->dist->size, gz_dist_backend());
  return buf;
}

int train_dist_bcast_string(char **s, gz_err *e) {
  if (gz_dist_size() == 1) return 0;
  uint64_t len = *s ? strlen(*s) + 1 : 0;
  if (gz_dist_bcast(&len, sizeof len, 0, e)) return -1;
  if (gz_dist_rank() != 0) {
    free(*s);
    *s = len ? malloc(len) : NULL;
    if (len && !*s) return gz_fail(e, GZ_ENOMEM, "out of memory");
  }
  return len ? gz_dist_bcast(*s, len, 0, e) : 0;
}

int train_dist_barrier(gz_err *e) { return gz_dist_barrier(e); }

/* Exact sum over ranks of arrays where each element is non-zero on one rank at most (x + 0 = x). */
int train_dist_gather_sum(double *v, size_t n, gz_err *e) { return gz_dist_allreduce_f64(v, n, e); }

void train_dist_finish(train_run *r) {
  if (r && r->dist) gz_shard_plan_free(&r->dist->plan), free(r->dist->gather);
  if (r) r->tape.shards = NULL;
  gz_dist_tree_release();
  gz_dist_finalize();
}
