/* fuzz_uri_template.c -- fuzzes the RFC 6570 matcher (core/lib
 * uri_template): the input is "template\nURI" (split at the first
 * newline; without one the URI is empty). Parses the template, matches
 * the URI, and checks what the header promises: 0 or -EINVAL with a
 * message on parse; 1 with an object of strings (at most one per template
 * variable) or 0 with *vars untouched on match; the same answer twice. */
#include "lib/uri_template.h"

#include "fuzz.h"

#include <errno.h>

static void check_vars(const uritpl *t, const json_t *vars) {
  const char *key;
  const json_t *value;
  FUZZ_CHECK(json_is_object(vars));
  FUZZ_CHECK(json_object_size(vars) <= uritpl_var_count(t));
  json_object_foreach((json_t *)vars, key, value) {
    FUZZ_CHECK(key[0] != '\0');
    FUZZ_CHECK(json_is_string(value));
    /* Decoded values never hold a NUL. */
    FUZZ_CHECK(strlen(json_string_value(value)) == json_string_length(value));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cut = fuzz_split(data, size, '\n');
  char *tmpl = fuzz_strndup(data, cut);
  char *uri = fuzz_strndup(data + (cut < size ? cut + 1 : size), cut < size ? size - cut - 1 : 0);
  char err[128];
  uritpl *t = NULL;
  json_t *vars = (json_t *)&vars, *again = (json_t *)&again;
  int rc, rc2;

  err[0] = '\0';
  rc = uritpl_parse(tmpl, &t, err, sizeof(err));
  FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
  if (rc != 0) {
    FUZZ_CHECK(rc == -ENOMEM || (err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL));
    goto out;
  }
  FUZZ_CHECK(t != NULL);
  rc = uritpl_match(t, uri, &vars);
  FUZZ_CHECK(rc == 0 || rc == 1 || rc == -ENOMEM);
  if (rc == 1)
    check_vars(t, vars);
  else
    FUZZ_CHECK(vars == (json_t *)&vars);
  /* Pure: a second match says the same. */
  rc2 = uritpl_match(t, uri, &again);
  FUZZ_CHECK(rc2 == rc || rc == -ENOMEM || rc2 == -ENOMEM);
  if (rc == 1 && rc2 == 1)
    FUZZ_CHECK(json_equal(vars, again));
  /* The template matched against itself must not crash either. */
  if (rc2 == 1)
    json_decref(again);
  again = (json_t *)&again;
  if (uritpl_match(t, tmpl, &again) == 1)
    json_decref(again);
  if (rc == 1)
    json_decref(vars);
out:
  uritpl_free(t);
  free(tmpl);
  free(uri);
  return 0;
}
