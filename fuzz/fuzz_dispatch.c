/* fuzz_dispatch.c -- fuzzes JSON-RPC classification (core/mcp jsonrpc)
 * and the MCP dispatcher (core/mcp dispatch*) with one message, or a batch
 * of up to 32, per input. The input is parsed with json_read() as the
 * transports do (text that does not parse is only classified as
 * nothing). A fresh session is made and initialized (unless the input
 * starts with its own initialize), every message is classified and
 * dispatched with a fake sink, and the loop runs a few non-blocking turns
 * so queued completions and client requests are processed; then whatever
 * is still pending is abandoned and the session removed. Checks: every
 * request gets exactly one response (at once or through its sink) that
 * carries its id and one of result/error; notifications and client
 * responses get none; nothing goes to a sink after its final message. */
#include "lib/json_read.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"

#include "fuzz.h"
#include "fuzz_core.h"

#define MAX_MESSAGES 32

static fuzz_core core;

/* One dispatched message: its sink and what went through it. */
typedef struct fuzz_sink {
  mcp_sink sink;
  const json_t *id; /* the request's id (borrowed from the input) */
  int finals;
  int is_request;
} fuzz_sink;

/* A response to the message whose id is id (NULL: it had none, the
 * response says null). */
static void check_response(const json_t *resp, const json_t *id) {
  const json_t *result = json_object_get(resp, "result");
  const json_t *error = json_object_get(resp, "error");
  const json_t *rid = json_object_get(resp, "id");
  const char *version = json_string_value(json_object_get(resp, "jsonrpc"));
  char *text;
  FUZZ_CHECK(json_is_object(resp));
  FUZZ_CHECK(version != NULL && strcmp(version, "2.0") == 0);
  FUZZ_CHECK((result != NULL) != (error != NULL));
  if (error != NULL) {
    FUZZ_CHECK(json_is_integer(json_object_get(error, "code")));
    FUZZ_CHECK(json_is_string(json_object_get(error, "message")));
  }
  FUZZ_CHECK(id != NULL ? json_equal(rid, (json_t *)id) : json_is_null(rid));
  text = json_dumps(resp, JSON_COMPACT);
  FUZZ_CHECK(text != NULL);
  free(text);
}

static int sink_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  fuzz_sink *fs = (fuzz_sink *)sink;
  char *text;
  (void)s;
  FUZZ_CHECK(fs->finals == 0); /* nothing after the final message */
  if (final) {
    fs->finals++;
    if (msg != NULL)
      check_response(msg, fs->id);
    return 0;
  }
  FUZZ_CHECK(msg != NULL);
  text = json_dumps(msg, JSON_COMPACT);
  FUZZ_CHECK(text != NULL);
  free(text);
  return 0;
}

static void on_session_removed(session_table *t, session *s, const char *why, void *arg) {
  (void)t;
  (void)why;
  (void)arg;
  dispatch_session_closed(&core.disp, s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_core_init(&core, on_session_removed, NULL);
  return 0;
}

/* Dispatches one message; returns the pending call, if any. */
static mcpd_call *dispatch_one(session *s, const json_t *msg, fuzz_sink *fs) {
  jsonrpc_msg m;
  json_t *resp = NULL;
  mcpd_call *pending = NULL;
  enum jsonrpc_kind kind = jsonrpc_classify(msg, &m);
  int rc;

  FUZZ_CHECK(kind == m.kind && m.root == msg);
  if (kind == JSONRPC_INVALID)
    FUZZ_CHECK(m.error_message != NULL);
  if (kind == JSONRPC_REQUEST || kind == JSONRPC_NOTIFICATION)
    FUZZ_CHECK(m.method != NULL);
  if (kind == JSONRPC_REQUEST || kind == JSONRPC_RESPONSE)
    FUZZ_CHECK(json_is_string(m.id) || json_is_integer(m.id));
  fs->sink.send = sink_send;
  fs->id = kind == JSONRPC_REQUEST ? m.id : NULL;
  fs->is_request = kind == JSONRPC_REQUEST;
  rc = dispatch_message(&core.disp, s, &m, &fs->sink, &resp, &pending);
  FUZZ_CHECK(rc == DISPATCH_DONE || rc == DISPATCH_PENDING);
  if (rc == DISPATCH_PENDING) {
    FUZZ_CHECK(kind == JSONRPC_REQUEST && pending != NULL && resp == NULL);
    return pending;
  }
  if (kind == JSONRPC_REQUEST || kind == JSONRPC_INVALID) {
    FUZZ_CHECK(resp != NULL);
    check_response(resp, m.id);
    fs->finals++;
  } else {
    FUZZ_CHECK(resp == NULL);
  }
  json_decref(resp);
  return NULL;
}

static void initialize(session *s) {
  static const char init[] =
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
      "\"2025-11-25\",\"capabilities\":{\"sampling\":{},\"elicitation\":{},\"roots\":{}},"
      "\"clientInfo\":{\"name\":\"fuzz\",\"version\":\"1\"}}}";
  static const char done[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
  fuzz_sink fs;
  json_t *msg;

  memset(&fs, 0, sizeof(fs));
  FUZZ_CHECK(json_read(init, sizeof(init) - 1, &msg, NULL) == 0);
  FUZZ_CHECK(dispatch_one(s, msg, &fs) == NULL);
  json_decref(msg);
  memset(&fs, 0, sizeof(fs));
  FUZZ_CHECK(json_read(done, sizeof(done) - 1, &msg, NULL) == 0);
  FUZZ_CHECK(dispatch_one(s, msg, &fs) == NULL);
  json_decref(msg);
}

static int is_initialize(const json_t *msg) {
  return json_is_string(json_object_get(msg, "method")) &&
         strcmp(json_string_value(json_object_get(msg, "method")), "initialize") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sink sinks[MAX_MESSAGES];
  mcpd_call *pending[MAX_MESSAGES];
  json_t *root = NULL;
  session *s;
  size_t i, n;

  if (json_read(size ? (const char *)data : NULL, size, &root, NULL) != 0)
    return 0;
  FUZZ_CHECK(session_create(&core.sessions, &s) == 0);
  n = json_is_array(root) ? json_array_size(root) : 1;
  if (n > MAX_MESSAGES)
    n = MAX_MESSAGES;
  if (!is_initialize(json_is_array(root) ? json_array_get(root, 0) : root))
    initialize(s);
  memset(sinks, 0, sizeof(sinks));
  for (i = 0; i < n; i++)
    pending[i] = dispatch_one(s, json_is_array(root) ? json_array_get(root, i) : root, &sinks[i]);
  /* Queued completions, progress, logs and client requests. */
  fuzz_core_run(&core, 4);
  for (i = 0; i < n; i++) {
    if (pending[i] != NULL && sinks[i].finals == 0)
      dispatch_abandon(&core.disp, pending[i]);
  }
  fuzz_core_remove_sessions(&core);
  fuzz_core_run(&core, 4);
  /* Every request was answered exactly once, unless it was abandoned. */
  for (i = 0; i < n; i++) {
    FUZZ_CHECK(sinks[i].finals <= 1);
    if (sinks[i].is_request && pending[i] == NULL)
      FUZZ_CHECK(sinks[i].finals == 1);
  }
  FUZZ_CHECK(core.calls.n_live == 0);
  json_decref(root);
  return 0;
}
