/* test_json_read.c -- json_read() accepts exactly what json_loadb(text,
 * len, 0, &e) accepts and builds the same tree, key order included. Checked
 * against jansson itself on hand-written cases for every rule, and on many
 * thousands of generated documents and mutations of them. */
#include "lib/json_read.h"
#include "lib/json_write.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static struct { long cases, accepted, rejected, nul_skipped; } stats;

/* Prints the input that failed a check, escaped, at most 300 bytes. */
static void show(const char *what, const char *t, size_t n) {
  size_t i;
  fprintf(stderr, "  %s (%zu bytes): ", what, n);
  for (i = 0; i < n && i < 300; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c >= 0x20 && c < 0x7F && c != '\\')
      fputc(c, stderr);
    else
      fprintf(stderr, "\\x%02X", c);
  }
  fputc('\n', stderr);
}

/* The compact text of a (json_write keeps insertion order) equals b's. */
static int same_text(const json_t *a, const json_t *b) {
  buf x = {0}, y = {0};
  int same = json_write(&x, a) == 0 && json_write(&y, b) == 0 && x.len == y.len &&
             (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
  buf_free(&x);
  buf_free(&y);
  return same;
}

/* json_read() on the n bytes at t against jansson. Returns 1 when
 * json_read() accepted. */
static int diff(const char *t, size_t n) {
  json_error_t je;
  json_read_error re;
  json_t *want, *got = NULL;
  int rc, before = test_failures;

  memset(&re, 0, sizeof(re));
  want = json_loadb(t, n, 0, &je);
  rc = json_read(t, n, &got, &re);
  stats.cases++;
  if (want != NULL && memchr(t, '\0', n) != NULL) {
    /* jansson drops a NUL byte that follows a number or literal ("[1\0]"
     * loads as [1]); json_read rejects it. Without the NULs it must give
     * jansson's tree. */
    char *stripped = malloc(n);
    size_t i, m = 0;
    json_t *again = NULL;
    stats.nul_skipped++;
    CHECK_EQ_INT(rc, -EINVAL);
    for (i = 0; stripped != NULL && i < n; i++)
      if (t[i] != '\0')
        stripped[m++] = t[i];
    CHECK(stripped != NULL && json_read(stripped, m, &again, NULL) == 0);
    CHECK(again != NULL && json_equal(want, again) && same_text(want, again));
    json_decref(again);
    free(stripped);
  } else if (want != NULL) {
    stats.accepted++;
    CHECK_EQ_INT(rc, 0);
    CHECK(got != NULL && json_equal(want, got));
    CHECK(got != NULL && same_text(want, got));
  } else {
    stats.rejected++;
    CHECK_EQ_INT(rc, -EINVAL);
    CHECK(got == NULL);
    CHECK(re.text[0] != '\0' && re.line >= 1 && re.column >= 1 && re.position <= n);
  }
  if (test_failures != before) {
    show("input", t, n);
    fprintf(stderr, "  jansson: %s; json_read: %d %s\n", want ? "ok" : je.text, rc,
            rc ? re.text : "");
  }
  json_decref(want);
  json_decref(got);
  return rc == 0;
}

/* ---- hand-written cases ------------------------------------------------- */

struct tcase {
  const char *text;
  size_t len;
  int ok; /* what json_read must do, besides agreeing with jansson */
};

#define OK(s)                                                                                      \
  { s, sizeof(s) - 1, 1 }
#define BAD(s)                                                                                     \
  { s, sizeof(s) - 1, 0 }

static const struct tcase cases[] = {
    /* Structure and the top level. */
    OK("{}"),
    OK("[]"),
    OK(" \t\r\n[ \t\r\n] \n"),
    OK("[1,2,3]"),
    OK("{\"a\":1}"),
    OK("{ \"a\" : [ 1 , { } , [ ] ] , \"b\" : { \"c\" : null } }"),
    OK("[true,false,null]"),
    BAD(""),
    BAD("   \n"),
    BAD("1"),
    BAD("-1"),
    BAD("\"a\""),
    BAD("true"),
    BAD("null"),
    BAD("[1] x"),
    BAD("[1]]"),
    BAD("{}{}"),
    BAD("[],"),
    BAD("[1,]"),
    BAD("{\"a\":1,}"),
    BAD("[,1]"),
    BAD("[,]"),
    BAD("{,}"),
    BAD("{\"a\"}"),
    BAD("{\"a\":}"),
    BAD("{\"a\" 1}"),
    BAD("{\"a\"::1}"),
    BAD("{1:2}"),
    BAD("{a:1}"),
    BAD("{'a':1}"),
    BAD("[1 2]"),
    BAD("[1;2]"),
    BAD("{\"a\":1 \"b\":2}"),
    BAD("{\"a\":1]"),
    BAD("[1}"),
    BAD("["),
    BAD("{"),
    BAD("[1"),
    BAD("[1,"),
    BAD("[\"a\""),
    BAD("{\"a\""),
    BAD("{\"a\":"),
    BAD("{\"a\":1"),
    BAD("{\"a\":1,"),
    BAD("[\f]"),
    BAD("[\v1]"),
    BAD("[\xc2\xa0]"),
    BAD("\xef\xbb\xbf[]"),
    BAD("[/*c*/]"),
    /* NUL bytes outside strings. */
    BAD("[]\0"),
    BAD("\0[]"),
    BAD("[\0]"),
    BAD("[\0 1]"),
    BAD("[1,\0 2]"),
    BAD("{\"a\"\0:1}"),
    BAD("[1\0\0]"),
    BAD("[\"a\"\0]"),
    BAD("[1\0]"), /* jansson loads these */
    BAD("[true\0]"),
    BAD("[1.5\0 ]"),
    BAD("{\"a\":null\0}"),
    /* Literals. */
    BAD("[tru]"),
    BAD("[truex]"),
    BAD("[true1]"),
    BAD("[nul]"),
    BAD("[nulll]"),
    BAD("[fals]"),
    BAD("[True]"),
    BAD("[NULL]"),
    BAD("[NaN]"),
    BAD("[Infinity]"),
    BAD("[-Infinity]"),
    BAD("[undefined]"),
    /* Duplicate keys and key order. */
    OK("{\"a\":1,\"b\":2,\"a\":3}"),
    OK("{\"a\":{\"x\":1},\"b\":2,\"a\":[3],\"c\":4,\"a\":\"s\"}"),
    OK("{\"z\":1,\"a\":2,\"m\":3,\"b\":4}"),
    OK("{\"a\":{\"a\":{\"a\":1,\"a\":2},\"a\":{\"b\":1}}}"),
    OK("{\"\\u0061\":1,\"a\":2}"),
    OK("{\"\":1,\"\":2}"),
    /* Strings: escapes. */
    OK("[\"\"]"),
    OK("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"),
    OK("[\"\\u0041\\u00e9\\u4E2D\\uFFFF\\u0001\\u001f\\u007F\"]"),
    OK("[\"\\ud83d\\ude00\"]"),
    OK("[\"x\\uD83D\\uDE00x\\uDBFF\\uDFFF\\uD800\\uDC00\"]"),
    OK("{\"k\\n\\u00e9\":\"v\\t\\u20ac\"}"),
    OK("[\"caf\\u00e9 \\\"quoted\\\" and a long tail after the escapes\"]"),
    BAD("[\"\\ud800\"]"),
    BAD("[\"\\ud800x\"]"),
    BAD("[\"\\ud800\\n\"]"),
    BAD("[\"\\ud800\\u0041\"]"),
    BAD("[\"\\ud800\\ud800\"]"),
    BAD("[\"\\ud800\\u\"]"),
    BAD("[\"\\ud800\\udc0\"]"),
    BAD("[\"\\ud800\\"),
    BAD("[\"\\ud800"),
    BAD("[\"\\udc00\"]"),
    BAD("[\"\\udfff\\ud800\"]"),
    BAD("[\"\\u0000\"]"),
    BAD("[\"a\\u0000b\"]"),
    BAD("{\"\\u0000\":1}"),
    BAD("{\"a\\u0000b\":1}"),
    BAD("[\"\\u00\"]"),
    BAD("[\"\\u00g0\"]"),
    BAD("[\"\\u\"]"),
    BAD("[\"\\u12"),
    BAD("[\"\\x41\"]"),
    BAD("[\"\\'\"]"),
    BAD("[\"\\U0041\"]"),
    BAD("[\"\\a\"]"),
    BAD("[\"\\0\"]"),
    BAD("[\"\\\n\"]"),
    BAD("[\"\\"),
    BAD("[\"abc"),
    BAD("[\"abc\\\"]"),
    BAD("{\"abc"),
    BAD("{\"a\\"),
    /* Strings: control characters and raw bytes. */
    OK("[\"\x7f\"]"),
    OK("[\" \"]"),
    BAD("[\"a\nb\"]"),
    BAD("[\"a\tb\"]"),
    BAD("[\"a\rb\"]"),
    BAD("[\"\x01\"]"),
    BAD("[\"\x1f\"]"),
    BAD("[\"a\0b\"]"),
    BAD("{\"a\0b\":1}"),
    BAD("[\"0123456\x01\"]"),
    BAD("[\"01234567\x1f 89abcdef\"]"),
    /* Strings: UTF-8. */
    OK("[\"\xc2\x80\xc3\xa9\xdf\xbf\"]"),
    OK("[\"\xe0\xa0\x80\xe2\x82\xac\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"]"),
    OK("[\"\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf3\xbf\xbf\xbf\xf4\x8f\xbf\xbf\"]"),
    OK("{\"\xc3\xa9t\xc3\xa9\":\"\xe4\xb8\xad\xe6\x96\x87 0123456789 \xf0\x9f\x98\x80\"}"),
    BAD("[\"\xc0\x80\"]"),
    BAD("[\"\xc1\xbf\"]"),
    BAD("[\"\xe0\x80\x80\"]"),
    BAD("[\"\xe0\x9f\xbf\"]"),
    BAD("[\"\xed\xa0\x80\"]"),
    BAD("[\"\xed\xbf\xbf\"]"),
    BAD("[\"\xed\xa0\xbd\xed\xb8\x80\"]"),
    BAD("[\"\xf0\x8f\xbf\xbf\"]"),
    BAD("[\"\xf4\x90\x80\x80\"]"),
    BAD("[\"\xf5\x80\x80\x80\"]"),
    BAD("[\"\xf8\x88\x80\x80\x80\"]"),
    BAD("[\"\xfe\"]"),
    BAD("[\"\xff\"]"),
    BAD("[\"\x80\"]"),
    BAD("[\"\xbf\"]"),
    BAD("[\"\xc3\"]"),
    BAD("[\"\xc3"),
    BAD("[\"\xc3\x28\"]"),
    BAD("[\"\xe2\x82\"]"),
    BAD("[\"\xe2\x28\xa1\"]"),
    BAD("[\"\xf0\x9f\x98\"]"),
    BAD("[\"\xf0\x9f\x98"),
    BAD("[\"01234567\xc3\"]"),
    BAD("[\"0123456789abcdef\xed\xa0\x80\"]"),
    BAD("{\"\xed\xa0\x80\":1}"),
    BAD("[\xc3\xa9]"),
    BAD("[1,\xe2\x82\xac]"),
    /* Numbers. */
    OK("[0,-0,1,-1,10,-10,123456789]"),
    OK("[0.0,-0.0,0.5,-0.5,1.25,0e0,0E0,0e+0,0e-0,1E5,1e+5,1e-5,-1.5e10]"),
    OK("[9223372036854775807,-9223372036854775808]"),
    OK("[1e308,1.7976931348623157e308,-1.7976931348623157e308]"),
    OK("[1e-400,-1e-400,4.9e-324,2.4e-324,2.5e-324,2.2250738585072014e-308]"),
    OK("[0.1,0.2,123.456e-7,1.0000000000000002,9007199254740993.0]"),
    OK("[0.000000000000000000000000000000000000000000000000000000000000000000001]"),
    OK("[1.00000000000000000000000000000000000000000000000000000000000000000000001]"),
    OK("[100000000000000000000000000000000000000000000000000000000000000000000.0]"),
    OK("[1e0000000000000000000000000000000000000000000000000000000000000000000001]"),
    BAD("[9223372036854775808]"),
    BAD("[-9223372036854775809]"),
    BAD("[18446744073709551615]"),
    BAD("[18446744073709551616]"),
    BAD("[99999999999999999999]"),
    BAD("[-99999999999999999999]"),
    BAD("[123456789012345678901234567890]"),
    BAD("[1e309]"),
    BAD("[-1e309]"),
    BAD("[1.7976931348623159e308]"),
    BAD("[1e99999999999999999999]"),
    BAD("[01]"),
    BAD("[-01]"),
    BAD("[00]"),
    BAD("[00.5]"),
    BAD("[+1]"),
    BAD("[.5]"),
    BAD("[-.5]"),
    BAD("[1.]"),
    BAD("[1.e5]"),
    BAD("[1e]"),
    BAD("[1E]"),
    BAD("[1e+]"),
    BAD("[1e-]"),
    BAD("[1e+-1]"),
    BAD("[-]"),
    BAD("[--1]"),
    BAD("[- 1]"),
    BAD("[1.5.5]"),
    BAD("[1e5e5]"),
    BAD("[1e5.5]"),
    BAD("[0x10]"),
    BAD("[1_000]"),
    BAD("[1x]"),
    BAD("[1true]"),
    BAD("[1\"a\"]"),
    BAD("[1-1]"),
    BAD("[1"),
    BAD("[-"),
    BAD("[1."),
    BAD("[1e"),
    BAD("[1e+"),
    BAD("{\"a\":01}"),
    BAD("{\"a\":1e400}"),
};

static void test_cases(void) {
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int ok = diff(cases[i].text, cases[i].len);
    CHECK_EQ_INT(ok, cases[i].ok);
    if (ok != cases[i].ok)
      show("case", cases[i].text, cases[i].len);
  }
}

/* Strings longer than the inline scratch space, escaped and not, as keys
 * and values at once. */
static void test_long_strings(void) {
  static const char *const pieces[] = {
      "abcdefg", "\\n", "\\u00e9", "\xc3\xa9", "\\ud83d\\ude00", "\xf0\x9f\x98\x80", "\\\\", " "};
  buf b = {0};
  int round;
  for (round = 0; round < 64; round++) {
    int i, len = 40 * round;
    buf_reset(&b);
    buf_puts(&b, "{\"");
    for (i = 0; i < len; i++)
      buf_puts(&b, pieces[(i * 7 + round) % 8]);
    buf_puts(&b, "\":\"");
    for (i = 0; i < len; i++)
      buf_puts(&b, pieces[(i * 3 + round) % 8]);
    buf_puts(&b, "\",\"plain\":\"");
    for (i = 0; i < len; i++)
      buf_puts(&b, "0123456789");
    buf_puts(&b, "\"}");
    CHECK_EQ_INT(diff(b.data, b.len), 1);
  }
  buf_free(&b);
}

/* Every kind of byte at every offset of a word, and near the end of the
 * input, where the string scan goes from 8 bytes at a time to one. */
static void test_scan_offsets(void) {
  static const char *const specials[] = {
      "\"",   "\\n",  "\\u00e9",  "\x01",         "\x1f",
      "\x7f", " ",    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      "\xc3", "\xff", "\x80",     "\xed\xa0\x80", "\\"};
  buf b = {0};
  size_t k;
  int at, tail;
  for (k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
    for (at = 0; at < 20; at++)
      for (tail = 0; tail < 12; tail++) {
        buf_reset(&b);
        buf_puts(&b, "[\"");
        buf_printf(&b, "%.*s", at, "abcdefghijklmnopqrstuvwxyz");
        buf_puts(&b, specials[k]);
        buf_printf(&b, "%.*s", tail, "ABCDEFGHIJKLMNOP");
        buf_puts(&b, "\"]");
        diff(b.data, b.len);
      }
  buf_free(&b);
}

/* ---- line, column and message --------------------------------------------- */

static void expect_error(const char *t, size_t n, int line, int column, size_t position,
                         const char *words) {
  json_read_error e;
  json_t *v = NULL;
  memset(&e, 0, sizeof(e));
  CHECK_EQ_INT(json_read(t, n, &v, &e), -EINVAL);
  CHECK(v == NULL);
  CHECK_EQ_INT(e.line, line);
  CHECK_EQ_INT(e.column, column);
  CHECK_EQ_INT(e.position, position);
  CHECK(strstr(e.text, words) != NULL);
  if (strstr(e.text, words) == NULL || e.line != line || e.column != column)
    fprintf(stderr, "  got %d:%d @%zu \"%s\"\n", e.line, e.column, e.position, e.text);
}

#define EXPECT_ERROR(s, line, col, pos, words) expect_error(s, sizeof(s) - 1, line, col, pos, words)

static void test_positions(void) {
  EXPECT_ERROR("", 1, 1, 0, "end of input");
  EXPECT_ERROR("  \n ", 2, 2, 4, "end of input");
  EXPECT_ERROR("x", 1, 1, 0, "'x'");
  EXPECT_ERROR("[1,\n  x]", 2, 3, 6, "found 'x'");
  EXPECT_ERROR("{\"a\" 1}", 1, 6, 5, "':'");
  EXPECT_ERROR("[\"\xc3\xa9\", x]", 1, 7, 7, "'x'");
  EXPECT_ERROR("[1] x", 1, 5, 4, "trailing characters");
  EXPECT_ERROR("[\n\"abc\n\"]", 2, 5, 6, "control character 0x0A");
  EXPECT_ERROR("[\"\xc3\xa9\xff\"]", 1, 4, 4, "invalid UTF-8");
  EXPECT_ERROR("[\"\xed\xa0\x80\"]", 1, 3, 2, "invalid UTF-8");
  EXPECT_ERROR("[\"ab\\u0000\"]", 1, 5, 4, "\\u0000 is not allowed");
  EXPECT_ERROR("[\"\\ud800\"]", 1, 3, 2, "unpaired surrogate \\uD800");
  EXPECT_ERROR("[\"\\q\"]", 1, 3, 2, "invalid escape '\\q'");
  EXPECT_ERROR("[1,\n 2,\r\n 3", 3, 3, 11, "end of input");
  EXPECT_ERROR("[\"abc", 1, 6, 5, "unterminated string");
  EXPECT_ERROR("{\"a\":9223372036854775808}", 1, 6, 5, "integer out of range");
  EXPECT_ERROR("[-9223372036854775809]", 1, 2, 1, "integer out of range");
  EXPECT_ERROR("[1e999]", 1, 2, 1, "real number out of range");
  EXPECT_ERROR("[01]", 1, 2, 1, "leading zero");
  EXPECT_ERROR("[1.]", 1, 4, 3, "digit");
  EXPECT_ERROR("[1\0]", 1, 3, 2, "byte 0x00");
  EXPECT_ERROR("[tru]", 1, 2, 1, "invalid literal");
  EXPECT_ERROR("[1,]", 1, 4, 3, "expected a value, found ']'");
  EXPECT_ERROR("{\"a\":1,}", 1, 8, 7, "expected a string key");
  EXPECT_ERROR("7", 1, 1, 0, "'{' or '['");
}

/* ---- the depth limit -------------------------------------------------------- */

/* n nested arrays (or objects, {"a":...}) around inner. */
static void nest(buf *b, int n, int objects, const char *inner) {
  int i;
  buf_reset(b);
  for (i = 0; i < n; i++)
    buf_puts(b, objects ? "{\"a\":" : "[");
  buf_puts(b, inner);
  for (i = 0; i < n; i++)
    buf_puts(b, objects ? "}" : "]");
}

static void test_depth(void) {
  buf b = {0};
  json_read_error e;
  json_t *v = NULL;

  /* 2048 levels load, 2049 do not; a scalar counts as a level. */
  nest(&b, 2048, 0, "");
  CHECK_EQ_INT(diff(b.data, b.len), 1);
  nest(&b, 2049, 0, "");
  CHECK_EQ_INT(diff(b.data, b.len), 0);
  nest(&b, 2047, 0, "1");
  CHECK_EQ_INT(diff(b.data, b.len), 1);
  nest(&b, 2048, 0, "1");
  CHECK_EQ_INT(diff(b.data, b.len), 0);
  nest(&b, 2047, 1, "{}");
  CHECK_EQ_INT(diff(b.data, b.len), 1);
  nest(&b, 2048, 1, "{}");
  CHECK_EQ_INT(diff(b.data, b.len), 0);
  nest(&b, 2047, 1, "\"s\"");
  CHECK_EQ_INT(diff(b.data, b.len), 1);
  nest(&b, 2048, 1, "\"s\"");
  CHECK_EQ_INT(diff(b.data, b.len), 0);
  nest(&b, 2047, 0, "[],[1],{\"b\":[]}");
  CHECK_EQ_INT(diff(b.data, b.len), 0);
  nest(&b, 2046, 0, "[],[1],{\"b\":[]}");
  CHECK_EQ_INT(diff(b.data, b.len), 1);

  /* Far deeper input fails at the 2049th level, without recursing. */
  nest(&b, 100000, 0, "");
  CHECK_EQ_INT(json_read(b.data, b.len, &v, &e), -EINVAL);
  CHECK(v == NULL);
  CHECK_EQ_INT(e.position, 2048);
  CHECK(strstr(e.text, "nesting deeper than 2048 levels") != NULL);
  buf_free(&b);
}

/* ---- limits ------------------------------------------------------------------ */

/* The document loads with limits just at its counts, and fails with -E2BIG
 * naming the right limit one below either; the position is the first value
 * too many. */
static void test_limits(void) {
  static const char doc[] = "[{\"a\":[1,2]},\"s\",[],3]"; /* 8 values, 4 elements */
  json_read_limits lim = {8, 4};
  json_read_error e;
  json_t *v = NULL;

  CHECK_EQ_INT(json_read_limited(doc, strlen(doc), &lim, &v, &e), 0);
  CHECK(v != NULL && json_array_size(v) == 4);
  json_decref(v);
  lim.max_values = 7;
  CHECK_EQ_INT(json_read_limited(doc, strlen(doc), &lim, &v, &e), -E2BIG);
  CHECK(v == NULL);
  CHECK_EQ_INT(e.over, JSON_READ_OVER_VALUES);
  CHECK_EQ_INT(e.position, strlen(doc) - 2); /* the 3 */
  CHECK(strstr(e.text, "more than 7 values") != NULL);
  lim.max_values = 8;
  lim.max_elements = 3;
  CHECK_EQ_INT(json_read_limited(doc, strlen(doc), &lim, &v, &e), -E2BIG);
  CHECK_EQ_INT(e.over, JSON_READ_OVER_ELEMENTS);
  CHECK_EQ_INT(e.position, strlen(doc) - 2);
  CHECK(strstr(e.text, "more than 3 elements") != NULL);
  /* Elements count only at the top: an object at the top, or arrays
   * inside, are not batches. */
  lim.max_elements = 1;
  CHECK_EQ_INT(json_read_limited("{\"a\":[1,2,3]}", 13, &lim, &v, &e), 0);
  json_decref(v);
  CHECK_EQ_INT(json_read_limited("[[1,2,3]]", 9, &lim, &v, &e), 0);
  json_decref(v);
  /* 0 is no bound; a malformed document is still -EINVAL, with over 0. */
  lim.max_values = 0;
  lim.max_elements = 0;
  CHECK_EQ_INT(json_read_limited(doc, strlen(doc), &lim, &v, &e), 0);
  json_decref(v);
  CHECK_EQ_INT(json_read_limited(doc, strlen(doc), NULL, &v, &e), 0);
  json_decref(v);
  lim.max_values = 100;
  CHECK_EQ_INT(json_read_limited("[1,,2]", 6, &lim, &v, &e), -EINVAL);
  CHECK_EQ_INT(e.over, 0);
}

/* ---- arguments and allocation failures ------------------------------------- */

static long alloc_budget = -1; /* allocations left before failing; -1: no limit */

static void *budget_malloc(size_t n) {
  if (alloc_budget == 0)
    return NULL;
  if (alloc_budget > 0)
    alloc_budget--;
  return malloc(n);
}

static void test_arguments_and_nomem(void) {
  static const char doc[] =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"par\\u0061ms\":{\"name\":"
      "\"e\\tcho\",\"list\":[1,2.5,true,null,\"x\",[],{}],\"a\":{\"k\":\"v\"},\"a\":3}}";
  json_t *v = (json_t *)&v;
  long fail_at;
  int reached_end = 0;

  CHECK_EQ_INT(json_read(NULL, 0, &v, NULL), -EINVAL);
  CHECK(v == NULL);
  CHECK_EQ_INT(json_read(NULL, 1, &v, NULL), -EINVAL);
  CHECK_EQ_INT(json_read("[]", 2, NULL, NULL), -EINVAL);
  /* Only len bytes are read: the rest would make it invalid. */
  CHECK_EQ_INT(json_read("[1]garbage", 3, &v, NULL), 0);
  CHECK(v != NULL && json_is_array(v));
  json_decref(v);
  CHECK_EQ_INT(json_read("{\"a\":[1]}", 8, &v, NULL), -EINVAL);

  /* Fail each of jansson's allocations in turn: -ENOMEM, nothing leaked
   * (under ASan), and with enough of them the document loads. */
  for (fail_at = 0; fail_at < 1000 && !reached_end; fail_at++) {
    json_read_error e;
    int rc;
    alloc_budget = fail_at;
    json_set_alloc_funcs(budget_malloc, free);
    rc = json_read(doc, sizeof(doc) - 1, &v, &e);
    alloc_budget = -1;
    CHECK(rc == 0 || rc == -ENOMEM);
    if (rc == -ENOMEM)
      CHECK_EQ_STR(e.text, "out of memory");
    if (rc == 0) {
      reached_end = 1;
      CHECK(diff(doc, sizeof(doc) - 1));
    }
    json_decref(v);
    json_set_alloc_funcs(malloc, free);
  }
  CHECK(reached_end && fail_at > 10);
}

/* ---- generated documents ------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* xorshift64*: deterministic, so a failure reproduces. */
static uint32_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint32_t below(uint32_t n) {
  return rnd() % n;
}

static void put_utf8(buf *b, uint32_t cp) {
  char t[4];
  size_t n;
  if (cp < 0x80) {
    t[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    t[0] = (char)(0xC0 | (cp >> 6));
    t[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    t[0] = (char)(0xE0 | (cp >> 12));
    t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    t[0] = (char)(0xF0 | (cp >> 18));
    t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  buf_append(b, t, n);
}

static void gen_ws(buf *b) {
  static const char ws[] = " \t\n\r";
  while (below(6) == 0)
    buf_append(b, &ws[below(4)], 1);
}

/* A string body: mostly valid, now and then a rule broken. */
static void gen_string(buf *b) {
  static const char *const escapes[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
  uint32_t i, n = below(8) == 0 ? below(300) : below(16);
  buf_puts(b, "\"");
  for (i = 0; i < n; i++) {
    uint32_t k = below(100), cp;
    if (k < 55) {
      char c = (char)(0x20 + below(0x5F));
      if (c == '"' || c == '\\')
        c = 'q';
      buf_append(b, &c, 1);
    } else if (k < 65) {
      buf_puts(b, escapes[below(8)]);
    } else if (k < 72) {
      do
        cp = 1 + below(0xFFFF);
      while (cp >= 0xD800 && cp <= 0xDFFF);
      buf_printf(b, below(2) ? "\\u%04x" : "\\u%04X", cp);
    } else if (k < 76) {
      cp = 0x10000 + below(0x100000);
      buf_printf(b, "\\u%04X\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                 0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else if (k < 96) {
      /* Multi-byte UTF-8 of every length, boundaries included. */
      static const uint32_t edges[] = {0x80,   0x7FF,  0x800,   0xD7FF,  0xE000,
                                       0xFFFD, 0xFFFF, 0x10000, 0x10FFFF};
      switch (below(4)) {
      case 0:
        cp = 0x80 + below(0x780);
        break;
      case 1:
        do
          cp = 0x800 + below(0xF800);
        while (cp >= 0xD800 && cp <= 0xDFFF);
        break;
      case 2:
        cp = 0x10000 + below(0x100000);
        break;
      default:
        cp = edges[below(sizeof(edges) / sizeof(edges[0]))];
      }
      put_utf8(b, cp);
    } else if (below(8) != 0) {
      buf_puts(b, "~");
    } else {
      /* Broken: lone surrogates, \u0000, raw controls, bad UTF-8. */
      static const char *const broken[] = {
          "\\ud800",  "\\udc00",      "\\ud800\\u0041",   "\\u0000", "\x01",     "\n",
          "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80",    "\xe2\x82", "\\x"};
      buf_puts(b, broken[below(sizeof(broken) / sizeof(broken[0]))]);
    }
  }
  buf_puts(b, "\"");
}

static void gen_number(buf *b) {
  static const char *const edges[] = {"0",
                                      "-0",
                                      "9223372036854775807",
                                      "-9223372036854775808",
                                      "9223372036854775806",
                                      "-9223372036854775807",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "18446744073709551616",
                                      "1e308",
                                      "1e309",
                                      "-1e309",
                                      "1e-400",
                                      "4.9e-324",
                                      "2.2250738585072014e-308",
                                      "1.7976931348623157e308",
                                      "0.1",
                                      "-0.0",
                                      "01",
                                      "1.",
                                      ".5"};
  uint32_t i, k = below(10);
  if (k == 0) {
    buf_puts(b, edges[below(sizeof(edges) / sizeof(edges[0]))]);
    return;
  }
  if (below(3) == 0)
    buf_puts(b, "-");
  if (below(4) == 0) {
    buf_puts(b, "0");
  } else {
    uint32_t n = 1 + (below(6) == 0 ? below(22) : below(6));
    buf_printf(b, "%u", 1 + below(9));
    for (i = 1; i < n; i++)
      buf_printf(b, "%u", below(10));
  }
  if (k < 5)
    return;
  if (below(2)) {
    uint32_t n = 1 + below(below(8) == 0 ? 70 : 6);
    buf_puts(b, ".");
    for (i = 0; i < n; i++)
      buf_printf(b, "%u", below(10));
  }
  if (below(2)) {
    static const char *const e[] = {"e", "E", "e+", "e-", "E+", "E-"};
    buf_puts(b, e[below(6)]);
    buf_printf(b, "%u", below(3) == 0 ? below(400) : below(30));
  }
}

static void gen_value(buf *b, int depth) {
  static const char *const keys[] = {"\"a\"", "\"b\"",       "\"id\"",       "\"name\"",
                                     "\"\"",  "\"\\u0061\"", "\"\xc3\xa9\"", "\"\\u00e9\""};
  uint32_t i, n, k = depth >= 6 ? 3 + below(7) : below(10);
  gen_ws(b);
  switch (k) {
  case 0:
  case 1:
    n = below(6);
    buf_puts(b, "{");
    for (i = 0; i < n; i++) {
      if (i > 0)
        buf_puts(b, ",");
      gen_ws(b);
      /* A small pool of keys, so duplicates are common. */
      if (below(3))
        buf_puts(b, keys[below(sizeof(keys) / sizeof(keys[0]))]);
      else
        gen_string(b);
      gen_ws(b);
      buf_puts(b, ":");
      gen_value(b, depth + 1);
    }
    gen_ws(b);
    buf_puts(b, "}");
    break;
  case 2:
    n = below(6);
    buf_puts(b, "[");
    for (i = 0; i < n; i++) {
      if (i > 0)
        buf_puts(b, ",");
      gen_value(b, depth + 1);
    }
    gen_ws(b);
    buf_puts(b, "]");
    break;
  case 3:
  case 4:
  case 5:
    gen_string(b);
    break;
  case 6:
  case 7:
    gen_number(b);
    break;
  default: {
    static const char *const lit[] = {"true", "false", "null"};
    buf_puts(b, lit[below(3)]);
  }
  }
  gen_ws(b);
}

/* One random edit of t: a byte changed, the text cut, a special byte put
 * in, or a byte dropped. */
static void mutate(buf *b, const buf *src) {
  static const char *const special[] = {"\0",      "\x80", "\xc0", "\xed\xa0\x80",
                                        "\"",      "\\",   ",",    "]",
                                        "}",       "[",    "{",    ":",
                                        " ",       "e",    "-",    ".",
                                        "0",       "\xff", "\\u",  "\x1f",
                                        "\xf4\x90"};
  size_t at = src->len ? below((uint32_t)src->len) : 0;
  buf_reset(b);
  buf_append(b, src->data, src->len);
  if (src->len == 0)
    return;
  switch (below(4)) {
  case 0:
    b->data[at] = (char)below(256);
    break;
  case 1:
    b->len = at;
    break;
  case 2: {
    const char *s = special[below(sizeof(special) / sizeof(special[0]))];
    size_t n = s[0] == '\0' ? 1 : strlen(s);
    buf_reserve(b, n);
    memmove(b->data + at + n, b->data + at, b->len - at);
    memcpy(b->data + at, s, n);
    b->len += n;
    break;
  }
  default:
    memmove(b->data + at, b->data + at + 1, b->len - at - 1);
    b->len--;
  }
}

static void test_generated(void) {
  buf doc = {0}, mut = {0};
  long before = stats.cases, accepted = stats.accepted, rejected = stats.rejected, docs_ok = 0;
  int i, j;
  for (i = 0; i < 40000; i++) {
    buf_reset(&doc);
    if (below(50) == 0) {
      gen_value(&doc, 0); /* any value at the top, rejected unless a container */
    } else {
      /* A container at the top. */
      uint32_t n = below(5);
      buf_puts(&doc, below(2) ? "[" : "{");
      if (doc.data[0] == '[') {
        for (j = 0; j < (int)n; j++) {
          if (j > 0)
            buf_puts(&doc, ",");
          gen_value(&doc, 1);
        }
        buf_puts(&doc, "]");
      } else {
        for (j = 0; j < (int)n; j++) {
          if (j > 0)
            buf_puts(&doc, ",");
          buf_puts(&doc, below(2) ? "\"id\"" : "\"k\"");
          buf_puts(&doc, ":");
          gen_value(&doc, 1);
        }
        buf_puts(&doc, "}");
      }
    }
    docs_ok += diff(doc.data, doc.len);
    for (j = 0; j < 4; j++) {
      mutate(&mut, &doc);
      diff(mut.data ? mut.data : "", mut.len);
    }
  }
  fprintf(stderr, "  generated: %d documents (%ld valid), %ld cases: %ld accepted, %ld rejected\n",
          i, docs_ok, stats.cases - before, stats.accepted - accepted, stats.rejected - rejected);
  /* The generator must cover both sides well, or the test proves little. */
  CHECK(docs_ok > 20000);
  CHECK(stats.rejected - rejected > 50000);
  buf_free(&doc);
  buf_free(&mut);
}

int main(void) {
  RUN(test_cases);
  RUN(test_long_strings);
  RUN(test_scan_offsets);
  RUN(test_positions);
  RUN(test_depth);
  RUN(test_limits);
  RUN(test_arguments_and_nomem);
  RUN(test_generated);
  fprintf(stderr,
          "differential: %ld cases: jansson accepted %ld, rejected %ld (json_read must agree), and "
          "%ld more it accepted only by skipping a NUL (json_read rejects)\n",
          stats.cases, stats.accepted, stats.rejected, stats.nul_skipped);
  TEST_MAIN_END();
}
