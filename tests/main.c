/* The one test runner: every Check suite of every module, then Check's summary line.
 *
 *   gazeloc-tests                 run everything
 *   gazeloc-tests base labeler_   run the suites whose names start with these prefixes
 *   gazeloc-tests --list          list the suites
 *
 * Suites register themselves: any `Suite *suite_NAME(void)` in tests/<module>/ is found at build time. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUITE(name) Suite *suite_##name(void);
#include "suites.inc"
#undef SUITE

static const struct {
  const char *name;
  Suite *(*make)(void);
} suites[] = {
#define SUITE(name) {#name, suite_##name},
#include "suites.inc"
#undef SUITE
};

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2) return 1;
  for (int i = 1; i < argc; i++)
    if (strncmp(name, argv[i], strlen(argv[i])) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  size_t n = sizeof suites / sizeof suites[0];
  if (argc == 2 && !strcmp(argv[1], "--list")) {
    for (size_t i = 0; i < n; i++) puts(suites[i].name);
    return 0;
  }
  SRunner *sr = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!selected(suites[i].name, argc, argv)) continue;
    if (!sr) sr = srunner_create(suites[i].make());
    else srunner_add_suite(sr, suites[i].make());
  }
  if (!sr) {
    fprintf(stderr, "gazeloc-tests: error: no suite matches; try --list\n");
    return 2;
  }
  srunner_run_all(sr, getenv("CK_VERBOSITY") ? CK_ENV : CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
