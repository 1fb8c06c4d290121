/* dispatch.c -- the MCP method dispatcher: the method table, lifecycle
 * (initialize, ping, logging/setLevel), listings, subscriptions and
 * notifications. Plugin calls are in dispatch_call.c, requests to clients
 * in dispatch_client.c. */
#include "mcp/dispatch_internal.h"

#include "mcp/authz.h"
#include "mcp/modern.h"

#include "lib/error.h"
#include "lib/schema.h"
#include "lib/version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

const char *const dispatch_levels[8] = {"debug", "info",     "notice", "warning",
                                        "error", "critical", "alert",  "emergency"};

int dispatch_fail(reply *r, int code, const char *fmt, ...) {
  va_list ap;
  r->code = code;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof(r->message), fmt, ap);
  va_end(ap);
  return DISPATCH_DONE;
}

json_t *dispatch_finish_reply(dispatch *d, const json_t *id, reply *r) {
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

const char *dispatch_need_string(req_ctx *c, reply *r, const char *method, const char *field) {
  const json_t *v = json_object_get(c->params, field);
  if (!json_is_string(v)) {
    dispatch_fail(r, JSONRPC_INVALID_PARAMS, "%s needs params.%s, a string", method, field);
    return NULL;
  }
  return json_string_value(v);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The capabilities mcpd offers: plugins can change on SIGHUP, so clients
 * that listen are told. */
static json_t *server_capabilities(int version) {
  json_t *caps =
      json_pack("{s:{s:b},s:{s:b,s:b},s:{s:b},s:{}}", "tools", "listChanged", 1, "resources",
                "subscribe", 1, "listChanged", 1, "prompts", "listChanged", 1, "logging");
  if (caps != NULL && version >= PROTO_2025_03_26)
    json_object_set_new(caps, "completions", json_object());
  return caps;
}

static int m_initialize(req_ctx *c, reply *r) {
  const json_t *pv = json_object_get(c->params, "protocolVersion");
  const json_t *caps = json_object_get(c->params, "capabilities");
  const json_t *info = json_object_get(c->params, "clientInfo");
  const config *cfg = c->d->cfg;
  int version;
  json_t *server_info, *capabilities;

  if (!json_is_string(pv))
    return dispatch_fail(
        r, JSONRPC_INVALID_PARAMS,
        "initialize needs params.protocolVersion (a string such as \"2025-11-25\")");
  if (caps != NULL && !json_is_object(caps))
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "initialize params.capabilities must be an object");
  if (info != NULL && !json_is_object(info))
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "initialize params.clientInfo must be an object");
  /* Negotiation: echo a revision we speak, else offer our newest. */
  version = protocol_parse(json_string_value(pv), json_string_length(pv));
  if (version < 0 || PROTO_IS_MODERN(version))
    version = PROTO_LATEST; /* initialize is the legacy era's: its newest */
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
  capabilities = server_capabilities(version);
  r->result = json_pack("{s:s,s:o,s:o}", "protocolVersion", protocol_name(version), "capabilities",
                        capabilities, "serverInfo", server_info);
  if (r->result != NULL && cfg->instructions != NULL)
    json_object_set_new(r->result, "instructions", json_string(cfg->instructions));
  return DISPATCH_DONE;
}

/* server/discover (2026-07-28): what a modern client needs instead of
 * initialize. Only the modern revisions are listed: a client that wants a
 * legacy one initializes. */
static int m_discover(req_ctx *c, reply *r) {
  const config *cfg = c->d->cfg;
  json_t *caps = server_capabilities(PROTO_2026_07_28);
  /* Tool calls can run as tasks: the extension's methods are always here. */
  if (caps != NULL)
    json_object_set_new(caps, "extensions", json_pack("{s:{}}", TASK_EXTENSION));
  r->result = json_pack("{s:[s],s:o}", "supportedVersions", protocol_name(PROTO_2026_07_28),
                        "capabilities", caps);
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
    for (i = 0; i < sizeof(dispatch_levels) / sizeof(dispatch_levels[0]); i++) {
      if (strcmp(json_string_value(level), dispatch_levels[i]) == 0) {
        c->s->log_level = (int)i;
        r->result = json_object();
        return DISPATCH_DONE;
      }
    }
  }
  return dispatch_fail(
      r, JSONRPC_INVALID_PARAMS,
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
  dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                "invalid params.cursor: pass back a nextCursor from a listing");
  return -1;
}

/* A listing for a principal: only what it may use. The cursor stays an
 * index into the whole list, so pages do not shift when scopes differ. */
static int list_visible(req_ctx *c, reply *r, enum reg_kind kind, const char *key, size_t offset) {
  const reg_list *l = &c->d->reg->lists[kind];
  size_t i, shown = 0, page = c->d->cfg->page_size;
  int version = dispatch_version_of(c->s);
  json_t *arr = json_array();
  r->result = json_object();
  if (arr == NULL || r->result == NULL) {
    json_decref(arr);
    json_decref(r->result);
    r->result = NULL;
    return DISPATCH_DONE;
  }
  for (i = offset; i < l->count && shown < page; i++) {
    const json_t *item;
    if (!authz_allows(c->d->cfg->auth, c->d->principal, l->items[i], l->items[i]->key, NULL, 0))
      continue;
    item = registry_listing(l->items[i], version);
    if (item == NULL || json_array_append(arr, (json_t *)item) < 0) {
      json_decref(arr);
      json_decref(r->result);
      r->result = NULL;
      return DISPATCH_DONE;
    }
    shown++;
  }
  json_object_set_new(r->result, key, arr);
  if (i < l->count) {
    char cursor[48];
    snprintf(cursor, sizeof(cursor), CURSOR_PREFIX "%zu", i);
    json_object_set_new(r->result, "nextCursor", json_string(cursor));
  }
  return DISPATCH_DONE;
}

static int list(req_ctx *c, reply *r, enum reg_kind kind, const char *key) {
  const reg_list *l = &c->d->reg->lists[kind];
  size_t offset, end, i, page = c->d->cfg->page_size;
  int version = dispatch_version_of(c->s);
  json_t *arr;

  if (cursor_offset(c, l->count, &offset, r) < 0)
    return DISPATCH_DONE;
  if (c->d->principal != NULL && c->d->cfg->auth != NULL)
    return list_visible(c, r, kind, key, offset);
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

/* ---- subscriptions ------------------------------------------------------- */

static int m_subscribe(req_ctx *c, reply *r) {
  const char *uri = dispatch_need_string(c, r, "resources/subscribe", "uri");
  json_t *vars = NULL;
  if (uri == NULL)
    return DISPATCH_DONE;
  if (registry_get(c->d->reg, REG_RESOURCE, uri, strlen(uri)) == NULL &&
      registry_match_template(c->d->reg, uri, &vars) == NULL) {
    dispatch_fail(r, MCP_ERROR_RESOURCE_NOT_FOUND, "Resource not found: %s", uri);
    r->data = json_pack("{s:s}", "uri", uri);
    return DISPATCH_DONE;
  }
  json_decref(vars);
  if (json_object_get(c->s->subscriptions, uri) == NULL &&
      json_object_size(c->s->subscriptions) >= MAX_SUBSCRIPTIONS)
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "too many subscriptions in this session (limit %d)", MAX_SUBSCRIPTIONS);
  json_object_set_new(c->s->subscriptions, uri, json_true());
  r->result = json_object();
  return DISPATCH_DONE;
}

static int m_unsubscribe(req_ctx *c, reply *r) {
  const char *uri = dispatch_need_string(c, r, "resources/unsubscribe", "uri");
  if (uri == NULL)
    return DISPATCH_DONE;
  json_object_del(c->s->subscriptions, uri); /* not subscribed is fine */
  r->result = json_object();
  return DISPATCH_DONE;
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
    {"tools/call", dispatch_tools_call},
    {"tools/list", m_tools_list},
    {"resources/read", dispatch_resources_read},
    {"resources/list", m_resources_list},
    {"resources/templates/list", m_templates_list},
    {"resources/subscribe", m_subscribe},
    {"resources/unsubscribe", m_unsubscribe},
    {"prompts/list", m_prompts_list},
    {"prompts/get", dispatch_prompts_get},
    {"completion/complete", dispatch_complete},
    {"ping", m_ping},
    {"initialize", m_initialize},
    {"logging/setLevel", m_set_level},
    {"server/discover", m_discover},
    {"tasks/get", dispatch_tasks_get},
    {"tasks/update", dispatch_tasks_update},
    {"tasks/cancel", dispatch_tasks_cancel},
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
    dispatch_client_response(d, s, m);
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
    dispatch_fail(&r, JSONRPC_INVALID_PARAMS, "params must be an object");
    *response = dispatch_finish_reply(d, m->id, &r);
    if (d->metrics != NULL)
      metrics_rpc(d->metrics, m->method, 1);
    return DISPATCH_DONE;
  }
  for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    if (strcmp(m->method, methods[i].name) == 0)
      break;
  }
  /* Each era has its own methods (ping, initialize... or server/discover). */
  if (i < sizeof(methods) / sizeof(methods[0]) &&
      !modern_method_known(m->method, PROTO_IS_MODERN(s->version)))
    i = sizeof(methods) / sizeof(methods[0]);
  if (i == sizeof(methods) / sizeof(methods[0])) {
    dispatch_fail(&r, JSONRPC_METHOD_NOT_FOUND, "Method not found: %s", m->method);
    *response = dispatch_finish_reply(d, m->id, &r);
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
    *response = r.whole; /* a call: counted (and completed) where it was answered */
    return DISPATCH_DONE;
  }
  *response = dispatch_finish_reply(d, m->id, &r);
  if (d->metrics != NULL)
    metrics_rpc(d->metrics, m->method, r.code != 0 || *response == NULL);
  dispatch_modern_result(d, s->version, m->method, *response);
  return DISPATCH_DONE;
}

int dispatch_log_level(const char *name) {
  size_t i;
  for (i = 0; name != NULL && i < sizeof(dispatch_levels) / sizeof(dispatch_levels[0]); i++) {
    if (strcmp(name, dispatch_levels[i]) == 0)
      return (int)i;
  }
  return -1;
}

void dispatch_modern_result(const dispatch *d, int version, const char *method, json_t *resp) {
  json_t *result = json_object_get(resp, "result");
  /* Lists change only on a reload or a plugin's update: the config says
   * how long a client may reuse one (listen streams hear of changes). */
  if (PROTO_IS_MODERN(version) && method != NULL && json_is_object(result) &&
      d->cfg->list_ttl_ms > 0 && json_object_get(result, "ttlMs") == NULL &&
      (strcmp(method, "tools/list") == 0 || strcmp(method, "prompts/list") == 0 ||
       strcmp(method, "resources/list") == 0 || strcmp(method, "resources/templates/list") == 0 ||
       strcmp(method, "server/discover") == 0))
    json_object_set_new(result, "ttlMs", json_integer(d->cfg->list_ttl_ms));
  if (resp != NULL && PROTO_IS_MODERN(version))
    /* Listings differ between callers while auth is on: never public. */
    modern_decorate(resp, method, &d->modern, d->cfg->auth != NULL || d->principal != NULL);
}

void dispatch_abandon(dispatch *d, mcpd_call *call) {
  (void)d;
  call->owner = NULL;
  call_cancel(call);
}

void dispatch_session_closed(dispatch *d, session *s) {
  /* Unlink first: a callback that asks again then finds no session. */
  while (!list_empty(&s->calls))
    dispatch_session_unlink(list_entry(s->calls.next, mcpd_call, s_link));
  dispatch_cancel_requests(d, NULL, s);
}

void dispatch_listen_add(dispatch *d, session *s) {
  list_insert_tail(&d->listeners, &s->lru);
}

void dispatch_listen_remove(dispatch *d, session *s) {
  (void)d;
  list_remove(&s->lru);
  list_init(&s->lru);
}

void dispatch_notify_all(dispatch *d, const char *method) {
  json_t *note = jsonrpc_notification(method, NULL);
  list_node *lists[2] = {&d->sessions->lru, &d->listeners}, *n, *tmp;
  int i;
  if (note == NULL)
    return;
  for (i = 0; i < 2; i++) {
    list_foreach_safe(n, tmp, lists[i]) {
      session *s = list_entry(n, session, lru);
      if (s->out != NULL)
        s->out->send(s->out, s, note, 0);
    }
  }
  json_decref(note);
}

void dispatch_close(dispatch *d) {
  dispatch_tasks_close(d);
  json_decref(d->empty);
  d->empty = NULL;
  modern_consts_free(&d->modern);
  if (!uv_is_closing((uv_handle_t *)&d->req_timer))
    uv_close((uv_handle_t *)&d->req_timer, NULL);
  if (!uv_is_closing((uv_handle_t *)&d->task_timer))
    uv_close((uv_handle_t *)&d->task_timer, NULL);
}

int dispatch_init(dispatch *d, uv_loop_t *loop, registry *reg, call_engine *calls,
                  session_table *sessions, const config *cfg, const logger *lg) {
  memset(d, 0, sizeof(*d));
  d->reg = reg;
  d->calls = calls;
  d->sessions = sessions;
  d->cfg = cfg;
  d->log = lg;
  d->empty = json_object();
  if (modern_consts_init(&d->modern, MCPD_VERSION) < 0)
    return -ENOMEM;
  list_init(&d->requests);
  list_init(&d->listeners);
  list_init(&d->reads);
  uv_timer_init(loop, &d->req_timer);
  d->req_timer.data = d;
  uv_timer_init(loop, &d->task_timer);
  d->task_timer.data = d;
  task_table_init(&d->tasks, cfg->max_tasks, cfg->max_tasks_per_client, cfg->session_id_prefix);
  /* A key of this process until the daemon gives one that instances share. */
  if (getrandom(d->state_key, sizeof(d->state_key), 0) != (ssize_t)sizeof(d->state_key))
    return -EIO;
  if (d->empty == NULL)
    return -ENOMEM;
  return call_engine_init(calls, loop, lg, &dispatch_call_handlers, d);
}
