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

/* --openapi and --base-url: the order rules. */
static void test_openapi_args(void) {
  config_openapi list[3];
  size_t count = 0;
  char err[512];

  err[0] = '\0';
  CHECK_EQ_INT(config_openapi_arg(list, &count, 3, 1, "http://b", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "--base-url http://b: no --openapi before it (a --base-url sets the base URL "
                    "of the --openapi it follows)");
  CHECK_EQ_INT(count, 0);
  CHECK_EQ_INT(config_openapi_arg(list, &count, 3, 0, "http://a/1.json", err, sizeof(err)), 0);
  CHECK_EQ_INT(config_openapi_arg(list, &count, 3, 0, "file:///x.yaml", err, sizeof(err)), 0);
  CHECK_EQ_INT(config_openapi_arg(list, &count, 3, 1, "http://b", err, sizeof(err)), 0);
  CHECK_EQ_INT(count, 2);
  CHECK(list[0].base_url == NULL);
  CHECK_EQ_STR(list[0].openapi, "http://a/1.json");
  CHECK_EQ_STR(list[1].openapi, "file:///x.yaml");
  CHECK_EQ_STR(list[1].base_url, "http://b");
  /* One --base-url per --openapi. */
  CHECK_EQ_INT(config_openapi_arg(list, &count, 3, 1, "http://c", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "--base-url http://c: --openapi file:///x.yaml already has --base-url "
                    "http://b");
  CHECK_EQ_STR(list[1].base_url, "http://b");
  CHECK_EQ_INT(config_openapi_arg(list, &count, 3, 0, "http://d", err, sizeof(err)), 0);
  CHECK_EQ_INT(config_openapi_arg(list, &count, 3, 0, "http://e", err, sizeof(err)), -EINVAL);
  CHECK_EQ_INT(count, 3);
}

static void test_openapi_source(void) {
  char out[64];
  CHECK_EQ_INT(config_openapi_source("http://h:1/o.json", "/w", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "http://h:1/o.json");
  CHECK_EQ_INT(config_openapi_source("HTTPS://h/o", "/w", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "HTTPS://h/o");
  CHECK_EQ_INT(config_openapi_source("file:rel.yaml", "/w", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "file:rel.yaml");
  CHECK_EQ_INT(config_openapi_source("/etc/api.yaml", "/w", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "file:///etc/api.yaml");
  CHECK_EQ_INT(config_openapi_source("api.yaml", "/w", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "file:///w/api.yaml");
  CHECK_EQ_INT(config_openapi_source(".//./d/api.yaml", "/w/", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "file:///w/d/api.yaml");
  CHECK_EQ_INT(config_openapi_source("../api.yaml", "/", out, sizeof(out)), 0);
  CHECK_EQ_STR(out, "file:///../api.yaml");
  CHECK_EQ_INT(config_openapi_source("a-rather-long-file-name-for-this-buffer.yaml",
                                     "/some/directory", out, sizeof(out)),
               -ENAMETOOLONG);
}

/* config_build with an optional file (text, or NULL) and --openapi list:
 * the return code; on success *backends is a new reference to
 * plugins.http_backend.backends. */
static int build_openapi(const char *text, const config_openapi *list, size_t count,
                         json_t **backends, char *err, size_t n) {
  char path[] = "/tmp/mcpd-test-openapi-XXXXXX";
  int fd = -1, r;
  config_args a;
  config c;
  memset(&a, 0, sizeof(a));
  a.log_level = -1;
  a.openapi = list;
  a.n_openapi = count;
  if (text != NULL) {
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    a.config_file = path;
  }
  err[0] = '\0';
  *backends = NULL;
  r = config_build(&a, &c, err, n);
  if (r == 0) {
    *backends =
        json_incref(json_object_get(json_object_get(c.plugins, "http_backend"), "backends"));
    config_free(&c);
  }
  if (text != NULL)
    unlink(path);
  return r;
}

static const char *backend_key(const json_t *backends, size_t i, const char *key) {
  return json_string_value(json_object_get(json_array_get(backends, i), key));
}

static void test_openapi_build(void) {
  static const config_openapi list[] = {
      {"http://127.0.0.1:8001/openapi.json", NULL},
      {"file:///srv/api/shop.yaml", "http://127.0.0.1:9000/v1"},
      {"https://user:pw@api.github.com/openapi.json", NULL},
      {"file:///srv/shop.json", NULL},
      {"file:///srv/shop.v2.json", NULL},
      {"http://[::1]:8080", NULL},
      {"file:///srv/%%.yaml", NULL},
      {"file:rel/Pet_Store-3.yml", NULL},
  };
  json_t *b = NULL;
  char err[512];
  int round;

  /* No file: the section is made. Built twice (a reload): the same list. */
  for (round = 0; round < 2; round++) {
    CHECK_EQ_INT(build_openapi(NULL, list, 8, &b, err, sizeof(err)), 0);
    CHECK_EQ_INT(json_array_size(b), 8);
    CHECK_EQ_STR(backend_key(b, 0, "name"), "127_0_0_1_8001");
    CHECK_EQ_STR(backend_key(b, 0, "openapi"), "http://127.0.0.1:8001/openapi.json");
    CHECK(json_object_get(json_array_get(b, 0), "base_url") == NULL);
    CHECK_EQ_INT(json_object_size(json_array_get(b, 0)), 2);
    CHECK_EQ_STR(backend_key(b, 1, "name"), "shop");
    CHECK_EQ_STR(backend_key(b, 1, "openapi"), "file:///srv/api/shop.yaml");
    CHECK_EQ_STR(backend_key(b, 1, "base_url"), "http://127.0.0.1:9000/v1");
    CHECK_EQ_STR(backend_key(b, 2, "name"), "api_github_com");
    CHECK_EQ_STR(backend_key(b, 3, "name"), "shop_2");
    CHECK_EQ_STR(backend_key(b, 4, "name"), "shop_v2");
    CHECK_EQ_STR(backend_key(b, 5, "name"), "1_8080");
    CHECK_EQ_STR(backend_key(b, 6, "name"), "api");
    CHECK_EQ_STR(backend_key(b, 7, "name"), "Pet_Store-3");
    json_decref(b);
  }

  /* Appended to the file's backends, whose names count; its other keys stay. */
  CHECK_EQ_INT(build_openapi("{\"plugins\":{\"http_backend\":{\"x\":1,\"backends\":[{\"name\":"
                             "\"shop\",\"base_url\":\"http://s\"}]},\"hello\":{}}}",
                             list + 1, 1, &b, err, sizeof(err)),
               0);
  CHECK_EQ_INT(json_array_size(b), 2);
  CHECK_EQ_STR(backend_key(b, 0, "name"), "shop");
  CHECK_EQ_STR(backend_key(b, 0, "base_url"), "http://s");
  CHECK_EQ_STR(backend_key(b, 1, "name"), "shop_2");
  json_decref(b);
  CHECK_EQ_INT(build_openapi("{\"plugins\":{\"hello\":{}}}", list, 1, &b, err, sizeof(err)), 0);
  CHECK_EQ_INT(json_array_size(b), 1);
  json_decref(b);
  /* Without --openapi nothing is made. */
  CHECK_EQ_INT(build_openapi("{}", list, 0, &b, err, sizeof(err)), 0);
  CHECK(b == NULL);

  /* Errors. */
  CHECK_EQ_INT(build_openapi("{\"plugins\":{\"http_backend\":{\"backends\":{}}}}", list, 1, &b, err,
                             sizeof(err)),
               -EINVAL);
  CHECK_EQ_STR(err, "config: \"plugins.http_backend.backends\" must be an array (--openapi adds "
                    "to it)");
  {
    static const config_openapi bad[] = {{"http://h/o.json", "ftp://h"}};
    CHECK_EQ_INT(build_openapi(NULL, bad, 1, &b, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, "--base-url ftp://h: not an http:// or https:// URL");
  }
  {
    static const config_openapi bad[] = {{"file:///a\xff.json", NULL}};
    CHECK_EQ_INT(build_openapi(NULL, bad, 1, &b, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "not UTF-8 text") != NULL);
  }
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
  RUN(test_openapi_args);
  RUN(test_openapi_source);
  RUN(test_openapi_build);
  TEST_MAIN_END();
}
