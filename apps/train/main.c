/* gazeloc-train: trains one of the paper's models (spec method.md section 7).
 *
 *   gazeloc-train --method unannotated|ellipse|et --preset paper|demo --data DIR --out DIR [options]
 *
 * Every epoch: a pass over the shuffled training list (augmented, annotated and unannotated samples mixed as
 * the authors do), validation AUC on the MIMIC validation list with batch norm in eval mode, OUT/last.safetensors
 * (model, AMSGrad state, configuration), OUT/best.safetensors when the average AUC is >= the best so far (later
 * epochs win ties), OUT/log.csv and OUT/curves.png. --resume continues from last.safetensors exactly: the
 * shuffle and the augmentation are keyed by (seed, epoch, sample), so the continued run computes the same
 * numbers as an uninterrupted one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"
#include "train_dist.h"

#define PROG "gazeloc-train"

static const char usage[] =
    "usage: " PROG " --method M --data DIR --out DIR [options]\n"
    "  --method M          unannotated, ellipse or et\n"
    "  --preset P          paper (batch 20, 60 epochs, 512 px, grid 32) or demo (128 px, batch 8, 5 epochs, lambda_T 7); default demo\n"
    "  --data DIR          a dataset root with mimic/ and reflacx/main_data (as gazeloc-synth writes it)\n"
    "  --mimic DIR         the MIMIC-CXR-JPG folder (instead of --data)\n"
    "  --reflacx DIR       the REFLACX main_data folder (instead of --data)\n"
    "  --labels FILE       the labeler's output for the readings (gazeloc-label); needed by --method et\n"
    "  --val-subjects FILE subject ids moved from train to validation (the authors' val_mimicid.txt)\n"
    "  --cache DIR         resized-image cache (default OUT/../cache)\n"
    "  --out DIR           run folder: checkpoints, log.csv, curves.png\n"
    "  --seed N            initialization, shuffle and augmentation (default 1)\n"
    "  --init FILE         start from converted ImageNet weights (tools/pth_to_safetensors.py)\n"
    "  --resume            continue from OUT/last.safetensors\n"
    "  --stop-after N      end after epoch N, as an interrupted run would (a time-limited batch job); the run\n"
    "                      keeps its --epochs, and --resume continues it\n"
    "  --epochs N, --batch N, --size N, --lr X   override the preset\n"
    "  --lambda-a X, --lambda-t X  weights of the annotated MIL loss L_A and the decoder loss L_T (Eq. 5, 7)\n"
    "  --batches-per-epoch N  train on the first N batches of each epoch's order (smoke tests)\n"
    "  ablations (Table 7): --whole-report, --no-balanced, --no-multires, --no-decoder; --normalize-once\n"
    "  --degrade-labeler [LABEL[:RECALL:PRECISION]]  the degraded-labeler experiment (et): delete and add the\n"
    "                      training reports' mentions of LABEL (default pleural_abnormality:0.51:0.86)\n"
    "  --threads N         loader threads (default 2)\n"
    "  several processes (mpirun / srun, docs/mpi.md): each rank trains on its part of every batch;\n"
    "  --deterministic     the same bits for any number of ranks: sums over --shards S shards in a fixed tree\n"
    "  --shards S          shards of the batch in deterministic mode (default: the batch size)\n"
    "  --quiet             no progress line\n";

static int die(const char *fmt, const char *a) {
  char msg[1400];
  snprintf(msg, sizeof msg, fmt, a);
  train_dist_die(PROG, msg); /* with several ranks: ends the job on every rank */
  return 1;
}

typedef struct history {
  int n;
  double epoch[1024], loss[1024], auc[1024];
} history;

/* NaN (an AUC with one class absent) is written as an empty cell. */
static void put_num(gz_csvw *w, double v) {
  if (isnan(v)) gz_csvw_field(w, "");
  else gz_csvw_fieldf(w, "%.6f", v);
}

static int get_num(gz_csv *c, int col, double *v, gz_err *e) {
  if (gz_csv_is_empty(c, col)) return *v = NAN, 0;
  return gz_csv_double(c, col, v, e);
}

static int write_log(const train_run *r, const history *h, const double (*per_label)[GZ_NLABELS], gz_err *e) {
  char path[1100];
  snprintf(path, sizeof path, "%s/log.csv", r->out);
  gz_afile a;
  if (gz_afile_open(&a, path, e)) return -1;
  gz_csvw w;
  gz_csvw_init(&w, a.f, 0);
  gz_csvw_field(&w, "epoch"), gz_csvw_field(&w, "train_loss"), gz_csvw_field(&w, "val_auc");
  for (int k = 0; k < GZ_NLABELS; k++) gz_csvw_fieldf(&w, "auc_%s", gz_label_names[k]);
  gz_csvw_end(&w);
  for (int i = 0; i < h->n; i++) {
    gz_csvw_fieldf(&w, "%d", (int)h->epoch[i]), gz_csvw_fieldf(&w, "%.6f", h->loss[i]);
    put_num(&w, h->auc[i]);
    for (int k = 0; k < GZ_NLABELS; k++) put_num(&w, per_label[i][k]);
    gz_csvw_end(&w);
  }
  if (gz_afile_commit(&a, e)) return -1;
  snprintf(path, sizeof path, "%s/curves.png", r->out);
  gz_series s[2] = {{"loss / loss(1)", h->epoch, NULL, h->n}, {"validation AUC", h->epoch, h->auc, h->n}};
  double norm[1024];
  for (int i = 0; i < h->n; i++) norm[i] = h->loss[i] / (h->loss[0] > 0 ? h->loss[0] : 1);
  s[0].y = norm;
  return gz_plot_png(path, "training curves", "epoch", "", s, 2, 0, 1.05, e);
}

/* On --resume: the log rows of the epochs the checkpoint holds. */
static int read_log(const train_run *r, history *h, double (*per_label)[GZ_NLABELS], gz_err *e) {
  char path[1100];
  snprintf(path, sizeof path, "%s/log.csv", r->out);
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int ce = gz_csv_require(c, "epoch", e), cl = gz_csv_require(c, "train_loss", e), ca = gz_csv_require(c, "val_auc", e);
  int ck[GZ_NLABELS];
  for (int k = 0; k < GZ_NLABELS; k++) {
    char name[96];
    snprintf(name, sizeof name, "auc_%s", gz_label_names[k]);
    ck[k] = gz_csv_require(c, name, e);
    if (ck[k] < 0) ce = -1;
  }
  int rc = ce < 0 || cl < 0 || ca < 0 ? -1 : 0;
  h->n = 0;
  while (!rc && (rc = gz_csv_next(c, e)) == 1) {
    long ep;
    rc = 0;
    if (gz_csv_int(c, ce, &ep, e) || gz_csv_double(c, cl, &h->loss[h->n], e) || get_num(c, ca, &h->auc[h->n], e)) {
      rc = -1;
      break;
    }
    for (int k = 0; k < GZ_NLABELS && !rc; k++) rc = get_num(c, ck[k], &per_label[h->n][k], e);
    if (ep <= r->st.epoch && h->n < 1024) h->epoch[h->n++] = (double)ep;
  }
  gz_csv_close(c);
  return rc < 0 ? -1 : 0;
}

static int save(train_run *r, const char *name, gz_err *e) {
  char path[1100];
  snprintf(path, sizeof path, "%s/%s", r->out, name);
  char *cfg = gz_run_config_json(&r->cfg, &r->st);
  int rc = gz_model_save(&r->net.m, &r->opt, NULL, cfg, path, e);
  free(cfg);
  return rc;
}

/* best.safetensors holds the same bytes as the last.safetensors just written (same model, state and
 * configuration), so it becomes a second name of that file instead of a second 600 MB write and fsync. The
 * next epoch's last.safetensors is a new file renamed over the name (gz_afile), which leaves best untouched. */
static int save_best(train_run *r, gz_err *e) {
  char last[1100], tmp[1100], best[1100];
  snprintf(last, sizeof last, "%s/last.safetensors", r->out);
  snprintf(tmp, sizeof tmp, "%s/best.safetensors.link", r->out);
  snprintf(best, sizeof best, "%s/best.safetensors", r->out);
  unlink(tmp);
  if (link(last, tmp) == 0 && rename(tmp, best) == 0) return 0;
  unlink(tmp); /* a file system without hard links: write it */
  return save(r, "best.safetensors", e);
}

static int train_epoch(train_run *r, int epoch, double *mean_loss, gz_err *e) {
  gz_loader ld;
  if (r->dist ? train_dist_loader(r, &ld, &r->ds.train, 1, 1, 1, (uint64_t)epoch, e)
              : gz_loader_start(&ld, &r->ds, &r->ds.train, r->cfg.batch, 1, 1, 1, r->cfg.seed, (uint64_t)epoch, r->threads, 0, e))
    return -1;
  char label[64], extra[160] = "";
  snprintf(label, sizeof label, "epoch %d/%d", epoch, r->cfg.epochs);
  gz_progress p;
  int total = r->cfg.batches_per_epoch && r->cfg.batches_per_epoch < ld.nbatches ? r->cfg.batches_per_epoch : ld.nbatches;
  gz_progress_start(&p, label, total);
  p.enabled = p.enabled && !r->quiet;
  double sum = 0, t0 = gz_now();
  int steps = 0, lrc = 0;
  const gz_batch *b;
  while ((b = gz_loader_next(&ld, &lrc, e))) {
    double l, lt;
    double ts = gz_now();
    if (r->dist ? train_dist_step(r, b, &l, &lt, e) : train_step(r, b, &l, &lt, e)) { gz_loader_stop(&ld); return -1; }
    if (steps > 0) r->step_s += gz_now() - ts, r->nstep++;
    sum += l, steps++;
    snprintf(extra, sizeof extra, "loss %.4f (L_T %.4f)  %.2f img/s", sum / steps, lt,
             steps * r->cfg.batch / (gz_now() - t0));
    gz_progress_update(&p, steps, extra);
    if (steps == total) break; /* --batches-per-epoch */
  }
  gz_loader_stop(&ld);
  if (lrc) return -1;
  gz_progress_finish(&p, steps ? extra : NULL);
  *mean_loss = steps ? sum / steps : NAN;
  return 0;
}

int main(int argc, char **argv) {
  const char *preset = "demo", *method = NULL, *data = NULL, *mimic = NULL, *reflacx = NULL, *labels = NULL;
  const char *cache = NULL, *out = NULL, *init = NULL, *val_subjects = NULL, *degrade = NULL;
  int resume = 0, epochs = 0, batch = 0, size = 0, whole = 0, nobal = 0, nomr = 0, nodec = 0, once = 0, quiet = 0;
  int threads = 2, bpe = 0, stop_after = 0;
  double lr = 0, lambda_a = -1, lambda_t = -1;
  long long seed = -1;
  int deterministic = 0, shards = 0;
  gz_err e = {0};
  if (train_dist_start(&argc, &argv, &e)) return die("%s", e.msg);
  const int rank0 = train_dist_rank() == 0; /* only rank 0 writes checkpoints, logs and progress */
  if (!rank0) gz_log_set_level(GZ_LOG_WARN);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); train_dist_finish(NULL); return 0; }
    if (!strcmp(a, "--resume")) { resume = 1; continue; }
    if (!strcmp(a, "--whole-report")) { whole = 1; continue; }
    if (!strcmp(a, "--no-balanced")) { nobal = 1; continue; }
    if (!strcmp(a, "--no-multires")) { nomr = 1; continue; }
    if (!strcmp(a, "--no-decoder")) { nodec = 1; continue; }
    if (!strcmp(a, "--normalize-once")) { once = 1; continue; }
    if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
    if (!strcmp(a, "--degrade-labeler")) { /* the value is optional */
      degrade = v && strncmp(v, "--", 2) ? argv[++i] : "";
      continue;
    }
    if (!strcmp(a, "--deterministic")) { deterministic = 1; continue; }
    if (!v) return die("%s needs a value (see --help)", a);
    i++;
    char *end = NULL;
    if (!strcmp(a, "--preset")) preset = v;
    else if (!strcmp(a, "--method")) method = v;
    else if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--mimic")) mimic = v;
    else if (!strcmp(a, "--reflacx")) reflacx = v;
    else if (!strcmp(a, "--labels")) labels = v;
    else if (!strcmp(a, "--cache")) cache = v;
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--init")) init = v;
    else if (!strcmp(a, "--val-subjects")) val_subjects = v;
    else if (!strcmp(a, "--lr")) { lr = strtod(v, &end); if (*end || !(lr > 0)) return die("--lr: '%s' is not a positive number", v); }
    else if (!strcmp(a, "--lambda-a") || !strcmp(a, "--lambda-t")) {
      double x = strtod(v, &end);
      if (*end || !(x >= 0) || !isfinite(x)) return die("--lambda-a/--lambda-t: '%s' is not a non-negative number", v);
      *(a[9] == 'a' ? &lambda_a : &lambda_t) = x;
    }
    else {
      long x = strtol(v, &end, 10);
      if (*end || x < 0) return die("'%s' is not a non-negative integer", v);
      if (!strcmp(a, "--seed")) seed = x;
      else if (!strcmp(a, "--epochs")) epochs = (int)x;
      else if (!strcmp(a, "--batch")) batch = (int)x;
      else if (!strcmp(a, "--size")) size = (int)x;
      else if (!strcmp(a, "--threads")) threads = (int)x;
      else if (!strcmp(a, "--batches-per-epoch")) bpe = (int)x;
      else if (!strcmp(a, "--shards")) shards = (int)x;
      else if (!strcmp(a, "--stop-after")) stop_after = (int)x;
      else return die("unknown option %s (see --help)", a);
    }
  }
  if (!out) return die("%s", "--out is required");
  static train_run r;
  r.out = out, r.threads = threads > 0 ? threads : 1, r.quiet = quiet || !rank0;
  if (gz_run_preset(&r.cfg, preset, &e)) return die("%s", e.msg);
  if (!method) return die("%s", "--method is required (unannotated, ellipse, et)");
  if (gz_method_parse(method, &r.cfg.method, &e)) return die("%s", e.msg);
  if (epochs) r.cfg.epochs = epochs;
  if (batch) r.cfg.batch = batch;
  if (size) r.cfg.size = size;
  if (lr > 0) r.cfg.lr = lr;
  if (lambda_a >= 0) r.cfg.lambda_a = lambda_a;
  if (lambda_t >= 0) r.cfg.lambda_t = lambda_t;
  if (bpe) r.cfg.batches_per_epoch = bpe;
  if (seed >= 0) r.cfg.seed = (uint64_t)seed;
  if (whole) r.cfg.label_specific = 0;
  if (nobal) r.cfg.balanced = 0;
  if (nomr) r.cfg.multires = 0;
  /* the Unannotated baseline trains on MIMIC alone (method.md section 7): no maps, so no decoder */
  if (nodec || r.cfg.method == GZ_METHOD_UNANNOTATED) r.cfg.decoder = 0;
  if (once) r.cfg.normalize_twice = 0;
  if (degrade && gz_degrade_parse(degrade, &r.cfg.degrade, &e)) return die("%s", e.msg);
  if (degrade && r.cfg.method != GZ_METHOD_ET) return die("%s", "--degrade-labeler degrades the labeler's mentions: --method et");
  if (r.cfg.size % 32 || r.cfg.size < 64) return die("%s", "--size must be a multiple of 32, at least 64");
  if (r.cfg.epochs < 1 || r.cfg.epochs > 1000 || r.cfg.batch < 1) return die("%s", "--epochs must be 1..1000, --batch >= 1");

  char pm[1100], pr[1100], pc[1100], ckpt[1200];
  if (data) {
    snprintf(pm, sizeof pm, "%s/mimic", data), snprintf(pr, sizeof pr, "%s/reflacx/main_data", data);
    if (!mimic) mimic = pm;
    if (!reflacx) reflacx = pr;
  }
  if (!mimic) return die("%s", "--data or --mimic is required");
  if (r.cfg.method == GZ_METHOD_ET && !labels) return die("%s", "--method et needs --labels (gazeloc-label's output)");
  if (!cache) snprintf(pc, sizeof pc, "%s/../cache", out), cache = pc;
  if (gz_mkdir_p(out, &e) || gz_mkdir_p(cache, &e)) return die("%s", e.msg);

  /* resume: the checkpoint's configuration wins over the command line, except --epochs */
  snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out);
  if (resume) {
    char *cfg = NULL; /* read by rank 0, sent to the others */
    if (rank0) {
      gz_ckpt *c = gz_ckpt_open(ckpt, &e);
      if (!c) return die("--resume: %s", e.msg);
      const char *m = gz_ckpt_meta(c, "config");
      cfg = m ? strdup(m) : NULL;
      gz_ckpt_close(c);
    }
    if (train_dist_bcast_string(&cfg, &e)) return die("%s", e.msg);
    int want_epochs = r.cfg.epochs;
    int rc = gz_run_config_parse(cfg, ckpt, &r.cfg, &r.st, &e);
    free(cfg);
    if (rc) return die("%s", e.msg);
    if (epochs) r.cfg.epochs = want_epochs;
  }

  long *vs = NULL;
  int nvs = 0;
  if (val_subjects && gz_read_id_list(val_subjects, &vs, &nvs, &e)) return die("%s", e.msg);
  gz_data_opts dopt;
  gz_data_opts_default(&dopt);
  dopt.mimic_root = mimic, dopt.reflacx_main = r.cfg.method == GZ_METHOD_UNANNOTATED ? NULL : reflacx;
  dopt.labels_csv = labels, dopt.cache_dir = cache, dopt.val_subjects = vs, dopt.n_val_subjects = nvs;
  dopt.size = r.cfg.size, dopt.method = r.cfg.method, dopt.whole_report = !r.cfg.label_specific;
  dopt.normalize_twice = r.cfg.normalize_twice;
  dopt.degrade = r.cfg.degrade, dopt.degrade_seed = r.cfg.seed;
  /* rank 0 fills the image cache first; the others then find it (or, without a shared disk, fill their own) */
  if (gz_dataset_open(&r.ds, &dopt, &e) || (rank0 && gz_dataset_cache(&r.ds, &e)) || train_dist_barrier(&e) ||
      (!rank0 && gz_dataset_cache(&r.ds, &e)))
    return die("%s", e.msg);
  const gz_degrade_stats *dg = &r.ds.degraded;
  if (rank0 && r.cfg.degrade.label >= 0)
    gz_info("degraded labeler: %s mentions deleted from %d of %d training reports, added to %d: recall %.3f, "
            "precision %.3f", gz_label_names[r.cfg.degrade.label], dg->deleted, dg->positives, dg->added, dg->recall,
            dg->precision);
  gz_info("%s: %d training samples, %d MIMIC validation images; %d epochs of %d batches of %d at %d px",
          gz_run_method_name(r.cfg.method), r.ds.train.n, r.ds.val_mimic.n, r.cfg.epochs, r.ds.train.n / r.cfg.batch,
          r.cfg.batch, r.cfg.size);
  if (r.ds.train.n < r.cfg.batch) return die("%s", "fewer training samples than one batch");

  if (train_model_init(&r.net, &r.cfg, &e)) return die("%s", e.msg);
  gz_adam_init(&r.opt, r.cfg.lr, r.cfg.weight_decay);
  r.mil = GZ_MIL_OPTS_DEFAULT;
  r.mil.lambda_a = r.cfg.lambda_a, r.mil.balanced = r.cfg.balanced;
  /* the step arena: activations and their gradients grow with batch x pixels (docs/training.md) */
  size_t arena = (size_t)r.cfg.batch * r.cfg.size * r.cfg.size * 4096u + (64u << 20);
  if (gz_arena_init(&r.act, "activations", arena, &e) || gz_tape_init(&r.tape, &r.act, 4096, &e)) return die("%s", e.msg);

  static history h;
  static double per_label[1024][GZ_NLABELS];
  if (resume && rank0) {
    if (gz_model_load(&r.net.m, &r.opt, NULL, ckpt, &e) || read_log(&r, &h, per_label, &e)) return die("%s", e.msg);
    gz_info("resuming after epoch %d (best %d, AUC %.4f)", r.st.epoch, r.st.best_epoch, r.st.best_auc);
  } else if (init && rank0) {
    if (gz_paper_load_encoder(&r.net, init, &e)) return die("%s", e.msg);
    gz_info("encoder initialized from %s", init);
  }
  char how[256];
  if (train_dist_configure(&r, deterministic, shards, &e) || train_dist_sync_model(&r, &e)) return die("%s", e.msg);
  if (train_dist_size() > 1 || deterministic) gz_info("training on %s", train_dist_describe(&r, how, sizeof how));

  /* --stop-after ends the loop early without changing the configuration saved in the checkpoints */
  for (int epoch = r.st.epoch + 1; epoch <= r.cfg.epochs && (!stop_after || epoch <= stop_after); epoch++) {
    double t0 = gz_now(), loss, auc, pl[GZ_NLABELS];
    if (train_epoch(&r, epoch, &loss, &e) ||
        (r.dist ? train_dist_score(&r, &r.ds.val_mimic, pl, &auc, &e)
                : gz_score_auc(&r.net, &r.tape, &r.ds, &r.ds.val_mimic, r.cfg.batch, r.threads, pl, &auc, &e)))
      return die("%s", e.msg);
    r.st.epoch = epoch;
    int best = r.st.best_epoch == 0 || auc >= r.st.best_auc; /* >=: later epochs win ties (method.md 6) */
    if (best) r.st.best_epoch = epoch, r.st.best_auc = auc;
    if (h.n < 1024) {
      h.epoch[h.n] = epoch, h.loss[h.n] = loss, h.auc[h.n] = auc;
      memcpy(per_label[h.n], pl, sizeof pl);
      h.n++;
    }
    if (rank0 && (save(&r, "last.safetensors", &e) || (best && save_best(&r, &e)) ||
                  write_log(&r, &h, (const double (*)[GZ_NLABELS])per_label, &e)))
      return die("%s", e.msg);
    if (!rank0) continue;
    char dur[32];
    gz_format_duration(gz_now() - t0, dur, sizeof dur);
    fprintf(stderr, "epoch %d/%d: loss %.4f, validation AUC %.4f%s (%s)\n", epoch, r.cfg.epochs, loss, auc,
            best ? " (best)" : "", dur);
  }
  if (r.nstep && train_dist_size() > 1) /* tools/bench_mpi.sh reads these lines */
    gz_info("timing: %.4f s per step over %d steps; gradient all-reduce %.4f s per step, %zu bytes per rank", r.step_s / r.nstep,
            r.nstep, train_dist_comm_seconds(&r), train_dist_grad_bytes(&r));
  else if (r.nstep)
    gz_info("timing: %.4f s per step over %d steps (one process)", r.step_s / r.nstep, r.nstep);
  train_dist_finish(&r);
  gz_tape_free(&r.tape);
  gz_arena_free(&r.act);
  gz_paper_free(&r.net);
  gz_dataset_close(&r.ds);
  free(vs);
  return 0;
}
