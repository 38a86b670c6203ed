/* labeler/: reports per second on a generated corpus of 100,000 dictated reports (3-8 sentences,
 * REFLACX-like wording: findings with severity, side and place, negated lists, hedges, devices), on one
 * core and on two. The target is 50,000 reports/s on one core. */
#include "apps/bench/bench.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "labeler/labeler.h"

#define NREPORTS 100000

static const char *const severity[] = {"", "small ", "mild ", "moderate ", "large ", "trace ", "minimal "};
static const char *const side[] = {"", "left ", "right ", "bilateral ", "bibasilar "};
static const char *const finding[] = {"pleural effusion", "atelectasis", "consolidation", "pneumothorax",
                                      "pulmonary edema", "cardiomegaly", "opacity", "nodule",
                                      "vascular congestion", "hiatal hernia", "interstitial opacities",
                                      "ground glass opacity", "rib fracture", "pleural thickening"};
static const char *const place[] = {"", " at the base", " in the right lower lobe", " in the left upper lobe",
                                    " at the apex", " in the retrocardiac region"};
static const char *const positive[] = {"%s%s%s%s.", "There is %s%s%s%s.", "%s%s%s%s is again seen.",
                                       "Persistent %s%s%s%s."};
static const char *const hedge[] = {"Possible %s%s%s%s.", "%s%s%s%s cannot be excluded.",
                                    "Findings may represent %s%s%s%s.", "Likely %s%s%s%s."};
static const char *const normal[] = {"Heart size is normal.", "No pleural effusion or pneumothorax.",
                                     "No focal consolidation, effusion, or pneumothorax.", "Lungs are clear.",
                                     "The cardiomediastinal silhouette is within normal limits.",
                                     "No acute osseous abnormality.", "The mediastinal contours are unremarkable.",
                                     "Endotracheal tube terminates 4 cm above the carina.",
                                     "Nasogastric tube courses below the diaphragm.", "Heart size is mildly enlarged."};

static size_t gen_report(gz_rng *g, char *buf, size_t cap) {
  size_t n = 0;
  int sentences = 3 + (int)gz_rng_below(g, 6);
  for (int s = 0; s < sentences && n + 200 < cap; s++) {
    if (n) buf[n++] = ' ';
    uint32_t kind = gz_rng_below(g, 10);
    const char *f = finding[gz_rng_below(g, sizeof finding / sizeof *finding)];
    const char *sv = severity[gz_rng_below(g, sizeof severity / sizeof *severity)];
    const char *sd = side[gz_rng_below(g, sizeof side / sizeof *side)];
    const char *pl = place[gz_rng_below(g, sizeof place / sizeof *place)];
    const char *fmt = kind < 4   ? positive[gz_rng_below(g, 4)]
                      : kind < 6 ? hedge[gz_rng_below(g, 4)]
                                 : NULL;
    if (fmt) {
      size_t b = n;
      n += (size_t)snprintf(buf + n, cap - n, fmt, sv, sd, f, pl);
      if (buf[b] >= 'a' && buf[b] <= 'z') buf[b] = (char)(buf[b] - 32);
    } else {
      n += (size_t)snprintf(buf + n, cap - n, "%s", normal[gz_rng_below(g, sizeof normal / sizeof *normal)]);
    }
  }
  return n;
}

typedef struct corpus {
  char *text;
  size_t *off, *len;
  size_t bytes;
  const lb_rules *rules;
  lb_result **res; /* one per thread */
  int threads, write_rows;
  long mentions;
} corpus;

static void label_all(void *arg) {
  corpus *c = arg;
  long mentions = 0;
#pragma omp parallel num_threads(c->threads) reduction(+ : mentions)
  {
    lb_result *res = c->res[omp_get_thread_num()];
    gz_err e = {0};
    FILE *sink = c->write_rows ? fopen("/dev/null", "w") : NULL;
    gz_csvw w;
    if (sink) gz_csvw_init(&w, sink, 0);
#pragma omp for schedule(static, 256)
    for (long i = 0; i < NREPORTS; i++) {
      if (lb_label(c->rules, c->text + c->off[i], c->len[i], res, &e)) continue;
      mentions += res->nmentions;
      if (sink) lb_write_row(c->rules, &w, NULL, c->text + c->off[i], c->len[i], res);
    }
    if (sink) fclose(sink);
  }
  c->mentions = mentions;
}

void bench_labeler(bench_ctx *ctx) {
  bench_section("labeler: reports per second on 100,000 generated reports (target: 50,000/s on one core)");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/labeler/rules", ctx->root);
  gz_err e = {0};
  lb_rules *rules = lb_rules_load(dir, &e);
  if (!rules) {
    printf("labeler: cannot load rules: %s\n", e.msg);
    return;
  }
  corpus c = {0};
  size_t cap = (size_t)NREPORTS * 900;
  c.text = malloc(cap);
  c.off = malloc(sizeof *c.off * NREPORTS);
  c.len = malloc(sizeof *c.len * NREPORTS);
  gz_rng g;
  gz_rng_init(&g, 20231, 6);
  for (long i = 0; i < NREPORTS; i++) {
    c.off[i] = c.bytes;
    c.len[i] = gen_report(&g, c.text + c.bytes, 900);
    c.bytes += c.len[i];
  }
  c.rules = rules;
  int maxt = ctx->threads > 2 ? ctx->threads : 2;
  c.res = calloc((size_t)maxt, sizeof *c.res);
  for (int t = 0; t < maxt; t++) c.res[t] = lb_result_new(&e);
  printf("corpus: %d reports, %.1f MB, mean %.0f characters\n", NREPORTS, c.bytes / 1e6, (double)c.bytes / NREPORTS);
  int counts[] = {1, 2};
  for (int k = 0; k < 2; k++)
    for (int wr = 0; wr < 2; wr++) {
      c.threads = counts[k];
      c.write_rows = wr;
      bench_stat s = bench_time(ctx, label_all, &c);
      printf("%-34s %d thread%s %9.0f reports/s  %6.1f MB/s   [%.0f .. %.0f]\n",
             wr ? "label + format CSV rows" : "label", counts[k], counts[k] > 1 ? "s" : " ", NREPORTS / s.median,
             c.bytes / s.median / 1e6, NREPORTS / s.max, NREPORTS / s.min);
    }
  printf("(%.2f mentions per report)\n", (double)c.mentions / NREPORTS);
  for (int t = 0; t < maxt; t++) lb_result_free(c.res[t]);
  free(c.res), free(c.text), free(c.off), free(c.len);
  lb_rules_free(rules);
}
