/* GradCAM through the head alone (the chain rule through Block 5's 1x1 classifier, eval/score.c) against
 * GradCAM by backpropagation through the whole network once per label (the authors' gradcam.py), on the
 * paper's model at 64 px with random weights and inputs. Tolerance 1e-4 on maps normalized to [0, 1]: the two
 * sum the same products in different orders in float. */
#include "eval/eval.h"
#include "testutil.h"

#include <math.h>

static int gradcam_child(void *arg) {
  (void)arg;
  gz_err e = {0};
  gz_paper net;
  gz_paper_config pc = {.multires = 1, .decoder = 1, .normalize_twice = 0};
  if (gz_paper_init(&net, &pc, 7, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
  gz_arena a;
  gz_tape t;
  if (gz_arena_init(&a, "activations", 256u << 20, &e) || gz_tape_init(&t, &a, 4096, &e)) return 1;
  gz_batch b;
  const int S = 64, N = 2;
  if (gz_batch_alloc(&b, N, S, 0, &e)) return 1;
  b.n = N;
  gz_rng r;
  gz_rng_init(&r, 3, 0);
  for (size_t i = 0; i < (size_t)N * 3 * S * S; i++) b.x[i] = 2 * gz_rng_uniform(&r) - 1;
  size_t plane = (size_t)S * S, total = (size_t)N * GZ_NLABELS * plane;
  float *fast[GZ_N_HEAT] = {0}, *ref[GZ_N_HEAT] = {0};
  fast[GZ_HEAT_CAM] = malloc(total * sizeof(float)), ref[GZ_HEAT_CAM] = malloc(total * sizeof(float));
  int rc = 1;
  if (gz_score_heatmaps(&net, &t, &b, NULL, 1u << GZ_HEAT_CAM, fast, &e) ||
      gz_score_heatmaps(&net, &t, &b, NULL, (1u << GZ_HEAT_CAM) | GZ_HEAT_CAM_BACKPROP, ref, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    goto out;
  }
  double worst = 0, mass = 0;
  for (size_t i = 0; i < total; i++) {
    worst = fmax(worst, fabs(fast[GZ_HEAT_CAM][i] - ref[GZ_HEAT_CAM][i]));
    mass += ref[GZ_HEAT_CAM][i];
  }
  fprintf(stderr, "GradCAM head-only vs full backprop: max |diff| %.2e (mean map value %.3f)\n", worst, mass / total);
  rc = worst < 1e-4 && mass > 0 ? 0 : 1;
out:
  free(fast[GZ_HEAT_CAM]), free(ref[GZ_HEAT_CAM]);
  gz_batch_free(&b);
  gz_tape_free(&t);
  gz_arena_free(&a);
  gz_paper_free(&net);
  return rc;
}

START_TEST(gradcam_head_only_equals_backprop) { ck_assert_int_eq(tu_in_child(gradcam_child, NULL), 0); }
END_TEST

Suite *suite_eval_score(void) {
  Suite *s = suite_create("eval_score");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, gradcam_head_only_equals_backprop);
  suite_add_tcase(s, tc);
  return s;
}
