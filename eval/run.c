/* The configuration of a training run (spec method.md section 7), its presets, and its JSON form: stored in
 * every checkpoint (gz_model_save's "config") so that evaluation rebuilds the same model and a resumed run
 * continues with the same settings. */
#include "eval/eval.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[3] = {"unannotated", "ellipse", "et"};

int gz_run_preset(gz_run_config *c, const char *preset, gz_err *e) {
  memset(c, 0, sizeof *c);
  c->lr = 1e-3, c->weight_decay = 1e-5, c->lambda_a = 3, c->lambda_t = 300;
  c->multires = 1, c->decoder = 1, c->balanced = 1, c->label_specific = 1, c->normalize_twice = 1;
  c->seed = 1;
  gz_degrade_off(&c->degrade);
  if (!strcmp(preset, "paper")) {
    c->size = 512, c->batch = 20, c->epochs = 60;
  } else if (!strcmp(preset, "demo")) {
    /* small enough that three methods train in minutes on two cores (docs/training.md). lambda_T keeps
     * the paper's balance of Eq. 7: there annotated images are 1,724 of 189,243 training samples, so
     * lambda_T x share = 300 x 0.0091 = 2.7; in the demo data they are 146 of 371 (0.39), and 300 would
     * weigh the decoder loss 43 times as much against L_I (on 3 seeds: ET test AUC 0.62 against the
     * Unannotated model's 0.69); 2.7 / 0.39 = 7. */
    c->size = 128, c->batch = 8, c->epochs = 5, c->lambda_t = 7;
  } else {
    return gz_fail(e, GZ_EINVAL, "--preset: unknown preset '%s' (paper, demo)", preset);
  }
  snprintf(c->preset, sizeof c->preset, "%s", preset);
  return 0;
}

/* The method's name as on the command line and in the run configuration. */
const char *gz_run_method_name(int method) { return method >= 0 && method < 3 ? method_names[method] : "?"; }

char *gz_run_config_json(const gz_run_config *c, const gz_run_state *s) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "method", gz_run_method_name(c->method));
  cJSON_AddStringToObject(j, "preset", c->preset);
  cJSON_AddNumberToObject(j, "size", c->size);
  cJSON_AddNumberToObject(j, "batch", c->batch);
  cJSON_AddNumberToObject(j, "epochs", c->epochs);
  cJSON_AddNumberToObject(j, "batches_per_epoch", c->batches_per_epoch);
  cJSON_AddNumberToObject(j, "lr", c->lr);
  cJSON_AddNumberToObject(j, "weight_decay", c->weight_decay);
  cJSON_AddNumberToObject(j, "lambda_a", c->lambda_a);
  cJSON_AddNumberToObject(j, "lambda_t", c->lambda_t);
  cJSON_AddNumberToObject(j, "multires", c->multires);
  cJSON_AddNumberToObject(j, "decoder", c->decoder);
  cJSON_AddNumberToObject(j, "balanced", c->balanced);
  cJSON_AddNumberToObject(j, "label_specific", c->label_specific);
  cJSON_AddNumberToObject(j, "normalize_twice", c->normalize_twice);
  if (c->degrade.label >= 0) { /* absent in the configuration of a run without the experiment */
    cJSON_AddStringToObject(j, "degrade_label", gz_label_names[c->degrade.label]);
    cJSON_AddNumberToObject(j, "degrade_recall", c->degrade.recall);
    cJSON_AddNumberToObject(j, "degrade_precision", c->degrade.precision);
  }
  char seed[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
  cJSON_AddStringToObject(j, "seed", seed);
  if (s) {
    cJSON_AddNumberToObject(j, "epoch", s->epoch);
    cJSON_AddNumberToObject(j, "best_epoch", s->best_epoch);
    cJSON_AddNumberToObject(j, "best_auc", s->best_auc);
  }
  char *out = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return out;
}

static int get_num(const cJSON *j, const char *key, double *v, const char *what, gz_err *e) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(x)) return gz_fail(e, GZ_EFORMAT, "%s: config field '%s' is missing or not a number", what, key);
  *v = x->valuedouble;
  return 0;
}

int gz_run_config_parse(const char *json, const char *what, gz_run_config *c, gz_run_state *s, gz_err *e) {
  if (!json) return gz_fail(e, GZ_EFORMAT, "%s: no run configuration in the checkpoint", what);
  cJSON *j = cJSON_Parse(json);
  if (!j) return gz_fail(e, GZ_EFORMAT, "%s: the run configuration is not valid JSON", what);
  memset(c, 0, sizeof *c);
  int rc = -1;
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "method"), *p = cJSON_GetObjectItemCaseSensitive(j, "preset"),
              *sd = cJSON_GetObjectItemCaseSensitive(j, "seed");
  if (!cJSON_IsString(m) || !cJSON_IsString(p) || !cJSON_IsString(sd)) {
    gz_fail(e, GZ_EFORMAT, "%s: config fields 'method', 'preset' and 'seed' must be strings", what);
    goto done;
  }
  c->method = -1;
  for (int k = 0; k < 3; k++)
    if (!strcmp(m->valuestring, method_names[k])) c->method = k;
  if (c->method < 0) {
    gz_fail(e, GZ_EFORMAT, "%s: config field 'method' = '%s' is not a method", what, m->valuestring);
    goto done;
  }
  snprintf(c->preset, sizeof c->preset, "%s", p->valuestring);
  c->seed = strtoull(sd->valuestring, NULL, 10);
  double v[13];
  const char *keys[13] = {"size",     "batch",    "epochs",   "lr",       "weight_decay",
                          "lambda_a", "lambda_t", "multires", "decoder",  "balanced",
                          "label_specific", "normalize_twice", "batches_per_epoch"};
  for (int k = 0; k < 13; k++)
    if (get_num(j, keys[k], &v[k], what, e)) goto done;
  c->size = (int)v[0], c->batch = (int)v[1], c->epochs = (int)v[2], c->lr = v[3], c->weight_decay = v[4];
  c->lambda_a = v[5], c->lambda_t = v[6], c->multires = (int)v[7], c->decoder = (int)v[8], c->balanced = (int)v[9];
  c->label_specific = (int)v[10], c->normalize_twice = (int)v[11], c->batches_per_epoch = (int)v[12];
  gz_degrade_off(&c->degrade);
  const cJSON *dl = cJSON_GetObjectItemCaseSensitive(j, "degrade_label");
  if (dl) {
    c->degrade.label = -1;
    for (int k = 0; k < GZ_NLABELS; k++)
      if (cJSON_IsString(dl) && !strcmp(dl->valuestring, gz_label_names[k])) c->degrade.label = k;
    if (c->degrade.label < 0) {
      gz_fail(e, GZ_EFORMAT, "%s: config field 'degrade_label' is not a label name", what);
      goto done;
    }
    if (get_num(j, "degrade_recall", &c->degrade.recall, what, e) ||
        get_num(j, "degrade_precision", &c->degrade.precision, what, e))
      goto done;
  }
  if (s) {
    double a = 0, b = 0, d = 0;
    if (get_num(j, "epoch", &a, what, e) || get_num(j, "best_epoch", &b, what, e) || get_num(j, "best_auc", &d, what, e))
      goto done;
    s->epoch = (int)a, s->best_epoch = (int)b, s->best_auc = d;
  }
  rc = 0;
done:
  cJSON_Delete(j);
  return rc;
}
