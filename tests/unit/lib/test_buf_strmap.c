/* test_buf_strmap.c -- the size-limited buffer and the string hash map. */
#include "lib/buf.h"
#include "lib/strmap.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static void test_buf_limits(void) {
  buf b = {0};
  b.limit = 10;
  CHECK_EQ_INT(buf_append(&b, "12345", 5), 0);
  CHECK_EQ_INT(buf_printf(&b, "%d", 678), 0);
  CHECK_EQ_INT(b.len, 8);
  CHECK_EQ_INT(buf_append(&b, "abc", 3), -E2BIG);
  CHECK_EQ_INT(b.len, 8); /* unchanged after a refused write */
  CHECK(memcmp(b.data, "12345678", 8) == 0);
  CHECK(b.cap <= 10);
  buf_consume(&b, 3);
  CHECK_EQ_INT(b.len, 5);
  CHECK(memcmp(b.data, "45678", 5) == 0);
  buf_free(&b);
  CHECK(b.data == NULL && b.len == 0);
}

static void test_buf_printf_grows(void) {
  buf b = {0};
  int i;
  for (i = 0; i < 1000; i++)
    CHECK_EQ_INT(buf_printf(&b, "line %04d\n", i), 0);
  CHECK_EQ_INT(b.len, 10000);
  CHECK(memcmp(b.data + 9990, "line 0999\n", 10) == 0);
  free(buf_steal(&b));
  CHECK(b.data == NULL);
}

static void test_strmap(void) {
  strmap m = {0};
  char keys[2000][16];
  int i, bad = 0;

  for (i = 0; i < 2000; i++) {
    snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
    CHECK_EQ_INT(strmap_put(&m, keys[i], strlen(keys[i]), keys[i]), 0);
  }
  CHECK_EQ_INT(strmap_put(&m, "key-7", 5, keys[0]), -EEXIST);
  CHECK_EQ_INT(m.count, 2000);
  /* Remove every third key; the rest must still be found. */
  for (i = 0; i < 2000; i += 3)
    CHECK(strmap_remove(&m, keys[i], strlen(keys[i])) == keys[i]);
  for (i = 0; i < 2000; i++) {
    void *v = strmap_get(&m, keys[i], strlen(keys[i]));
    if ((i % 3 == 0) != (v == NULL) || (v != NULL && v != keys[i]))
      bad++;
  }
  CHECK_EQ_INT(bad, 0);
  CHECK(strmap_get(&m, "key-1", 4) == NULL); /* a prefix is another key */
  CHECK(strmap_remove(&m, "nope", 4) == NULL);
  strmap_free(&m);
  CHECK(strmap_get(&m, "key-1", 5) == NULL);
}

int main(void) {
  RUN(test_buf_limits);
  RUN(test_buf_printf_grows);
  RUN(test_strmap);
  TEST_MAIN_END();
}
