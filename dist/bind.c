/* Hybrid MPI x OpenMP: which cores a rank's threads run on (dist.h, docs/mpi.md "Binding"). */
#include "dist/dist.h"

#include <hwloc.h>
#include <omp.h>
#include <stdlib.h>

int gz_dist_bind_threads(char *desc, size_t n, gz_err *e) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) || hwloc_topology_load(topo))
    return gz_fail(e, GZ_EUNSUPPORTED, "hwloc: cannot read this machine's topology");
  int rc = -1, ncores = 0;
  hwloc_bitmap_t set = hwloc_bitmap_alloc(), all = hwloc_bitmap_dup(hwloc_topology_get_topology_cpuset(topo));
  hwloc_obj_t *cores = NULL;
  if (!set || !all || hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS)) {
    gz_fail(e, GZ_EUNSUPPORTED, "hwloc: cannot read this process's binding");
    goto out;
  }
  int total = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  cores = calloc((size_t)(total > 0 ? total : 1), sizeof *cores);
  if (!cores) {
    gz_fail(e, GZ_ENOMEM, "hwloc: out of memory");
    goto out;
  }
  for (int i = 0; i < total; i++) { /* the cores this process may run on */
    hwloc_obj_t c = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
    if (c && hwloc_bitmap_intersects(c->cpuset, set)) cores[ncores++] = c;
  }
  int first = 0, count = ncores, ls = gz_dist_local_size(), lr = gz_dist_local_rank();
  /* not bound by the launcher (it may run anywhere on the node) but sharing the node: an equal share */
  if (hwloc_bitmap_isincluded(all, set) && ls > 1 && ncores >= ls) {
    first = (int)((long)ncores * lr / ls);
    count = (int)((long)ncores * (lr + 1) / ls) - first;
  }
  if (count < 1) {
    gz_fail(e, GZ_EUNSUPPORTED, "hwloc: no core to run on");
    goto out;
  }
  if (!getenv("OMP_NUM_THREADS")) omp_set_num_threads(count);
  int failed = 0, team = 1;
#pragma omp parallel reduction(+ : failed)
  {
    int i = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    if (hwloc_set_cpubind(topo, cores[first + i % count]->cpuset, HWLOC_CPUBIND_THREAD)) failed++;
  }
  if (failed) {
    gz_fail(e, GZ_EUNSUPPORTED, "hwloc: could not bind %d of %d threads", failed, team);
    goto out;
  }
  snprintf(desc, n, "cores %u-%u of the node (%d of %d), %d OpenMP threads", cores[first]->logical_index,
           cores[first + count - 1]->logical_index, count, total, team);
  rc = 0;
out:
  free(cores);
  if (set) hwloc_bitmap_free(set);
  if (all) hwloc_bitmap_free(all);
  hwloc_topology_destroy(topo);
  return rc;
}
