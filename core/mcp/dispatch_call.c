/* dispatch_call.c -- requests handed to plugins (tools/call,
 * resources/read, prompts/get, completion/complete): making the call,
 * checking what the plugin returns, and turning the call engine's events
 * (completion, progress, log, timeout, cancellation) into messages. */
#include "mcp/dispatch_internal.h"

#include "lib/principal.h"
#include "mcp/authz.h"
#include "mcp/modern.h"

#include "lib/crash.h"

#include "lib/error.h"
#include "lib/schema.h"
#include "lib/version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- plugin calls ------------------------------------------------------- */

void dispatch_session_link(mcpd_call *call, session *s) {
  call->session = s;
  list_insert_tail(&s->calls, &call->s_link);
  s->holds++;
  s->n_calls++;
}

void dispatch_session_unlink(mcpd_call *call) {
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
    log_msg(d->log, LOGLVL_ERROR, "plugin_bad_result",
            "plugin=%s %s=%s reason=\"result is not an object with a %s array\"",
            call_plugin_name(call), kind_name(call->kind), log_escape(call->name, esc, sizeof(esc)),
            want);
    json_decref(result);
    dispatch_fail(r, JSONRPC_INTERNAL_ERROR, "the plugin returned a malformed result");
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
  const json_t *result = json_object_get(resp, "result");
  int error = resp == NULL || json_object_get(resp, "error") != NULL;
  if (d->metrics == NULL)
    return;
  metrics_rpc(d->metrics, call_method_of(call), error);
  if (call->kind == CALL_TOOL)
    metrics_tool_call(d->metrics, call->name, (double)(uv_hrtime() - call->started_ns) / 1e9,
                      error || json_is_true(json_object_get(result, "isError")));
}

/* Turns a plugin's completion (result or error) into a response. Steals
 * result. */
static json_t *completion_response(dispatch *d, mcpd_call *call, json_t *result, int err,
                                   const char *msg) {
  json_t *resp;
  reply r;
  memset(&r, 0, sizeof(r));
  if (err == 0 && result != NULL) {
    r.result = check_result(d, call, result, &r);
  } else if (err == 0) {
    log_msg(d->log, LOGLVL_ERROR, "plugin_bad_result", "plugin=%s reason=\"no result\"",
            call_plugin_name(call));
    dispatch_fail(&r, JSONRPC_INTERNAL_ERROR, "the plugin returned no result");
  } else if (err == -ENOENT && call->kind == CALL_RESOURCE) {
    /* -32002 is the legacy era's; 2026-07-28 (SEP-2164) says invalid
     * params, with the URI. */
    dispatch_fail(
        &r, PROTO_IS_MODERN(call->version) ? JSONRPC_INVALID_PARAMS : MCP_ERROR_RESOURCE_NOT_FOUND,
        "Resource not found: %s", msg ? msg : call->uri);
    r.data = json_pack("{s:s}", "uri", call->uri);
  } else if (err == -EINVAL) {
    dispatch_fail(&r, JSONRPC_INVALID_PARAMS, "%s", msg ? msg : "invalid params");
  } else {
    dispatch_fail(&r, JSONRPC_INTERNAL_ERROR, "%s", msg ? msg : error_strerror(err));
  }
  if (call->kind == CALL_TOOL &&
      (r.code != 0 || json_is_true(json_object_get(r.result, "isError"))))
    d->stats.tool_errors++;
  if (call->mrtr_needs != NULL) {
    /* It asked for what the client did not declare: the client must send
     * the capability (2026-07-28), whatever the plugin made of the refusal. */
    json_decref(r.result);
    json_decref(r.data);
    memset(&r, 0, sizeof(r));
    dispatch_fail(&r, MODERN_ERROR_MISSING_CAPABILITY, "Missing required client capability: %s",
                  call->mrtr_needs);
    r.data = json_pack("{s:{s:{}}}", "requiredCapabilities", call->mrtr_needs);
  }
  /* What the resource's plugin says a read may be reused for, unless the
   * result says it itself. */
  if (call->kind == CALL_RESOURCE && r.code == 0 && r.result != NULL && call->cache_ttl_ms > 0 &&
      PROTO_IS_MODERN(call->version) && json_object_get(r.result, "ttlMs") == NULL)
    json_object_set_new(r.result, "ttlMs", json_integer(call->cache_ttl_ms));
  resp = dispatch_finish_reply(d, call->id, &r);
  dispatch_modern_result(d, call->version, call_method_of(call), resp);
  return resp;
}

/* Sorts out a handler's return: synchronous, asynchronous or error. */
static int run_call(req_ctx *c, reply *r, mcpd_call *call, int rc, json_t *result) {
  c->d->running = NULL; /* the handler has returned */
  dispatch *d = c->d;

  if (rc == MCPD_PENDING) {
    json_decref(result);
    call_set_deadline(call, d->cfg->call_timeout_ms);
    /* A call that may run as a task becomes one once nothing is left to
     * settle with the client first (questions asked before the handler
     * returned are answered by input_required rounds). */
    if (call->task_ok && call->mrtr_needs == NULL && json_object_size(call->mrtr_asks) == 0 &&
        dispatch_task_adopt(d, c->s, call, &r->whole) == 0)
      return DISPATCH_DONE; /* counted when the call completes */
    c->pending = call;
    return DISPATCH_PENDING;
  }
  if (!call_claim_sync(call)) {
    /* complete() ran inside the handler, which then returned anyway: the
     * queued completion wins. */
    log_msg(d->log, LOGLVL_WARN, "plugin_double_completion",
            "plugin=%s reason=\"handler completed the call and returned %d\"",
            call_plugin_name(call), rc);
    json_decref(result);
    c->pending = call;
    return DISPATCH_PENDING;
  }
  call->owner = NULL; /* the response goes back through the return value */
  if (rc > 0) {
    log_msg(d->log, LOGLVL_ERROR, "plugin_bad_return", "plugin=%s rc=%d", call_plugin_name(call),
            rc);
    rc = -EIO;
  }
  if (rc != 0) {
    json_decref(result);
    result = NULL;
  }
  r->whole = completion_response(d, call, result, rc, NULL);
  count_answer(d, call, r->whole);
  call_finish(call);
  dispatch_session_unlink(call);
  call_unref(call);
  return DISPATCH_DONE;
}

/* A session may have only so many calls in flight (a batch can ask for
 * thousands). */
static int too_many_calls(req_ctx *c, reply *r) {
  unsigned limit = c->d->cfg->max_calls_per_session;
  if (c->s->n_calls < limit)
    return 0;
  dispatch_fail(r, JSONRPC_INTERNAL_ERROR,
                "too many calls in flight in this session (limit %u); wait for some to finish",
                limit);
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
  /* From the start: a handler may send to the client (a request) before it
   * returns. */
  call->owner = c->sink;
  call->id = json_incref((json_t *)c->m->id);
  if (json_is_string(token) || json_is_integer(token))
    call->progress_token = json_incref((json_t *)token);
  call->version = dispatch_version_of(c->s);
  call->name = strdup(name);
  call->args = args;
  call->principal = principal_ref(c->d->principal);
  dispatch_session_link(call, c->s);
  c->d->running = call; /* its handler runs next, until run_call() */
  return call;
}

/* The answers a 2026-07-28 retry brings: the requestState's (checked: it
 * must be ours, unexpired, for this method, name and caller) and the new
 * inputResponses. 0 with *answers (new ref, or NULL outside that era), or
 * -1 with r set. */
static int mrtr_prepare(req_ctx *c, reply *r, const char *name, json_t **answers) {
  const json_t *state = json_object_get(c->params, "requestState");
  const json_t *responses = json_object_get(c->params, "inputResponses");
  const principal *p = c->d->principal;
  int rc;
  *answers = NULL;
  if (!PROTO_IS_MODERN(dispatch_version_of(c->s)))
    return 0;
  if ((state != NULL && !json_is_string(state)) ||
      (responses != NULL && !json_is_object(responses))) {
    dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                  "Invalid params: requestState must be a string and inputResponses an object");
    return -1;
  }
  if (state != NULL) {
    rc = modern_state_open(c->d->state_key, json_string_value(state), c->m->method, name,
                           p ? p->key : NULL, (long long)time(NULL), answers);
    if (rc < 0) {
      dispatch_fail(r, JSONRPC_INVALID_PARAMS, "Invalid params: requestState %s",
                    rc == -ETIMEDOUT ? "has expired: call again without it"
                    : rc == -EPERM   ? "belongs to another request"
                                     : "failed its integrity check");
      return -1;
    }
  } else if ((*answers = json_object()) == NULL) {
    dispatch_fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
    return -1;
  }
  if (responses != NULL)
    json_object_update(*answers, (json_t *)responses);
  return 0;
}

/* Whether the caller lacks the scopes entry e needs (then r is the error).
 * The transports check first, to answer 403 with the scope; this is the
 * check that holds whatever the transport (a batch sliced across a reload,
 * stdio with a principal). */
static int forbidden(req_ctx *c, reply *r, const reg_entry *e, const char *key,
                     const char *method) {
  const char *required = c->d->cfg->auth ? c->d->cfg->auth->scopes_required : "";
  char need[256];
  size_t rl = strlen(required);
  if (e == NULL || c->d->principal == NULL ||
      authz_allows(c->d->cfg->auth, c->d->principal, e, key, need, sizeof(need)))
    return 0;
  dispatch_fail(r, MCP_ERROR_FORBIDDEN, "Forbidden: %s %s needs scope %s", method, key,
                rl > 0 && strncmp(need, required, rl) == 0 && need[rl] == ' ' ? need + rl + 1
                                                                              : need);
  return 1;
}

/* Marks the plugin handler about to run on the loop thread, for the line
 * a crash inside it writes (lib/crash.h). */
static void scope_enter(crash_scope *s, const mcpd_call *call, const char *kind) {
  s->plugin = call_plugin_name(call);
  s->version = call_plugin_version(call);
  s->kind = kind;
  s->name = call->name;
  crash_enter(s);
}

int dispatch_tools_call(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const char *name = dispatch_need_string(c, r, "tools/call", "name");
  const json_t *args = json_object_get(c->params, "arguments");
  reg_tool *tool;
  mcpd_call *call;
  json_t *result = NULL, *answers;
  char why[400];
  int rc;
  crash_scope scope;

  d->stats.tool_calls++;
  if (name == NULL)
    return DISPATCH_DONE;
  tool = (reg_tool *)registry_get(d->reg, REG_TOOL, name, strlen(name));
  if (tool == NULL)
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS, "Unknown tool: %s", name);
  if (forbidden(c, r, &tool->e, name, "tools/call"))
    return DISPATCH_DONE;
  /* A tool that runs only as a task needs a client that takes tasks; the
   * legacy era has no such thing, and gets it run as usual. */
  if (tool->task_support == MCPD_TASK_REQUIRED && PROTO_IS_MODERN(dispatch_version_of(c->s)) &&
      !dispatch_task_declared(c->s))
    return dispatch_task_refuse(r);
  if (args != NULL && json_is_null(args))
    args = NULL;
  if (args != NULL && !json_is_object(args))
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "tools/call params.arguments must be an object");
  if (schema_validate(tool->input_schema, args ? args : d->empty, why, sizeof(why)) < 0)
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS, "Invalid arguments for tool %s: %s",
                         tool->e.key, why);
  if (too_many_calls(c, r) || mrtr_prepare(c, r, tool->e.key, &answers) < 0)
    return DISPATCH_DONE;
  call = new_call(c, CALL_TOOL, tool->e.ctx, tool->e.key,
                  args ? json_incref((json_t *)args) : json_object());
  if (call == NULL) {
    json_decref(answers);
    return dispatch_fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  }
  call->mrtr_answers = answers;
  call->task_ok = tool->task_support != MCPD_TASK_FORBIDDEN && dispatch_task_declared(c->s);
  if (call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  scope_enter(&scope, call, "tool");
  rc = tool->handler(call, call->args, tool->data, &result);
  crash_leave(&scope);
  return run_call(c, r, call, rc, result);
}

int dispatch_resources_read(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const char *uri = dispatch_need_string(c, r, "resources/read", "uri");
  reg_resource *res;
  reg_template *tpl;
  json_t *vars = NULL, *result = NULL, *answers;
  mcpd_call *call;
  mcpd_ctx *ctx;
  mcpd_resource_fn handler;
  void *data;
  unsigned ttl;
  int rc;
  crash_scope scope;

  d->stats.resource_reads++;
  if (uri == NULL)
    return DISPATCH_DONE;
  res = (reg_resource *)registry_get(d->reg, REG_RESOURCE, uri, strlen(uri));
  if (forbidden(c, r, res ? &res->e : NULL, uri, "resources/read")) {
    json_decref(vars);
    return DISPATCH_DONE;
  }
  if (res != NULL) {
    ctx = res->e.ctx;
    handler = res->handler;
    data = res->data;
    ttl = res->cache_ttl_ms;
    vars = json_object();
  } else {
    tpl = registry_match_template(d->reg, uri, &vars);
    if (tpl == NULL) {
      dispatch_fail(r,
                    PROTO_IS_MODERN(dispatch_version_of(c->s)) ? JSONRPC_INVALID_PARAMS
                                                               : MCP_ERROR_RESOURCE_NOT_FOUND,
                    "Resource not found: %s", uri);
      r->data = json_pack("{s:s}", "uri", uri);
      return DISPATCH_DONE;
    }
    if (forbidden(c, r, &tpl->e, uri, "resources/read")) {
      json_decref(vars);
      return DISPATCH_DONE;
    }
    ctx = tpl->e.ctx;
    handler = tpl->handler;
    data = tpl->data;
    ttl = tpl->cache_ttl_ms;
  }
  if (too_many_calls(c, r) || mrtr_prepare(c, r, uri, &answers) < 0) {
    json_decref(vars);
    return DISPATCH_DONE;
  }
  call = new_call(c, CALL_RESOURCE, ctx, uri, vars);
  if (call == NULL) {
    json_decref(answers);
    return dispatch_fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  }
  call->mrtr_answers = answers;
  call->cache_ttl_ms = ttl;
  call->uri = strdup(uri);
  if (call->uri == NULL || call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  scope_enter(&scope, call, "resource");
  rc = handler(call, call->uri, call->args, data, &result);
  crash_leave(&scope);
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
      dispatch_fail(r, JSONRPC_INVALID_PARAMS, "prompt %s has no argument \"%s\"", p->e.key, key);
      return -1;
    }
    if (!json_is_string(v)) {
      dispatch_fail(r, JSONRPC_INVALID_PARAMS, "prompts/get params.arguments.%s must be a string",
                    key);
      return -1;
    }
  }
  for (i = 0; i < json_array_size(p->arguments); i++) {
    const json_t *a = json_array_get(p->arguments, i);
    const char *name = json_string_value(json_object_get(a, "name"));
    if (json_is_true(json_object_get(a, "required")) && json_object_get(args, name) == NULL) {
      dispatch_fail(r, JSONRPC_INVALID_PARAMS, "prompt %s needs the argument \"%s\"", p->e.key,
                    name);
      return -1;
    }
  }
  return 0;
}

int dispatch_prompts_get(req_ctx *c, reply *r) {
  dispatch *d = c->d;
  const char *name = dispatch_need_string(c, r, "prompts/get", "name");
  const json_t *args = json_object_get(c->params, "arguments");
  reg_prompt *p;
  mcpd_call *call;
  json_t *result = NULL, *answers;
  int rc;
  crash_scope scope;

  d->stats.prompt_gets++;
  if (name == NULL)
    return DISPATCH_DONE;
  p = (reg_prompt *)registry_get(d->reg, REG_PROMPT, name, strlen(name));
  if (p == NULL)
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS, "Unknown prompt: %s", name);
  if (forbidden(c, r, &p->e, name, "prompts/get"))
    return DISPATCH_DONE;
  if (args != NULL && json_is_null(args))
    args = NULL;
  if (args != NULL && !json_is_object(args))
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "prompts/get params.arguments must be an object");
  if (check_prompt_args(p, args ? args : d->empty, r) < 0 || too_many_calls(c, r) ||
      mrtr_prepare(c, r, p->e.key, &answers) < 0)
    return DISPATCH_DONE;
  call = new_call(c, CALL_PROMPT, p->e.ctx, p->e.key,
                  args ? json_incref((json_t *)args) : json_object());
  if (call == NULL) {
    json_decref(answers);
    return dispatch_fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  }
  call->mrtr_answers = answers;
  if (call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  scope_enter(&scope, call, "prompt");
  rc = p->handler(call, call->args, p->data, &result);
  crash_leave(&scope);
  return run_call(c, r, call, rc, result);
}

int dispatch_complete(req_ctx *c, reply *r) {
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
  crash_scope scope;

  d->stats.completions++;
  if (!json_is_object(ref) || !json_is_string(type))
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "completion/complete needs params.ref with a type (\"ref/prompt\" or "
                         "\"ref/resource\")");
  if (!json_is_string(name) || !json_is_string(value))
    return dispatch_fail(
        r, JSONRPC_INVALID_PARAMS,
        "completion/complete needs params.argument with a name and a value (strings)");
  if (ctx_args != NULL && !json_is_object(ctx_args))
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "completion/complete params.context.arguments must be an object");
  if (strcmp(json_string_value(type), "ref/prompt") == 0) {
    const reg_prompt *p;
    key = json_string_value(json_object_get(ref, "name"));
    if (key == NULL)
      return dispatch_fail(r, JSONRPC_INVALID_PARAMS, "params.ref.name must be a string");
    p = (const reg_prompt *)registry_get(d->reg, REG_PROMPT, key, strlen(key));
    if (p == NULL)
      return dispatch_fail(r, JSONRPC_INVALID_PARAMS, "Unknown prompt: %s", key);
    if (forbidden(c, r, &p->e, key, "completion/complete"))
      return DISPATCH_DONE;
    complete = p->complete, data = p->complete_data, owner = p->e.ctx;
  } else if (strcmp(json_string_value(type), "ref/resource") == 0) {
    const reg_template *t;
    key = json_string_value(json_object_get(ref, "uri"));
    if (key == NULL)
      return dispatch_fail(r, JSONRPC_INVALID_PARAMS, "params.ref.uri must be a string");
    t = (const reg_template *)registry_get(d->reg, REG_TEMPLATE, key, strlen(key));
    if (t == NULL)
      return dispatch_fail(r, JSONRPC_INVALID_PARAMS, "Unknown resource template: %s", key);
    if (forbidden(c, r, &t->e, key, "completion/complete"))
      return DISPATCH_DONE;
    complete = t->complete, data = t->complete_data, owner = t->e.ctx;
  } else {
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
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
    return dispatch_fail(r, JSONRPC_INTERNAL_ERROR, "out of memory");
  if (call->args == NULL || call->name == NULL)
    return run_call(c, r, call, -ENOMEM, NULL);
  /* The handler sets result: call it before reading result. */
  scope_enter(&scope, call, "completion");
  rc = complete(call, json_string_value(name), json_string_value(value), call->args, data, &result);
  crash_leave(&scope);
  return run_call(c, r, call, rc, result);
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
  dispatch_session_unlink(call);
  call_unref(call); /* the dispatcher's reference */
}

static void on_progress(mcpd_call *call, double progress, double total, const char *message,
                        void *arg) {
  mcp_sink *sink = call->owner;
  json_t *params, *note;
  (void)arg;
  /* A task takes the messages (its statusMessage) whatever the token. */
  if (sink == NULL || (call->progress_token == NULL && call->task == NULL))
    return;
  /* Progress must increase from one notification to the next. */
  if (call->progress_sent && progress <= call->last_progress)
    return;
  call->progress_sent = 1;
  call->last_progress = progress;
  params = call->progress_token != NULL ? json_pack("{s:O}", "progressToken", call->progress_token)
                                        : json_object();
  if (params == NULL)
    return;
  json_object_set_new(params, "progress", dispatch_json_number(progress));
  if (total > 0)
    json_object_set_new(params, "total", dispatch_json_number(total));
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
  params = json_pack("{s:s,s:O}", "level", dispatch_levels[level], "data", data);
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
  unsigned ms = call->timeout_ms;

  d->stats.timeouts++;
  log_msg(d->log, LOGLVL_WARN, "call_timeout", "plugin=%s call=%s after_ms=%u",
          call_plugin_name(call), log_escape(call->name, esc, sizeof(esc)), ms);
  call->owner = NULL;
  if (sink != NULL) {
    json_t *resp;
    snprintf(msg, sizeof(msg), "The %s call timed out after %u ms", kind_name(call->kind), ms);
    if (call->kind == CALL_TOOL) /* a failure the model can see and act on */
      resp = jsonrpc_result(call->id, mcpd_result_error(msg));
    else
      resp = jsonrpc_error(call->id, JSONRPC_INTERNAL_ERROR, msg, NULL);
    dispatch_modern_result(d, call->version, call_method_of(call), resp);
    count_answer(d, call, resp);
    sink->send(sink, call->session, resp, 1);
    json_decref(resp);
  }
  call_cancel(call);
}

static void on_cancel(mcpd_call *call, void *arg) {
  dispatch_cancel_requests(arg, call, NULL);
  dispatch_read_cancel(arg, call);
}

/* A plugin's resource changed: tell the sessions subscribed to it. */
static void on_resource_updated(const char *uri, void *arg) {
  dispatch *d = arg;
  list_node *n, *tmp;
  json_t *note =
      jsonrpc_notification("notifications/resources/updated", json_pack("{s:s}", "uri", uri));
  if (note == NULL)
    return;
  list_node *lists[2] = {&d->sessions->lru, &d->listeners};
  int i;
  for (i = 0; i < 2; i++) {
    list_foreach_safe(n, tmp, lists[i]) {
      session *s = list_entry(n, session, lru);
      if (s->out != NULL && json_object_get(s->subscriptions, uri) != NULL)
        s->out->send(s->out, s, note, 0);
    }
  }
  json_decref(note);
}

const call_handlers dispatch_call_handlers = {
    .on_done = on_done,
    .on_progress = on_progress,
    .on_log = on_log,
    .on_timeout = on_timeout,
    .on_cancel = on_cancel,
    .on_resource_updated = on_resource_updated,
};
