/* dispatch.c -- the MCP method dispatcher. */
#include "dispatch.h"

#include "error.h"
#include "plugin_loader.h"
#include "protocol.h"
#include "schema.h"
#include "version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_PREFIX "mcpd1:"

static const char *const mcp_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};

/* What a method handler returns: a result (new ref) or an error. */
typedef struct reply {
  json_t *whole; /* a complete response message, when the handler built one */
  json_t *result;
  int code;
  char message[512];
  json_t *data; /* error data, new ref */
} reply;

static int fail(reply *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(reply *r, int code, const char *fmt, ...) {
  va_list ap;
  r->code = code;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof(r->message), fmt, ap);
  va_end(ap);
  return DISPATCH_DONE;
}

json_t *dispatch_error(const json_t *id, int code, const char *message) {
  return jsonrpc_error(id, code, message, NULL);
}

static json_t *finish_reply(dispatch *d, const json_t *id, reply *r) {
  if (r->code != 0) {
    d->stats.errors++;
    return jsonrpc_error(id, r->code, r->message, r->data);
  }
  if (r->result == NULL) {
    d->stats.errors++;
    return jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, "out of memory", NULL);
  }
  return jsonrpc_result(id, r->result);
}

/* ---- request context --------------------------------------------------- */

typedef struct req_ctx {
  dispatch *d;
  session *s;
  const jsonrpc_msg *m;
  const json_t *params; /* object or NULL */
  mcp_sink *sink;
  mcpd_call *pending; /* set by handlers that go asynchronous */
} req_ctx;

static int version_of(const session *s) {
  return s != NULL && s->version >= 0 ? s->version : PROTO_LATEST;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int m_initialize(req_ctx *c, reply *r) {
  const json_t *pv = json_object_get(c->params, "protocolVersion");
  const json_t *caps = json_object_get(c->params, "capabilities");
  const json_t *info = json_object_get(c->params, "clientInfo");
  const config *cfg = c->d->cfg;
  int version;
  json_t *server_info, *capabilities;

  if (!json_is_string(pv))
    return fail(r, JSONRPC_INVALID_PARAMS,
                "initialize needs params.protocolVersion (a string such as \"2025-11-25\")");
  if (caps != NULL && !json_is_object(caps))
    return fail(r, JSONRPC_INVALID_PARAMS, "initialize params.capabilities must be an object");
  if (info != NULL && !json_is_object(info))
    return fail(r, JSONRPC_INVALID_PARAMS, "initialize params.clientInfo must be an object");
  /* Negotiation: echo a revision we speak, else offer our newest. */
  version = protocol_parse(json_string_value(pv), json_string_length(pv));
  if (version < 0)
    version = PROTO_LATEST;
  c->s->version = version;
  if (caps != NULL) {
    json_decref(c->s->client_capabilities);
    c->s->client_capabilities = json_deep_copy(caps);
  }
  if (info != NULL) {
    json_decref(c->s->client_info);
    c->s->client_info = json_deep_copy(info);
  }
  server_info = json_pack("{s:s,s:s}", "name", "mcpd", "version", MCPD_VERSION);
  if (server_info != NULL && version >= PROTO_2025_06_18)
    json_object_set_new(server_info, "title", json_string("mcpd"));
  /* Plugins can change on SIGHUP: clients with a stream are told. */
  capabilities = json_pack("{s:{s:b},s:{s:b,s:b},s:{}}", "tools", "listChanged", 1, "resources",
                           "subscribe", 0, "listChanged", 1, "logging");
  r->result = json_pack("{s:s,s:o,s:o}", "protocolVersion", protocol_name(version), "capabilities",
                        capabilities, "serverInfo", server_info);
  if (r->result != NULL && cfg->instructions != NULL)
    json_object_set_new(r->result, "instructions", json_string(cfg->instructions));
  return DISPATCH_DONE;
}

static int m_ping(req_ctx *c, reply *r) {
  (void)c;
  r->result = json_object();
  return DISPATCH_DONE;
}

static int m_set_level(req_ctx *c, reply *r) {
  const json_t *level = json_object_get(c->params, "level");
  size_t i;
  if (json_is_string(level)) {
    for (i = 0; i < sizeof(mcp_levels) / sizeof(mcp_levels[0]); i++) {
      if (strcmp(json_string_value(level), mcp_levels[i]) == 0) {
        c->s->log_level = (int)i;
        r->result = json_object();
        return DISPATCH_DONE;
      }
    }
  }
  return fail(r, JSONRPC_INVALID_PARAMS,
              "logging/setLevel needs params.level, one of debug, info, notice, warning, error, "
              "critical, alert, emergency");
}

/* ---- listings ----------------------------------------------------------- */

/* Parses an opaque cursor into an offset; 0 when absent. */
static int cursor_offset(req_ctx *c, size_t count, size_t *offset, reply *r) {
  const json_t *cur = json_object_get(c->params, "cursor");
  const char *s;
  char *end;
  unsigned long long v;

  *offset = 0;
  if (cur == NULL || json_is_null(cur))
    return 0;
  if (!json_is_string(cur))
    goto bad;
  s = json_string_value(cur);
  if (strncmp(s, CURSOR_PREFIX, sizeof(CURSOR_PREFIX) - 1) != 0)
    goto bad;
  s += sizeof(CURSOR_PREFIX) - 1;
  if (*s < '0' || *s > '9')
    goto bad;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (*end != '\0' || errno != 0 || v > count)
    goto bad;
  *offset = (size_t)v;
  return 0;
bad:
  fail(r, JSONRPC_INVALID_PARAMS, "invalid cursor: pass back a nextCursor from a listing");
  return -1;
}

/* A whole number as a JSON integer (clients show 3, not 3.0). */
static json_t *json_number(double v) {
  if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(json_int_t)v)
    return json_integer((json_int_t)v);
  return json_real(v);
}

typedef const json_t *(*list_json_fn)(void *entry, int version);

static const json_t *tool_json(void *e, int v) {
  return registry_tool_json(e, v);
}
static const json_t *resource_json(void *e, int v) {
  return registry_resource_json(e, v);
}
static const json_t *template_json(void *e, int v) {
  return registry_template_json(e, v);
}

static int list(req_ctx *c, reply *r, const reg_list *l, const char *key, list_json_fn fn) {
  size_t offset, end, i, page = c->d->cfg->page_size;
  int version = version_of(c->s);
  json_t *arr;

  if (cursor_offset(c, l->count, &offset, r) < 0)
    return DISPATCH_DONE;
  end = offset + page < l->count ? offset + page : l->count;
  arr = json_array();
  r->result = json_object();
  if (arr == NULL || r->result == NULL) {
    json_decref(arr);
    return DISPATCH_DONE;
  }
  for (i = offset; i < end; i++) {
    const json_t *item = fn(l->items[i], version);
    if (item == NULL || json_array_append(arr, (json_t *)item) < 0) {
      json_decref(arr);
      json_decref(r->result);
      r->result = NULL;
      return DISPATCH_DONE;
    }
  }
  json_object_set_new(r->result, key, arr);
  if (end < l->count) {
    char cursor[48];
    snprintf(cursor, sizeof(cursor), CURSOR_PREFIX "%zu", end);
    json_object_set_new(r->result, "nextCursor", json_string(cursor));
  }
  return DISPATCH_DONE;
}

static int m_tools_list(req_ctx *c, reply *r) {
  return list(c, r, &c->d->reg->tools, "tools", tool_json);
}

static int m_resources_list(req_ctx *c, reply *r) {
  return list(c, r, &c->d->reg->resources, "resources", resource_json);
}

static int m_templates_list(req_ctx *c, reply *r) {
  return list(c, r, &c->d->reg->templates, "resourceTemplates", template_json);
}

/* ---- plugin calls ------------------------------------------------------- */

static void session_link(mcpd_call *call, session *s) {
  call->session = s;
  list_insert_tail(&s->calls, &call->s_link);
  s->holds++;
  s->n_calls++;
}

static void session_unlink(mcpd_call *call) {
  session *s = call->session;
  if (s == NULL)
    return;
  list_remove(&call->s_link);
  call->session = NULL;
  s->holds--;
  s->n_calls--;
}

/* Checks a plugin's result and fits it to the session's revision; steals
 * result. Returns the result, or NULL with r filled in. */
static json_t *check_result(dispatch *d, mcpd_call *call, json_t *result, reply *r) {
  char esc[200];
  const char *want = call->kind == CALL_TOOL ? "content" : "contents";
  if (!json_is_object(result) || !json_is_array(json_object_get(result, want))) {
    log_msg(d->log, LOG_ERROR, "plugin_bad_result",
            "plugin=%s call=%s reason=\"result is not an object with a %s array\"", call->ctx->name,
            log_escape(call->name, esc, sizeof(esc)), want);
    json_decref(result);
    fail(r, JSONRPC_INTERNAL_ERROR, "the plugin returned a malformed result");
    return NULL;
  }
  /* structuredContent arrived in 2025-06-18. */
  if (call->kind == CALL_TOOL && call->version < PROTO_2025_06_18)
    json_object_del(result, "structuredContent");
  return result;
}

/* Turns a plugin's completion (result or error) into a response. Steals
 * result. */
static json_t *completion_response(dispatch *d, mcpd_call *call, json_t *result, int err,
                                   const char *msg) {
  reply r;
  memset(&r, 0, sizeof(r));
  if (err == 0 && result != NULL) {
    r.result = check_result(d, call, result, &r);
  } else if (err == 0) {
    log_msg(d->log, LOG_ERROR, "plugin_bad_result", "plugin=%s reason=\"no result\"",
            call->ctx->name);
    fail(&r, JSONRPC_INTERNAL_ERROR, "the plugin returned no result");
  } else if (err == -ENOENT && call->kind == CALL_RESOURCE) {
    fail(&r, MCP_ERROR_RESOURCE_NOT_FOUND, "Resource not found: %s", msg ? msg : call->uri);
    r.data = json_pack("{s:s}", "uri", call->uri);
  } else if (err == -EINVAL) {
    fail(&r, JSONRPC_INVALID_PARAMS, "%s", msg ? msg : "invalid params");
  } else {
    fail(&r, JSONRPC_INTERNAL_ERROR, "%s", msg ? msg : error_strerror(err));
  }
  if (call->kind == CALL_TOOL &&
      (r.code != 0 || json_is_true(json_object_get(r.result, "isError"))))
    d->stats.tool_errors++;
  return finish_reply(d, call->id, &r);
}

/* Runs a handler and sorts out sync, async and error returns. */
static int run_call(req_ctx *c, reply *r, mcpd_call *call, int rc, json_t *result) {
  dispatch *d = c->d;
  json_t *resp;

  if (rc == MCPD_PENDING) {
    json_decref(result);
    call->owner = c->sink;
    call_set_deadline(call, d->cfg->call_timeout_ms);
    c->pending = call;
    return DISPATCH_PENDING;
  }
  if (!call_claim_sync(call)) {
    /* complete() ran inside the handler, which then returned anyway: the
     * queued completion wins. */
    log_msg(d->log, LOG_WARN, "plugin_double_completion",
            "plugin=%s reason=\"handler completed the call and returned %d\"", call->ctx->name, rc);
    json_decref(result);
    call->owner = c->sink;
    c->pending = call;
    return DISPATCH_PENDING;
  }
  if (rc > 0) {
    log_msg(d->log, LOG_ERROR, "plugin_bad_return", "plugin=%s rc=%d", call->ctx->name, rc);
    json_decref(result);
    result = NULL;
    rc = -EIO;
  }
  resp = completion_response(d, call, rc == 0 ? result : (json_decref(result), NULL), rc, NULL);
  call_finish(call);
  session_unlink(call);
  call_unref(call);
  r->whole = resp;
  return DISPATCH_DONE;
}

/* A session may have only so many calls in flight (a batch can ask for
 * thousands). */
static int too_many_calls(req_ctx *c, reply *r) {
  unsigned limit = c->d->cfg->max_calls_per_session;
  if (c->s->n_calls < limit)
    return 0;
  fail(r, JSONRPC_INTERNAL_ERROR,
       "too many calls in flight in this session (limit %u); wait for some to finish", limit);
  return 1;
}

static mcpd_call *new_call(req_ctx *c, enum call_kind kind, mcpd_ctx *ctx, const char *name) {
  const json_t *meta = json_object_get(c->params, "_meta");
  const json_t *token = json_object_get(meta, "progressToken");
  mcpd_call *call = call_new(c->d->calls, kind, ctx);
  if (call == NULL)
    return NULL;
  plugin_ref(ctx);
  call->id = json_incref((json_t *)c->m->id);
  if (json_is_string(token) || json_is_integer(token))
    call->progress_token = json_incref((json_t *)token);
  call->version = version_of(c->s);
  call->name = strdup(name);
  session_link(call, c->s);
  return call;
}

static int m_tools_call(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const json_t *name = json_object_get(c->params, "name");
  const json_t *args = json_object_get(c->params, "arguments");
  reg_tool *tool;
  mcpd_call *call;
  json_t *result = NULL;
  char why[400];
  int rc;

  d->stats.tool_calls++;
  if (!json_is_string(name))
    return fail(r, JSONRPC_INVALID_PARAMS, "tools/call needs params.name, a string");
  tool = registry_tool(d->reg, json_string_value(name), json_string_length(name));
  if (tool == NULL)
    return fail(r, JSONRPC_INVALID_PARAMS, "Unknown tool: %s", json_string_value(name));
  if (args != NULL && json_is_null(args))
    args = NULL;
  if (args != NULL && !json_is_object(args))
    return fail(r, JSONRPC_INVALID_PARAMS, "tools/call params.arguments must be an object");
  if (too_many_calls(c, r))
    return DISPATCH_DONE;
  call = new_call(c, CALL_TOOL, tool->ctx, tool->name);
  if (call == NULL)
    return fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  call->args = args != NULL ? json_incref((json_t *)args) : json_object();
  if (call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  if (schema_validate(tool->input_schema, call->args, why, sizeof(why)) < 0) {
    call_claim_sync(call);
    call_finish(call);
    session_unlink(call);
    call_unref(call);
    return fail(r, JSONRPC_INVALID_PARAMS, "Invalid arguments for tool %s: %s", tool->name, why);
  }
  rc = tool->handler(call, call->args, tool->data, &result);
  return run_call(c, r, call, rc, result);
}

static int m_resources_read(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const json_t *uri = json_object_get(c->params, "uri");
  reg_resource *res;
  reg_template *tpl = NULL;
  json_t *vars = NULL, *result = NULL;
  mcpd_call *call;
  mcpd_ctx *ctx;
  mcpd_resource_fn handler;
  void *data;
  int rc;

  d->stats.resource_reads++;
  if (!json_is_string(uri))
    return fail(r, JSONRPC_INVALID_PARAMS, "resources/read needs params.uri, a string");
  res = registry_resource(d->reg, json_string_value(uri), json_string_length(uri));
  if (res != NULL) {
    ctx = res->ctx;
    handler = res->handler;
    data = res->data;
    vars = json_object();
  } else {
    tpl = registry_match_template(d->reg, json_string_value(uri), &vars);
    if (tpl == NULL) {
      fail(r, MCP_ERROR_RESOURCE_NOT_FOUND, "Resource not found: %s", json_string_value(uri));
      r->data = json_pack("{s:O}", "uri", (json_t *)uri);
      return DISPATCH_DONE;
    }
    ctx = tpl->ctx;
    handler = tpl->handler;
    data = tpl->data;
  }
  if (too_many_calls(c, r)) {
    json_decref(vars);
    return DISPATCH_DONE;
  }
  call = new_call(c, CALL_RESOURCE, ctx, json_string_value(uri));
  if (call == NULL) {
    json_decref(vars);
    return fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  }
  call->args = vars;
  call->uri = strdup(json_string_value(uri));
  if (call->uri == NULL || call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  rc = handler(call, call->uri, call->args, data, &result);
  return run_call(c, r, call, rc, result);
}

/* ---- notifications ------------------------------------------------------ */

static void n_initialized(req_ctx *c) {
  c->s->initialized = 1;
}

static void n_cancelled(req_ctx *c) {
  const json_t *id = json_object_get(c->params, "requestId");
  list_node *n;

  if (id == NULL)
    return;
  for (n = c->s->calls.next; n != &c->s->calls; n = n->next) {
    mcpd_call *call = list_entry(n, mcpd_call, s_link);
    if (json_equal(call->id, (json_t *)id)) {
      c->d->stats.cancellations++;
      /* The cancelled request gets no response. */
      if (call->owner != NULL) {
        mcp_sink *sink = call->owner;
        call->owner = NULL;
        sink->send(sink, NULL, 1);
      }
      call_cancel(call);
      return;
    }
  }
}

/* ---- the method table ---------------------------------------------------- */

typedef int (*method_fn)(req_ctx *c, reply *r);
typedef void (*notify_fn)(req_ctx *c);

static const struct {
  const char *name;
  method_fn fn;
} methods[] = {
    {"tools/call", m_tools_call},
    {"tools/list", m_tools_list},
    {"resources/read", m_resources_read},
    {"resources/list", m_resources_list},
    {"resources/templates/list", m_templates_list},
    {"ping", m_ping},
    {"initialize", m_initialize},
    {"logging/setLevel", m_set_level},
};

static const struct {
  const char *name;
  notify_fn fn;
} notifications[] = {
    {"notifications/initialized", n_initialized},
    {"notifications/cancelled", n_cancelled},
};

int dispatch_message(dispatch *d, session *s, const jsonrpc_msg *m, mcp_sink *sink,
                     json_t **response, mcpd_call **pending) {
  req_ctx c;
  reply r;
  size_t i;
  int rc;

  *response = NULL;
  *pending = NULL;
  memset(&c, 0, sizeof(c));
  c.d = d;
  c.s = s;
  c.m = m;
  c.sink = sink;
  c.params = json_is_object(m->params) ? m->params : NULL;

  if (m->kind == JSONRPC_RESPONSE)
    return DISPATCH_DONE; /* mcpd sends no requests to clients yet */
  if (m->kind == JSONRPC_INVALID) {
    d->stats.errors++;
    *response = jsonrpc_error(m->id, JSONRPC_INVALID_REQUEST, m->error_message, NULL);
    return DISPATCH_DONE;
  }
  if (m->kind == JSONRPC_NOTIFICATION) {
    d->stats.notifications++;
    for (i = 0; i < sizeof(notifications) / sizeof(notifications[0]); i++) {
      if (strcmp(m->method, notifications[i].name) == 0) {
        if (c.params != NULL || m->params == NULL)
          notifications[i].fn(&c);
        break;
      }
    }
    return DISPATCH_DONE; /* never answered, known or not */
  }

  d->stats.requests++;
  memset(&r, 0, sizeof(r));
  if (m->params != NULL && c.params == NULL) {
    fail(&r, JSONRPC_INVALID_PARAMS, "params must be an object");
    *response = finish_reply(d, m->id, &r);
    return DISPATCH_DONE;
  }
  for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    if (strcmp(m->method, methods[i].name) == 0)
      break;
  }
  if (i == sizeof(methods) / sizeof(methods[0])) {
    fail(&r, JSONRPC_METHOD_NOT_FOUND, "Method not found: %s", m->method);
    *response = finish_reply(d, m->id, &r);
    return DISPATCH_DONE;
  }
  rc = methods[i].fn(&c, &r);
  if (rc == DISPATCH_PENDING) {
    *pending = c.pending;
    return DISPATCH_PENDING;
  }
  if (r.whole != NULL) {
    *response = r.whole;
    return DISPATCH_DONE;
  }
  *response = finish_reply(d, m->id, &r);
  return DISPATCH_DONE;
}

void dispatch_abandon(dispatch *d, mcpd_call *call) {
  (void)d;
  call->owner = NULL;
  call_cancel(call);
}

void dispatch_session_closed(dispatch *d, session *s) {
  (void)d;
  while (!list_empty(&s->calls))
    session_unlink(list_entry(s->calls.next, mcpd_call, s_link));
}

/* ---- completions from the call engine ------------------------------------ */

static void on_done(mcpd_call *call, void *arg) {
  dispatch *d = arg;
  mcp_sink *sink = call->owner;
  json_t *resp;

  call->owner = NULL;
  if (sink != NULL) {
    resp = completion_response(d, call, call->result, call->err, call->err_msg);
    call->result = NULL;
    sink->send(sink, resp, 1);
    json_decref(resp);
  }
  session_unlink(call);
  call_unref(call); /* the dispatcher's reference */
}

static void on_progress(mcpd_call *call, double progress, double total, const char *message,
                        void *arg) {
  mcp_sink *sink = call->owner;
  json_t *params, *note;
  (void)arg;
  if (sink == NULL || call->progress_token == NULL)
    return;
  /* Progress must increase from one notification to the next. */
  if (call->progress_sent && progress <= call->last_progress)
    return;
  call->progress_sent = 1;
  call->last_progress = progress;
  params = json_pack("{s:O,s:o}", "progressToken", call->progress_token, "progress",
                     json_number(progress));
  if (params == NULL)
    return;
  if (total > 0)
    json_object_set_new(params, "total", json_number(total));
  if (message != NULL && call->version >= PROTO_2025_03_26)
    json_object_set_new(params, "message", json_string(message));
  note = jsonrpc_notification("notifications/progress", params);
  if (note != NULL) {
    sink->send(sink, note, 0);
    json_decref(note);
  }
}

static void on_log(mcpd_call *call, int level, const char *logger_name, json_t *data, void *arg) {
  mcp_sink *sink = call->owner;
  session *s = call->session;
  json_t *params, *note;
  (void)arg;
  if (sink == NULL || (s != NULL && level < s->log_level))
    return;
  params = json_pack("{s:s,s:O}", "level", mcp_levels[level], "data", data);
  if (params == NULL)
    return;
  if (logger_name != NULL)
    json_object_set_new(params, "logger", json_string(logger_name));
  note = jsonrpc_notification("notifications/message", params);
  if (note != NULL) {
    sink->send(sink, note, 0);
    json_decref(note);
  }
}

static void on_timeout(mcpd_call *call, void *arg) {
  dispatch *d = arg;
  mcp_sink *sink = call->owner;
  char msg[200], esc[200];
  unsigned ms = d->cfg->call_timeout_ms;

  d->stats.timeouts++;
  log_msg(d->log, LOG_WARN, "call_timeout", "plugin=%s call=%s after_ms=%u", call->ctx->name,
          log_escape(call->name, esc, sizeof(esc)), ms);
  call->owner = NULL;
  if (sink != NULL) {
    json_t *resp;
    snprintf(msg, sizeof(msg), "%s timed out after %u ms",
             call->kind == CALL_TOOL ? "The tool call" : "Reading the resource", ms);
    if (call->kind == CALL_TOOL) /* a failure the model can see and act on */
      resp = jsonrpc_result(call->id, mcpd_result_error(msg));
    else
      resp = jsonrpc_error(call->id, JSONRPC_INTERNAL_ERROR, msg, NULL);
    sink->send(sink, resp, 1);
    json_decref(resp);
  }
  call_cancel(call);
}

static void on_free(mcpd_call *call, void *arg) {
  (void)arg;
  plugin_unref(call->ctx);
}

int dispatch_init(dispatch *d, uv_loop_t *loop, registry *reg, call_engine *calls,
                  const config *cfg, const logger *lg) {
  static const call_handlers handlers = {
      .on_done = on_done,
      .on_progress = on_progress,
      .on_log = on_log,
      .on_timeout = on_timeout,
      .on_free = on_free,
  };
  memset(d, 0, sizeof(*d));
  d->reg = reg;
  d->calls = calls;
  d->cfg = cfg;
  d->log = lg;
  return call_engine_init(calls, loop, lg, &handlers, d);
}
