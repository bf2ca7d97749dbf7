/* harness.h: a tiny C test harness. Each CHECK prints "ok - ..." or
 * "not ok - ..." (with file:line), and DONE() prints the summary line that
 * tests/run.sh reads and returns the exit status. */
#ifndef MONHOST_HARNESS_H
#define MONHOST_HARNESS_H
#include <stdio.h>
#include <string.h>

static int h_pass, h_fail;

#define CHECK(cond, name)                                                   \
  do {                                                                      \
    if (cond) { h_pass++; printf("ok - %s\n", name); }                      \
    else { h_fail++; printf("not ok - %s\n  # %s:%d: %s\n", name, __FILE__, \
                            __LINE__, #cond); }                             \
  } while (0)

#define CHECK_STR(got, want, name)                                          \
  do {                                                                      \
    const char *g_ = (got), *w_ = (want);                                   \
    if (g_ && w_ && strcmp(g_, w_) == 0) { h_pass++; printf("ok - %s\n", name); } \
    else { h_fail++; printf("not ok - %s\n  # %s:%d: got \"%s\", want \"%s\"\n", \
                            name, __FILE__, __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
  } while (0)

#define DONE(suite) (printf("%s: %d passed, %d failed\n", suite, h_pass, h_fail), h_fail ? 1 : 0)
#endif
