/* gazeloc-train under mpirun on one machine (oversubscribed, one OpenMP thread per rank), on the tiny
 * dataset of the train tests (64 px, batch 4, one step per epoch):
 *   deterministic   1 rank for two epochs = 4 ranks for the first epoch, then resumed on 2 ranks for the
 *                   second: the checkpoints (weights, optimizer moments, BN running statistics) and the
 *                   logs (loss, validation AUC) byte for byte;
 *   fast mode       2 ranks against the deterministic run after one epoch, within tolerance;
 *   a dead rank     the surviving rank says which call found no answer, and no checkpoint is written.
 * Skipped, with the reason printed, when the build has no MPI (MPI=0) or mpirun is missing.
 * Under the sanitizers Open MPI's own allocations are not freed at exit: the ranks run with
 * detect_leaks=0 (ASan's other checks stay on). */
#include "testutil.h"

#include "base/base.h"
#include "dist/dist.h"
#include "nn/nn.h"

static char *g_root;
static int g_skip;

static void setup(void) {
  if (!strncmp(gz_dist_backend(), "serial", 6)) g_skip = 1;
  else if (system("command -v mpirun >/dev/null 2>&1") != 0) g_skip = 2;
  if (g_skip) return;
  g_root = tu_tempdir();
  const char *bin = getenv("GAZELOC_BIN");
  tu_run("%s/gazeloc-synth --out %s/d --seed 2 --images 60 --readings 30 --size 128 --no-calibration --quiet", bin, g_root);
  tu_run("%s/gazeloc-label %s/d/reflacx/main_data --out %s/labels.csv 2>/dev/null", bin, g_root, g_root);
}

static void teardown(void) { tu_rmtree(g_root); }

static int skipped(void) {
  if (g_skip) fprintf(stderr, "dist_programs: skipped: %s\n", g_skip == 1 ? "this build has no MPI (MPI=0)" : "no mpirun on PATH");
  return g_skip;
}

#define TINY "--method et --preset demo --size 64 --batch 4 --batches-per-epoch 1 --threads 1 --quiet"
#define MPIRUN                                                                                                    \
  "mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none " \
  "-x OMP_NUM_THREADS=1 -x ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"

/* np 0: one process started by hand (no MPI) */
static void train(int np, const char *out, const char *extra) {
  char launch[600] = "OMP_NUM_THREADS=1";
  if (np) snprintf(launch, sizeof launch, MPIRUN " -np %d", np);
  tu_run("%s %s/gazeloc-train " TINY " --data %s/d --labels %s/labels.csv --cache %s/cache --out %s/%s %s >%s/%s.log 2>&1",
         launch, getenv("GAZELOC_BIN"), g_root, g_root, g_root, g_root, out, extra, g_root, out);
}

START_TEST(deterministic_same_bits_for_1_2_4_ranks_and_resume) {
  if (skipped()) return;
  train(0, "one", "--deterministic --epochs 2");
  train(4, "four", "--deterministic --epochs 2 --stop-after 1");
  tu_run("cp %s/four/last.safetensors %s/det_epoch1.safetensors", g_root, g_root); /* for the fast-mode test */
  train(2, "four", "--deterministic --resume");
  tu_run("cmp %s/one/last.safetensors %s/four/last.safetensors", g_root, g_root);
  tu_run("cmp %s/one/log.csv %s/four/log.csv", g_root, g_root);
  fprintf(stderr, "dist_programs: 1 rank x 2 epochs = 4 ranks x 1 epoch + 2 ranks x 1 epoch (resumed), bitwise\n");
}
END_TEST

/* Norm-wise relative difference over the float tensors whose names start with `prefix` (or do not start
 * with "optimizer." when prefix is NULL). */
static double rel_diff(const gz_ckpt *a, const gz_ckpt *b, const char *prefix) {
  double d2 = 0, r2 = 0;
  for (int i = 0; i < gz_ckpt_count(a); i++) {
    const gz_ckpt_entry *x = gz_ckpt_entry_at(a, i);
    int want = prefix ? !strncmp(x->name, prefix, strlen(prefix)) : strncmp(x->name, "optimizer.", 10) != 0;
    if (!want || x->dtype != GZ_F32) continue;
    const gz_ckpt_entry *y = gz_ckpt_find(b, x->name);
    ck_assert_msg(y != NULL, "%s missing", x->name);
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++) n *= x->shape[d];
    const float *p = x->data, *q = y->data;
    for (int64_t k = 0; k < n; k++) d2 += ((double)p[k] - q[k]) * ((double)p[k] - q[k]), r2 += (double)p[k] * p[k];
  }
  return sqrt(d2 / r2);
}

START_TEST(fast_mode_within_tolerance) {
  if (skipped()) return;
  char ref[600], got[600];
  snprintf(ref, sizeof ref, "%s/det_epoch1.safetensors", g_root);
  ck_assert_msg(access(ref, R_OK) == 0, "the deterministic run of the previous test is missing");
  train(2, "fast", "--epochs 1");
  snprintf(got, sizeof got, "%s/fast/last.safetensors", g_root);
  gz_err e = {0};
  gz_ckpt *a = gz_ckpt_open(ref, &e), *b = a ? gz_ckpt_open(got, &e) : NULL;
  ck_assert_msg(a && b, "%s", e.msg);
  /* the gradient (Adam's first moment after one step is 0.1 g), the weights, the BN running statistics:
   * the same arithmetic as the deterministic run but summed in the library's order (measured 5e-8) */
  double dg = rel_diff(a, b, "optimizer.exp_avg."), dw = rel_diff(a, b, NULL);
  fprintf(stderr, "dist_programs: fast mode (2 ranks) vs deterministic: gradient %.3g, weights and buffers %.3g\n", dg, dw);
  ck_assert_msg(dg < 1e-5 && dw < 1e-5, "fast mode differs: gradient %.3g, weights %.3g", dg, dw);
  gz_ckpt_close(a), gz_ckpt_close(b);
}
END_TEST

START_TEST(dead_rank_is_reported) {
  if (skipped()) return;
  /* rank 1 is killed as it starts (GAZELOC_FAULT_RANK=1s; "1" kills it at its first step, the same
   * mechanism later and dearer); --enable-recovery keeps mpirun from ending rank 0 itself, which then finds
   * no answer within GAZELOC_MPI_TIMEOUT and ends the job with its message */
  char cmd[2000];
  snprintf(cmd, sizeof cmd,
           "GAZELOC_FAULT_RANK=1s GAZELOC_MPI_TIMEOUT=3 " MPIRUN " -x GAZELOC_FAULT_RANK -x GAZELOC_MPI_TIMEOUT --enable-recovery -np 2 %s/gazeloc-train " TINY
           " --data %s/d --labels %s/labels.csv --cache %s/cache --out %s/dead --epochs 1 >%s/dead.log 2>&1",
           getenv("GAZELOC_BIN"), g_root, g_root, g_root, g_root, g_root);
  ck_assert(system(cmd) != -1);
  char path[600];
  snprintf(path, sizeof path, "%s/dead.log", g_root);
  gz_err e = {0};
  size_t len;
  char *log = gz_read_file(path, &len, &e);
  ck_assert_msg(log != NULL, "%s", e.msg);
  ck_assert_msg(strstr(log, "gazeloc-train: error: rank 0 of 2:") && strstr(log, "no answer from the other ranks"),
                "no message from the surviving rank:\n%s", log);
  free(log);
  snprintf(path, sizeof path, "%s/dead/last.safetensors", g_root);
  ck_assert_msg(access(path, F_OK) != 0, "a checkpoint was written by a failed run");
}
END_TEST

START_TEST(every_rank_says_the_job_ended) {
  if (skipped()) return;
  /* the launcher's default: rank 1 dies, mpirun ends rank 0 with SIGTERM, and rank 0 says so itself */
  char cmd[2000];
  snprintf(cmd, sizeof cmd,
           "GAZELOC_FAULT_RANK=1s " MPIRUN " -x GAZELOC_FAULT_RANK -np 2 %s/gazeloc-train " TINY
           " --data %s/d --labels %s/labels.csv --cache %s/cache --out %s/killed --epochs 1 >%s/killed.log 2>&1",
           getenv("GAZELOC_BIN"), g_root, g_root, g_root, g_root, g_root);
  int rc = system(cmd);
  ck_assert_msg(rc != -1 && rc != 0, "the job with a dead rank exited 0");
  char path[600];
  snprintf(path, sizeof path, "%s/killed.log", g_root);
  gz_err e = {0};
  size_t len;
  char *log = gz_read_file(path, &len, &e);
  ck_assert_msg(log != NULL, "%s", e.msg);
  ck_assert_msg(strstr(log, "gazeloc-train: error: rank 0 of 2: ended by the launcher"), "no message from rank 0:\n%s", log);
  ck_assert_msg(strstr(log, "rank 1") != NULL, "the dead rank is not named:\n%s", log);
  free(log);
}
END_TEST

Suite *suite_dist_programs(void) {
  Suite *s = suite_create("dist_programs");
  TCase *tc = tcase_create("core");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, deterministic_same_bits_for_1_2_4_ranks_and_resume);
  tcase_add_test(tc, fast_mode_within_tolerance);
  tcase_add_test(tc, dead_rank_is_reported);
  tcase_add_test(tc, every_rank_says_the_job_ended);
  suite_add_tcase(s, tc);
  return s;
}
