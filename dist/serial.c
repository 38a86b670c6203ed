/* dist for one process (the build without MPI): rank 0 of 1, every collective a copy or nothing. */
#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

int gz_dist_init(int *argc, char ***argv, gz_err *e) {
  (void)argc, (void)argv, (void)e;
  return 0;
}
void gz_dist_finalize(void) {}
int gz_dist_rank(void) { return 0; }
int gz_dist_size(void) { return 1; }
int gz_dist_local_rank(void) { return 0; }
int gz_dist_local_size(void) { return 1; }
const char *gz_dist_backend(void) { return "serial (built without MPI)"; }

int gz_dist_bcast(void *buf, size_t bytes, int root, gz_err *e) {
  (void)buf, (void)bytes;
  return root == 0 ? 0 : gz_fail(e, GZ_EINVAL, "broadcast from rank %d of 1", root);
}
int gz_dist_allreduce_f32(float *buf, size_t n, gz_err *e) { return (void)buf, (void)n, (void)e, 0; }
int gz_dist_allreduce_f64(double *buf, size_t n, gz_err *e) { return (void)buf, (void)n, (void)e, 0; }
int gz_dist_allgather(const void *send, void *recv, size_t bytes, gz_err *e) {
  (void)e;
  if (recv != send) memmove(recv, send, bytes);
  return 0;
}
int gz_dist_alltoall(const void *send, void *recv, size_t bytes, gz_err *e) { return gz_dist_allgather(send, recv, bytes, e); }
int gz_dist_barrier(gz_err *e) { return (void)e, 0; }

void gz_dist_abort(const char *prog, const char *msg) {
  fprintf(stderr, "%s: error: %s\n", prog, msg);
  exit(1);
}
