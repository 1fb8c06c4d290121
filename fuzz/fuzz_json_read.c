/* fuzz_json_read.c -- differential fuzzing of json_read() (core/lib)
 * against jansson's json_loadb(text, len, 0): both accept or both reject,
 * and on accept the trees are json_equal() and dump to the same text (key
 * order included). The one documented difference (lib/json_read.h) is
 * excluded exactly: jansson skips a NUL byte right after a number or
 * literal, json_read rejects every NUL outside a string; such an input
 * must be rejected by json_read and, with its NULs removed, load as
 * jansson's tree. */
#include "lib/json_read.h"

#include "fuzz.h"

#include <errno.h>

/* The compact text of v, in insertion order; NULL when out of memory. */
static char *dump(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void same_tree(const json_t *want, const json_t *got) {
  char *a, *b;
  FUZZ_CHECK(got != NULL);
  FUZZ_CHECK(json_equal(want, got));
  a = dump(want);
  b = dump(got);
  FUZZ_CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
  free(a);
  free(b);
}

/* Every NUL in text follows the last character of a number or of a
 * literal (true, false, null): the only place jansson lets one through. */
static int nuls_after_scalars(const char *text, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (text[i] == '\0' && (i == 0 || strchr("0123456789el", text[i - 1]) == NULL))
      return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  json_error_t jerr;
  json_read_error rerr;
  json_t *want, *got = (json_t *)&got;
  int rc;

  memset(&rerr, 0, sizeof(rerr));
  want = json_loadb(text, size, 0, &jerr);
  rc = json_read(size ? text : NULL, size, &got, &rerr);
  FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
  FUZZ_CHECK(rc == 0 ? got != NULL : got == NULL);
  if (rc == -EINVAL) {
    FUZZ_CHECK(rerr.text[0] != '\0' && memchr(rerr.text, '\0', sizeof(rerr.text)) != NULL);
    FUZZ_CHECK(rerr.line >= 1 && rerr.column >= 1 && rerr.position <= size);
  }
  if (want != NULL && memchr(text, '\0', size) != NULL) {
    /* The documented difference. */
    char *stripped = malloc(size);
    json_t *again = NULL;
    size_t i, m = 0;
    FUZZ_CHECK(stripped != NULL);
    FUZZ_CHECK(rc == -EINVAL);
    FUZZ_CHECK(nuls_after_scalars(text, size));
    for (i = 0; i < size; i++)
      if (text[i] != '\0')
        stripped[m++] = text[i];
    FUZZ_CHECK(json_read(stripped, m, &again, NULL) == 0);
    same_tree(want, again);
    json_decref(again);
    free(stripped);
  } else if (want != NULL) {
    FUZZ_CHECK(rc == 0);
    same_tree(want, got);
  } else {
    /* jansson also fails when out of memory; its message says so. */
    FUZZ_CHECK(rc != 0 || strstr(jerr.text, "memory") != NULL);
  }
  json_decref(want);
  json_decref(got);
  return 0;
}
