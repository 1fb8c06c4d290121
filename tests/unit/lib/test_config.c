/* test_config.c -- the config file: defaults, every kind of bad input, and
 * the listen address forms; public_url, trusted_proxies, the per-principal
 * limits, the auth section, and config_build's auth cross-check. */
#include "lib/config.h"
#include "lib/log.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int apply(config *c, const char *text, char *err, size_t n) {
  json_error_t je;
  json_t *root = json_loads(text, 0, &je);
  int r;
  if (root == NULL)
    return -999;
  r = config_apply_json(c, root, err, n);
  json_decref(root);
  return r;
}

static void test_defaults(void) {
  config c;
  CHECK_EQ_INT(config_init(&c), 0);
  CHECK_EQ_STR(c.listen_host, "127.0.0.1");
  CHECK_EQ_INT(c.listen_port, 8000);
  CHECK_EQ_INT(c.max_body_bytes, 4 * 1024 * 1024);
  CHECK_EQ_INT(c.log_level, LOGLVL_INFO);
  CHECK(c.plugins_dir == NULL);
  CHECK(json_object_size(config_plugin(&c, "hello")) == 0);
  config_free(&c);
}

static void test_apply_good(void) {
  config c;
  char err[256] = "";
  config_init(&c);
  CHECK_EQ_INT(apply(&c,
                     "{\"listen\":\"[::1]:9000\",\"log_level\":\"debug\",\"limits\":{\"max_body_"
                     "bytes\":2048,\"max_sessions\":5},\"timeouts\":{\"session_idle_ms\":1500},"
                     "\"allowed_origins\":[\"https://app.example.com\"],\"_comment\":\"ok\","
                     "\"plugins\":{\"hello\":{\"greeting\":\"Hi\"}}}",
                     err, sizeof(err)),
               0);
  CHECK_EQ_STR(c.listen_host, "::1");
  CHECK_EQ_INT(c.listen_port, 9000);
  CHECK_EQ_INT(c.log_level, LOGLVL_DEBUG);
  CHECK_EQ_INT(c.max_body_bytes, 2048);
  CHECK_EQ_INT(c.max_sessions, 5);
  CHECK_EQ_INT(c.session_idle_ms, 1500);
  CHECK_EQ_INT(c.n_allowed_origins, 1);
  CHECK_EQ_STR(c.allowed_origins[0], "https://app.example.com");
  CHECK_EQ_STR(json_string_value(json_object_get(config_plugin(&c, "hello"), "greeting")), "Hi");
  config_free(&c);
}

static void test_apply_bad(void) {
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"[1]", "the configuration must be a JSON object"},
      {"{\"listn\":\"x\"}", "unknown setting \"listn\""},
      {"{\"limits\":{\"max_body\":1}}", "unknown setting \"limits.max_body\""},
      {"{\"limits\":{\"max_body_bytes\":\"big\"}}", "\"limits.max_body_bytes\" must be an integer"},
      {"{\"limits\":{\"max_body_bytes\":10}}",
       "\"limits.max_body_bytes\" must be between 1024 and 2147483648"},
      {"{\"limits\":[]}", "\"limits\" must be an object"},
      {"{\"log_level\":\"loud\"}",
       "\"log_level\" must be one of \"debug\", \"info\", \"warn\", \"error\""},
      {"{\"listen\":8000}", "\"listen\" must be a string like \"127.0.0.1:8000\""},
      {"{\"listen\":\"localhost\"}", "listen address \"localhost\": expected HOST:PORT"},
      {"{\"listen\":\"h:99999\"}",
       "listen address \"h:99999\": port must be a number from 0 to 65535"},
      {"{\"allowed_origins\":[\"\"]}", "\"allowed_origins\"[0] must be a non-empty string"},
      {"{\"plugins\":{\"hello\":3}}", "\"plugins.hello\" must be an object"},
      {"{\"worker_threads\":0}", "\"worker_threads\" must be an integer between 1 and 1024"},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    config c;
    char err[256] = "";
    config_init(&c);
    CHECK_EQ_INT(apply(&c, cases[i].json, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, cases[i].msg);
    config_free(&c);
  }
}

static void test_listen_forms(void) {
  config c;
  char err[256];
  config_init(&c);
  CHECK_EQ_INT(config_set_listen(&c, ":0", err, sizeof(err)), 0);
  CHECK_EQ_STR(c.listen_host, "0.0.0.0");
  CHECK_EQ_INT(c.listen_port, 0);
  CHECK_EQ_INT(config_set_listen(&c, "::1:80", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "listen address \"::1:80\": write IPv6 addresses as [ADDR]:PORT");
  CHECK_EQ_INT(config_set_listen(&c, "[::1]80", err, sizeof(err)), -EINVAL);
  config_free(&c);
}

static void test_file_errors(void) {
  config c;
  char err[512], path[] = "/tmp/mcpd-test-config-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, "{\n  \"listen\": \"127.0.0.1:1\",\n  oops\n}\n", 37) == 37);
  close(fd);
  config_init(&c);
  CHECK_EQ_INT(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, path) != NULL && strstr(err, ":3:") != NULL);
  CHECK_EQ_INT(config_load_file(&c, "/nonexistent/mcpd.json", err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "/nonexistent/mcpd.json") != NULL);
  unlink(path);
  config_free(&c);
}

/* ---- auth and the settings that came with it ---------------------------------- */

static void test_public_url(void) {
  static const struct {
    const char *in, *want;
  } good[] = {
      {"https://mcp.example.com", "https://mcp.example.com"},
      {"https://mcp.example.com/", "https://mcp.example.com"},
      {"https://mcp.example.com:8443/prefix//", "https://mcp.example.com:8443/prefix"},
      {"http://127.0.0.1:8000", "http://127.0.0.1:8000"},
      {"HTTPS://X.EXAMPLE/p", "HTTPS://X.EXAMPLE/p"},
  };
  static const char *const bad[] = {"\"ftp://x.example\"",
                                    "\"mcp.example.com\"",
                                    "\"https://\"",
                                    "\"https:///x\"",
                                    "\"https://x.example/?q=1\"",
                                    "\"https://x.example/#f\"",
                                    "\"https://x.example/a b\"",
                                    "\"https://x.example/a'b\"",
                                    "\"https://x.example/a\\\\b\"",
                                    "5",
                                    "null"};
  size_t i;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    config c;
    char text[300], err[256] = "";
    config_init(&c);
    CHECK(c.public_url == NULL);
    snprintf(text, sizeof(text), "{\"public_url\":\"%s\"}", good[i].in);
    CHECK_EQ_INT(apply(&c, text, err, sizeof(err)), 0);
    CHECK_EQ_STR(c.public_url, good[i].want);
    config_free(&c);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    config c;
    char text[300], err[256] = "";
    config_init(&c);
    snprintf(text, sizeof(text), "{\"public_url\":%s}", bad[i]);
    CHECK_EQ_INT(apply(&c, text, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, "\"public_url\" must look like https://host[:port][/prefix]");
    config_free(&c);
  }
  {
    /* At most 200 characters. */
    config c;
    char text[400], err[256] = "";
    config_init(&c);
    snprintf(text, sizeof(text), "{\"public_url\":\"https://x.example/%0182d\"}", 0);
    CHECK_EQ_INT(apply(&c, text, err, sizeof(err)), 0); /* 18 + 182 = 200 */
    snprintf(text, sizeof(text), "{\"public_url\":\"https://x.example/%0183d\"}", 0);
    CHECK_EQ_INT(apply(&c, text, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, "\"public_url\" must look like https://host[:port][/prefix]");
    config_free(&c);
  }
}

static void test_trusted_proxies(void) {
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"{\"trusted_proxies\":\"10.0.0.1\"}", "\"trusted_proxies\" must be an array of strings"},
      {"{\"trusted_proxies\":[\"10.0.0.1\",\"\"]}",
       "\"trusted_proxies\"[1] must be a non-empty string"},
      {"{\"trusted_proxies\":[1]}", "\"trusted_proxies\"[0] must be a non-empty string"},
      {"{\"trusted_proxies\":[\"10.0.0.0/33\"]}",
       "trusted_proxies[0]: \"10.0.0.0/33\" is not an address or CIDR"},
      {"{\"trusted_proxies\":[\"::1\",\"proxy.example\"]}",
       "trusted_proxies[1]: \"proxy.example\" is not an address or CIDR"},
      {"{\"trusted_proxies\":[\"::/129\"]}",
       "trusted_proxies[0]: \"::/129\" is not an address or CIDR"},
      {"{\"trusted_proxies\":[\"10.0.0.0/\"]}",
       "trusted_proxies[0]: \"10.0.0.0/\" is not an address or CIDR"},
  };
  config c;
  char err[256] = "";
  size_t i;
  config_init(&c);
  CHECK_EQ_INT(c.n_trusted_proxies, 0);
  CHECK_EQ_INT(apply(&c,
                     "{\"trusted_proxies\":[\"10.0.0.0/8\",\"192.168.1.1\",\"::1\","
                     "\"2001:db8::/32\",\"0.0.0.0/0\"]}",
                     err, sizeof(err)),
               0);
  CHECK_EQ_INT(c.n_trusted_proxies, 5);
  CHECK_EQ_STR(c.trusted_proxies[0], "10.0.0.0/8");
  CHECK_EQ_STR(c.trusted_proxies[3], "2001:db8::/32");
  config_free(&c);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    err[0] = '\0';
    config_init(&c);
    CHECK_EQ_INT(apply(&c, cases[i].json, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, cases[i].msg);
    config_free(&c);
  }
}

static void test_principal_limits(void) {
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"{\"limits\":{\"max_sessions_per_principal\":0}}",
       "\"limits.max_sessions_per_principal\" must be between 1 and 10000000"},
      {"{\"limits\":{\"max_sessions_per_principal\":10000001}}",
       "\"limits.max_sessions_per_principal\" must be between 1 and 10000000"},
      {"{\"limits\":{\"principal_rate_per_s\":1000001}}",
       "\"limits.principal_rate_per_s\" must be between 0 and 1000000"},
      {"{\"limits\":{\"principal_rate_per_s\":-1}}",
       "\"limits.principal_rate_per_s\" must be between 0 and 1000000"},
      {"{\"limits\":{\"principal_burst\":10000001}}",
       "\"limits.principal_burst\" must be between 0 and 10000000"},
      {"{\"limits\":{\"principal_burst\":\"5\"}}", "\"limits.principal_burst\" must be an integer"},
  };
  config c;
  char err[256] = "";
  size_t i;
  config_init(&c);
  CHECK_EQ_INT(c.max_sessions_per_principal, 1000);
  CHECK_EQ_INT(c.principal_rate_per_s, 0);
  CHECK_EQ_INT(c.principal_burst, 0);
  CHECK_EQ_INT(apply(&c,
                     "{\"limits\":{\"max_sessions_per_principal\":3,\"principal_rate_per_s\":20,"
                     "\"principal_burst\":40}}",
                     err, sizeof(err)),
               0);
  CHECK_EQ_INT(c.max_sessions_per_principal, 3);
  CHECK_EQ_INT(c.principal_rate_per_s, 20);
  CHECK_EQ_INT(c.principal_burst, 40);
  CHECK_EQ_INT(apply(&c,
                     "{\"limits\":{\"max_sessions_per_principal\":10000000,"
                     "\"principal_rate_per_s\":0,\"principal_burst\":0}}",
                     err, sizeof(err)),
               0);
  CHECK_EQ_INT(c.max_sessions_per_principal, 10000000);
  CHECK_EQ_INT(c.principal_rate_per_s, 0);
  config_free(&c);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    err[0] = '\0';
    config_init(&c);
    CHECK_EQ_INT(apply(&c, cases[i].json, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, cases[i].msg);
    config_free(&c);
  }
}

static void test_auth_section(void) {
  config c;
  char err[256] = "";
  json_t *want =
      json_loads("{\"tokens\":[{\"name\":\"ci\",\"token\":\"tok_abcdefghijklmnop\"}]}", 0, NULL);
  config_init(&c);
  CHECK(c.auth == NULL && c.auth_json == NULL);
  CHECK_EQ_INT(
      apply(&c, "{\"auth\":{\"tokens\":[{\"name\":\"ci\",\"token\":\"tok_abcdefghijklmnop\"}]}}",
            err, sizeof(err)),
      0);
  CHECK(c.auth != NULL);
  CHECK(c.auth != NULL && c.auth->n_tokens == 1);
  CHECK(json_equal(c.auth_json, want));
  /* A bad section is refused with auth's sentence, and the good one stays. */
  CHECK_EQ_INT(apply(&c, "{\"auth\":{\"jwt\":{\"issuer\":\"i\"}}}", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "auth.jwt: give exactly one of \"jwks_url\" and \"jwks_file\"");
  CHECK(c.auth != NULL && c.auth->n_tokens == 1 && c.auth->jwt == 0);
  CHECK(json_equal(c.auth_json, want));
  CHECK_EQ_INT(apply(&c, "{\"auth\":{}}", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "auth: needs at least one of \"tokens\", \"jwt\", \"introspection\"");
  json_decref(want);
  config_free(&c);
}

/* config_build with a file of text and --listen listen (may be NULL):
 * the return code, the message in err. */
static int build(const char *text, const char *listen, char *err, size_t n) {
  char path[] = "/tmp/mcpd-test-auth-XXXXXX";
  int fd = mkstemp(path), r;
  config_args a;
  config c;
  memset(&a, 0, sizeof(a));
  a.config_file = path;
  a.listen = listen;
  a.log_level = -1;
  CHECK(fd >= 0);
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  err[0] = '\0';
  r = config_build(&a, &c, err, n);
  if (r == 0)
    config_free(&c);
  unlink(path);
  return r;
}

#define AUTH_JWT                                                                                   \
  "\"auth\":{\"jwt\":{\"issuer\":\"https://idp.example\",\"jwks_url\":\"https://idp.example/"      \
  "jwks\"}"

static void test_build_auth_check(void) {
  static const char msg0[] =
      "config: auth: tokens are checked against this server's URL, and mcpd cannot trust the "
      "Host header on 0.0.0.0: set auth.resource (e.g. \"https://mcp.example.com/mcp\"), "
      "public_url, or allowed_hosts";
  char err[1024];

  /* A derived audience on a public listener without a Host check: refused. */
  CHECK_EQ_INT(build("{\"listen\":\"0.0.0.0:0\"," AUTH_JWT "}}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, msg0);
  CHECK(strstr(err, "auth.resource") != NULL);
  /* --listen overrides the file before the check. */
  CHECK_EQ_INT(build("{\"listen\":\"127.0.0.1:0\"," AUTH_JWT "}}", "0.0.0.0:0", err, sizeof(err)),
               -EINVAL);
  CHECK_EQ_STR(err, msg0);
  CHECK_EQ_INT(build("{\"listen\":\"[::]:0\"," AUTH_JWT "}}", NULL, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "Host header on ::: set auth.resource") != NULL);
  /* allowed_hosts "*" checks nothing. */
  CHECK_EQ_INT(build("{\"listen\":\"0.0.0.0:0\",\"allowed_hosts\":[\"*\"]," AUTH_JWT "}}", NULL,
                     err, sizeof(err)),
               -EINVAL);
  CHECK_EQ_STR(err, msg0);
  /* Introspection compares with the resource too, audience or not. */
  CHECK_EQ_INT(
      build("{\"listen\":\"0.0.0.0:0\",\"auth\":{\"jwt\":{\"issuer\":\"https://i.example\","
            "\"jwks_file\":\"/j\",\"audience\":\"api\"},\"introspection\":{\"endpoint\":"
            "\"https://i.example/i\",\"client_id\":\"c\",\"client_secret\":\"s\"}}}",
            NULL, err, sizeof(err)),
      -EINVAL);
  CHECK_EQ_STR(err, msg0);

  /* Each way out. */
  CHECK_EQ_INT(build("{\"listen\":\"127.0.0.1:0\"," AUTH_JWT "}}", NULL, err, sizeof(err)), 0);
  CHECK_EQ_STR(err, "");
  CHECK_EQ_INT(build("{\"listen\":\"[::1]:0\"," AUTH_JWT "}}", NULL, err, sizeof(err)), 0);
  CHECK_EQ_INT(build("{\"listen\":\"localhost:0\"," AUTH_JWT "}}", NULL, err, sizeof(err)), 0);
  CHECK_EQ_INT(build("{" AUTH_JWT "}}", "127.0.0.2:0", err, sizeof(err)), 0);
  CHECK_EQ_INT(build("{\"listen\":\"0.0.0.0:0\"," AUTH_JWT
                     ",\"resource\":\"https://mcp.example.com/mcp\"}}",
                     NULL, err, sizeof(err)),
               0);
  CHECK_EQ_INT(
      build("{\"listen\":\"0.0.0.0:0\",\"public_url\":\"https://mcp.example.com\"," AUTH_JWT "}}",
            NULL, err, sizeof(err)),
      0);
  CHECK_EQ_INT(build("{\"listen\":\"0.0.0.0:0\",\"allowed_hosts\":[\"mcp.example.com\"]," AUTH_JWT
                     "}}",
                     NULL, err, sizeof(err)),
               0);
  CHECK_EQ_INT(
      build("{\"listen\":\"0.0.0.0:0\",\"auth\":{\"jwt\":{\"issuer\":\"https://i.example\","
            "\"jwks_file\":\"/j\",\"audience\":\"api\"}}}",
            NULL, err, sizeof(err)),
      0);
  /* Static tokens alone have no audience. */
  CHECK_EQ_INT(build("{\"listen\":\"0.0.0.0:0\",\"auth\":{\"tokens\":[{\"name\":\"a\","
                     "\"token\":\"tok_abcdefghijklmnop\"}]}}",
                     NULL, err, sizeof(err)),
               0);
  /* No auth at all. */
  CHECK_EQ_INT(build("{\"listen\":\"0.0.0.0:0\"}", NULL, err, sizeof(err)), 0);
}

int main(void) {
  RUN(test_defaults);
  RUN(test_apply_good);
  RUN(test_apply_bad);
  RUN(test_listen_forms);
  RUN(test_file_errors);
  RUN(test_public_url);
  RUN(test_trusted_proxies);
  RUN(test_principal_limits);
  RUN(test_auth_section);
  RUN(test_build_auth_check);
  TEST_MAIN_END();
}
