/* A progress line with rate and ETA. On a terminal it redraws one line in place (at most 10 times a
 * second); in a log file it writes a plain line every few seconds, so logs stay readable. GAZELOC_QUIET=1
 * turns it off. Logging: leveled messages on stderr. */
#include "base.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double gz_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gz_format_duration(double s, char *buf, size_t n) {
  if (!(s >= 0) || s > 1e8) { snprintf(buf, n, "?"); return; }
  long t = (long)(s + 0.5);
  if (s < 60) snprintf(buf, n, "%.1fs", s);
  else if (t < 3600) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
}

void gz_progress_start(gz_progress *p, const char *label, double total) {
  memset(p, 0, sizeof *p);
  p->label = label;
  p->total = total;
  p->out = stderr;
  p->t0 = gz_now();
  p->last_draw = p->t0;
  const char *q = getenv("GAZELOC_QUIET");
  p->enabled = !(q && *q && strcmp(q, "0"));
  p->tty = isatty(fileno(p->out));
  p->plain_every = 10.0;
}

static void draw(gz_progress *p, double now, const char *extra, int final) {
  double dt = now - p->t0;
  double rate = dt > 0 ? p->done / dt : 0;
  char eta[32], el[32];
  gz_format_duration(rate > 0 && p->total > p->done ? (p->total - p->done) / rate : 0, eta, sizeof eta);
  gz_format_duration(dt, el, sizeof el);
  char line[512];
  int n;
  if (p->total > 0)
    n = snprintf(line, sizeof line, "%s %.0f/%.0f (%.1f%%) %.3g/s, elapsed %s%s%s", p->label, p->done, p->total,
                 100.0 * p->done / p->total, rate, el, final ? "" : ", eta ", final ? "" : eta);
  else
    n = snprintf(line, sizeof line, "%s %.0f %.3g/s, elapsed %s", p->label, p->done, rate, el);
  if (extra && *extra && n > 0 && (size_t)n < sizeof line) snprintf(line + n, sizeof line - (size_t)n, ", %s", extra);
  if (p->tty) fprintf(p->out, "\r\033[K%s%s", line, final ? "\n" : "");
  else fprintf(p->out, "%s\n", line);
  fflush(p->out);
  p->last_draw = now;
}

void gz_progress_update(gz_progress *p, double done, const char *extra) {
  p->done = done;
  if (!p->enabled) return;
  double now = gz_now();
  if (now - p->last_draw < (p->tty ? 0.1 : p->plain_every)) return;
  draw(p, now, extra, 0);
}

void gz_progress_finish(gz_progress *p, const char *extra) {
  if (!p->enabled) return;
  draw(p, gz_now(), extra, 1);
}

static int g_level = -1;

static int level_from_env(void) {
  const char *s = getenv("GAZELOC_LOG");
  if (!s) return GZ_LOG_INFO;
  if (!strcmp(s, "error")) return GZ_LOG_ERROR;
  if (!strcmp(s, "warn")) return GZ_LOG_WARN;
  if (!strcmp(s, "debug")) return GZ_LOG_DEBUG;
  return GZ_LOG_INFO;
}

void gz_log_set_level(int level) { g_level = level; }

int gz_log_level(void) {
  if (g_level < 0) g_level = level_from_env();
  return g_level;
}

void gz_log(int level, const char *fmt, ...) {
  if (level > gz_log_level()) return;
  static const char *names[] = {"error", "warning", "info", "debug"};
  fprintf(stderr, "[%s] ", names[level < 0 ? 0 : level > 3 ? 3 : level]);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
