/* Files: atomic writes (a crash never leaves a half-written file where a good one was), whole-file
 * reads, mkdir -p, and a deterministic directory walk that never follows symbolic links. */
#include "base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir_of(const char *path, gz_err *e) {
  const char *slash = strrchr(path, '/');
  if (!slash) return gz_strdup(".", e);
  if (slash == path) return gz_strdup("/", e);
  size_t n = (size_t)(slash - path);
  char *d = gz_malloc(n + 1, e);
  if (d) { memcpy(d, path, n); d[n] = 0; }
  return d;
}

int gz_afile_open(gz_afile *a, const char *path, gz_err *e) {
  memset(a, 0, sizeof *a);
  size_t n = strlen(path);
  a->path = gz_strdup(path, e);
  a->tmp = gz_malloc(n + 16, e);
  if (!a->path || !a->tmp) { gz_afile_abort(a); return -1; }
  snprintf(a->tmp, n + 16, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(a->tmp);
  if (fd < 0) {
    gz_fail_errno(e, "%s: cannot create a temporary file beside it", path);
    free(a->tmp);
    a->tmp = NULL;
    gz_afile_abort(a);
    return -1;
  }
  fchmod(fd, 0644);
  a->f = fdopen(fd, "wb");
  if (!a->f) {
    close(fd);
    gz_fail_errno(e, "%s: fdopen", a->tmp);
    gz_afile_abort(a);
    return -1;
  }
  return 0;
}

void gz_afile_abort(gz_afile *a) {
  if (a->f) fclose(a->f);
  if (a->tmp) unlink(a->tmp);
  free(a->tmp);
  free(a->path);
  memset(a, 0, sizeof *a);
}

int gz_afile_commit(gz_afile *a, gz_err *e) {
  if (!a->f) return gz_fail(e, GZ_EINVAL, "atomic file committed twice or never opened");
  if (ferror(a->f) || fflush(a->f) != 0) {
    gz_fail_errno(e, "%s: write failed", a->path);
    gz_afile_abort(a);
    return -1;
  }
  if (fsync(fileno(a->f)) != 0) {
    gz_fail_errno(e, "%s: fsync failed", a->path);
    gz_afile_abort(a);
    return -1;
  }
  int rc = fclose(a->f);
  a->f = NULL;
  if (rc != 0) {
    gz_fail_errno(e, "%s: close failed", a->path);
    gz_afile_abort(a);
    return -1;
  }
  if (rename(a->tmp, a->path) != 0) {
    gz_fail_errno(e, "%s: cannot rename the temporary file over it", a->path);
    gz_afile_abort(a);
    return -1;
  }
  /* Make the rename itself durable. */
  char *dir = dir_of(a->path, NULL);
  if (dir) {
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    free(dir);
  }
  free(a->tmp);
  a->tmp = NULL;
  free(a->path);
  a->path = NULL;
  return 0;
}

int gz_write_file_atomic(const char *path, const void *data, size_t len, gz_err *e) {
  gz_afile a;
  if (gz_afile_open(&a, path, e)) return -1;
  if (len && fwrite(data, 1, len, a.f) != len) {
    gz_fail_errno(e, "%s: write failed", path);
    gz_afile_abort(&a);
    return -1;
  }
  return gz_afile_commit(&a, e);
}

char *gz_read_file(const char *path, size_t *len, gz_err *e) {
  FILE *f = fopen(path, "rb");
  if (!f) { gz_fail_errno(e, "%s: cannot open", path); return NULL; }
  size_t cap = 4096, n = 0;
  char *buf = gz_malloc(cap, e);
  while (buf) {
    if (n + 1 >= cap) {
      char *nb = gz_realloc(buf, cap *= 2, e);
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  if (buf && ferror(f)) { gz_fail_errno(e, "%s: read failed", path); free(buf); buf = NULL; }
  fclose(f);
  if (!buf) return NULL;
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

int gz_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int gz_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int gz_mkdir_p(const char *path, gz_err *e) {
  char *p = gz_strdup(path, e);
  if (!p) return -1;
  for (char *s = p + 1;; s++) {
    char c = *s;
    if (c == '/' || c == 0) {
      *s = 0;
      if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        gz_fail_errno(e, "%s: cannot create folder", p);
        free(p);
        return -1;
      }
      if (!gz_is_dir(p)) {
        gz_fail(e, GZ_EIO, "%s: exists and is not a folder", p);
        free(p);
        return -1;
      }
      *s = c;
    }
    if (!c) break;
  }
  free(p);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(const char *dir, int depth, int max_depth, gz_walk_fn fn, void *ud, gz_err *e) {
  DIR *d = opendir(dir);
  if (!d) return gz_fail_errno(e, "%s: cannot open folder", dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (n == cap) {
      char **nn = gz_realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names, e);
      if (!nn) { rc = -1; break; }
      names = nn;
    }
    if (!(names[n] = gz_strdup(de->d_name, e))) { rc = -1; break; }
    n++;
  }
  closedir(d);
  if (rc == 0) qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    size_t len = strlen(dir) + strlen(names[i]) + 2;
    char *path = gz_malloc(len, e);
    if (!path) { rc = -1; break; }
    snprintf(path, len, "%s/%s", dir, names[i]);
    struct stat st;
    int kind = GZ_WALK_OTHER;
    if (lstat(path, &st) == 0) {
      if (S_ISLNK(st.st_mode)) kind = GZ_WALK_LINK;
      else if (S_ISDIR(st.st_mode)) kind = GZ_WALK_DIR;
      else if (S_ISREG(st.st_mode)) kind = GZ_WALK_FILE;
    }
    int r = fn(path, names[i], kind, depth, ud, e);
    if (r < 0) rc = -1;
    else if (r == 0 && kind == GZ_WALK_DIR && (max_depth < 0 || depth < max_depth))
      rc = walk_dir(path, depth + 1, max_depth, fn, ud, e);
    free(path);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

int gz_walk(const char *root, int max_depth, gz_walk_fn fn, void *ud, gz_err *e) {
  if (!gz_is_dir(root)) return gz_fail(e, GZ_EIO, "%s: not a folder", root);
  return walk_dir(root, 0, max_depth, fn, ud, e);
}
