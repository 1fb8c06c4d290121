/* fuzz_schema.c -- fuzzes the JSON Schema subset (core/lib schema): the
 * input is "schema\0instance", both parsed with jansson (any JSON value;
 * an unparsable part is skipped). Checks schema_validate() and
 * schema_check_input_schema(): they return 0 or -EINVAL, write a
 * NUL-terminated message (cut to fit, into an exact-size heap buffer so
 * ASan sees an overrun) only on failure, answer the same whatever the
 * buffer size, and never crash, loop or leak. */
#include "lib/schema.h"

#include "fuzz.h"

#include <errno.h>

/* Validates with a message buffer of exactly n bytes (n 0: none). */
static int validate(const json_t *schema, const json_t *instance, size_t n) {
  char *err = n ? malloc(n) : NULL;
  int rc;
  if (n)
    FUZZ_CHECK(err != NULL);
  if (n)
    memset(err, 'x', n);
  rc = schema_validate(schema, instance, err, n);
  FUZZ_CHECK(rc == 0 || rc == -EINVAL);
  if (n) {
    FUZZ_CHECK(memchr(err, '\0', n) != NULL);
    if (rc == -EINVAL && n > 1)
      FUZZ_CHECK(err[0] != '\0');
  }
  free(err);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cut = fuzz_split(data, size, '\0');
  const uint8_t *rest = data + (cut < size ? cut + 1 : size);
  size_t rest_len = cut < size ? size - cut - 1 : 0;
  json_t *schema = json_loadb((const char *)data, cut, JSON_DECODE_ANY, NULL);
  json_t *instance = json_loadb((const char *)rest, rest_len, JSON_DECODE_ANY, NULL);
  char err[256];
  int rc, rc2;

  if (instance == NULL)
    instance = json_null();
  /* Both the fuzzed schema and no schema at all (accepts anything). */
  rc = validate(schema, instance, sizeof(err));
  FUZZ_CHECK(validate(schema, instance, 0) == rc);
  FUZZ_CHECK(validate(schema, instance, 1) == rc);
  FUZZ_CHECK(validate(schema, instance, 9) == rc);
  if (schema == NULL || json_is_true(schema))
    FUZZ_CHECK(rc == 0);
  if (json_is_false(schema))
    FUZZ_CHECK(rc == -EINVAL);
  /* The schema validated against itself, and the instance as a schema. */
  validate(schema, schema != NULL ? schema : instance, sizeof(err));
  validate(instance, schema != NULL ? schema : instance, sizeof(err));
  rc2 = schema_check_input_schema(schema != NULL ? schema : instance, err, sizeof(err));
  FUZZ_CHECK(rc2 == 0 || rc2 == -EINVAL);
  FUZZ_CHECK(rc2 == 0 || err[0] != '\0');
  json_decref(schema);
  json_decref(instance);
  return 0;
}
