/* test_http_util.c -- Accept lists, media types, Origin and Host checks,
 * query parameters. */
#include "net/http_util.h"
#include "test.h"

#include <errno.h>

#define S(x) x, strlen(x)

static void test_accepts(void) {
  CHECK(http_util_accepts(NULL, 0, "text/event-stream"));
  CHECK(http_util_accepts(S("application/json, text/event-stream"), "text/event-stream"));
  CHECK(http_util_accepts(S("text/event-stream,application/json"), "application/json"));
  CHECK(http_util_accepts(S("*/*"), "application/json"));
  CHECK(http_util_accepts(S("text/*;q=0.5"), "text/event-stream"));
  CHECK(http_util_accepts(S("  Application/JSON ; charset=utf-8"), "application/json"));
  CHECK(!http_util_accepts(S("application/json"), "text/event-stream"));
  CHECK(!http_util_accepts(S("text/html"), "application/json"));
  CHECK(!http_util_accepts(S(""), "application/json"));
  /* q=0 means "not acceptable", and the most specific range decides. */
  CHECK(!http_util_accepts(S("text/event-stream;q=0, */*"), "text/event-stream"));
  CHECK(http_util_accepts(S("*/*;q=0, application/json"), "application/json"));
  CHECK(!http_util_accepts(S("*/*;q=0, application/json"), "text/event-stream"));
  /* A malformed q skips the member. */
  CHECK(!http_util_accepts(S("application/json;q=2"), "application/json"));
  CHECK(http_util_accepts(S("application/json;q=0.001"), "application/json"));
  CHECK(!http_util_accepts(S("application/jsonx"), "application/json"));
}

/* Regression (found by fuzz/fuzz_http): a POST to /mcp without an Accept
 * header passed NULL with the length http_req_header() never set, and
 * http_util_accepts() computed NULL + len before its NULL check (undefined
 * behaviour; clang's UBSan aborts: "applying non-zero offset to null
 * pointer"). An absent header accepts anything, whatever len says. */
static void test_accepts_absent_header(void) {
  volatile size_t garbage = 0x7ffd12345678; /* what an uninitialised length may hold */
  CHECK(http_util_accepts(NULL, garbage, "application/json"));
  CHECK(http_util_accepts(NULL, garbage, "text/event-stream"));
  CHECK(http_util_accepts(NULL, 1, "text/event-stream"));
}

static void test_media_type(void) {
  CHECK(http_util_media_type_is(S("application/json"), "application/json"));
  CHECK(http_util_media_type_is(S("application/json; charset=utf-8"), "application/json"));
  CHECK(http_util_media_type_is(S(" APPLICATION/JSON"), "application/json"));
  CHECK(!http_util_media_type_is(S("text/plain"), "application/json"));
  CHECK(!http_util_media_type_is(S("application/json-seq"), "application/json"));
}

static void test_loopback(void) {
  CHECK(http_util_is_loopback_name(S("localhost")));
  CHECK(http_util_is_loopback_name(S("LOCALHOST")));
  CHECK(http_util_is_loopback_name(S("app.localhost")));
  CHECK(http_util_is_loopback_name(S("127.0.0.1")));
  CHECK(http_util_is_loopback_name(S("127.1.2.3")));
  CHECK(http_util_is_loopback_name(S("[::1]")));
  CHECK(!http_util_is_loopback_name(S("127.0.0.1.evil.com")));
  CHECK(!http_util_is_loopback_name(S("localhost.evil.com")));
  CHECK(!http_util_is_loopback_name(S("evil.example.com")));
  CHECK(!http_util_is_loopback_name(S("10.0.0.1")));
  CHECK(!http_util_is_loopback_name(S("127.0.0.")));
}

static void test_split_host(void) {
  const char *name;
  size_t len;
  CHECK_EQ_INT(http_util_split_host(S("localhost:8000"), &name, &len), 0);
  CHECK(len == 9 && memcmp(name, "localhost", 9) == 0);
  CHECK_EQ_INT(http_util_split_host(S("[::1]:8000"), &name, &len), 0);
  CHECK(len == 5 && memcmp(name, "[::1]", 5) == 0);
  CHECK_EQ_INT(http_util_split_host(S("example.com"), &name, &len), 0);
  CHECK_EQ_INT(http_util_split_host(S("example.com:"), &name, &len), -EINVAL);
  CHECK_EQ_INT(http_util_split_host(S("exa mple.com"), &name, &len), -EINVAL);
  CHECK_EQ_INT(http_util_split_host(S("host:123456"), &name, &len), -EINVAL);
  CHECK_EQ_INT(http_util_split_host(S(""), &name, &len), -EINVAL);
}

static void test_origin(void) {
  const char *name;
  size_t len;
  CHECK_EQ_INT(http_util_origin_host(S("http://localhost:6274"), &name, &len), 0);
  CHECK(len == 9 && memcmp(name, "localhost", 9) == 0);
  CHECK_EQ_INT(http_util_origin_host(S("https://evil.example.com"), &name, &len), 0);
  CHECK(len == 16);
  CHECK_EQ_INT(http_util_origin_host(S("null"), &name, &len), -EINVAL);
  CHECK_EQ_INT(http_util_origin_host(S("http://a.com/path"), &name, &len), -EINVAL);
  CHECK_EQ_INT(http_util_origin_host(S("http://user@localhost"), &name, &len), -EINVAL);
}

static void test_query(void) {
  char out[32];
  CHECK_EQ_INT(http_util_query_param(S("a=1&sessionId=ab%20c+d&x"), "sessionId", out, sizeof(out)),
               6);
  CHECK_EQ_STR(out, "ab c d");
  CHECK_EQ_INT(http_util_query_param(S("x&y=2"), "x", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "");
  CHECK_EQ_INT(http_util_query_param(S("a=1"), "b", out, sizeof(out)), -ENOENT);
  CHECK_EQ_INT(http_util_query_param(S("a=%zz"), "a", out, sizeof(out)), -EINVAL);
  CHECK_EQ_INT(http_util_query_param(S("a=%00"), "a", out, sizeof(out)), -EINVAL);
  CHECK_EQ_INT(http_util_query_param(S("a=0123456789"), "a", out, 5), -E2BIG);
}

static void test_status(void) {
  CHECK_EQ_STR(http_util_status_text(431), "Request Header Fields Too Large");
  CHECK_EQ_STR(http_util_status_text(413), "Content Too Large");
  CHECK_EQ_STR(http_util_status_text(299), "Unknown");
}

int main(void) {
  RUN(test_accepts);
  RUN(test_accepts_absent_header);
  RUN(test_media_type);
  RUN(test_loopback);
  RUN(test_split_host);
  RUN(test_origin);
  RUN(test_query);
  RUN(test_status);
  TEST_MAIN_END();
}
