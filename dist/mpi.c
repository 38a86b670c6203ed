/* dist over MPI (Open MPI; compiled only with MPI=1). The world communicator runs with MPI_ERRORS_RETURN,
 * so a failed call (a peer that died, a lost node) comes back here as a gz_err naming the call and the
 * rank instead of the library's default abort without context; the program then calls gz_dist_abort. */
#include "dist/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_rank, g_size = 1, g_lrank, g_lsize = 1, g_started;
static char g_version[MPI_MAX_LIBRARY_VERSION_STRING + 1];

static int check(int rc, const char *what, gz_err *e) {
  if (rc == MPI_SUCCESS) return 0;
  char s[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, s, &len);
  return gz_fail(e, GZ_EIO, "%s failed: %s (a peer rank may have died or lost its node)", what, s);
}

/* A process started by a launcher (mpirun, srun) carries its rank in the environment; one started by hand
 * runs alone without initializing MPI (a singleton MPI_Init costs most of a second and starts a helper
 * daemon). GAZELOC_MPI=1 forces the initialization. */
static int launched(void) {
  const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "GAZELOC_MPI"};
  for (int i = 0; i < 5; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v && strcmp(v, "0")) return 1;
  }
  return 0;
}

int gz_dist_init(int *argc, char ***argv, gz_err *e) {
  if (g_started || !launched()) return 0;
  int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) return gz_fail(e, GZ_EIO, "MPI_Init_thread failed (code %d)", rc);
  g_started = 1;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  MPI_Comm node;
  if (check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type", e))
    return -1;
  MPI_Comm_rank(node, &g_lrank);
  MPI_Comm_size(node, &g_lsize);
  MPI_Comm_free(&node);
  return 0;
}

void gz_dist_finalize(void) {
  if (g_started) MPI_Finalize();
  g_started = 0;
}

int gz_dist_rank(void) { return g_rank; }
int gz_dist_size(void) { return g_size; }
int gz_dist_local_rank(void) { return g_lrank; }
int gz_dist_local_size(void) { return g_lsize; }
/* MPI_Get_library_version may be called before MPI_Init. */
const char *gz_dist_backend(void) {
  if (!g_version[0]) {
    int len = 0;
    MPI_Get_library_version(g_version, &len);
    char *nl = strchr(g_version, '\n');
    if (nl) *nl = 0;
    char *comma = strchr(g_version, ','); /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
    if (comma) *comma = 0;
  }
  return g_version;
}

/* Every collective is started non-blocking and waited for here. With GAZELOC_MPI_TIMEOUT=SECONDS, a rank
 * that waits longer than that (a peer died and the launcher did not end the job, a node was lost and the
 * network does not say so) reports it and ends the job; unset or 0, it waits as long as it takes (the
 * launcher ends the job when a rank dies: docs/mpi.md "Faults"). */
static double g_timeout = -1;

static int wait_for(MPI_Request *req, int rc, const char *what, gz_err *e) {
  if (check(rc, what, e)) return -1;
  if (g_timeout < 0) {
    const char *t = getenv("GAZELOC_MPI_TIMEOUT");
    g_timeout = t && *t ? atof(t) : 0;
  }
  if (g_timeout <= 0) return check(MPI_Wait(req, MPI_STATUS_IGNORE), what, e);
  double t0 = MPI_Wtime();
  for (int done = 0, spins = 0;; spins++) {
    if (check(MPI_Test(req, &done, MPI_STATUS_IGNORE), what, e)) return -1;
    if (done) return 0;
    if (MPI_Wtime() - t0 > g_timeout)
      return gz_fail(e, GZ_EIO, "%s: no answer from the other ranks for %.0f s (GAZELOC_MPI_TIMEOUT): a rank died or its node was lost",
                     what, g_timeout);
    if (spins > 1000) {
      struct timespec ts = {0, 200000}; /* past the first spins, poll every 0.2 ms */
      nanosleep(&ts, NULL);
    }
  }
}

/* Counts are ints: large buffers go in pieces of at most 2^30 elements. */
#define PIECE ((size_t)1 << 30)

/* Not started (one process by hand): the collectives of one rank. */
int gz_dist_bcast(void *buf, size_t bytes, int root, gz_err *e) {
  if (!g_started) return root == 0 ? 0 : gz_fail(e, GZ_EINVAL, "broadcast from rank %d of 1", root);
  for (size_t o = 0; o < bytes; o += PIECE) {
    size_t k = bytes - o < PIECE ? bytes - o : PIECE;
    MPI_Request q;
    if (wait_for(&q, MPI_Ibcast((char *)buf + o, (int)k, MPI_BYTE, root, MPI_COMM_WORLD, &q), "MPI_Bcast", e)) return -1;
  }
  return 0;
}

int gz_dist_allreduce_f32(float *buf, size_t n, gz_err *e) {
  if (!g_started) return 0;
  for (size_t o = 0; o < n; o += PIECE) {
    size_t k = n - o < PIECE ? n - o : PIECE;
    MPI_Request q;
    if (wait_for(&q, MPI_Iallreduce(MPI_IN_PLACE, buf + o, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &q), "MPI_Allreduce", e))
      return -1;
  }
  return 0;
}

int gz_dist_allreduce_f64(double *buf, size_t n, gz_err *e) {
  if (!g_started) return 0;
  for (size_t o = 0; o < n; o += PIECE) {
    size_t k = n - o < PIECE ? n - o : PIECE;
    MPI_Request q;
    if (wait_for(&q, MPI_Iallreduce(MPI_IN_PLACE, buf + o, (int)k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &q), "MPI_Allreduce", e))
      return -1;
  }
  return 0;
}

int gz_dist_allgather(const void *send, void *recv, size_t bytes, gz_err *e) {
  if (!g_started) {
    if (recv != send) memmove(recv, send, bytes);
    return 0;
  }
  if (bytes > INT_MAX) return gz_fail(e, GZ_ERANGE, "MPI_Allgather: %zu bytes per rank is more than one call takes", bytes);
  MPI_Request q;
  if (send == recv) /* in place: this rank's block is already where it belongs */
    return wait_for(&q, MPI_Iallgather(MPI_IN_PLACE, 0, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD, &q),
                    "MPI_Allgather", e);
  return wait_for(&q, MPI_Iallgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD, &q),
                  "MPI_Allgather", e);
}

int gz_dist_alltoall(const void *send, void *recv, size_t bytes, gz_err *e) {
  if (!g_started) return gz_dist_allgather(send, recv, bytes, e);
  if (bytes > INT_MAX) return gz_fail(e, GZ_ERANGE, "MPI_Alltoall: %zu bytes per block is more than one call takes", bytes);
  MPI_Request q;
  return wait_for(&q, MPI_Ialltoall(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD, &q),
                  "MPI_Alltoall", e);
}

int gz_dist_barrier(gz_err *e) {
  MPI_Request q;
  return g_started ? wait_for(&q, MPI_Ibarrier(MPI_COMM_WORLD, &q), "MPI_Barrier", e) : 0;
}

void gz_dist_abort(const char *prog, const char *msg) {
  fprintf(stderr, "%s: error: rank %d of %d: %s\n", prog, g_rank, g_size, msg);
  fflush(stderr);
  if (g_started) MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}
