/* test_config.c -- the config file: defaults, every kind of bad input, and
 * the listen address forms. */
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

int main(void) {
  RUN(test_defaults);
  RUN(test_apply_good);
  RUN(test_apply_bad);
  RUN(test_listen_forms);
  RUN(test_file_errors);
  TEST_MAIN_END();
}
