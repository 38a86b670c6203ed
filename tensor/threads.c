/* Topology from hwloc (cores, cache sizes per level for GEMM blocking) and binding OpenMP threads to
 * cores. OpenMP decides the thread count (OMP_NUM_THREADS is respected); hwloc only says where. */
#include "tensor/tensor.h"

#include <hwloc.h>
#include <omp.h>
#include <string.h>

static hwloc_topology_t topo;
static gz_topology cached;
static int loaded; /* 0 not yet, 1 ok, -1 failed */

static void cache_level(int depth_type, size_t *bytes, int *cores, size_t *line) {
  int depth = hwloc_get_type_depth(topo, (hwloc_obj_type_t)depth_type);
  if (depth < 0) return;
  hwloc_obj_t o = hwloc_get_obj_by_depth(topo, depth, 0);
  if (!o || !o->attr) return;
  *bytes = (size_t)o->attr->cache.size;
  if (o->attr->cache.linesize > 0) *line = (size_t)o->attr->cache.linesize;
  int n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, o->cpuset, HWLOC_OBJ_CORE);
  *cores = n > 0 ? n : 1;
}

static void load(void) {
  memset(&cached, 0, sizeof cached);
  if (hwloc_topology_init(&topo) || hwloc_topology_load(topo)) {
    loaded = -1;
    return;
  }
  cached.cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  cached.pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  if (cached.cores <= 0) cached.cores = cached.pus > 0 ? cached.pus : 1;
  cached.line = 64;
  int c1 = 0;
  cache_level(HWLOC_OBJ_L1CACHE, &cached.l1d, &c1, &cached.line);
  cache_level(HWLOC_OBJ_L2CACHE, &cached.l2, &cached.l2_cores, &cached.line);
  cache_level(HWLOC_OBJ_L3CACHE, &cached.l3, &cached.l3_cores, &cached.line);
  loaded = 1;
}

int gz_topology_get(gz_topology *t, gz_err *e) {
#pragma omp critical(gz_topology)
  if (!loaded) load();
  if (loaded < 0) return gz_fail(e, GZ_EUNSUPPORTED, "hwloc: cannot read this machine's topology");
  *t = cached;
  return 0;
}

int gz_threads(void) { return omp_get_max_threads(); }

int gz_threads_bind(gz_err *e) {
  gz_topology t;
  if (gz_topology_get(&t, e)) return -1;
  int failed = 0, nthreads = 1;
#pragma omp parallel reduction(+ : failed)
  {
    int i = omp_get_thread_num();
#pragma omp single
    nthreads = omp_get_num_threads();
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)(i % t.cores));
    if (!core || hwloc_set_cpubind(topo, core->cpuset, HWLOC_CPUBIND_THREAD)) failed++;
  }
  if (failed) return gz_fail(e, GZ_EUNSUPPORTED, "hwloc: could not bind %d of %d threads to cores", failed, nthreads);
  return nthreads;
}
