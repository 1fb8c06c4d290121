/* fuzz_core.c -- the in-process MCP core shared by fuzz_dispatch and
 * fuzz_http (see fuzz_core.h): the registered entries and their handlers.
 *   tools:    echo (schema: text string, required; answers at once),
 *             queued (answers through the completion queue, after a
 *             progress report and a log message), raw (returns whatever
 *             arguments.result and arguments.rc say: malformed results
 *             and errors), ask (sends arguments.method to the client and
 *             answers with what it said), slow (answers only when
 *             cancelled)
 *   resource: mem://readme; template mem://items/{id}{?q} (id "missing"
 *             is -ENOENT, "queued" answers through the queue), with
 *             completion
 *   prompt:   greet (who required, tone optional), with completion */
#include "fuzz_core.h"

#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int owner_tag; /* stands in for the plugin's mcpd_ctx: never dereferenced */
#define FUZZ_CTX ((mcpd_ctx *)&owner_tag)

static const char *arg_string(const json_t *args, const char *name, const char *def) {
  const char *s = json_string_value(json_object_get(args, name));
  return s != NULL ? s : def;
}

static int tool_echo(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call;
  (void)data;
  *result = mcpd_result_text(arg_string(args, "text", ""));
  return MCPD_OK;
}

static int tool_queued(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)data;
  (void)result;
  call_progress(call, 1, 2, "half way");
  call_notify_log(call, MCPD_LOG_INFO, "fuzz", json_deep_copy(args));
  if (json_is_true(json_object_get(args, "fail")))
    call_fail(call, -EINVAL, "asked to fail");
  else
    call_complete(call, mcpd_result_json(json_deep_copy(args)));
  return MCPD_PENDING;
}

static int tool_raw(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  static const int codes[] = {MCPD_OK, -EINVAL, -ENOENT, -EIO, 7, -ENOMEM}; /* 7: a bad return */
  json_int_t k = json_integer_value(json_object_get(args, "rc"));
  const json_t *r = json_object_get(args, "result");
  (void)call;
  (void)data;
  *result = r != NULL ? json_deep_copy(r) : NULL;
  return codes[(size_t)(k < 0 ? -k : k) % (sizeof(codes) / sizeof(codes[0]))];
}

static void ask_answered(mcpd_call *call, int status, const json_t *result, void *arg) {
  char *text = result != NULL ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  (void)arg;
  if (status == 0)
    call_complete(call, mcpd_result_text(text));
  else
    call_fail(call, status, text);
  free(text);
}

static int tool_ask(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  const json_t *params = json_object_get(args, "params");
  int r;
  (void)data;
  (void)result;
  r = dispatch_client_request(call, arg_string(args, "method", "sampling/createMessage"),
                              json_is_object(params) ? json_deep_copy(params) : NULL,
                              (unsigned)json_integer_value(json_object_get(args, "timeout")),
                              ask_answered, NULL);
  return r < 0 ? r : MCPD_PENDING;
}

static void slow_cancelled(mcpd_call *call, void *arg) {
  (void)arg;
  call_fail(call, -ECANCELED, "cancelled");
}

static int tool_slow(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)args;
  (void)data;
  (void)result;
  return call_on_cancel(call, slow_cancelled, NULL) < 0 ? -EIO : MCPD_PENDING;
}

static int read_resource(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                         json_t **result) {
  const char *id = arg_string(vars, "id", "");
  (void)data;
  if (strcmp(id, "missing") == 0)
    return -ENOENT;
  if (strcmp(id, "queued") == 0) {
    call_complete(call, mcpd_contents_text(uri, "text/plain", arg_string(vars, "q", "")));
    return MCPD_PENDING;
  }
  if (strcmp(id, "blob") == 0) {
    *result = mcpd_contents_blob(uri, NULL, uri, strlen(uri));
    return MCPD_OK;
  }
  *result = mcpd_contents_text(uri, "text/plain", id);
  return MCPD_OK;
}

/* Completion: value "many" gives 150 values (more than may be sent),
 * "error" fails, anything else echoes the value and the argument. */
static int complete(mcpd_call *call, const char *argument, const char *value, const json_t *context,
                    void *data, json_t **result) {
  json_t *values = json_array();
  int i;
  (void)call;
  (void)context;
  (void)data;
  if (strcmp(value, "error") == 0) {
    json_decref(values);
    return -EINVAL;
  }
  if (strcmp(value, "many") == 0) {
    for (i = 0; i < 150; i++)
      json_array_append_new(values, json_integer(i));
  } else {
    json_array_append_new(values, json_string(value));
    json_array_append_new(values, json_string(argument));
  }
  *result = json_pack("{s:o}", "values", values);
  return MCPD_OK;
}

static int prompt_greet(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call;
  (void)data;
  *result =
      json_pack("{s:s,s:[{s:s,s:{s:s,s:s}}]}", "description", "a greeting", "messages", "role",
                "user", "content", "type", "text", "text", arg_string(args, "who", "?"));
  return MCPD_OK;
}

static void add_tool(fuzz_core *fc, const char *name, const char *schema, mcpd_tool_fn fn) {
  mcpd_tool t;
  char err[256];
  json_t *s = schema ? json_loads(schema, 0, NULL) : NULL;
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.name = name;
  t.description = "a fuzzing tool";
  t.input_schema = s;
  t.handler = fn;
  if (registry_add_tool(&fc->reg, FUZZ_CTX, "fuzz", &t, err, sizeof(err)) < 0) {
    fprintf(stderr, "fuzz_core: tool %s: %s\n", name, err);
    abort();
  }
  json_decref(s);
}

static void add_entries(fuzz_core *fc) {
  mcpd_resource res;
  mcpd_resource_template tpl;
  mcpd_prompt p;
  json_t *args;
  char err[256];

  add_tool(fc, "echo",
           "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"maxLength\":64}},"
           "\"required\":[\"text\"],\"additionalProperties\":false}",
           tool_echo);
  add_tool(fc, "queued", NULL, tool_queued);
  add_tool(fc, "raw", "{\"type\":\"object\",\"properties\":{\"rc\":{\"type\":\"integer\"}}}",
           tool_raw);
  add_tool(fc, "ask", NULL, tool_ask);
  add_tool(fc, "slow", NULL, tool_slow);

  memset(&res, 0, sizeof(res));
  res.struct_size = sizeof(res);
  res.uri = "mem://readme";
  res.name = "readme";
  res.mime_type = "text/plain";
  res.handler = read_resource;
  FUZZ_CHECK(registry_add_resource(&fc->reg, FUZZ_CTX, "fuzz", &res, err, sizeof(err)) == 0);

  memset(&tpl, 0, sizeof(tpl));
  tpl.struct_size = sizeof(tpl);
  tpl.uri_template = "mem://items/{id}{?q}";
  tpl.name = "items";
  tpl.handler = read_resource;
  tpl.complete = complete;
  FUZZ_CHECK(registry_add_template(&fc->reg, FUZZ_CTX, "fuzz", &tpl, err, sizeof(err)) == 0);

  args = json_loads("[{\"name\":\"who\",\"required\":true},{\"name\":\"tone\"}]", 0, NULL);
  memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  p.name = "greet";
  p.arguments = args;
  p.handler = prompt_greet;
  p.complete = complete;
  FUZZ_CHECK(registry_add_prompt(&fc->reg, FUZZ_CTX, "fuzz", &p, err, sizeof(err)) == 0);
  json_decref(args);
}

void fuzz_core_init(fuzz_core *fc, session_remove_cb on_remove, void *arg) {
  /* FUZZ_CORE_LOG=1: the log on stderr, to see what a seed does. */
  int null_fd = getenv("FUZZ_CORE_LOG") ? dup(2) : open("/dev/null", O_WRONLY | O_CLOEXEC);

  FUZZ_CHECK(null_fd >= 0);
  FUZZ_CHECK(uv_loop_init(&fc->loop) == 0);
  FUZZ_CHECK(config_init(&fc->cfg) == 0);
  /* Small limits, so paging and the per-session call limit are reachable. */
  fc->cfg.page_size = 2;
  fc->cfg.max_calls_per_session = 4;
  fc->cfg.max_sessions = 8;
  fc->cfg.session_idle_ms = 0;
  fc->cfg.instructions = strdup("fuzzing");
  /* Every log line is formatted (that code runs too), then dropped. */
  log_init(&fc->log, LOGLVL_DEBUG, null_fd);
  metrics_init(&fc->metrics);
  registry_init(&fc->reg);
  add_entries(fc);
  FUZZ_CHECK(
      session_table_init(&fc->sessions, &fc->loop, fc->cfg.max_sessions, 0, on_remove, arg) == 0);
  FUZZ_CHECK(dispatch_init(&fc->disp, &fc->loop, &fc->reg, &fc->calls, &fc->sessions, &fc->cfg,
                           &fc->log) == 0);
  fc->disp.metrics = &fc->metrics;
  /* The engine's own handles do not hold the loop open: without a handle
   * that does, uv_run() would return before polling. */
  FUZZ_CHECK(uv_async_init(&fc->loop, &fc->alive, NULL) == 0);
}

void fuzz_core_run(fuzz_core *fc, int turns) {
  while (turns-- > 0)
    uv_run(&fc->loop, UV_RUN_NOWAIT);
}

void fuzz_core_remove_sessions(fuzz_core *fc) {
  while (!list_empty(&fc->sessions.lru))
    session_remove(&fc->sessions, list_entry(fc->sessions.lru.next, session, lru), "fuzz");
}

void fuzz_core_cancel_calls(fuzz_core *fc) {
  call_cancel_all(&fc->calls);
  fuzz_core_run(fc, 2);
}
