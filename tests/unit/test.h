/* test.h -- a tiny harness for the C unit tests (one executable per module,
 * registered with ctest). A failed check prints file:line and the
 * expression, counts as a failure, and the test goes on; main() returns
 * non-zero when any check failed. */
#ifndef MCPD_TEST_H
#define MCPD_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    test_checks++;                                                                                 \
    if (!(cond)) {                                                                                 \
      test_failures++;                                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                     \
    }                                                                                              \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
  do {                                                                                             \
    long long va_ = (long long)(a), vb_ = (long long)(b);                                          \
    test_checks++;                                                                                 \
    if (va_ != vb_) {                                                                              \
      test_failures++;                                                                             \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, va_,   \
              vb_);                                                                                \
    }                                                                                              \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
  do {                                                                                             \
    const char *sa_ = (a), *sb_ = (b);                                                             \
    test_checks++;                                                                                 \
    if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                     \
      test_failures++;                                                                             \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b,    \
              sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                         \
    }                                                                                              \
  } while (0)

/* Runs a test function and reports its name. */
#define RUN(fn)                                                                                    \
  do {                                                                                             \
    int before_ = test_failures;                                                                   \
    fn();                                                                                          \
    fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);                   \
  } while (0)

#define TEST_MAIN_END()                                                                            \
  do {                                                                                             \
    fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);                         \
    return test_failures ? 1 : 0;                                                                  \
  } while (0)

#endif
