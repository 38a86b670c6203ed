/* base: what every gazeloc module needs and nothing else.
 *
 *   error status    gz_err: a code and a message naming file, line and field
 *   CSV             strict streaming reader (header by name, CRLF, quotes, BOM) and writer
 *   files           atomic writes (temp file in the same folder, fsync, rename), directory walk
 *   random numbers  Philox4x32-10, reproducible from (seed, stream, counter)
 *   progress, log   a progress line with rate and ETA; leveled logging to stderr
 *   cpu             x86-64 ISA detection and the GAZELOC_ISA override
 *
 * Library code never exits: every fallible function returns 0 on success and -1 on failure after
 * filling the caller's gz_err (which may be NULL when the caller does not care).
 */
#ifndef GAZELOC_BASE_H
#define GAZELOC_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------------ error status */

enum gz_code {
  GZ_OK = 0,
  GZ_EIO,          /* open/read/write/rename failed (errno text in the message) */
  GZ_EFORMAT,      /* malformed input file */
  GZ_EINVAL,       /* bad argument or option */
  GZ_ENOMEM,       /* allocation failed */
  GZ_ERANGE,       /* value out of range or impossible size */
  GZ_EUNSUPPORTED, /* asked for something this build or CPU cannot do */
};

#define GZ_ERR_MSG 1024
typedef struct gz_err {
  int code;
  char msg[GZ_ERR_MSG];
} gz_err;

#if defined(__GNUC__)
#define GZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GZ_PRINTF(a, b)
#endif

/* Records an error (if e is non-NULL) and returns -1, so that `return gz_fail(e, ...)` reads well. */
int gz_fail(gz_err *e, int code, const char *fmt, ...) GZ_PRINTF(3, 4);
/* Like gz_fail, and appends ": <strerror(errno)>". */
int gz_fail_errno(gz_err *e, const char *fmt, ...) GZ_PRINTF(2, 3);
/* Prefixes the message already in e with more context ("reading P300R1: <old message>"). */
int gz_err_prefix(gz_err *e, const char *fmt, ...) GZ_PRINTF(2, 3);
void gz_err_clear(gz_err *e);
const char *gz_code_name(int code);

/* Allocation helpers that report GZ_ENOMEM instead of returning silently. */
void *gz_malloc(size_t n, gz_err *e);
void *gz_calloc(size_t count, size_t size, gz_err *e);
void *gz_realloc(void *p, size_t n, gz_err *e);
char *gz_strdup(const char *s, gz_err *e);

/* ------------------------------------------------------------------ CSV reader */

typedef struct gz_csv gz_csv;

enum gz_csv_flags {
  GZ_CSV_NO_HEADER = 1, /* every line is data (for example the labeler's one-report-per-line input) */
  GZ_CSV_RAGGED = 2,    /* allow rows whose field count differs from the first row */
};

/* Opens a file and reads its header (unless GZ_CSV_NO_HEADER). Streaming: the file is read in
 * fixed-size chunks, so memory use is bounded by the longest record, not by the file size. */
gz_csv *gz_csv_open(const char *path, int flags, gz_err *e);
/* The same reader over a memory buffer; `name` is used in error messages. The buffer must stay
 * alive until gz_csv_close. */
gz_csv *gz_csv_open_mem(const char *name, const char *data, size_t len, int flags, gz_err *e);
void gz_csv_close(gz_csv *c);

/* Reads the next record: 1 = a record, 0 = end of file, -1 = error (e names path, line, column). */
int gz_csv_next(gz_csv *c, gz_err *e);

int gz_csv_ncols(const gz_csv *c);            /* header columns (or fields of the first row) */
int gz_csv_nfields(const gz_csv *c);          /* fields of the current record */
const char *gz_csv_header(const gz_csv *c, int col);
const char *gz_csv_field(const gz_csv *c, int col); /* "" for a missing trailing field */
size_t gz_csv_field_len(const gz_csv *c, int col);
long gz_csv_line(const gz_csv *c);            /* line where the current record starts (1-based) */
const char *gz_csv_path(const gz_csv *c);

/* Column index by exact header name, or -1. */
int gz_csv_find(const gz_csv *c, const char *name);
/* Column index by name, or -1 with "<path>: missing column '<name>' in header". */
int gz_csv_require(gz_csv *c, const char *name, gz_err *e);

/* Typed access to the current record; errors name path, line, column number and header name. */
int gz_csv_is_empty(const gz_csv *c, int col);
int gz_csv_double(gz_csv *c, int col, double *out, gz_err *e);  /* finite decimal number */
int gz_csv_int(gz_csv *c, int col, long *out, gz_err *e);       /* "5" or "5.0", not "5.5" */
int gz_csv_bool(gz_csv *c, int col, int *out, gz_err *e);       /* True/False (also true/false, 1/0) */
/* Error helper: "<path> line L, column N (name): <message>". */
int gz_csv_fail(gz_csv *c, int col, gz_err *e, const char *fmt, ...) GZ_PRINTF(4, 5);

/* Parses a whole number written as "5" or "5.0" (pandas writes both); 0 on success. */
int gz_parse_int(const char *s, long *out);
/* Parses a finite decimal number (no hex, no inf/nan); 0 on success. */
int gz_parse_double(const char *s, double *out);

/* ------------------------------------------------------------------ CSV writer */

typedef struct gz_csvw {
  FILE *f;
  const char *eol; /* "\r\n" (REFLACX, pandas with newline='\r\n') or "\n" */
  int nfields;     /* fields written on the current line */
} gz_csvw;

void gz_csvw_init(gz_csvw *w, FILE *f, int crlf);
/* Writes one field, quoted when it holds a comma, quote, CR, LF or leading/trailing space. */
void gz_csvw_field(gz_csvw *w, const char *s);
void gz_csvw_fieldf(gz_csvw *w, const char *fmt, ...) GZ_PRINTF(2, 3);
void gz_csvw_end(gz_csvw *w);

/* ------------------------------------------------------------------ files */

/* An atomic writer: writes go to a temporary file in the destination's folder; commit flushes,
 * fsyncs, renames over the destination and fsyncs the folder. Abort (or a failed commit) removes the
 * temporary file and leaves any old file at `path` untouched. */
typedef struct gz_afile {
  FILE *f;
  char *path;
  char *tmp;
} gz_afile;

int gz_afile_open(gz_afile *a, const char *path, gz_err *e);
int gz_afile_commit(gz_afile *a, gz_err *e);
void gz_afile_abort(gz_afile *a);
/* The whole of `data` written atomically to `path`. */
int gz_write_file_atomic(const char *path, const void *data, size_t len, gz_err *e);
/* Reads a whole (small) file into a NUL-terminated malloc'd buffer. */
char *gz_read_file(const char *path, size_t *len, gz_err *e);
/* mkdir -p. */
int gz_mkdir_p(const char *path, gz_err *e);
int gz_is_dir(const char *path);
int gz_is_file(const char *path);

/* Directory walk: calls fn for each entry below `root`, depth first, entries sorted by name so the
 * order is the same on every file system. Symbolic links are reported but never followed.
 * fn returns 0 to continue, 1 to skip a directory's contents, -1 to stop (with e set). */
enum gz_walk_kind { GZ_WALK_FILE, GZ_WALK_DIR, GZ_WALK_LINK, GZ_WALK_OTHER };
typedef int (*gz_walk_fn)(const char *path, const char *name, int kind, int depth, void *ud, gz_err *e);
int gz_walk(const char *root, int max_depth, gz_walk_fn fn, void *ud, gz_err *e);

/* ------------------------------------------------------------------ random numbers */

/* Philox4x32-10 (Salmon et al., SC'11): a keyed bijection of a 128-bit counter. Every number is a pure
 * function of (seed, stream, index), so any thread or process can draw the i-th number of a stream
 * and get the same value, whatever the thread count. */
void gz_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

typedef struct gz_rng {
  uint64_t seed, stream, counter; /* counter counts 128-bit blocks */
  uint32_t buf[4];
  int used; /* words of buf already consumed (4 = empty) */
} gz_rng;

/* A generator positioned at the start of stream `stream` of `seed`. */
void gz_rng_init(gz_rng *r, uint64_t seed, uint64_t stream);
/* Jumps to word index `word` of the stream (word i of a stream is the same for every caller). */
void gz_rng_seek(gz_rng *r, uint64_t word);
uint32_t gz_rng_u32(gz_rng *r);
uint64_t gz_rng_u64(gz_rng *r);
float gz_rng_uniform(gz_rng *r);                        /* [0, 1), 24 bits */
double gz_rng_uniform_d(gz_rng *r);                     /* [0, 1), 53 bits */
double gz_rng_range(gz_rng *r, double lo, double hi);   /* [lo, hi) */
double gz_rng_normal(gz_rng *r);                        /* N(0, 1), Box-Muller */
uint32_t gz_rng_below(gz_rng *r, uint32_t n);           /* uniform integer in [0, n), unbiased */
/* Word `index` of (seed, stream) without a generator object. */
uint32_t gz_rng_word_at(uint64_t seed, uint64_t stream, uint64_t index);
/* Fisher-Yates shuffle of n ints, deterministic in (r). */
void gz_rng_shuffle(gz_rng *r, int *a, size_t n);

/* ------------------------------------------------------------------ progress and logging */

typedef struct gz_progress {
  const char *label;
  double total, done;
  double t0, last_draw;
  int tty;      /* redraw one line with \r on a terminal; plain lines otherwise */
  int enabled;
  double plain_every; /* seconds between plain lines */
  FILE *out;
} gz_progress;

void gz_progress_start(gz_progress *p, const char *label, double total);
/* Sets the amount done; `extra` (may be NULL) is appended, e.g. "loss 0.412". */
void gz_progress_update(gz_progress *p, double done, const char *extra);
void gz_progress_finish(gz_progress *p, const char *extra);
/* Formats seconds as "1h02m", "3m05s" or "4.2s". */
void gz_format_duration(double seconds, char *buf, size_t n);
double gz_now(void); /* monotonic seconds */

enum gz_log_level { GZ_LOG_ERROR = 0, GZ_LOG_WARN, GZ_LOG_INFO, GZ_LOG_DEBUG };
/* Level from GAZELOC_LOG (error|warn|info|debug), default info. */
void gz_log_set_level(int level);
int gz_log_level(void);
void gz_log(int level, const char *fmt, ...) GZ_PRINTF(2, 3);
#define gz_warn(...) gz_log(GZ_LOG_WARN, __VA_ARGS__)
#define gz_info(...) gz_log(GZ_LOG_INFO, __VA_ARGS__)
#define gz_debug(...) gz_log(GZ_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------ cpu */

/* GZ_ISA_REFERENCE is not a SIMD level but the audit path: every op on its plain-C reference kernel
 * (single sums in float64, float32 storage; tensor/kernels.h), available on every CPU. */
enum gz_isa { GZ_ISA_REFERENCE = -1, GZ_ISA_SCALAR = 0, GZ_ISA_AVX2 = 1, GZ_ISA_AVX512 = 2 };
enum gz_cpu_feature { GZ_CPU_AVX2 = 1u << 0, GZ_CPU_FMA = 1u << 1, GZ_CPU_AVX512F = 1u << 2,
                      GZ_CPU_AVX512BW = 1u << 3, GZ_CPU_AVX512VL = 1u << 4, GZ_CPU_AVX512DQ = 1u << 5 };

unsigned gz_cpu_features(void); /* what this CPU and OS support (CPUID + XGETBV) */
/* 1 when the cores execute a 512-bit FMA as two 256-bit halves (AMD family 0x19 with AVX-512: Zen 4), else 0 (Zen 5
 * and Intel's cores issue two full-width FMAs a cycle). The AVX-512 register tiles broadcast differently on the two
 * (tensor/fma_avx512.h). */
int gz_cpu_avx512_halves(void);
const char *gz_isa_name(int isa);
/* The best ISA the features allow, or the one `request` names ("reference", "scalar", "avx2", "avx512"); a request
 * the features lack or an unknown name is an error. request may be NULL or "" (= best). */
int gz_isa_resolve(const char *request, unsigned features, int *isa, gz_err *e);
/* The ISA for this process: GAZELOC_ISA if set, else the best the CPU has. Cached after the first call;
 * returns -1 (and fills e) when GAZELOC_ISA asks for something impossible. */
int gz_isa_active(int *isa, gz_err *e);
/* Replaces the process's ISA (tests and tools that compare paths in one process; not thread-safe: call it
 * between computations). Fails, changing nothing, for an ISA this CPU lacks. */
int gz_isa_override(int isa, gz_err *e);

/* ------------------------------------------------------------------ images (stb_image, stb_image_write) */

/* Writes 8-bit pixels (comp = 1 gray, 3 RGB, 4 RGBA; rows of w*comp bytes) as PNG / JPEG, atomically. */
int gz_write_png(const char *path, int w, int h, int comp, const unsigned char *pixels, gz_err *e);
int gz_write_jpg(const char *path, int w, int h, int comp, const unsigned char *pixels, int quality, gz_err *e);
/* Reads an image file (JPEG, PNG, ...) as 8-bit grayscale (comp 1) or RGB (comp 3); free() the result. */
unsigned char *gz_read_image(const char *path, int comp, int *w, int *h, gz_err *e);

#endif
