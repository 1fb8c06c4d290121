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

#define CURSOR_PREFIX         "mcpd1:"
#define MAX_COMPLETION_VALUES 100
#define MAX_SUBSCRIPTIONS     1000

static const char *const mcp_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};

/* What a method handler produces: a result (new ref), an error, or a
 * whole response message. */
typedef struct reply {
  json_t *whole;
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

/* A whole number as a JSON integer (clients show 3, not 3.0). */
static json_t *json_number(double v) {
  if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(json_int_t)v)
    return json_integer((json_int_t)v);
  return json_real(v);
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

/* A required string parameter, or a -32602 naming it. */
static const char *need_string(req_ctx *c, reply *r, const char *method, const char *field) {
  const json_t *v = json_object_get(c->params, field);
  if (!json_is_string(v)) {
    fail(r, JSONRPC_INVALID_PARAMS, "%s needs params.%s, a string", method, field);
    return NULL;
  }
  return json_string_value(v);
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
  capabilities =
      json_pack("{s:{s:b},s:{s:b,s:b},s:{s:b},s:{}}", "tools", "listChanged", 1, "resources",
                "subscribe", 1, "listChanged", 1, "prompts", "listChanged", 1, "logging");
  if (capabilities != NULL && version >= PROTO_2025_03_26)
    json_object_set_new(capabilities, "completions", json_object());
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
  fail(r, JSONRPC_INVALID_PARAMS, "invalid params.cursor: pass back a nextCursor from a listing");
  return -1;
}

static int list(req_ctx *c, reply *r, enum reg_kind kind, const char *key) {
  const reg_list *l = &c->d->reg->lists[kind];
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
    const json_t *item = registry_listing(l->items[i], version);
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
  return list(c, r, REG_TOOL, "tools");
}

static int m_resources_list(req_ctx *c, reply *r) {
  return list(c, r, REG_RESOURCE, "resources");
}

static int m_templates_list(req_ctx *c, reply *r) {
  return list(c, r, REG_TEMPLATE, "resourceTemplates");
}

static int m_prompts_list(req_ctx *c, reply *r) {
  return list(c, r, REG_PROMPT, "prompts");
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

static const char *kind_name(enum call_kind k) {
  switch (k) {
  case CALL_TOOL:
    return "tool";
  case CALL_RESOURCE:
    return "resource";
  case CALL_PROMPT:
    return "prompt";
  default:
    return "completion";
  }
}

/* Checks a plugin's result and fits it to the session's revision; steals
 * result. Returns the result to send, or NULL with r filled in. */
static json_t *check_result(dispatch *d, mcpd_call *call, json_t *result, reply *r) {
  static const char *const need[] = {"content", "contents", "messages", "values"};
  const char *want = need[call->kind];
  char esc[200];
  json_t *values;

  if (!json_is_object(result) || !json_is_array(json_object_get(result, want))) {
    log_msg(d->log, LOG_ERROR, "plugin_bad_result",
            "plugin=%s %s=%s reason=\"result is not an object with a %s array\"", call->ctx->name,
            kind_name(call->kind), log_escape(call->name, esc, sizeof(esc)), want);
    json_decref(result);
    fail(r, JSONRPC_INTERNAL_ERROR, "the plugin returned a malformed result");
    return NULL;
  }
  switch (call->kind) {
  case CALL_TOOL:
    /* structuredContent arrived in 2025-06-18. */
    if (call->version < PROTO_2025_06_18)
      json_object_del(result, "structuredContent");
    return result;
  case CALL_COMPLETE:
    /* At most 100 values; more are cut and flagged. */
    values = json_object_get(result, "values");
    if (json_array_size(values) > MAX_COMPLETION_VALUES) {
      while (json_array_size(values) > MAX_COMPLETION_VALUES)
        json_array_remove(values, MAX_COMPLETION_VALUES);
      json_object_set_new(result, "hasMore", json_true());
    }
    return json_pack("{s:o}", "completion", result);
  default:
    return result;
  }
}

/* Counts an answered call: its method's outcome and, for a tool, its
 * latency. */
static void count_answer(dispatch *d, const mcpd_call *call, const json_t *resp) {
  static const char *const method[] = {"tools/call", "resources/read", "prompts/get",
                                       "completion/complete"};
  const json_t *result = json_object_get(resp, "result");
  int error = resp == NULL || json_object_get(resp, "error") != NULL;
  if (d->metrics == NULL)
    return;
  metrics_rpc(d->metrics, method[call->kind], error);
  if (call->kind == CALL_TOOL)
    metrics_tool_call(d->metrics, call->name, (double)(uv_hrtime() - call->started_ns) / 1e9,
                      error || json_is_true(json_object_get(result, "isError")));
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

/* Sorts out a handler's return: synchronous, asynchronous or error. */
static int run_call(req_ctx *c, reply *r, mcpd_call *call, int rc, json_t *result) {
  c->d->running = NULL; /* the handler has returned */
  dispatch *d = c->d;

  if (rc == MCPD_PENDING) {
    json_decref(result);
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
    c->pending = call;
    return DISPATCH_PENDING;
  }
  call->owner = NULL; /* the response goes back through the return value */
  if (rc > 0) {
    log_msg(d->log, LOG_ERROR, "plugin_bad_return", "plugin=%s rc=%d", call->ctx->name, rc);
    rc = -EIO;
  }
  if (rc != 0) {
    json_decref(result);
    result = NULL;
  }
  r->whole = completion_response(d, call, result, rc, NULL);
  count_answer(d, call, r->whole);
  call_finish(call);
  session_unlink(call);
  call_unref(call);
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

/* A call for ctx, linked to the session, holding args (stolen). NULL when
 * out of memory (args released). */
static mcpd_call *new_call(req_ctx *c, enum call_kind kind, mcpd_ctx *ctx, const char *name,
                           json_t *args) {
  const json_t *meta = json_object_get(c->params, "_meta");
  const json_t *token = json_object_get(meta, "progressToken");
  mcpd_call *call = call_new(c->d->calls, kind, ctx);
  if (call == NULL) {
    json_decref(args);
    return NULL;
  }
  plugin_ref(ctx);
  /* From the start: a handler may send to the client (a request) before it
   * returns. */
  call->owner = c->sink;
  call->id = json_incref((json_t *)c->m->id);
  if (json_is_string(token) || json_is_integer(token))
    call->progress_token = json_incref((json_t *)token);
  call->version = version_of(c->s);
  call->name = strdup(name);
  call->args = args;
  session_link(call, c->s);
  c->d->running = call; /* its handler runs next, until run_call() */
  return call;
}

static int m_tools_call(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const char *name = need_string(c, r, "tools/call", "name");
  const json_t *args = json_object_get(c->params, "arguments");
  reg_tool *tool;
  mcpd_call *call;
  json_t *result = NULL;
  char why[400];
  int rc;

  d->stats.tool_calls++;
  if (name == NULL)
    return DISPATCH_DONE;
  tool = (reg_tool *)registry_get(d->reg, REG_TOOL, name, strlen(name));
  if (tool == NULL)
    return fail(r, JSONRPC_INVALID_PARAMS, "Unknown tool: %s", name);
  if (args != NULL && json_is_null(args))
    args = NULL;
  if (args != NULL && !json_is_object(args))
    return fail(r, JSONRPC_INVALID_PARAMS, "tools/call params.arguments must be an object");
  if (schema_validate(tool->input_schema, args ? args : d->empty, why, sizeof(why)) < 0)
    return fail(r, JSONRPC_INVALID_PARAMS, "Invalid arguments for tool %s: %s", tool->e.key, why);
  if (too_many_calls(c, r))
    return DISPATCH_DONE;
  call = new_call(c, CALL_TOOL, tool->e.ctx, tool->e.key,
                  args ? json_incref((json_t *)args) : json_object());
  if (call == NULL)
    return fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  if (call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  rc = tool->handler(call, call->args, tool->data, &result);
  return run_call(c, r, call, rc, result);
}

static int m_resources_read(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const char *uri = need_string(c, r, "resources/read", "uri");
  reg_resource *res;
  reg_template *tpl;
  json_t *vars = NULL, *result = NULL;
  mcpd_call *call;
  mcpd_ctx *ctx;
  mcpd_resource_fn handler;
  void *data;
  int rc;

  d->stats.resource_reads++;
  if (uri == NULL)
    return DISPATCH_DONE;
  res = (reg_resource *)registry_get(d->reg, REG_RESOURCE, uri, strlen(uri));
  if (res != NULL) {
    ctx = res->e.ctx;
    handler = res->handler;
    data = res->data;
    vars = json_object();
  } else {
    tpl = registry_match_template(d->reg, uri, &vars);
    if (tpl == NULL) {
      fail(r, MCP_ERROR_RESOURCE_NOT_FOUND, "Resource not found: %s", uri);
      r->data = json_pack("{s:s}", "uri", uri);
      return DISPATCH_DONE;
    }
    ctx = tpl->e.ctx;
    handler = tpl->handler;
    data = tpl->data;
  }
  if (too_many_calls(c, r)) {
    json_decref(vars);
    return DISPATCH_DONE;
  }
  call = new_call(c, CALL_RESOURCE, ctx, uri, vars);
  if (call == NULL)
    return fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  call->uri = strdup(uri);
  if (call->uri == NULL || call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  rc = handler(call, call->uri, call->args, data, &result);
  return run_call(c, r, call, rc, result);
}

/* Checks prompt arguments against the prompt's declared ones. */
static int check_prompt_args(const reg_prompt *p, const json_t *args, reply *r) {
  const char *key;
  const json_t *v;
  size_t i;

  json_object_foreach((json_t *)args, key, v) {
    int known = 0;
    for (i = 0; i < json_array_size(p->arguments) && !known; i++)
      known =
          strcmp(key,
                 json_string_value(json_object_get(json_array_get(p->arguments, i), "name"))) == 0;
    if (!known) {
      fail(r, JSONRPC_INVALID_PARAMS, "prompt %s has no argument \"%s\"", p->e.key, key);
      return -1;
    }
    if (!json_is_string(v)) {
      fail(r, JSONRPC_INVALID_PARAMS, "prompts/get params.arguments.%s must be a string", key);
      return -1;
    }
  }
  for (i = 0; i < json_array_size(p->arguments); i++) {
    const json_t *a = json_array_get(p->arguments, i);
    const char *name = json_string_value(json_object_get(a, "name"));
    if (json_is_true(json_object_get(a, "required")) && json_object_get(args, name) == NULL) {
      fail(r, JSONRPC_INVALID_PARAMS, "prompt %s needs the argument \"%s\"", p->e.key, name);
      return -1;
    }
  }
  return 0;
}

static int m_prompts_get(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const char *name = need_string(c, r, "prompts/get", "name");
  const json_t *args = json_object_get(c->params, "arguments");
  reg_prompt *p;
  mcpd_call *call;
  json_t *result = NULL;
  int rc;

  d->stats.prompt_gets++;
  if (name == NULL)
    return DISPATCH_DONE;
  p = (reg_prompt *)registry_get(d->reg, REG_PROMPT, name, strlen(name));
  if (p == NULL)
    return fail(r, JSONRPC_INVALID_PARAMS, "Unknown prompt: %s", name);
  if (args != NULL && json_is_null(args))
    args = NULL;
  if (args != NULL && !json_is_object(args))
    return fail(r, JSONRPC_INVALID_PARAMS, "prompts/get params.arguments must be an object");
  if (check_prompt_args(p, args ? args : d->empty, r) < 0 || too_many_calls(c, r))
    return DISPATCH_DONE;
  call = new_call(c, CALL_PROMPT, p->e.ctx, p->e.key,
                  args ? json_incref((json_t *)args) : json_object());
  if (call == NULL)
    return fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  if (call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  rc = p->handler(call, call->args, p->data, &result);
  return run_call(c, r, call, rc, result);
}

static int m_complete(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const json_t *ref = json_object_get(c->params, "ref");
  const json_t *arg = json_object_get(c->params, "argument");
  const json_t *type = json_object_get(ref, "type");
  const json_t *name = json_object_get(arg, "name"), *value = json_object_get(arg, "value");
  const json_t *ctx_args = json_object_get(json_object_get(c->params, "context"), "arguments");
  const char *key = NULL;
  mcpd_complete_fn complete = NULL;
  void *data = NULL;
  mcpd_ctx *owner;
  mcpd_call *call;
  json_t *result = NULL;
  int rc;

  d->stats.completions++;
  if (!json_is_object(ref) || !json_is_string(type))
    return fail(r, JSONRPC_INVALID_PARAMS,
                "completion/complete needs params.ref with a type (\"ref/prompt\" or "
                "\"ref/resource\")");
  if (!json_is_string(name) || !json_is_string(value))
    return fail(r, JSONRPC_INVALID_PARAMS,
                "completion/complete needs params.argument with a name and a value (strings)");
  if (ctx_args != NULL && !json_is_object(ctx_args))
    return fail(r, JSONRPC_INVALID_PARAMS,
                "completion/complete params.context.arguments must be an object");
  if (strcmp(json_string_value(type), "ref/prompt") == 0) {
    const reg_prompt *p;
    key = json_string_value(json_object_get(ref, "name"));
    if (key == NULL)
      return fail(r, JSONRPC_INVALID_PARAMS, "params.ref.name must be a string");
    p = (const reg_prompt *)registry_get(d->reg, REG_PROMPT, key, strlen(key));
    if (p == NULL)
      return fail(r, JSONRPC_INVALID_PARAMS, "Unknown prompt: %s", key);
    complete = p->complete, data = p->complete_data, owner = p->e.ctx;
  } else if (strcmp(json_string_value(type), "ref/resource") == 0) {
    const reg_template *t;
    key = json_string_value(json_object_get(ref, "uri"));
    if (key == NULL)
      return fail(r, JSONRPC_INVALID_PARAMS, "params.ref.uri must be a string");
    t = (const reg_template *)registry_get(d->reg, REG_TEMPLATE, key, strlen(key));
    if (t == NULL)
      return fail(r, JSONRPC_INVALID_PARAMS, "Unknown resource template: %s", key);
    complete = t->complete, data = t->complete_data, owner = t->e.ctx;
  } else {
    return fail(r, JSONRPC_INVALID_PARAMS,
                "params.ref.type \"%s\" is not ref/prompt or ref/resource",
                json_string_value(type));
  }
  if (complete == NULL) {
    /* Nothing to suggest is an answer, not an error. */
    r->result = json_pack("{s:{s:[],s:b}}", "completion", "values", "hasMore", 0);
    return DISPATCH_DONE;
  }
  if (too_many_calls(c, r))
    return DISPATCH_DONE;
  call = new_call(c, CALL_COMPLETE, owner, key,
                  ctx_args ? json_incref((json_t *)ctx_args) : json_object());
  if (call == NULL)
    return fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  if (call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  /* The handler sets result: call it before reading result. */
  rc = complete(call, json_string_value(name), json_string_value(value), call->args, data, &result);
  return run_call(c, r, call, rc, result);
}

/* ---- subscriptions ------------------------------------------------------- */

static int m_subscribe(req_ctx *c, reply *r) {
  const char *uri = need_string(c, r, "resources/subscribe", "uri");
  json_t *vars = NULL;
  if (uri == NULL)
    return DISPATCH_DONE;
  if (registry_get(c->d->reg, REG_RESOURCE, uri, strlen(uri)) == NULL &&
      registry_match_template(c->d->reg, uri, &vars) == NULL) {
    fail(r, MCP_ERROR_RESOURCE_NOT_FOUND, "Resource not found: %s", uri);
    r->data = json_pack("{s:s}", "uri", uri);
    return DISPATCH_DONE;
  }
  json_decref(vars);
  if (json_object_get(c->s->subscriptions, uri) == NULL &&
      json_object_size(c->s->subscriptions) >= MAX_SUBSCRIPTIONS)
    return fail(r, JSONRPC_INVALID_PARAMS, "too many subscriptions in this session (limit %d)",
                MAX_SUBSCRIPTIONS);
  json_object_set_new(c->s->subscriptions, uri, json_true());
  r->result = json_object();
  return DISPATCH_DONE;
}

static int m_unsubscribe(req_ctx *c, reply *r) {
  const char *uri = need_string(c, r, "resources/unsubscribe", "uri");
  if (uri == NULL)
    return DISPATCH_DONE;
  json_object_del(c->s->subscriptions, uri); /* not subscribed is fine */
  r->result = json_object();
  return DISPATCH_DONE;
}

/* ---- requests to the client ------------------------------------------------ */

/* One request mcpd sent to a client on behalf of a call. */
typedef struct client_req {
  list_node link;   /* in dispatch.requests */
  list_node s_link; /* in session.requests */
  session *s;
  mcpd_call *call; /* holds a reference */
  json_t *id;
  uint64_t deadline;
  mcpd_response_fn cb;
  void *arg;
} client_req;

static dispatch *dispatch_of(const mcpd_call *call) {
  return call->eng->arg;
}

/* Answers a request (status, result borrowed) and forgets it. */
static void client_req_finish(client_req *q, int status, const json_t *result) {
  mcpd_call *call = q->call;
  list_remove(&q->link);
  list_remove(&q->s_link);
  q->cb(call, status, result, q->arg);
  json_decref(q->id);
  free(q);
  call_unref(call);
}

static void req_timer_cb(uv_timer_t *t) {
  dispatch *d = t->data;
  uint64_t now = uv_now(t->loop);
  list_node *n, *tmp;
  list_foreach_safe(n, tmp, &d->requests) {
    client_req *q = list_entry(n, client_req, link);
    if (q->deadline <= now) {
      d->stats.client_request_timeouts++;
      log_msg(d->log, LOG_WARN, "client_request_timeout", "plugin=%s session=%s",
              q->call->ctx->name, q->s->id);
      client_req_finish(q, -ETIMEDOUT, NULL);
      /* The callback may answer or send others: start over. */
      tmp = d->requests.next;
    }
  }
  if (list_empty(&d->requests))
    uv_timer_stop(t);
}

/* Which client capability a method needs; NULL for none. */
static const char *capability_for(const char *method) {
  if (strcmp(method, "sampling/createMessage") == 0)
    return "sampling";
  if (strcmp(method, "elicitation/create") == 0)
    return "elicitation";
  if (strcmp(method, "roots/list") == 0)
    return "roots";
  return NULL;
}

int dispatch_client_request(mcpd_call *call, const char *method, json_t *params,
                            unsigned timeout_ms, mcpd_response_fn cb, void *arg) {
  dispatch *d;
  session *s;
  mcp_sink *sink;
  const char *cap;
  client_req *q;
  json_t *msg;
  char id[48];
  int r;

  if (call == NULL || call->magic != CALL_MAGIC || method == NULL || cb == NULL) {
    json_decref(params);
    return -EINVAL;
  }
  d = dispatch_of(call);
  s = call->session;
  sink = call->owner;
  if (call->finished || atomic_load(&call->completed)) {
    json_decref(params);
    return -EALREADY;
  }
  if (atomic_load(&call->cancelled)) {
    /* A plugin that asks again from its -ECANCELED callback must not keep
     * the cancellation going round. */
    json_decref(params);
    return -ECANCELED;
  }
  if (strcmp(method, "ping") != 0 && capability_for(method) == NULL) {
    json_decref(params);
    return -EINVAL;
  }
  cap = capability_for(method);
  if (s == NULL || sink == NULL ||
      (cap != NULL && json_object_get(s->client_capabilities, cap) == NULL)) {
    /* Offer only what the client declared; and with no way back, nothing. */
    json_decref(params);
    return s == NULL || sink == NULL ? -ECANCELED : -ENOTSUP;
  }
  q = calloc(1, sizeof(*q));
  if (q == NULL) {
    json_decref(params);
    return -ENOMEM;
  }
  snprintf(id, sizeof(id), "mcpd-%llu", (unsigned long long)++s->next_request_id);
  q->id = json_string(id);
  msg = json_pack("{s:s,s:O,s:s}", "jsonrpc", "2.0", "id", q->id, "method", method);
  if (q->id == NULL || msg == NULL) {
    json_decref(q->id);
    json_decref(msg);
    json_decref(params);
    free(q);
    return -ENOMEM;
  }
  if (params != NULL)
    json_object_set_new(msg, "params", params);
  q->s = s;
  q->call = call;
  q->cb = cb;
  q->arg = arg;
  q->deadline = uv_now(d->req_timer.loop) + (timeout_ms ? timeout_ms : d->cfg->client_request_ms);
  atomic_fetch_add(&call->refs, 1);
  list_insert_tail(&d->requests, &q->link);
  list_insert_tail(&s->requests, &q->s_link);
  if (!uv_is_active((uv_handle_t *)&d->req_timer)) {
    uv_timer_start(&d->req_timer, req_timer_cb, 50, 50);
    uv_unref((uv_handle_t *)&d->req_timer);
  }
  /* It travels with the call's other messages (an SSE response stream). */
  r = sink->send(sink, s, msg, 0);
  json_decref(msg);
  if (r < 0) {
    /* No way to the client (a plain JSON response): say so now rather
     * than at the timeout. The callback is not called. */
    list_remove(&q->link);
    list_remove(&q->s_link);
    json_decref(q->id);
    free(q);
    call_unref(call);
    return r;
  }
  d->stats.client_requests++;
  return 0;
}

const char *dispatch_call_header(const mcpd_call *call, const char *name) {
  const dispatch *d;
  if (call == NULL || call->magic != CALL_MAGIC || name == NULL)
    return NULL;
  d = dispatch_of(call);
  if (d->running != call || d->header_fn == NULL || d->header_req == NULL)
    return NULL;
  return d->header_fn(d->header_req, name);
}

const json_t *dispatch_client_capabilities(const mcpd_call *call) {
  const session *s;
  if (call == NULL || call->magic != CALL_MAGIC)
    return NULL;
  s = call->session;
  return s != NULL && s->client_capabilities != NULL ? s->client_capabilities
                                                     : dispatch_of(call)->empty;
}

/* A client's answer to one of our requests. */
static void client_response(dispatch *d, session *s, const jsonrpc_msg *m) {
  list_node *n;
  for (n = s->requests.next; n != &s->requests; n = n->next) {
    client_req *q = list_entry(n, client_req, s_link);
    if (json_equal(q->id, (json_t *)m->id)) {
      const json_t *error = json_object_get(m->root, "error");
      if (error != NULL)
        client_req_finish(q, -EPROTO, error);
      else
        client_req_finish(q, 0, json_object_get(m->root, "result"));
      return;
    }
  }
  d->stats.client_responses_ignored++;
  log_msg(d->log, LOG_INFO, "client_response_ignored",
          "session=%s reason=\"no request of ours has this id\"", s->id);
}

/* Answers -ECANCELED to the requests of a call (it was cancelled) or of a
 * session (it is going away). */
static void cancel_requests(dispatch *d, const mcpd_call *call, session *s) {
  list_node doomed, *n, *tmp;
  /* Collect first: a callback may send new requests, which must not be
   * cancelled by this same pass (or it would never end). */
  list_init(&doomed);
  list_foreach_safe(n, tmp, &d->requests) {
    client_req *q = list_entry(n, client_req, link);
    if ((call != NULL && q->call == call) || (s != NULL && q->s == s)) {
      list_remove(&q->link);
      list_insert_tail(&doomed, &q->link);
    }
  }
  while (!list_empty(&doomed))
    client_req_finish(list_entry(doomed.next, client_req, link), -ECANCELED, NULL);
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
        sink->send(sink, c->s, NULL, 1);
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
    {"resources/subscribe", m_subscribe},
    {"resources/unsubscribe", m_unsubscribe},
    {"prompts/list", m_prompts_list},
    {"prompts/get", m_prompts_get},
    {"completion/complete", m_complete},
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

  if (m->kind == JSONRPC_RESPONSE) {
    client_response(d, s, m);
    return DISPATCH_DONE;
  }
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
    if (d->metrics != NULL)
      metrics_rpc(d->metrics, m->method, 1);
    return DISPATCH_DONE;
  }
  for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    if (strcmp(m->method, methods[i].name) == 0)
      break;
  }
  if (i == sizeof(methods) / sizeof(methods[0])) {
    fail(&r, JSONRPC_METHOD_NOT_FOUND, "Method not found: %s", m->method);
    *response = finish_reply(d, m->id, &r);
    if (d->metrics != NULL)
      metrics_rpc(d->metrics, m->method, 1);
    return DISPATCH_DONE;
  }
  rc = methods[i].fn(&c, &r);
  if (rc == DISPATCH_PENDING) {
    *pending = c.pending;
    return DISPATCH_PENDING;
  }
  if (r.whole != NULL) {
    *response = r.whole; /* a call: counted where it was answered */
    return DISPATCH_DONE;
  }
  *response = finish_reply(d, m->id, &r);
  if (d->metrics != NULL)
    metrics_rpc(d->metrics, m->method, r.code != 0 || *response == NULL);
  return DISPATCH_DONE;
}

void dispatch_abandon(dispatch *d, mcpd_call *call) {
  (void)d;
  call->owner = NULL;
  call_cancel(call);
}

void dispatch_session_closed(dispatch *d, session *s) {
  /* Unlink first: a callback that asks again then finds no session. */
  while (!list_empty(&s->calls))
    session_unlink(list_entry(s->calls.next, mcpd_call, s_link));
  cancel_requests(d, NULL, s);
}

void dispatch_notify_all(dispatch *d, const char *method) {
  json_t *note = jsonrpc_notification(method, NULL);
  list_node *n, *tmp;
  if (note == NULL)
    return;
  list_foreach_safe(n, tmp, &d->sessions->lru) {
    session *s = list_entry(n, session, lru);
    if (s->out != NULL)
      s->out->send(s->out, s, note, 0);
  }
  json_decref(note);
}

void dispatch_close(dispatch *d) {
  json_decref(d->empty);
  d->empty = NULL;
  if (!uv_is_closing((uv_handle_t *)&d->req_timer))
    uv_close((uv_handle_t *)&d->req_timer, NULL);
}

/* ---- events from the call engine ------------------------------------------ */

static void on_done(mcpd_call *call, void *arg) {
  dispatch *d = arg;
  mcp_sink *sink = call->owner;
  json_t *resp;

  call->owner = NULL;
  if (sink != NULL) {
    resp = completion_response(d, call, call->result, call->err, call->err_msg);
    call->result = NULL;
    count_answer(d, call, resp);
    sink->send(sink, call->session, resp, 1);
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
    sink->send(sink, call->session, note, 0);
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
    sink->send(sink, call->session, note, 0);
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
    snprintf(msg, sizeof(msg), "The %s call timed out after %u ms", kind_name(call->kind), ms);
    if (call->kind == CALL_TOOL) /* a failure the model can see and act on */
      resp = jsonrpc_result(call->id, mcpd_result_error(msg));
    else
      resp = jsonrpc_error(call->id, JSONRPC_INTERNAL_ERROR, msg, NULL);
    count_answer(d, call, resp);
    sink->send(sink, call->session, resp, 1);
    json_decref(resp);
  }
  call_cancel(call);
}

static void on_cancel(mcpd_call *call, void *arg) {
  cancel_requests(arg, call, NULL);
}

/* A plugin's resource changed: tell the sessions subscribed to it. */
static void on_resource_updated(const char *uri, void *arg) {
  dispatch *d = arg;
  list_node *n, *tmp;
  json_t *note =
      jsonrpc_notification("notifications/resources/updated", json_pack("{s:s}", "uri", uri));
  if (note == NULL)
    return;
  list_foreach_safe(n, tmp, &d->sessions->lru) {
    session *s = list_entry(n, session, lru);
    if (s->out != NULL && json_object_get(s->subscriptions, uri) != NULL)
      s->out->send(s->out, s, note, 0);
  }
  json_decref(note);
}

static void on_free(mcpd_call *call, void *arg) {
  (void)arg;
  plugin_unref(call->ctx);
}

int dispatch_init(dispatch *d, uv_loop_t *loop, registry *reg, call_engine *calls,
                  session_table *sessions, const config *cfg, const logger *lg) {
  static const call_handlers handlers = {
      .on_done = on_done,
      .on_progress = on_progress,
      .on_log = on_log,
      .on_timeout = on_timeout,
      .on_cancel = on_cancel,
      .on_resource_updated = on_resource_updated,
      .on_free = on_free,
  };
  memset(d, 0, sizeof(*d));
  d->reg = reg;
  d->calls = calls;
  d->sessions = sessions;
  d->cfg = cfg;
  d->log = lg;
  d->empty = json_object();
  list_init(&d->requests);
  uv_timer_init(loop, &d->req_timer);
  d->req_timer.data = d;
  if (d->empty == NULL)
    return -ENOMEM;
  return call_engine_init(calls, loop, lg, &handlers, d);
}
