/* test_json_write.c -- json_write() gives the text json_dumps() gives
 * (JSON_COMPACT | JSON_ENCODE_ANY), for every kind of value. */
#include "lib/json_write.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>

/* json_write(v) must equal jansson's own compact text. */
static void same_as_jansson(json_t *v) {
  buf b = {0};
  char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  CHECK_EQ_INT(json_write(&b, v), 0);
  CHECK(buf_append(&b, "", 1) == 0);
  CHECK(want != NULL);
  if (want != NULL && b.data != NULL)
    CHECK_EQ_STR(b.data, want);
  free(want);
  buf_free(&b);
  json_decref(v);
}

static void test_values(void) {
  static const char *const docs[] = {
      "{}",
      "[]",
      "null",
      "true",
      "false",
      "0",
      "-1",
      "9223372036854775807",
      "-9223372036854775808",
      "1.5",
      "-0.25",
      "1e300",
      "1e-7",
      "-2.5e-300",
      "1e21",
      "2.0",
      "0.1",
      "19.99",
      "\"plain\"",
      "\"\"",
      "\"quote \\\" and \\\\ backslash\"",
      "\"tab\\tnl\\ncr\\rbs\\bff\\f\"",
      "\"ctrl \\u0001\\u001f end\"",
      "\"slash / stays\"",
      "\"unicode \\u00e9\\u4e2d\\ud83d\\ude00\"",
      /* clang-format off: one element, which clang warns about when split */
      // clang-format off
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}",
      // clang-format on
      "[1,[2,[3,[4,{\"a\":[]}]]],{\"b\":{\"c\":null}}]",
      "{\"z\":1,\"a\":2,\"m\":{\"y\":true,\"b\":false}}",
  };
  size_t i;
  for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    json_error_t e;
    json_t *v = json_loads(docs[i], JSON_DECODE_ANY, &e);
    CHECK(v != NULL);
    if (v != NULL)
      same_as_jansson(v);
  }
  /* A string with a NUL inside. */
  same_as_jansson(json_stringn("a\0b", 3));
  /* Every control character. */
  {
    char s[40];
    int c;
    for (c = 1; c < 32; c++)
      s[c - 1] = (char)c;
    s[31] = '\0';
    same_as_jansson(json_string(s));
  }
}

static void test_limits(void) {
  buf b = {0};
  json_t *deep = json_array(), *cur = deep;
  int i;
  /* A nesting deeper than the limit (what a cycle would look like). */
  for (i = 0; i < 3000; i++) {
    json_t *next = json_array();
    json_array_append_new(cur, next);
    cur = next;
  }
  CHECK_EQ_INT(json_write(&b, deep), -ELOOP);
  json_decref(deep);
  buf_free(&b);
  /* The buffer's limit. */
  b.limit = 8;
  deep = json_string("longer than eight bytes");
  CHECK_EQ_INT(json_write(&b, deep), -E2BIG);
  json_decref(deep);
  buf_free(&b);
  CHECK_EQ_INT(json_write(&b, NULL), -EINVAL);
}

int main(void) {
  RUN(test_values);
  RUN(test_limits);
  TEST_MAIN_END();
}
