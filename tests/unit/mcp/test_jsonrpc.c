/* test_jsonrpc.c -- classification of client messages and the shape of
 * what goes back, including the id's type. */
#include "mcp/jsonrpc.h"
#include "test.h"

static enum jsonrpc_kind classify(const char *text, jsonrpc_msg *m, json_t **root) {
  *root = json_loads(text, 0, NULL);
  return jsonrpc_classify(*root, m);
}

static void test_kinds(void) {
  jsonrpc_msg m;
  json_t *v;

  CHECK_EQ_INT(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &m, &v),
               JSONRPC_REQUEST);
  CHECK_EQ_STR(m.method, "ping");
  CHECK(json_is_integer(m.id));
  json_decref(v);
  CHECK_EQ_INT(classify("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, &v),
               JSONRPC_NOTIFICATION);
  CHECK(m.id == NULL);
  json_decref(v);
  CHECK_EQ_INT(classify("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}", &m, &v),
               JSONRPC_RESPONSE);
  json_decref(v);
  CHECK_EQ_INT(classify("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":1}}", &m, &v),
               JSONRPC_RESPONSE);
  json_decref(v);
}

static void test_invalid(void) {
  static const struct {
    const char *text, *why;
    int has_id;
  } cases[] = {
      {"[]", "a JSON-RPC message must be a JSON object", 0},
      {"{\"id\":1,\"method\":\"x\"}", "\"jsonrpc\" must be \"2.0\"", 1},
      {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}", "\"jsonrpc\" must be \"2.0\"", 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}",
       "\"id\" must be a string or an integer", 0},
      {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}", "\"id\" must be a string or an integer",
       0},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", "\"method\" must be a non-empty string", 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":3}",
       "\"params\" must be an object", 1},
      {"{\"jsonrpc\":\"2.0\",\"id\":1}", "a response needs exactly one of \"result\" and \"error\"",
       1},
      {"{\"jsonrpc\":\"2.0\"}", "a request needs a \"method\"", 0},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    jsonrpc_msg m;
    json_t *v;
    CHECK_EQ_INT(classify(cases[i].text, &m, &v), JSONRPC_INVALID);
    CHECK_EQ_STR(m.error_message, cases[i].why);
    CHECK_EQ_INT(m.id != NULL, cases[i].has_id);
    json_decref(v);
  }
}

static void test_build(void) {
  json_t *sid = json_string("7"), *nid = json_integer(7), *msg;
  char *text;

  msg = jsonrpc_result(sid, json_object());
  text = json_dumps(msg, JSON_COMPACT);
  CHECK_EQ_STR(text, "{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"result\":{}}");
  free(text);
  json_decref(msg);
  msg = jsonrpc_result(nid, json_object());
  text = json_dumps(msg, JSON_COMPACT);
  CHECK_EQ_STR(text, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}");
  free(text);
  json_decref(msg);
  msg = jsonrpc_error(NULL, -32700, "Parse error", NULL);
  text = json_dumps(msg, JSON_COMPACT);
  CHECK_EQ_STR(
      text,
      "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}");
  free(text);
  json_decref(msg);
  msg = jsonrpc_error(nid, -32002, "Resource not found", json_pack("{s:s}", "uri", "x://y"));
  CHECK_EQ_STR(json_string_value(
                   json_object_get(json_object_get(json_object_get(msg, "error"), "data"), "uri")),
               "x://y");
  json_decref(msg);
  msg = jsonrpc_notification("notifications/progress", NULL);
  text = json_dumps(msg, JSON_COMPACT);
  CHECK_EQ_STR(text, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}");
  free(text);
  json_decref(msg);
  json_decref(sid);
  json_decref(nid);
}

/* The message of an error response as sent, or NULL when there is none. */
static char *error_text(const char *message) {
  json_t *id = json_integer(1), *msg = jsonrpc_error(id, -32601, message, NULL);
  const char *m = json_string_value(json_object_get(json_object_get(msg, "error"), "message"));
  char *copy = m != NULL ? strdup(m) : NULL;
  json_decref(msg);
  json_decref(id);
  return copy;
}

/* Regression (found by fuzz/fuzz_dispatch): an error message that is not
 * valid UTF-8 made jsonrpc_error() return NULL, so the request got no
 * response at all. The dispatcher formats its messages into 512 bytes: a
 * long non-ASCII method name ("Method not found: ...") was cut inside a
 * UTF-8 sequence. Plugins' fail() messages can be any bytes too. Each
 * byte that is not valid UTF-8 now becomes U+FFFD. */
static void test_error_not_utf8(void) {
  char message[512], *text;
  size_t i;

  /* What the dispatcher's 512-byte buffer holds for a long method name of
   * e-acutes (2 bytes each): the cut lands inside the last one. */
  memcpy(message, "Method not found: ", 18);
  for (i = 18; i < sizeof(message) - 1; i++)
    message[i] = (char)((i - 18) % 2 == 0 ? 0xc3 : 0xa9);
  message[i] = '\0';
  text = error_text(message);
  CHECK(text != NULL);
  CHECK(text != NULL && strncmp(text, "Method not found: \xc3\xa9", 20) == 0);
  CHECK(text != NULL && strcmp(text + strlen(text) - 3, "\xef\xbf\xbd") == 0);
  free(text);

  text = error_text("bad \xff byte, cut \xe2\x82");
  CHECK_EQ_STR(text, "bad \xef\xbf\xbd byte, cut \xef\xbf\xbd\xef\xbf\xbd");
  free(text);
  text = error_text("surrogate \xed\xa0\x80, overlong \xc0\xaf, too big \xf4\x90\x80\x80");
  CHECK(text != NULL && strstr(text, "\xed") == NULL && strstr(text, "\xc0") == NULL &&
        strstr(text, "\xf4") == NULL);
  free(text);
  /* Valid text is kept as it is. */
  text = error_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK_EQ_STR(text, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  free(text);
}

int main(void) {
  RUN(test_kinds);
  RUN(test_invalid);
  RUN(test_build);
  RUN(test_error_not_utf8);
  TEST_MAIN_END();
}
