/* fuzz.h -- what the libFuzzer targets in fuzz/ share: prototypes of the
 * entry points (the build has -Wmissing-prototypes), a check that aborts
 * (so libFuzzer records the input as a crash), and input splitting. */
#ifndef MCPD_FUZZ_H
#define MCPD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An oracle that must hold: when it does not, say which and abort. */
#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);                \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* The length of the part before the first byte sep (all of it when there
 * is none); the second part starts one byte after that. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, uint8_t sep) {
  const uint8_t *p = size ? memchr(data, sep, size) : NULL;
  return p ? (size_t)(p - data) : size;
}

/* A NUL-terminated copy of n bytes (an embedded NUL ends the string early,
 * as it would for any C caller). Aborts when out of memory. */
static inline char *fuzz_strndup(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (s == NULL)
    abort();
  if (n > 0)
    memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

#endif
