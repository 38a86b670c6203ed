/* dist: the processes of a data-parallel run (issue 10, docs/mpi.md).
 *
 * A narrow interface over the message-passing library, with two implementations chosen at build time:
 * dist/serial.c (one process, no MPI: every collective is a copy or nothing) and dist/mpi.c (Open MPI,
 * compiled with mpicc's flags when the build has MPI=1, the default where mpicc is found). Nothing else
 * in gazeloc mentions MPI. Communication errors come back as gz_err (the communicator runs with
 * MPI_ERRORS_RETURN) naming the call and this rank; the caller then ends the job with gz_dist_abort.
 *
 * Reduction trees (tree.c). Deterministic training fixes the order in which partial sums of S shards
 * of the global batch are combined: a pairwise tree over shard indices whose node [lo, hi) splits at
 * mid = (lo + hi) / 2. A process that holds the shards [r b, (r + 1) b) (b = S / N) combines them
 * itself when that range is a node of the tree (gz_tree_blocks_ok), and the processes then combine
 * their results over the nodes above: the same additions, in the same order, for any N. */
#ifndef GAZELOC_DIST_H
#define GAZELOC_DIST_H

#include <stddef.h>

#include "base/base.h"

/* ------------------------------------------------------------------ processes (serial.c / mpi.c) */

/* Starts the library (MPI_Init_thread with MPI_THREAD_FUNNELED: only the main thread communicates) or,
 * in the serial build, nothing. Safe to call once. */
int gz_dist_init(int *argc, char ***argv, gz_err *e);
/* MPI_Finalize (after the last collective of every rank). */
void gz_dist_finalize(void);
int gz_dist_rank(void);
int gz_dist_size(void);
/* Ranks on this node and this rank's index among them (MPI_COMM_TYPE_SHARED), for thread binding. */
int gz_dist_local_rank(void);
int gz_dist_local_size(void);
/* "serial" or the library's version line ("Open MPI v4.1.4, ..."). */
const char *gz_dist_backend(void);

/* Collectives on the world communicator. Every rank must make the same calls in the same order. */
int gz_dist_bcast(void *buf, size_t bytes, int root, gz_err *e);
/* In place, sum in the library's order (the fast mode). */
int gz_dist_allreduce_f32(float *buf, size_t n, gz_err *e);
int gz_dist_allreduce_f64(double *buf, size_t n, gz_err *e);
/* recv[i * bytes ...] = rank i's send (bytes each): data movement only, so exact. */
int gz_dist_allgather(const void *send, void *recv, size_t bytes, gz_err *e);
/* Block i (bytes each) of send goes to rank i; recv block j comes from rank j. */
int gz_dist_alltoall(const void *send, void *recv, size_t bytes, gz_err *e);
int gz_dist_barrier(gz_err *e);
/* Prints "<prog>: error: rank R of N: <msg>" and ends every rank of the job (MPI_Abort); never returns. */
void gz_dist_abort(const char *prog, const char *msg) __attribute__((noreturn));

/* ------------------------------------------------------------------ threads (bind.c) */

/* Hybrid MPI x OpenMP: the cores this rank may use are the process's binding (mpirun --bind-to socket,
 * srun --cpu-bind) or, when the process is not bound and several ranks share the node, an equal share of
 * the node's cores by local rank. Unless OMP_NUM_THREADS is set, the OpenMP team gets one thread per such
 * core; thread i is bound to core i of the set. desc receives "cores 0-7 (8 threads)". */
int gz_dist_bind_threads(char *desc, size_t n, gz_err *e);

/* ------------------------------------------------------------------ reduction trees (tree.c) */

/* 1 when every block [r b, (r + 1) b) of S shards (b = S / N, N dividing S) is a node of the tree. */
int gz_tree_blocks_ok(int S, int N);
/* Combines k = S / b blocks (block j = shards [j b, (j + 1) b), already combined) over the tree nodes
 * above them; the result is left in block 0. Blocks are `stride` elements apart, each `len` long. */
void gz_tree_sum_f32(float *blocks, size_t stride, size_t len, int S, int b);
void gz_tree_sum_f64(double *blocks, size_t stride, size_t len, int S, int b);
/* The same for per-channel moments: `len` triples (count, mean, M2) per block, merged pairwise with
 * Chan, Golub and LeVeque's formula (n = na + nb, d = mb - ma, mean = ma + d nb / n,
 * M2 = M2a + M2b + d^2 na nb / n). */
void gz_tree_moments(double *blocks, size_t stride, size_t len, int S, int b);

/* The deterministic all-reduce of n floats: each rank holds its block's sum (N = size blocks of S / N
 * shards); afterwards every rank holds the sum over the tree. Reduce-scatter by gz_dist_alltoall (each rank
 * combines one slice of every rank's buffer in tree order), then gz_dist_allgather of the slices:
 * 2 (N-1)/N n floats sent per rank, as a ring all-reduce, and no arithmetic left to the library. */
int gz_dist_allreduce_tree_f32(float *buf, size_t n, int S, gz_err *e);
/* Frees the exchange buffers gz_dist_allreduce_tree_f32 keeps between calls. */
void gz_dist_tree_release(void);

#endif
