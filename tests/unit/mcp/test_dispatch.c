/* test_dispatch.c -- the MCP dispatcher, wired as the daemon wires it
 * (loop, registry, call engine, session table, config defaults, logger)
 * with a fake mcp_sink that records what it is sent and fake plugin ops
 * that count references. Covers: initialize and version negotiation,
 * notifications/initialized, ping, unknown methods and notifications,
 * invalid messages, params that are not an object, tools/list pagination
 * and per-revision listing, tools/call (sync success, unknown tool,
 * arguments checked against inputSchema, handler errors and bad results,
 * structuredContent per revision), asynchronous completion from a worker
 * thread delivered to the sink as the final message (with progress and
 * log notifications before it), notifications/cancelled (the sink gets a
 * final NULL, the plugin's cancel callback runs, a late completion goes
 * nowhere), dispatch_abandon, call deadlines, the calls-per-session
 * limit, dispatch_notify_all, dispatch_session_closed (calls go on
 * without their session; requests to the client end -ECANCELED), requests
 * to the client answered by a client response or timing out (a late
 * answer is ignored), resources/read, host->read_resource() (sync and
 * async answers, not found, failures, cancellation of either call), and that
 * every call's plugin reference is released when the call is freed. */
#include "mcp/dispatch.h"
#include "mcp/protocol.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a fake plugin version: the engine holds it through plugin ops ------- */

struct mcpd_ctx {
  int refs;               /* held now */
  int refs_taken, unrefs; /* in total */
  const char *name;
};

static struct mcpd_ctx plug = {0, 0, 0, "fakeplug"};

static void fake_ref(mcpd_ctx *ctx) {
  ctx->refs++;
  ctx->refs_taken++;
}

static void fake_unref(mcpd_ctx *ctx) {
  ctx->refs--;
  ctx->unrefs++;
}

static const char *fake_name(const mcpd_ctx *ctx) {
  return ctx->name;
}

/* ---- a fake sink: records copies of what it gets ------------------------- */

typedef struct fake_sink {
  mcp_sink sink;
  json_t *msgs; /* every message, in order; a final NULL is recorded as null */
  int finals;   /* final = 1 messages */
  int after_final;
  session *last_s;
  int rc; /* what send() returns */
} fake_sink;

static int fake_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  fake_sink *f = (fake_sink *)sink;
  if (f->finals > 0)
    f->after_final++;
  json_array_append_new(f->msgs, msg ? json_deep_copy(msg) : json_null());
  f->last_s = s;
  if (final)
    f->finals++;
  return f->rc;
}

static void sink_init(fake_sink *f) {
  memset(f, 0, sizeof(*f));
  f->sink.send = fake_send;
  f->msgs = json_array();
}

static void sink_free(fake_sink *f) {
  json_decref(f->msgs);
  f->msgs = NULL;
}

static size_t sink_count(const fake_sink *f) {
  return json_array_size(f->msgs);
}

static json_t *sink_msg(const fake_sink *f, size_t i) {
  return json_array_get(f->msgs, i);
}

static json_t *sink_last(const fake_sink *f) {
  size_t n = json_array_size(f->msgs);
  return n ? json_array_get(f->msgs, n - 1) : NULL;
}

/* ---- the fixture ---------------------------------------------------------- */

static uv_loop_t loop;
static registry reg;
static call_engine calls;
static session_table sessions;
static config cfg;
static logger lg;
static dispatch d;
static int log_fd = -1;

static void on_session_removed(session_table *t, session *s, const char *why, void *arg) {
  (void)t, (void)why;
  dispatch_session_closed(arg, s);
}

static const call_plugin_ops ops = {.ref = fake_ref, .unref = fake_unref, .name = fake_name};

/* page_size, max calls and the call timeout vary per test. */
static void setup(unsigned page_size, unsigned max_calls, unsigned call_timeout_ms) {
  CHECK_EQ_INT(uv_loop_init(&loop), 0);
  CHECK_EQ_INT(config_init(&cfg), 0);
  cfg.page_size = page_size;
  cfg.max_calls_per_session = max_calls;
  cfg.call_timeout_ms = call_timeout_ms;
  log_init(&lg, LOGLVL_DEBUG, log_fd); /* every line formatted, none kept */
  registry_init(&reg);
  session_table_init(&sessions, &loop, cfg.max_sessions, cfg.session_idle_ms, on_session_removed,
                     &d);
  CHECK_EQ_INT(dispatch_init(&d, &loop, &reg, &calls, &sessions, &cfg, &lg), 0);
  call_engine_set_plugin_ops(&calls, &ops);
  memset(&plug, 0, sizeof(plug));
  plug.name = "fakeplug";
}

static void teardown(void) {
  session_table_close(&sessions);
  call_engine_drain(&calls);
  CHECK_EQ_INT(calls.n_live, 0);
  dispatch_close(&d);
  call_engine_close(&calls);
  registry_free(&reg);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  config_free(&cfg);
  /* Every call's reference to its plugin was released. */
  CHECK_EQ_INT(plug.refs, 0);
  CHECK_EQ_INT(plug.refs_taken, plug.unrefs);
}

/* Runs the loop until *flag is non-zero or ms pass. The engine's async
 * handle and timers do not keep a loop alive (the transports' handles do
 * in the daemon): a referenced timer stands in for them. */
static void keep_alive_cb(uv_timer_t *t) {
  (void)t;
}

static int run_until(const int *flag, unsigned ms) {
  uv_timer_t keep;
  uint64_t end;
  uv_timer_init(&loop, &keep);
  uv_timer_start(&keep, keep_alive_cb, 60000, 0);
  uv_update_time(&loop);
  end = uv_now(&loop) + ms;
  while (!*flag && uv_now(&loop) < end) {
    uv_run(&loop, UV_RUN_NOWAIT);
    if (!*flag)
      uv_sleep(1);
    uv_update_time(&loop);
  }
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return *flag;
}

/* Dispatches text for s with sink f; returns what dispatch_message did. */
static int send_msg(session *s, const char *text, fake_sink *f, json_t **resp,
                    mcpd_call **pending) {
  json_error_t jerr;
  json_t *root = json_loads(text, 0, &jerr);
  jsonrpc_msg m;
  int rc;
  if (root == NULL) {
    fprintf(stderr, "bad test JSON: %s: %s\n", text, jerr.text);
    *resp = NULL;
    return -1;
  }
  jsonrpc_classify(root, &m);
  rc = dispatch_message(&d, s, &m, f ? &f->sink : NULL, resp, pending);
  json_decref(root);
  return rc;
}

/* A request answered at once: returns the response (new ref). */
static json_t *ask(session *s, const char *text) {
  json_t *resp = NULL;
  mcpd_call *pending = NULL;
  fake_sink f;
  int rc;
  sink_init(&f);
  rc = send_msg(s, text, &f, &resp, &pending);
  CHECK_EQ_INT(rc, DISPATCH_DONE);
  CHECK(pending == NULL);
  CHECK_EQ_INT(sink_count(&f), 0);
  sink_free(&f);
  return resp;
}

static int error_code(const json_t *resp) {
  return (int)json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));
}

static const char *error_message(const json_t *resp) {
  return json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
}

static const json_t *result_of(const json_t *resp) {
  return json_object_get(resp, "result");
}

static const char *text_of(const json_t *resp) {
  const json_t *c = json_array_get(json_object_get(result_of(resp), "content"), 0);
  return json_string_value(json_object_get(c, "text"));
}

static int contains(const char *s, const char *part) {
  return s != NULL && strstr(s, part) != NULL;
}

/* A session initialized at the given revision (client capabilities caps). */
static session *new_session(const char *version, const char *caps) {
  session *s = NULL;
  char text[512];
  json_t *resp;
  CHECK_EQ_INT(session_create(&sessions, &s), 0);
  if (s == NULL)
    return NULL;
  snprintf(text, sizeof(text),
           "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
           "{\"protocolVersion\":\"%s\",\"capabilities\":%s,\"clientInfo\":{\"name\":\"t\"}}}",
           version, caps ? caps : "{}");
  resp = ask(s, text);
  CHECK(result_of(resp) != NULL);
  json_decref(resp);
  return s;
}

/* ---- tools ------------------------------------------------------------------ */

static int sync_calls;

static int h_echo(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  const char *text = json_string_value(json_object_get(args, "text"));
  (void)call, (void)data;
  sync_calls++;
  /* The call holds its plugin while the handler runs. */
  CHECK(plug.refs >= 1);
  *result = mcpd_result_text(text ? text : "ok");
  return MCPD_OK;
}

static int h_structured(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call, (void)args, (void)data;
  *result = mcpd_result_json(json_pack("{s:i}", "answer", 42));
  return MCPD_OK;
}

/* Returns the int tool_data points at, with no result. */
static int h_return(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call, (void)args;
  sync_calls++;
  *result = NULL;
  return *(const int *)data;
}

static int h_malformed(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call, (void)args, (void)data;
  *result = json_pack("{s:s}", "text", "no content array");
  return MCPD_OK;
}

static int h_is_error(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call, (void)args, (void)data;
  *result = mcpd_result_error("backend down");
  return MCPD_OK;
}

/* Asynchronous work on a worker thread. */
enum { JOB_COMPLETE, JOB_PROGRESS, JOB_FAIL };

typedef struct job {
  mcpd_call *call;
  int mode;
  uv_thread_t th;
  int rc[8]; /* what the host functions returned */
} job;

static job jobs[8];
static int n_jobs;

static void job_thread(void *arg) {
  job *j = arg;
  uv_sleep(20);
  if (j->mode == JOB_PROGRESS) {
    j->rc[0] = call_progress(j->call, 1, 3, "one");
    j->rc[1] = call_progress(j->call, 2, 3, NULL);
    j->rc[2] = call_progress(j->call, 1.5, 3, "backwards"); /* dropped */
    j->rc[3] = call_notify_log(j->call, MCPD_LOG_DEBUG, "kit", json_string("quiet"));
    j->rc[4] = call_notify_log(j->call, MCPD_LOG_ERROR, "kit", json_string("loud"));
  }
  if (j->mode == JOB_FAIL)
    j->rc[5] = call_fail(j->call, -ENOENT, "nothing there");
  else
    j->rc[5] = call_complete(j->call, mcpd_result_text("async done"));
  /* After completion the call may not be used. */
}

static int h_async(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  job *j;
  (void)args, (void)result;
  if (n_jobs == 8)
    return -EAGAIN;
  j = &jobs[n_jobs++];
  memset(j, 0, sizeof(*j));
  j->call = call;
  j->mode = *(const int *)data;
  if (uv_thread_create(&j->th, job_thread, j) != 0)
    return -EAGAIN;
  return MCPD_PENDING;
}

static void join_jobs(void) {
  int i;
  for (i = 0; i < n_jobs; i++)
    uv_thread_join(&jobs[i].th);
  n_jobs = 0;
}

/* A call that stays pending until the test completes it; its cancel
 * callback is recorded. */
static mcpd_call *held[8];
static int n_held, cancel_cbs, complete_in_cancel;

static void on_cancel_cb(mcpd_call *call, void *arg) {
  (void)arg;
  cancel_cbs++;
  if (complete_in_cancel)
    CHECK_EQ_INT(call_complete(call, mcpd_result_text("cancelled")), 0);
}

static int h_hold(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)args, (void)data, (void)result;
  if (n_held == 8)
    return -EAGAIN;
  held[n_held++] = call;
  call_on_cancel(call, on_cancel_cb, NULL);
  return MCPD_PENDING;
}

/* Asks the client for its roots, and completes with what it said. */
static int client_status = 1, client_answers;
static json_t *client_result;

static void on_client_answer(mcpd_call *call, int status, const json_t *res, void *arg) {
  (void)arg;
  client_answers++;
  client_status = status;
  client_result = res ? json_deep_copy(res) : NULL;
  call_complete(call, mcpd_result_text(status == 0 ? "answered" : "no answer"));
}

static int ask_rc;

static int h_ask_client(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)args, (void)data, (void)result;
  ask_rc = dispatch_client_request(call, "roots/list", NULL, 0, on_client_answer, NULL);
  if (ask_rc < 0) {
    *result = mcpd_result_error("refused");
    return MCPD_OK;
  }
  return MCPD_PENDING;
}

static int res_calls;

static int h_resource(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                      json_t **result) {
  const char *id = json_string_value(json_object_get(vars, "id"));
  (void)call, (void)data;
  res_calls++;
  if (id != NULL && strcmp(id, "none") == 0)
    return -ENOENT;
  *result = mcpd_contents_text(uri, "text/plain", id ? id : "plain");
  return MCPD_OK;
}

static const int rc_einval = -EINVAL, rc_eio = -EIO, rc_seven = 7, rc_ok = MCPD_OK;
static const int mode_complete = JOB_COMPLETE, mode_progress = JOB_PROGRESS, mode_fail = JOB_FAIL;

static void add_tool(const char *name, const char *schema, mcpd_tool_fn fn, const void *data,
                     const char *title) {
  json_t *s = schema ? json_loads(schema, 0, NULL) : NULL;
  char err[256] = "";
  mcpd_tool t;
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.name = name;
  t.title = title;
  t.input_schema = s;
  t.handler = fn;
  t.tool_data = (void *)data;
  if (registry_add_tool(&reg, &plug, plug.name, &t, err, sizeof(err)) != 0)
    fprintf(stderr, "add_tool %s: %s\n", name, err);
  json_decref(s);
}

static void add_tools(void) {
  add_tool("echo",
           "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
           "\"n\":{\"type\":\"integer\"}},\"required\":[\"text\"]}",
           h_echo, NULL, "Echo");
  add_tool("structured", NULL, h_structured, NULL, NULL);
  add_tool("einval", NULL, h_return, &rc_einval, NULL);
  add_tool("eio", NULL, h_return, &rc_eio, NULL);
  add_tool("seven", NULL, h_return, &rc_seven, NULL);
  add_tool("null_result", NULL, h_return, &rc_ok, NULL);
  add_tool("malformed", NULL, h_malformed, NULL, NULL);
  add_tool("is_error", NULL, h_is_error, NULL, NULL);
  add_tool("async", NULL, h_async, &mode_complete, NULL);
  add_tool("async_progress", NULL, h_async, &mode_progress, NULL);
  add_tool("async_fail", NULL, h_async, &mode_fail, NULL);
  add_tool("hold", NULL, h_hold, NULL, NULL);
  add_tool("ask_client", NULL, h_ask_client, NULL, NULL);
}

static void reset_handlers(void) {
  sync_calls = 0;
  n_jobs = 0;
  n_held = 0;
  cancel_cbs = 0;
  complete_in_cancel = 0;
  client_status = 1;
  client_answers = 0;
  json_decref(client_result);
  client_result = NULL;
  res_calls = 0;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void test_initialize(void) {
  session *s = NULL;
  json_t *resp;
  const json_t *r;

  setup(100, 128, 0);
  config_set_string(&cfg.instructions, "use the echo tool");
  CHECK_EQ_INT(session_create(&sessions, &s), 0);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":\"init-1\",\"method\":\"initialize\",\"params\":"
                "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"roots\":{}},"
                "\"clientInfo\":{\"name\":\"cli\",\"version\":\"1\"}}}");
  r = result_of(resp);
  CHECK_EQ_STR(json_string_value(json_object_get(resp, "id")), "init-1");
  CHECK_EQ_STR(json_string_value(json_object_get(r, "protocolVersion")), "2025-06-18");
  CHECK_EQ_INT(s->version, PROTO_2025_06_18);
  CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")),
               "mcpd");
  CHECK(json_object_get(json_object_get(r, "serverInfo"), "title") != NULL);
  CHECK(json_is_true(json_object_get(json_object_get(json_object_get(r, "capabilities"), "tools"),
                                     "listChanged")));
  CHECK(json_object_get(json_object_get(r, "capabilities"), "completions") != NULL);
  CHECK(json_object_get(json_object_get(r, "capabilities"), "logging") != NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(r, "instructions")), "use the echo tool");
  CHECK(json_object_get(s->client_capabilities, "roots") != NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(s->client_info, "name")), "cli");
  CHECK_EQ_INT(s->initialized, 0);
  json_decref(resp);

  /* notifications/initialized: no response. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
  CHECK(resp == NULL);
  CHECK_EQ_INT(s->initialized, 1);

  /* The oldest revision is echoed, without what came later. */
  CHECK_EQ_INT(session_create(&sessions, &s), 0);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                "{\"protocolVersion\":\"2024-11-05\"}}");
  r = result_of(resp);
  CHECK_EQ_STR(json_string_value(json_object_get(r, "protocolVersion")), "2024-11-05");
  CHECK_EQ_INT(s->version, PROTO_2024_11_05);
  CHECK(json_object_get(json_object_get(r, "capabilities"), "completions") == NULL);
  CHECK(json_object_get(json_object_get(r, "serverInfo"), "title") == NULL);
  CHECK(json_is_integer(json_object_get(resp, "id")));
  json_decref(resp);

  /* A revision mcpd does not speak: it offers its newest. */
  CHECK_EQ_INT(session_create(&sessions, &s), 0);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                "{\"protocolVersion\":\"2099-01-01\"}}");
  CHECK_EQ_STR(json_string_value(json_object_get(result_of(resp), "protocolVersion")),
               protocol_name(PROTO_LATEST));
  CHECK_EQ_INT(s->version, PROTO_LATEST);
  json_decref(resp);

  /* Bad params. */
  CHECK_EQ_INT(session_create(&sessions, &s), 0);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK(contains(error_message(resp), "protocolVersion"));
  CHECK_EQ_INT(s->version, -1);
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":[]}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK(contains(error_message(resp), "capabilities must be an object"));
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                "{\"protocolVersion\":7}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  json_decref(resp);
  CHECK_EQ_INT(s->version, -1);
  teardown();
}

static void test_basics(void) {
  session *s;
  json_t *resp;
  fake_sink f;
  mcpd_call *pending;
  uint64_t notes;

  setup(100, 128, 0);
  s = new_session("2025-11-25", NULL);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
  CHECK(json_is_object(result_of(resp)) && json_object_size(result_of(resp)) == 0);
  CHECK_EQ_INT(json_integer_value(json_object_get(resp, "id")), 5);
  CHECK(json_object_get(resp, "error") == NULL);
  json_decref(resp);

  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/explode\"}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_METHOD_NOT_FOUND);
  CHECK(contains(error_message(resp), "tools/explode"));
  CHECK_EQ_INT(json_integer_value(json_object_get(resp, "id")), 6);
  json_decref(resp);

  /* params must be an object (an array is valid JSON-RPC, not for MCP). */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":[1,2]}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK_EQ_STR(error_message(resp), "params must be an object");
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\",\"params\":[]}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  json_decref(resp);

  /* An invalid message: -32600 with the id it had. */
  resp = ask(s, "{\"jsonrpc\":\"1.0\",\"id\":9,\"method\":\"ping\"}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_REQUEST);
  CHECK_EQ_INT(json_integer_value(json_object_get(resp, "id")), 9);
  json_decref(resp);

  /* Notifications are never answered, known or not. */
  notes = d.stats.notifications;
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}", &f, &resp,
                        &pending),
               DISPATCH_DONE);
  CHECK(resp == NULL && pending == NULL);
  CHECK_EQ_INT(sink_count(&f), 0);
  CHECK_EQ_INT(d.stats.notifications, notes + 1);
  sink_free(&f);

  /* logging/setLevel */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":"
                "{\"level\":\"warning\"}}");
  CHECK(result_of(resp) != NULL);
  CHECK_EQ_INT(s->log_level, MCPD_LOG_WARNING);
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":"
                "{\"level\":\"loud\"}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK_EQ_INT(s->log_level, MCPD_LOG_WARNING);
  json_decref(resp);
  teardown();
}

/* ---- listings -------------------------------------------------------------------- */

static void test_tools_list(void) {
  session *s, *old;
  json_t *resp;
  const json_t *tools;
  const char *cursor;
  char text[256];
  int i;

  setup(2, 128, 0);
  add_tool("t0", NULL, h_echo, NULL, "Tool zero");
  for (i = 1; i < 5; i++) {
    char name[8];
    snprintf(name, sizeof(name), "t%d", i);
    add_tool(name, NULL, h_echo, NULL, NULL);
  }
  s = new_session("2025-06-18", NULL);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
  tools = json_object_get(result_of(resp), "tools");
  CHECK_EQ_INT(json_array_size(tools), 2);
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(tools, 0), "name")), "t0");
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(tools, 0), "title")), "Tool zero");
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(tools, 1), "name")), "t1");
  cursor = json_string_value(json_object_get(result_of(resp), "nextCursor"));
  CHECK(cursor != NULL);
  snprintf(
      text, sizeof(text),
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"cursor\":\"%s\"}}",
      cursor ? cursor : "");
  json_decref(resp);

  resp = ask(s, text);
  tools = json_object_get(result_of(resp), "tools");
  CHECK_EQ_INT(json_array_size(tools), 2);
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(tools, 0), "name")), "t2");
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(tools, 1), "name")), "t3");
  cursor = json_string_value(json_object_get(result_of(resp), "nextCursor"));
  CHECK(cursor != NULL);
  snprintf(
      text, sizeof(text),
      "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"cursor\":\"%s\"}}",
      cursor ? cursor : "");
  json_decref(resp);

  resp = ask(s, text);
  tools = json_object_get(result_of(resp), "tools");
  CHECK_EQ_INT(json_array_size(tools), 1);
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(tools, 0), "name")), "t4");
  CHECK(json_object_get(result_of(resp), "nextCursor") == NULL);
  json_decref(resp);

  /* A cursor null is the first page; garbage and out-of-range ones fail. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":"
                "{\"cursor\":null}}");
  CHECK_EQ_INT(json_array_size(json_object_get(result_of(resp), "tools")), 2);
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":"
                "{\"cursor\":\"garbage\"}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK(contains(error_message(resp), "cursor"));
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":"
                "{\"cursor\":\"mcpd1:99\"}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":"
                "{\"cursor\":\"mcpd1:-1\"}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  json_decref(resp);
  /* The end itself is a valid (empty) page. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\",\"params\":"
                "{\"cursor\":\"mcpd1:5\"}}");
  CHECK_EQ_INT(json_array_size(json_object_get(result_of(resp), "tools")), 0);
  CHECK(json_object_get(result_of(resp), "nextCursor") == NULL);
  json_decref(resp);

  /* An older revision does not see titles. */
  old = new_session("2025-03-26", NULL);
  resp = ask(old, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
  tools = json_object_get(result_of(resp), "tools");
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(tools, 0), "name")), "t0");
  CHECK(json_object_get(json_array_get(tools, 0), "title") == NULL);
  json_decref(resp);

  /* Empty lists of the other kinds. */
  resp = ask(old, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/list\"}");
  CHECK(json_is_array(json_object_get(result_of(resp), "prompts")));
  CHECK_EQ_INT(json_array_size(json_object_get(result_of(resp), "prompts")), 0);
  json_decref(resp);
  teardown();
}

/* ---- tools/call, synchronous ------------------------------------------------------ */

static void test_call_sync(void) {
  session *s, *old;
  json_t *resp;
  static const struct {
    const char *tool;
    int code;
    const char *msg;
  } errs[] = {
      {"einval", JSONRPC_INVALID_PARAMS, "invalid params"},
      {"eio", JSONRPC_INTERNAL_ERROR, NULL},
      {"seven", JSONRPC_INTERNAL_ERROR, NULL},
      {"null_result", JSONRPC_INTERNAL_ERROR, "no result"},
      {"malformed", JSONRPC_INTERNAL_ERROR, "malformed result"},
  };
  size_t i;

  setup(100, 128, 0);
  add_tools();
  reset_handlers();
  s = new_session("2025-06-18", NULL);

  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}");
  CHECK_EQ_STR(text_of(resp), "hi");
  CHECK_EQ_STR(json_string_value(json_object_get(resp, "id")), "c1");
  CHECK_EQ_INT(sync_calls, 1);
  /* The call is gone: its plugin reference too, and the session's count. */
  CHECK_EQ_INT(plug.refs, 0);
  CHECK_EQ_INT(plug.refs_taken, 1);
  CHECK_EQ_INT(s->n_calls, 0);
  CHECK_EQ_INT(s->holds, 0);
  CHECK_EQ_INT(calls.n_live, 0);
  json_decref(resp);

  /* Unknown tool. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"nope\"}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK_EQ_STR(error_message(resp), "Unknown tool: nope");
  json_decref(resp);
  /* No name. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK(contains(error_message(resp), "params.name"));
  json_decref(resp);

  /* Arguments against the input schema: the handler never runs. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"echo\",\"arguments\":{\"text\":5}}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK(contains(error_message(resp), "Invalid arguments for tool echo"));
  CHECK(contains(error_message(resp), "/text"));
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"echo\",\"arguments\":{\"n\":1}}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK(contains(error_message(resp), "text"));
  json_decref(resp);
  /* No arguments (or null) is {}: "text" is still required. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"echo\",\"arguments\":null}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"echo\",\"arguments\":[\"hi\"]}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INVALID_PARAMS);
  CHECK(contains(error_message(resp), "arguments must be an object"));
  json_decref(resp);
  CHECK_EQ_INT(sync_calls, 1);
  CHECK_EQ_INT(plug.refs_taken, 1);
  /* A tool without a schema takes no arguments at all. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"structured\"}}");
  CHECK_EQ_INT(json_integer_value(json_object_get(
                   json_object_get(result_of(resp), "structuredContent"), "answer")),
               42);
  json_decref(resp);

  /* Handler errors and bad results. */
  for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
    char text[200];
    snprintf(text, sizeof(text),
             "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":"
             "{\"name\":\"%s\"}}",
             i + 100, errs[i].tool);
    resp = ask(s, text);
    CHECK_EQ_INT(error_code(resp), errs[i].code);
    if (errs[i].msg != NULL && !contains(error_message(resp), errs[i].msg))
      fprintf(stderr, "  %s: \"%s\"\n", errs[i].tool, error_message(resp));
    CHECK(errs[i].msg == NULL || contains(error_message(resp), errs[i].msg));
    CHECK_EQ_INT(json_integer_value(json_object_get(resp, "id")), (long long)(i + 100));
    json_decref(resp);
  }
  /* isError is a result, counted as a tool error. */
  {
    uint64_t before = d.stats.tool_errors;
    resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"is_error\"}}");
    CHECK(json_is_true(json_object_get(result_of(resp), "isError")));
    CHECK_EQ_STR(text_of(resp), "backend down");
    CHECK_EQ_INT(d.stats.tool_errors, before + 1);
    json_decref(resp);
  }

  /* structuredContent is dropped for revisions before 2025-06-18. */
  old = new_session("2025-03-26", NULL);
  resp = ask(old, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"structured\"}}");
  CHECK(result_of(resp) != NULL);
  CHECK(json_object_get(result_of(resp), "structuredContent") == NULL);
  CHECK_EQ_STR(text_of(resp), "{\"answer\":42}");
  json_decref(resp);
  CHECK_EQ_INT(plug.refs, 0);
  CHECK_EQ_INT(s->n_calls + old->n_calls, 0);
  teardown();
}

/* ---- tools/call, asynchronous ------------------------------------------------------- */

static void test_call_async(void) {
  session *s;
  json_t *resp;
  mcpd_call *pending = NULL;
  fake_sink f;
  const json_t *note;

  setup(100, 128, 0);
  add_tools();
  reset_handlers();
  s = new_session("2025-06-18", NULL);

  /* Completed from a worker thread: the final message on the sink. */
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"async\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK(resp == NULL);
  CHECK(pending != NULL);
  CHECK_EQ_INT(s->n_calls, 1);
  CHECK(s->holds >= 1);
  CHECK_EQ_INT(plug.refs, 1);
  CHECK_EQ_INT(calls.n_live, 1);
  CHECK(run_until(&f.finals, 5000));
  join_jobs();
  CHECK_EQ_INT(sink_count(&f), 1);
  CHECK_EQ_INT(f.finals, 1);
  CHECK(f.last_s == s);
  CHECK_EQ_STR(text_of(sink_last(&f)), "async done");
  CHECK_EQ_INT(json_integer_value(json_object_get(sink_last(&f), "id")), 11);
  CHECK_EQ_INT(jobs[0].rc[5], 0);
  CHECK_EQ_INT(plug.refs, 0);
  CHECK_EQ_INT(s->n_calls, 0);
  CHECK_EQ_INT(s->holds, 0);
  CHECK_EQ_INT(calls.n_live, 0);
  sink_free(&f);

  /* Progress and log notifications first, then the response. */
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\","
                        "\"params\":{\"level\":\"info\"}}",
                        NULL, &resp, &pending),
               DISPATCH_DONE);
  json_decref(resp);
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"async_progress\",\"_meta\":{\"progressToken\":\"tok\"}}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK(run_until(&f.finals, 5000));
  join_jobs();
  CHECK_EQ_INT(jobs[0].rc[0], 0);
  CHECK_EQ_INT(jobs[0].rc[2], 0); /* accepted, then dropped by the loop */
  CHECK_EQ_INT(sink_count(&f), 4);
  note = sink_msg(&f, 0);
  CHECK_EQ_STR(json_string_value(json_object_get(note, "method")), "notifications/progress");
  CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(note, "params"), "progressToken")),
               "tok");
  CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(note, "params"), "progress")), 1);
  CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(note, "params"), "total")), 3);
  CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(note, "params"), "message")),
               "one");
  note = sink_msg(&f, 1);
  CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(note, "params"), "progress")), 2);
  CHECK(json_object_get(json_object_get(note, "params"), "message") == NULL);
  /* The backwards report is dropped; the debug log is below "info". */
  note = sink_msg(&f, 2);
  CHECK_EQ_STR(json_string_value(json_object_get(note, "method")), "notifications/message");
  CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(note, "params"), "level")),
               "error");
  CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(note, "params"), "data")), "loud");
  CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(note, "params"), "logger")),
               "kit");
  CHECK_EQ_STR(text_of(sink_msg(&f, 3)), "async done");
  CHECK_EQ_INT(f.finals, 1);
  CHECK_EQ_INT(f.after_final, 0);
  CHECK_EQ_INT(plug.refs, 0);
  sink_free(&f);

  /* Without a progressToken, progress is accepted and dropped. */
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"async_progress\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK(run_until(&f.finals, 5000));
  join_jobs();
  CHECK_EQ_INT(jobs[0].rc[0], 0);
  CHECK_EQ_INT(sink_count(&f), 2); /* the error log, the response */
  CHECK_EQ_STR(json_string_value(json_object_get(sink_msg(&f, 0), "method")),
               "notifications/message");
  sink_free(&f);

  /* Failed from the worker: an error response. */
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"async_fail\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK(run_until(&f.finals, 5000));
  join_jobs();
  CHECK_EQ_INT(error_code(sink_last(&f)), JSONRPC_INTERNAL_ERROR);
  CHECK_EQ_STR(error_message(sink_last(&f)), "nothing there");
  CHECK_EQ_INT(json_integer_value(json_object_get(sink_last(&f), "id")), 14);
  sink_free(&f);
  CHECK_EQ_INT(plug.refs, 0);
  CHECK_EQ_INT(plug.refs_taken, 4);
  teardown();
}

/* ---- cancellation, abandon, deadlines, limits --------------------------------------- */

static void test_cancel(void) {
  session *s;
  json_t *resp;
  mcpd_call *pending = NULL;
  fake_sink f, g;
  int flag = 0;

  setup(100, 128, 0);
  add_tools();
  reset_handlers();
  s = new_session("2025-06-18", NULL);

  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":\"h1\",\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"hold\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK(pending == held[0]);
  /* A cancel for another id (or with params that are not an object)
   * changes nothing. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                "{\"requestId\":\"h2\"}}");
  CHECK(resp == NULL);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":[\"h1\"]}");
  CHECK(resp == NULL);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                "{\"requestId\":1}}"); /* 1 is not "h1" */
  CHECK_EQ_INT(sink_count(&f), 0);
  CHECK_EQ_INT(cancel_cbs, 0);
  CHECK(!call_is_cancelled(held[0]));

  /* The right id: the sink gets its final NULL now, the plugin its cancel. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                "{\"requestId\":\"h1\",\"reason\":\"user\"}}");
  CHECK(resp == NULL);
  CHECK_EQ_INT(sink_count(&f), 1);
  CHECK(json_is_null(sink_msg(&f, 0)));
  CHECK_EQ_INT(f.finals, 1);
  CHECK(f.last_s == s);
  CHECK_EQ_INT(cancel_cbs, 1);
  CHECK(call_is_cancelled(held[0]));
  CHECK_EQ_INT(d.stats.cancellations, 1);
  /* Still in flight until the plugin completes; that goes nowhere. */
  CHECK_EQ_INT(plug.refs, 1);
  CHECK_EQ_INT(call_complete(held[0], mcpd_result_text("late")), 0);
  CHECK_EQ_INT(call_complete(held[0], mcpd_result_text("twice")), -EALREADY);
  uv_run(&loop, UV_RUN_NOWAIT);
  call_engine_drain(&calls);
  CHECK_EQ_INT(sink_count(&f), 1);
  CHECK_EQ_INT(f.after_final, 0);
  CHECK_EQ_INT(plug.refs, 0);
  CHECK_EQ_INT(s->n_calls, 0);
  sink_free(&f);

  /* Cancel callback that completes at once. */
  complete_in_cancel = 1;
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"hold\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                "{\"requestId\":21}}");
  CHECK_EQ_INT(cancel_cbs, 2);
  call_engine_drain(&calls);
  CHECK_EQ_INT(sink_count(&f), 1);
  CHECK(json_is_null(sink_msg(&f, 0)));
  CHECK_EQ_INT(plug.refs, 0);
  sink_free(&f);

  /* dispatch_abandon: the transport lost its client; no final at all. */
  complete_in_cancel = 0;
  sink_init(&g);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":22,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"hold\"}}",
                        &g, &resp, &pending),
               DISPATCH_PENDING);
  dispatch_abandon(&d, pending);
  CHECK_EQ_INT(cancel_cbs, 3);
  CHECK(call_is_cancelled(pending));
  CHECK_EQ_INT(call_complete(pending, mcpd_result_text("to nobody")), 0);
  run_until(&flag, 30); /* turns the loop: nothing may arrive */
  CHECK_EQ_INT(sink_count(&g), 0);
  CHECK_EQ_INT(plug.refs, 0);
  sink_free(&g);
  teardown();
}

static void test_deadline(void) {
  session *s;
  json_t *resp;
  mcpd_call *pending = NULL;
  fake_sink f;

  setup(100, 128, 100);
  add_tools();
  reset_handlers();
  s = new_session("2025-06-18", NULL);
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"hold\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK(run_until(&f.finals, 5000));
  /* A tool timeout is a result the model sees, and the call is cancelled. */
  CHECK_EQ_INT(sink_count(&f), 1);
  CHECK(json_is_true(json_object_get(result_of(sink_last(&f)), "isError")));
  CHECK(contains(text_of(sink_last(&f)), "timed out after 100 ms"));
  CHECK_EQ_INT(json_integer_value(json_object_get(sink_last(&f), "id")), 31);
  CHECK_EQ_INT(cancel_cbs, 1);
  CHECK_EQ_INT(d.stats.timeouts, 1);
  CHECK_EQ_INT(plug.refs, 1); /* until the plugin completes */
  call_fail(pending, -ECANCELED, NULL);
  call_engine_drain(&calls);
  CHECK_EQ_INT(sink_count(&f), 1);
  CHECK_EQ_INT(plug.refs, 0);
  sink_free(&f);
  teardown();
}

static void test_limit(void) {
  session *s, *other;
  json_t *resp;
  mcpd_call *pending = NULL;
  fake_sink f[3];
  int i;

  setup(100, 2, 0);
  add_tools();
  reset_handlers();
  s = new_session("2025-06-18", NULL);
  other = new_session("2025-06-18", NULL);
  for (i = 0; i < 3; i++)
    sink_init(&f[i]);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"hold\"}}",
                        &f[0], &resp, &pending),
               DISPATCH_PENDING);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"hold\"}}",
                        &f[1], &resp, &pending),
               DISPATCH_PENDING);
  CHECK_EQ_INT(s->n_calls, 2);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"echo\",\"arguments\":{\"text\":\"x\"}}}");
  CHECK_EQ_INT(error_code(resp), JSONRPC_INTERNAL_ERROR);
  CHECK(contains(error_message(resp), "too many calls in flight"));
  CHECK(contains(error_message(resp), "limit 2"));
  json_decref(resp);
  CHECK_EQ_INT(sync_calls, 0);
  /* Per session: another one still may. */
  resp = ask(other, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
                    "{\"name\":\"echo\",\"arguments\":{\"text\":\"x\"}}}");
  CHECK_EQ_STR(text_of(resp), "x");
  json_decref(resp);
  /* One completes: room again. */
  call_complete(held[0], mcpd_result_text("done"));
  call_engine_drain(&calls);
  CHECK_EQ_INT(f[0].finals, 1);
  CHECK_EQ_INT(s->n_calls, 1);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"echo\",\"arguments\":{\"text\":\"y\"}}}");
  CHECK_EQ_STR(text_of(resp), "y");
  json_decref(resp);
  call_complete(held[1], mcpd_result_text("done"));
  call_engine_drain(&calls);
  CHECK_EQ_INT(f[1].finals, 1);
  CHECK_EQ_STR(text_of(sink_last(&f[1])), "done");
  for (i = 0; i < 3; i++)
    sink_free(&f[i]);
  teardown();
}

/* ---- sessions: notify_all, closed, client requests ----------------------------------- */

static void test_notify_all(void) {
  session *a, *b, *c;
  fake_sink fa, fb;

  setup(100, 128, 0);
  a = new_session("2025-06-18", NULL);
  b = new_session("2025-06-18", NULL);
  c = new_session("2025-06-18", NULL); /* no channel */
  sink_init(&fa);
  sink_init(&fb);
  a->out = &fa.sink;
  b->out = &fb.sink;
  dispatch_notify_all(&d, "notifications/tools/list_changed");
  CHECK_EQ_INT(sink_count(&fa), 1);
  CHECK_EQ_INT(sink_count(&fb), 1);
  CHECK_EQ_INT(fa.finals + fb.finals, 0);
  CHECK(fa.last_s == a && fb.last_s == b);
  CHECK_EQ_STR(json_string_value(json_object_get(sink_msg(&fa, 0), "method")),
               "notifications/tools/list_changed");
  CHECK_EQ_STR(json_string_value(json_object_get(sink_msg(&fa, 0), "jsonrpc")), "2.0");
  CHECK(json_object_get(sink_msg(&fa, 0), "id") == NULL);
  CHECK(json_object_get(sink_msg(&fa, 0), "params") == NULL);
  /* Gone sessions are not told. */
  session_remove(&sessions, b, "deleted");
  dispatch_notify_all(&d, "notifications/prompts/list_changed");
  CHECK_EQ_INT(sink_count(&fa), 2);
  CHECK_EQ_INT(sink_count(&fb), 1);
  CHECK_EQ_STR(json_string_value(json_object_get(sink_msg(&fa, 1), "method")),
               "notifications/prompts/list_changed");
  (void)c;
  a->out = NULL;
  sink_free(&fa);
  sink_free(&fb);
  teardown();
}

static void test_session_closed(void) {
  session *s;
  json_t *resp;
  mcpd_call *pending = NULL;
  fake_sink f, g;

  setup(100, 128, 0);
  add_tools();
  reset_handlers();
  s = new_session("2025-06-18", NULL);
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"hold\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK(dispatch_client_capabilities(pending) == s->client_capabilities);
  /* The session goes (DELETE): the call goes on without it. */
  session_remove(&sessions, s, "deleted");
  CHECK(pending->session == NULL);
  CHECK(!call_is_cancelled(pending));
  CHECK(json_is_object(dispatch_client_capabilities(pending)));
  CHECK_EQ_INT(call_complete(pending, mcpd_result_text("orphan")), 0);
  call_engine_drain(&calls);
  CHECK_EQ_INT(f.finals, 1);
  CHECK(f.last_s == NULL);
  CHECK_EQ_STR(text_of(sink_last(&f)), "orphan");
  CHECK_EQ_INT(plug.refs, 0);
  sink_free(&f);

  /* A request to the client: answered by a client response... */
  s = new_session("2025-06-18", "{\"roots\":{}}");
  sink_init(&g);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"ask_client\"}}",
                        &g, &resp, &pending),
               DISPATCH_PENDING);
  CHECK_EQ_INT(ask_rc, 0);
  CHECK_EQ_INT(sink_count(&g), 1);
  CHECK_EQ_STR(json_string_value(json_object_get(sink_msg(&g, 0), "method")), "roots/list");
  CHECK_EQ_INT(g.finals, 0);
  {
    char text[256];
    snprintf(text, sizeof(text), "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{\"roots\":[]}}",
             json_string_value(json_object_get(sink_msg(&g, 0), "id")));
    resp = ask(s, text);
    CHECK(resp == NULL);
  }
  CHECK_EQ_INT(client_status, 0);
  CHECK(json_is_array(json_object_get(client_result, "roots")));
  call_engine_drain(&calls);
  CHECK_EQ_INT(g.finals, 1);
  CHECK_EQ_STR(text_of(sink_last(&g)), "answered");
  sink_free(&g);

  /* ...or ended -ECANCELED when the session closes first. */
  reset_handlers();
  sink_init(&g);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"ask_client\"}}",
                        &g, &resp, &pending),
               DISPATCH_PENDING);
  CHECK_EQ_INT(sink_count(&g), 1);
  CHECK_EQ_INT(plug.refs, 1);
  session_remove(&sessions, s, "expired");
  CHECK_EQ_INT(client_status, -ECANCELED);
  call_engine_drain(&calls);
  CHECK_EQ_INT(g.finals, 1);
  CHECK_EQ_STR(text_of(sink_last(&g)), "no answer");
  CHECK(g.last_s == NULL);
  CHECK_EQ_INT(plug.refs, 0);
  sink_free(&g);

  /* Without the capability the request is refused at once. */
  s = new_session("2025-06-18", NULL);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":44,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"ask_client\"}}");
  CHECK_EQ_INT(ask_rc, -ENOTSUP);
  CHECK(json_is_true(json_object_get(result_of(resp), "isError")));
  json_decref(resp);
  reset_handlers();
  teardown();
}

static void test_client_timeout(void) {
  session *s;
  json_t *resp;
  mcpd_call *pending = NULL;
  fake_sink f;

  setup(100, 128, 0);
  cfg.client_request_ms = 80;
  add_tools();
  reset_handlers();
  s = new_session("2025-06-18", "{\"roots\":{\"listChanged\":true}}");
  sink_init(&f);
  CHECK_EQ_INT(send_msg(s,
                        "{\"jsonrpc\":\"2.0\",\"id\":51,\"method\":\"tools/call\",\"params\":"
                        "{\"name\":\"ask_client\"}}",
                        &f, &resp, &pending),
               DISPATCH_PENDING);
  CHECK_EQ_INT(d.stats.client_requests, 1);
  CHECK(run_until(&client_answers, 5000));
  CHECK_EQ_INT(client_answers, 1);
  CHECK_EQ_INT(client_status, -ETIMEDOUT);
  CHECK_EQ_INT(d.stats.client_request_timeouts, 1);
  call_engine_drain(&calls);
  CHECK_EQ_INT(f.finals, 1);
  CHECK_EQ_STR(text_of(sink_last(&f)), "no answer");
  /* A late answer to it is ignored. */
  {
    char text[256];
    uint64_t ignored = d.stats.client_responses_ignored;
    snprintf(text, sizeof(text), "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{}}",
             json_string_value(json_object_get(sink_msg(&f, 0), "id")));
    resp = ask(s, text);
    CHECK(resp == NULL);
    CHECK_EQ_INT(d.stats.client_responses_ignored, ignored + 1);
    CHECK_EQ_INT(client_answers, 1);
  }
  CHECK_EQ_INT(plug.refs, 0);
  sink_free(&f);
  teardown();
}

/* ---- resources ------------------------------------------------------------------------ */

static void test_resources(void) {
  session *s;
  json_t *resp;
  char err[256];
  mcpd_resource r;
  mcpd_resource_template t;
  const json_t *c;

  setup(100, 128, 0);
  reset_handlers();
  memset(&r, 0, sizeof(r));
  r.struct_size = sizeof(r);
  r.uri = "kit://plain";
  r.name = "plain";
  r.handler = h_resource;
  CHECK_EQ_INT(registry_add_resource(&reg, &plug, plug.name, &r, err, sizeof(err)), 0);
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.uri_template = "kit://items/{id}";
  t.name = "item";
  t.handler = h_resource;
  CHECK_EQ_INT(registry_add_template(&reg, &plug, plug.name, &t, err, sizeof(err)), 0);
  s = new_session("2025-06-18", NULL);

  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":"
                "{\"uri\":\"kit://plain\"}}");
  c = json_array_get(json_object_get(result_of(resp), "contents"), 0);
  CHECK_EQ_STR(json_string_value(json_object_get(c, "text")), "plain");
  CHECK_EQ_STR(json_string_value(json_object_get(c, "uri")), "kit://plain");
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":"
                "{\"uri\":\"kit://items/a%20b\"}}");
  c = json_array_get(json_object_get(result_of(resp), "contents"), 0);
  CHECK_EQ_STR(json_string_value(json_object_get(c, "text")), "a b");
  json_decref(resp);
  /* A {var} value is a simple string: one that decodes to a path never
   * reaches the handler. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":"
                "{\"uri\":\"kit://items/..%2Fb\"}}");
  CHECK_EQ_INT(error_code(resp), MCP_ERROR_RESOURCE_NOT_FOUND);
  json_decref(resp);
  /* The handler's -ENOENT and an unmatched URI: Resource not found. */
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":"
                "{\"uri\":\"kit://items/none\"}}");
  CHECK_EQ_INT(error_code(resp), MCP_ERROR_RESOURCE_NOT_FOUND);
  CHECK_EQ_STR(json_string_value(
                   json_object_get(json_object_get(json_object_get(resp, "error"), "data"), "uri")),
               "kit://items/none");
  json_decref(resp);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\",\"params\":"
                "{\"uri\":\"other://x\"}}");
  CHECK_EQ_INT(error_code(resp), MCP_ERROR_RESOURCE_NOT_FOUND);
  json_decref(resp);
  CHECK_EQ_INT(res_calls, 3);
  resp = ask(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/templates/list\"}");
  CHECK_EQ_STR(
      json_string_value(json_object_get(
          json_array_get(json_object_get(result_of(resp), "resourceTemplates"), 0), "uriTemplate")),
      "kit://items/{id}");
  json_decref(resp);
  CHECK_EQ_INT(plug.refs, 0);
  teardown();
}

/* ---- host->read_resource() ------------------------------------------------------------ */

/* What the reading tool's callback got. */
static int reads_done, read_status, read_in_call;
static char read_text[256];

static void on_read(mcpd_call *call, int status, const json_t *result, void *arg) {
  const json_t *c = json_array_get(json_object_get(result, "contents"), 0);
  const char *text = status == 0 ? json_string_value(json_object_get(c, "text"))
                                 : json_string_value(json_object_get(result, "message"));
  (void)arg;
  CHECK(!read_in_call);
  reads_done++;
  read_status = status;
  snprintf(read_text, sizeof(read_text), "%s", text ? text : "(none)");
  call_complete(call, mcpd_result_text(read_text));
}

/* Reads args.uri and completes with what it got. */
static int h_reader(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  int rc;
  (void)data;
  read_in_call = 1;
  rc = dispatch_read_resource(call, json_string_value(json_object_get(args, "uri")), on_read, NULL);
  read_in_call = 0;
  if (rc < 0) {
    *result = mcpd_result_error("read refused");
    return MCPD_OK;
  }
  return MCPD_PENDING;
}

/* A resource that stays pending until the test completes it. */
static int h_held_resource(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                           json_t **result) {
  (void)uri, (void)vars, (void)data, (void)result;
  held[n_held++] = call;
  call_on_cancel(call, on_cancel_cb, NULL);
  /* Nobody's session: it reads as the caller, on no stream. */
  CHECK(call->session == NULL);
  return MCPD_PENDING;
}

static int h_bad_resource(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                          json_t **result) {
  (void)call, (void)uri, (void)vars, (void)data;
  *result = json_pack("{s:s}", "text", "no contents array");
  return MCPD_OK;
}

static void add_resource(const char *uri, mcpd_resource_fn fn) {
  char err[256];
  mcpd_resource r;
  memset(&r, 0, sizeof(r));
  r.struct_size = sizeof(r);
  r.uri = uri;
  r.name = uri;
  r.handler = fn;
  CHECK_EQ_INT(registry_add_resource(&reg, &plug, plug.name, &r, err, sizeof(err)), 0);
}

/* Calls the reader tool for uri; returns the pending call (the sink f gets its answer). */
static mcpd_call *read_via_tool(session *s, fake_sink *f, const char *uri) {
  static int id = 100;
  char text[300];
  json_t *resp = NULL;
  mcpd_call *pending = NULL;
  snprintf(text, sizeof(text),
           "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
           "{\"name\":\"reader\",\"arguments\":{\"uri\":\"%s\"}}}",
           id++, uri);
  sink_init(f);
  reads_done = 0;
  CHECK_EQ_INT(send_msg(s, text, f, &resp, &pending), DISPATCH_PENDING);
  /* Never inside read_resource(), nor before the loop turns. */
  CHECK_EQ_INT(reads_done, 0);
  return pending;
}

static void test_read_resource(void) {
  session *s;
  fake_sink f;
  mcpd_call *pending;
  char err[256];
  mcpd_resource_template t;

  setup(100, 128, 0);
  reset_handlers();
  add_tool("reader", NULL, h_reader, NULL, NULL);
  add_resource("kit://plain", h_resource);
  add_resource("kit://held", h_held_resource);
  add_resource("kit://bad", h_bad_resource);
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.uri_template = "kit://items/{id}";
  t.name = "item";
  t.handler = h_resource;
  CHECK_EQ_INT(registry_add_template(&reg, &plug, plug.name, &t, err, sizeof(err)), 0);
  s = new_session("2025-06-18", NULL);

  CHECK_EQ_INT(dispatch_read_resource(NULL, "kit://plain", on_read, NULL), -EINVAL);

  /* A resource and a template's match, answered synchronously by their
   * handlers, on a later turn. */
  read_via_tool(s, &f, "kit://plain");
  CHECK(run_until(&f.finals, 5000));
  CHECK_EQ_INT(reads_done, 1);
  CHECK_EQ_INT(read_status, 0);
  CHECK_EQ_STR(text_of(sink_last(&f)), "plain");
  sink_free(&f);
  read_via_tool(s, &f, "kit://items/a%20b");
  CHECK(run_until(&f.finals, 5000));
  CHECK_EQ_INT(read_status, 0);
  CHECK_EQ_STR(read_text, "a b");
  sink_free(&f);
  CHECK_EQ_INT(d.stats.resource_reads, 2);

  /* Not found: no such URI, or the handler says so. */
  read_via_tool(s, &f, "other://x");
  CHECK(run_until(&f.finals, 5000));
  CHECK_EQ_INT(read_status, -ENOENT);
  CHECK_EQ_STR(read_text, "Resource not found: other://x");
  sink_free(&f);
  read_via_tool(s, &f, "kit://items/none");
  CHECK(run_until(&f.finals, 5000));
  CHECK_EQ_INT(read_status, -ENOENT);
  sink_free(&f);
  /* Another failure: the error object. */
  read_via_tool(s, &f, "kit://bad");
  CHECK(run_until(&f.finals, 5000));
  CHECK_EQ_INT(read_status, -EPROTO);
  CHECK_EQ_STR(read_text, "the plugin returned a malformed result");
  sink_free(&f);

  /* Asynchronous: completed later, from the handler's side. */
  read_via_tool(s, &f, "kit://held");
  CHECK(run_until(&n_held, 5000));
  CHECK_EQ_INT(reads_done, 0);
  CHECK_EQ_INT(call_complete(held[0], mcpd_contents_text("kit://held", NULL, "later")), 0);
  CHECK(run_until(&f.finals, 5000));
  CHECK_EQ_INT(read_status, 0);
  CHECK_EQ_STR(read_text, "later");
  sink_free(&f);

  /* The reading call is cancelled: -ECANCELED at once, the read is cancelled
   * too, and what it completes later goes nowhere. */
  n_held = 0;
  pending = read_via_tool(s, &f, "kit://held");
  CHECK(run_until(&n_held, 5000));
  dispatch_abandon(&d, pending);
  CHECK_EQ_INT(reads_done, 1);
  CHECK_EQ_INT(read_status, -ECANCELED);
  CHECK_EQ_INT(cancel_cbs, 1);
  CHECK(call_is_cancelled(held[0]));
  CHECK_EQ_INT(call_complete(held[0], mcpd_contents_text("kit://held", NULL, "late")), 0);
  call_engine_drain(&calls);
  CHECK_EQ_INT(reads_done, 1);
  sink_free(&f);

  /* Cancelled before the read ran: -ECANCELED, and no handler runs. */
  n_held = 0;
  pending = read_via_tool(s, &f, "kit://held");
  dispatch_abandon(&d, pending);
  CHECK_EQ_INT(reads_done, 1);
  CHECK_EQ_INT(read_status, -ECANCELED);
  call_engine_drain(&calls);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ_INT(n_held, 0);
  sink_free(&f);

  /* Shutdown (every unfinished call cancelled): the read ends too. */
  n_held = 0;
  read_via_tool(s, &f, "kit://held");
  CHECK(run_until(&n_held, 5000));
  call_cancel_all(&calls);
  CHECK_EQ_INT(reads_done, 1);
  CHECK_EQ_INT(read_status, -ECANCELED);
  call_fail(held[0], -ECANCELED, NULL);
  call_engine_drain(&calls);
  sink_free(&f);
  CHECK_EQ_INT(d.stats.resource_reads, 8);
  teardown();
}

int main(void) {
  log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  RUN(test_initialize);
  RUN(test_basics);
  RUN(test_tools_list);
  RUN(test_call_sync);
  RUN(test_call_async);
  RUN(test_cancel);
  RUN(test_deadline);
  RUN(test_limit);
  RUN(test_notify_all);
  RUN(test_session_closed);
  RUN(test_client_timeout);
  RUN(test_resources);
  RUN(test_read_resource);
  close(log_fd);
  TEST_MAIN_END();
}
