/* Which SIMD path to run. One binary runs on any x86-64 machine: the AVX2 and AVX-512 kernels live in
 * their own files compiled with their own flags, and the dispatcher picks one here, from CPUID (and
 * XGETBV, so an OS that does not save the wide registers is respected). GAZELOC_ISA forces a path for
 * tests and audits (GAZELOC_ISA=reference: every op on its plain-C reference kernel); asking for one the CPU
 * lacks is an error, never a silent fallback. */
#include "base.h"

#include <stdlib.h>
#include <string.h>

unsigned gz_cpu_features(void) {
  unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) f |= GZ_CPU_AVX2;
  if (__builtin_cpu_supports("fma")) f |= GZ_CPU_FMA;
  if (__builtin_cpu_supports("avx512f")) f |= GZ_CPU_AVX512F;
  if (__builtin_cpu_supports("avx512bw")) f |= GZ_CPU_AVX512BW;
  if (__builtin_cpu_supports("avx512vl")) f |= GZ_CPU_AVX512VL;
  if (__builtin_cpu_supports("avx512dq")) f |= GZ_CPU_AVX512DQ;
#endif
  return f;
}

int gz_cpu_avx512_halves(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_is("amdfam19h") && (gz_cpu_features() & GZ_CPU_AVX512F); /* Zen 3 has no AVX-512 */
#else
  return 0;
#endif
}

const char *gz_isa_name(int isa) {
  switch (isa) {
  case GZ_ISA_REFERENCE: return "reference";
  case GZ_ISA_SCALAR: return "scalar";
  case GZ_ISA_AVX2: return "avx2";
  case GZ_ISA_AVX512: return "avx512";
  default: return "?";
  }
}

#define NEED_AVX2 (GZ_CPU_AVX2 | GZ_CPU_FMA)
#define NEED_AVX512 (NEED_AVX2 | GZ_CPU_AVX512F | GZ_CPU_AVX512BW | GZ_CPU_AVX512VL | GZ_CPU_AVX512DQ)

int gz_isa_resolve(const char *request, unsigned features, int *isa, gz_err *e) {
  int best = (features & NEED_AVX512) == NEED_AVX512 ? GZ_ISA_AVX512
             : (features & NEED_AVX2) == NEED_AVX2   ? GZ_ISA_AVX2
                                                     : GZ_ISA_SCALAR;
  if (!request || !*request) { *isa = best; return 0; }
  int want;
  if (!strcmp(request, "reference")) want = GZ_ISA_REFERENCE;
  else if (!strcmp(request, "scalar")) want = GZ_ISA_SCALAR;
  else if (!strcmp(request, "avx2")) want = GZ_ISA_AVX2;
  else if (!strcmp(request, "avx512")) want = GZ_ISA_AVX512;
  else return gz_fail(e, GZ_EINVAL, "GAZELOC_ISA='%s' is not one of reference, scalar, avx2, avx512", request);
  if (want > best)
    return gz_fail(e, GZ_EUNSUPPORTED, "GAZELOC_ISA=%s asked for, but this CPU supports at most %s", request,
                   gz_isa_name(best));
  *isa = want;
  return 0;
}

static int isa_cached, isa_known;

int gz_isa_active(int *isa, gz_err *e) {
  if (isa_known) { *isa = isa_cached; return 0; }
  if (gz_isa_resolve(getenv("GAZELOC_ISA"), gz_cpu_features(), isa, e)) return -1;
  isa_cached = *isa;
  isa_known = 1;
  return 0;
}

int gz_isa_override(int isa, gz_err *e) {
  int best = 0;
  if (gz_isa_resolve(NULL, gz_cpu_features(), &best, e)) return -1;
  if (isa < GZ_ISA_REFERENCE || isa > best)
    return gz_fail(e, GZ_EUNSUPPORTED, "gz_isa_override: ISA %d (%s) asked for, but this CPU supports at most %s", isa,
                   gz_isa_name(isa), gz_isa_name(best));
  isa_cached = isa;
  isa_known = 1;
  return 0;
}
