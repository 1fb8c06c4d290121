/* test_uri_template.c -- unit tests for core/uri_template.c. */
#include "lib/uri_template.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "test.h"

static uritpl *parse_ok(const char *tmpl) {
  uritpl *t = NULL;
  char err[128];
  int r = uritpl_parse(tmpl, &t, err, sizeof(err));
  CHECK_EQ_INT(r, 0);
  if (r != 0)
    fprintf(stderr, "  parse of \"%s\" failed: %s\n", tmpl, err);
  return t;
}

/* Matches uri against tmpl; returns the variables, or NULL on no match. */
static json_t *match(const char *tmpl, const char *uri) {
  uritpl *t = parse_ok(tmpl);
  json_t *vars = NULL;
  int r;
  if (t == NULL)
    return NULL;
  r = uritpl_match(t, uri, &vars);
  CHECK(r == 0 || r == 1);
  CHECK(r == 1 ? vars != NULL : vars == NULL);
  uritpl_free(t);
  return vars;
}

static const char *get(json_t *vars, const char *name) {
  return json_string_value(json_object_get(vars, name));
}

/* Checks that uri matches with exactly the given name/value pairs. */
static void expect(const char *tmpl, const char *uri, size_t npairs, const char *const *pairs) {
  json_t *vars = match(tmpl, uri);
  size_t i;
  CHECK(vars != NULL);
  if (vars == NULL) {
    fprintf(stderr, "  \"%s\" did not match \"%s\"\n", uri, tmpl);
    return;
  }
  CHECK_EQ_INT(json_object_size(vars), npairs);
  for (i = 0; i < npairs; i++)
    CHECK_EQ_STR(get(vars, pairs[2 * i]), pairs[2 * i + 1]);
  json_decref(vars);
}

#define EXPECT(tmpl, uri, ...)                                                                     \
  do {                                                                                             \
    static const char *const pairs_[] = {__VA_ARGS__};                                             \
    expect(tmpl, uri, sizeof(pairs_) / sizeof(pairs_[0]) / 2, pairs_);                             \
  } while (0)

#define EXPECT_NOVARS(tmpl, uri) expect(tmpl, uri, 0, NULL)

#define EXPECT_NONE(tmpl, uri)                                                                     \
  do {                                                                                             \
    json_t *v_ = match(tmpl, uri);                                                                 \
    CHECK(v_ == NULL);                                                                             \
    json_decref(v_);                                                                               \
  } while (0)

static void test_simple(void) {
  EXPECT("hello://greet/{name}", "hello://greet/world", "name", "world");
  EXPECT("hello://greet/{name}", "hello://greet/a,b", "name", "a,b");
  EXPECT("test://template/{id}/data", "test://template/42/data", "id", "42");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/a/b");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/a?b");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/a#b");
  EXPECT_NONE("test://template/{id}/data", "test://template/42/datax");
  EXPECT_NONE("test://template/{id}/data", "test://template/42/Data");
  EXPECT_NONE("hello://greet/{name}", "hello://greet");
  EXPECT_NONE("hello://greet/{name}", "hellO://greet/x");
  EXPECT_NOVARS("plain://no/vars", "plain://no/vars");
  EXPECT_NONE("plain://no/vars", "plain://no/vars/");
}

static void test_reserved_and_fragment(void) {
  EXPECT("file:///{+path}", "file:///etc/hosts", "path", "etc/hosts");
  EXPECT("file:///{+path}", "file:///a%20b/c?d=1#e", "path", "a b/c?d=1#e");
  EXPECT("{+a}/{+b}", "x/y/z", "a", "x/y", "b", "z");
  EXPECT("doc{#frag}", "doc#sec/1?x#y", "frag", "sec/1?x#y");
  EXPECT_NONE("doc{#frag}", "doc");
  EXPECT_NONE("doc{#frag}", "docs#x");
}

static void test_label_and_path(void) {
  EXPECT("file{.ext}", "file.txt", "ext", "txt");
  EXPECT("{name}{.ext}", "a.b.c", "name", "a.b", "ext", "c");
  EXPECT_NONE("file{.ext}", "file.tar.gz");
  EXPECT_NONE("file{.ext}", "filetxt");
  EXPECT_NONE("file{.ext}", "file.a/b");
  EXPECT("repo{/owner}{/name}", "repo/me/proj", "owner", "me", "name", "proj");
  EXPECT_NONE("repo{/owner}", "repo/me/proj");
  EXPECT_NONE("repo{/owner}", "repome");
  /* '?' and '#' are never part of these values: they start the query. */
  EXPECT("r{/seg}{?q}", "r/x?q=1", "seg", "x", "q", "1");
}

static void test_multi(void) {
  EXPECT("map://{x,y}/z", "map://1,2/z", "x", "1", "y", "2");
  EXPECT("map://{x,y}/z", "map://,2/z", "x", "", "y", "2");
  EXPECT_NONE("map://{x,y}/z", "map://1/z");
  EXPECT_NONE("map://{x,y}/z", "map://1,2,3/z");
  EXPECT_NONE("map://{x,y}/z", "map://1/2/z");
  EXPECT("r:{+x,y}", "r:a/b,c?d", "x", "a/b", "y", "c?d");
  EXPECT("r{/a,b}", "r/1/2", "a", "1", "b", "2");
  EXPECT("r{.a,b}", "r.1.2", "a", "1", "b", "2");
  EXPECT("r{#a,b}", "r#1,2/3", "a", "1", "b", "2/3");
  EXPECT("m{x:3,y*}", "m1,2", "x", "1", "y", "2");
}

static void test_query(void) {
  const char *tmpl = "db://tables/{table}/rows{?limit,offset}";
  EXPECT(tmpl, "db://tables/users/rows", "table", "users");
  EXPECT(tmpl, "db://tables/users/rows?limit=10", "table", "users", "limit", "10");
  EXPECT(tmpl, "db://tables/users/rows?offset=5&limit=10", "table", "users", "limit", "10",
         "offset", "5");
  EXPECT(tmpl, "db://tables/t/rows?limit=&offset=a%26b", "table", "t", "limit", "", "offset",
         "a&b");
  EXPECT_NONE(tmpl, "db://tables/users/rows?sort=name");
  EXPECT_NONE(tmpl, "db://tables/users/rows?limit=1&sort=name");
  EXPECT_NONE(tmpl, "db://tables/users/rows?limit=1&limit=2");
  EXPECT_NONE(tmpl, "db://tables/users/rows?limit");
  EXPECT_NONE(tmpl, "db://tables/users/rows?");
  EXPECT_NONE(tmpl, "db://tables/users/rows&limit=1");
  EXPECT("s{?q}{&page}", "s?q=x&page=2", "q", "x", "page", "2");
  EXPECT("s{?q}{&page}", "s?q=x", "q", "x");
  EXPECT("s?fixed=1{&a,b}", "s?fixed=1&b=2&a=1", "a", "1", "b", "2");
  EXPECT_NOVARS("s?fixed=1{&a,b}", "s?fixed=1");
  EXPECT_NONE("s?fixed=1{&a,b}", "s?fixed=1?a=1");
  EXPECT("s{?q}#top", "s?q=x#top", "q", "x");
}

static void test_percent_decoding(void) {
  EXPECT("p/{+v}", "p/a%2fb%2F", "v", "a/b/");
  EXPECT("p/{v}", "p/%C3%a9t%c3%A9", "v", "\xc3\xa9t\xc3\xa9");
  EXPECT("p/{v}", "p/h\xc3\xa9llo", "v", "h\xc3\xa9llo");
  EXPECT("p/{v}", "p/%25", "v", "%");
  EXPECT_NONE("p/{v}", "p/a%4");
  EXPECT_NONE("p/{v}", "p/a%");
  EXPECT_NONE("p/{v}", "p/%zz");
  EXPECT_NONE("p/{v}", "p/a%00b");
  EXPECT_NONE("p/{v}", "p/%FF");
  EXPECT_NONE("p/{v}", "p/%C3");
  EXPECT_NONE("p/{v}", "p/%C3x");
  EXPECT_NONE("p/{v}", "p/%ED%A0%80"); /* a surrogate */
  EXPECT_NONE("p/{v}", "p/%C0%AF");    /* overlong */
  EXPECT_NONE("p/{v}", "p/\xff");      /* raw invalid byte */
  EXPECT_NONE("q{?v}", "q?v=%G1");
  /* A split must not cut an escape or a UTF-8 sequence in two. */
  EXPECT("{a}{b}", "%C3%A9%41", "a", "\xc3\xa9", "b", "A");
  EXPECT("{a}{b}", "%C3%A9", "a", "\xc3\xa9", "b", "");
}

/* A {var}, {.var} or {/var} value is an RFC 6570 simple string: nothing
 * that decodes to '/', and not "." or ".." (a plugin may use it as a file
 * name). {+var}, {#var} and {/var*} carry paths; query values are free text. */
static void test_simple_strings(void) {
  EXPECT_NONE("hello://greet/{name}", "hello://greet/..%2F..%2Fetc%2Fpasswd");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/a%2fb");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/%2F");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/..");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/.");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/%2E%2E");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/.%2e");
  EXPECT_NONE("hello://greet/{name}", "hello://greet/%2e");
  EXPECT("hello://greet/{name}", "hello://greet/...", "name", "...");
  EXPECT("hello://greet/{name}", "hello://greet/..x", "name", "..x");
  EXPECT("hello://greet/{name}", "hello://greet/a.b", "name", "a.b");
  EXPECT("hello://greet/{name}", "hello://greet/a%5Cb", "name", "a\\b");
  /* A value ends before an encoded '/', so a literal may take it. */
  EXPECT("r/{a}%2F{b}", "r/x%2Fy", "a", "x", "b", "y");
  EXPECT_NONE("r/{a}/{b}", "r/x/..");
  EXPECT_NONE("r/{a},{b}", "r/x,y%2Fz");
  EXPECT_NONE("map://{x,y}/z", "map://1,%2F/z");
  EXPECT_NONE("map://{x,y}/z", "map://..,2/z");
  EXPECT_NONE("file{.ext}", "file.a%2Fb");
  EXPECT_NONE("file{.ext}", "file.%2E%2E");
  EXPECT("file{.ext}", "file.tar%2Egz", "ext", "tar.gz");
  EXPECT_NONE("repo{/owner}", "repo/me%2Fyou");
  EXPECT_NONE("repo{/owner}", "repo/..");
  /* The expressions made to carry paths. */
  EXPECT("file:///{+path}", "file:///..%2F..%2Fetc", "path", "../../etc");
  EXPECT("file:///{+path}", "file:///..", "path", "..");
  EXPECT("doc{#frag}", "doc#a%2Fb", "frag", "a/b");
  EXPECT("r{/seg*}", "r/a/b%2Fc/d", "seg", "a/b/c/d");
  EXPECT("r{/seg*}", "r/..", "seg", "..");
  EXPECT("r{/seg*}{?q}", "r/a/b?q=1", "seg", "a/b", "q", "1");
  EXPECT("r{/a,b*}", "r/x/y/z", "a", "x", "b", "y/z");
  EXPECT_NONE("r{/a,b*}", "r/%2E%2E/y");
  /* Query values are form values: any text. */
  EXPECT("q{?v}", "q?v=a%2Fb", "v", "a/b");
  EXPECT("q{?v}", "q?v=..", "v", "..");
  /* A value bound by {+a} must also be a simple string where {a} repeats it. */
  EXPECT("r/{+a}/{a}", "r/x/x", "a", "x");
  EXPECT_NONE("r/{+a}/{a}", "r/x%2Fy/x%2Fy");
  EXPECT_NONE("r/{+a}/{a}", "r/../..");
}

static void test_empty_values(void) {
  EXPECT("hello://greet/{name}", "hello://greet/", "name", "");
  EXPECT("test://template/{id}/data", "test://template//data", "id", "");
  EXPECT("file:///{+path}", "file:///", "path", "");
  EXPECT("doc{#frag}", "doc#", "frag", "");
  EXPECT("r{/seg}", "r/", "seg", "");
  /* Non-empty values are preferred wherever the URI allows them. */
  EXPECT("{a}{b}", "xyz", "a", "xy", "b", "z");
  EXPECT("{a}{b}", "x", "a", "x", "b", "");
  EXPECT("{a}{b}", "", "a", "", "b", "");
  EXPECT("{a}-{b}", "-", "a", "", "b", "");
  EXPECT("{a}-{b}", "x-", "a", "x", "b", "");
  EXPECT("{a}-{b}", "x-y-z", "a", "x-y", "b", "z");
}

static void test_repeated(void) {
  uritpl *t = parse_ok("r/{a}/{b}/{a}{?a,c}");
  CHECK_EQ_INT(uritpl_var_count(t), 3);
  uritpl_free(t);
  EXPECT("r/{a}/{a}", "r/x/x", "a", "x");
  EXPECT("r/{a}/{a}", "r/%41/A", "a", "A");
  EXPECT_NONE("r/{a}/{a}", "r/x/y");
  EXPECT_NONE("r/{a}/{a}", "r/x/xx");
  EXPECT("r/{a}{?a}", "r/x?a=x", "a", "x");
  EXPECT("r/{a}{?a}", "r/x", "a", "x");
  EXPECT_NONE("r/{a}{?a}", "r/x?a=y");
  /* The split is chosen so both occurrences agree. */
  EXPECT("{a}{a}", "abab", "a", "ab");
  EXPECT_NONE("{a}{a}", "abc");
}

static void check_error(const char *tmpl, const char *msg) {
  uritpl *t = NULL;
  char err[128];
  CHECK_EQ_INT(uritpl_parse(tmpl, &t, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, msg);
  CHECK(t == NULL);
}

static void test_parse_errors(void) {
  uritpl *t = NULL;
  char small[8];
  check_error("x{", "unclosed '{' at offset 1");
  check_error("x{abc", "unclosed '{' at offset 1");
  check_error("x{a,", "unclosed '{' at offset 1");
  check_error("{a{b}}", "unclosed '{' at offset 0");
  check_error("a}b", "unexpected '}' at offset 1");
  check_error("{a}}", "unexpected '}' at offset 3");
  check_error("x{}", "empty expression at offset 1");
  check_error("x{+}", "empty expression at offset 1");
  check_error("x{?}", "empty expression at offset 1");
  check_error("x{a b}", "invalid variable name at offset 3");
  check_error("x{a,}", "invalid variable name at offset 4");
  check_error("x{a-b}", "invalid variable name at offset 3");
  check_error("{%4g}", "invalid variable name at offset 1");
  check_error("{a:}", "invalid variable name at offset 3");
  check_error("{a:x}", "invalid variable name at offset 3");
  check_error("{ a}", "invalid variable name at offset 1");
  check_error("x{=a}", "unsupported operator '=' at offset 2");
  check_error("x{!a}", "unsupported operator '!' at offset 2");
  check_error("x{@a}", "unsupported operator '@' at offset 2");
  check_error("x{|a}", "unsupported operator '|' at offset 2");
  check_error("x{;a}", "unsupported operator ';' at offset 2");
  check_error("x{,a}", "unsupported operator ',' at offset 2");
  /* A short buffer still gets a NUL-terminated prefix; no buffer is fine. */
  CHECK_EQ_INT(uritpl_parse("}", &t, small, sizeof(small)), -EINVAL);
  CHECK_EQ_STR(small, "unexpec");
  CHECK_EQ_INT(uritpl_parse("}", &t, NULL, 0), -EINVAL);
  CHECK(t == NULL);
  /* Modifiers and %XX names parse. */
  t = parse_ok("{a:3}{b*}{?c:10,d*}{e%20f}{g.h}");
  CHECK_EQ_INT(uritpl_var_count(t), 6);
  uritpl_free(t);
  EXPECT("x/{e%20f}", "x/1", "e%20f", "1");
  t = parse_ok("");
  CHECK_EQ_INT(uritpl_var_count(t), 0);
  uritpl_free(t);
  uritpl_free(NULL);
}

static void test_adversarial(void) {
  enum { LEN = 8000 };
  static const char *const tmpls[] = {
      "x://{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}{k}{l}/end",
      "x://{+a}a{+b}a{+c}a{+d}a{+e}a{+f}a{+g}a{+h}b",
      "x://{a}{a}{b}{b}{c}{c}{d}{d}/end",
      "x://{+a}{?p,q,r,s}{+b}{&p,q,r,s}{+c}!",
  };
  char *uri = malloc(LEN + 8);
  size_t i;
  clock_t start = clock();
  double secs;
  CHECK(uri != NULL);
  if (uri == NULL)
    return;
  memcpy(uri, "x://", 4);
  memset(uri + 4, 'a', LEN);
  uri[LEN + 4] = '\0';
  for (i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++) {
    uritpl *t = parse_ok(tmpls[i]);
    json_t *vars = NULL;
    if (t == NULL)
      continue;
    CHECK_EQ_INT(uritpl_match(t, uri, &vars), 0);
    CHECK(vars == NULL);
    uritpl_free(t);
  }
  /* A long URI that does match is still found. */
  memcpy(uri + LEN, "/end", 5);
  for (i = 0; i < 3; i++) {
    static const char *const ok[] = {"x://{+a}/end", "x://{a}{b}{c}/end", "x://{a}{a}/end"};
    static const size_t want[] = {LEN - 4, LEN - 6, (LEN - 4) / 2};
    uritpl *t = parse_ok(ok[i]);
    json_t *vars = NULL;
    const char *a;
    if (t == NULL)
      continue;
    CHECK_EQ_INT(uritpl_match(t, uri, &vars), 1);
    a = get(vars, "a");
    CHECK(a != NULL && strlen(a) == want[i] && a[0] == 'a');
    json_decref(vars);
    uritpl_free(t);
  }
  secs = (double)(clock() - start) / CLOCKS_PER_SEC;
  CHECK(secs < 5.0);
  fprintf(stderr, "  adversarial matches took %.3f s\n", secs);
  free(uri);
}

static void test_vars_untouched(void) {
  uritpl *t = parse_ok("hello://greet/{name}");
  json_t *sentinel = json_object();
  json_t *vars = sentinel;
  if (t == NULL)
    return;
  CHECK_EQ_INT(uritpl_match(t, "hello://greet/a/b", &vars), 0);
  CHECK(vars == sentinel);
  CHECK_EQ_INT(uritpl_match(t, "hello://greet/%00", &vars), 0);
  CHECK(vars == sentinel);
  CHECK_EQ_INT(uritpl_match(t, "hello://greet/bob", &vars), 1);
  CHECK(vars != sentinel);
  CHECK_EQ_STR(get(vars, "name"), "bob");
  CHECK(json_object_get(vars, "other") == NULL);
  json_decref(vars);
  json_decref(sentinel);
  uritpl_free(t);
}

int main(void) {
  RUN(test_simple);
  RUN(test_reserved_and_fragment);
  RUN(test_label_and_path);
  RUN(test_multi);
  RUN(test_query);
  RUN(test_percent_decoding);
  RUN(test_simple_strings);
  RUN(test_empty_values);
  RUN(test_repeated);
  RUN(test_parse_errors);
  RUN(test_adversarial);
  RUN(test_vars_untouched);
  TEST_MAIN_END();
}
