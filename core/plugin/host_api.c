/* host_api.c -- the mcpd_host table handed to plugins. Every entry checks
 * the handles it is given (magic numbers catch a stale or foreign pointer)
 * before it forwards to the module that does the work. */
#include "plugin/host_api.h"

#include "mcp/call.h"
#include "mcp/dispatch.h"
#include "lib/error.h"
#include "lib/log.h"
#include "plugin/plugin_ctx.h"
#include "mcp/registry.h"
#include "lib/crash.h"
#include "mcp/session.h"
#include "plugin/plugin_env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int host_api_normalize(void *dst, size_t dst_size, const void *src, size_t src_size,
                       size_t min_size) {
  const unsigned char *p = src;
  size_t i;

  if (src_size < min_size)
    return -EINVAL;
  memset(dst, 0, dst_size);
  if (src_size > dst_size) {
    /* A newer plugin: fields this host does not know must be unused. */
    for (i = dst_size; i < src_size; i++) {
      if (p[i] != 0)
        return -E2BIG;
    }
    src_size = dst_size;
  }
  memcpy(dst, src, src_size);
  return 0;
}

static int ctx_ok(const mcpd_ctx *ctx) {
  return ctx != NULL && ctx->magic == CTX_MAGIC;
}

/* Registration: only inside init(), structs normalised to this host. */
static int begin_register(mcpd_ctx *ctx, const void *obj, const char *what) {
  if (!ctx_ok(ctx) || obj == NULL)
    return -EINVAL;
  if (!ctx->in_init && !ctx->updating) {
    log_msg(ctx->env->log, LOGLVL_ERROR, "plugin_register_refused",
            "plugin=%s what=%s reason=\"registration is only allowed during init() or after "
            "update_begin()\"",
            ctx->name, what);
    return -EPERM;
  }
  return 0;
}

static int reg_result(mcpd_ctx *ctx, int r, const char *what, const char *err) {
  char esc[600];
  if (r < 0)
    snprintf(ctx->last_refusal, sizeof(ctx->last_refusal), "%.255s", err);
  if (r < 0 && ctx->in_init)
    ctx->n_refused++; /* the loader keeps it out of service (plugin_loader.c) */
  if (r < 0)
    log_msg(ctx->env->log, LOGLVL_ERROR, "plugin_register_refused", "plugin=%s what=%s reason=%s",
            ctx->name, what, log_escape(err, esc, sizeof(esc)));
  return r;
}

/* A registration in init() found key held by a plugin in service: the
 * loader remembers the first such key, to try the plugin again on a reload
 * once that plugin has let go of it. */
static void note_taken(mcpd_ctx *ctx, enum reg_kind kind, const char *key) {
  if (ctx->in_init && ctx->taken_kind < 0) {
    ctx->taken_kind = (int)kind;
    snprintf(ctx->taken_key, sizeof(ctx->taken_key), "%s", key);
  }
}

static int norm(mcpd_ctx *ctx, void *dst, size_t dst_size, size_t min_size, const void *src,
                const char *what) {
  uint32_t size, flags;
  int r;
  memcpy(&size, src, sizeof(size));
  r = host_api_normalize(dst, dst_size, src, size, min_size);
  if (r < 0)
    return reg_result(ctx, r, what,
                      r == -EINVAL ? "struct_size is smaller than any known version of the struct"
                                   : "the struct has fields this mcpd does not know");
  memcpy(&flags, (const char *)dst + sizeof(uint32_t), sizeof(flags));
  if (flags != 0)
    return reg_result(ctx, -EINVAL, what, "unknown bits in flags");
  return 0;
}

static int h_register_tool(mcpd_ctx *ctx, const mcpd_tool *tool) {
  mcpd_tool t;
  char err[512];
  int r = begin_register(ctx, tool, "tool");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_TOOL_SIZE_V1_0, tool, "tool")) < 0)
    return r;
  r = t.name != NULL
          ? registry_check_free(ctx->env->reg, REG_TOOL, t.name, ctx->replaces, err, sizeof(err))
          : 0;
  if (r == -EEXIST)
    note_taken(ctx, REG_TOOL, t.name);
  if (r == 0)
    r = registry_add_tool(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_tools++;
  return reg_result(ctx, r, "tool", err);
}

static int h_register_resource(mcpd_ctx *ctx, const mcpd_resource *res) {
  mcpd_resource t;
  char err[512];
  int r = begin_register(ctx, res, "resource");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_RESOURCE_SIZE_V1_0, res, "resource")) < 0)
    return r;
  r = t.uri != NULL
          ? registry_check_free(ctx->env->reg, REG_RESOURCE, t.uri, ctx->replaces, err, sizeof(err))
          : 0;
  if (r == -EEXIST)
    note_taken(ctx, REG_RESOURCE, t.uri);
  if (r == 0)
    r = registry_add_resource(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_resources++;
  return reg_result(ctx, r, "resource", err);
}

static int h_register_template(mcpd_ctx *ctx, const mcpd_resource_template *tmpl) {
  mcpd_resource_template t;
  char err[512];
  int r = begin_register(ctx, tmpl, "resource_template");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_RESOURCE_TEMPLATE_SIZE_V1_0, tmpl,
                         "resource_template")) < 0)
    return r;
  r = t.uri_template != NULL ? registry_check_free(ctx->env->reg, REG_TEMPLATE, t.uri_template,
                                                   ctx->replaces, err, sizeof(err))
                             : 0;
  if (r == -EEXIST)
    note_taken(ctx, REG_TEMPLATE, t.uri_template);
  if (r == 0)
    r = registry_add_template(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_templates++;
  return reg_result(ctx, r, "resource_template", err);
}

static int h_register_prompt(mcpd_ctx *ctx, const mcpd_prompt *prompt) {
  mcpd_prompt t;
  char err[512];
  int r = begin_register(ctx, prompt, "prompt");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_PROMPT_SIZE_V1_1, prompt, "prompt")) < 0)
    return r;
  r = t.name != NULL
          ? registry_check_free(ctx->env->reg, REG_PROMPT, t.name, ctx->replaces, err, sizeof(err))
          : 0;
  if (r == -EEXIST)
    note_taken(ctx, REG_PROMPT, t.name);
  if (r == 0)
    r = registry_add_prompt(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_prompts++;
  return reg_result(ctx, r, "prompt", err);
}

static void h_log(mcpd_ctx *ctx, int level, const char *fmt, ...) {
  char msg[2048], esc[2200];
  int lv;
  va_list ap;

  if (!ctx_ok(ctx) || fmt == NULL)
    return;
  /* Eight MCP levels onto the daemon's four. */
  lv = level <= MCPD_LOG_DEBUG     ? LOGLVL_DEBUG
       : level <= MCPD_LOG_NOTICE  ? LOGLVL_INFO
       : level == MCPD_LOG_WARNING ? LOGLVL_WARN
                                   : LOGLVL_ERROR;
  if (!log_enabled(ctx->env->log, lv)) /* never for errors: no level hides them */
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (lv == LOGLVL_ERROR && ctx->env->plugin_error != NULL)
    ctx->env->plugin_error(ctx->env, ctx->name, msg);
  log_msg(ctx->env->log, lv, "plugin_log", "plugin=%s msg=%s", ctx->name,
          log_escape(msg, esc, sizeof(esc)));
}

static int h_complete(mcpd_call *call, json_t *result) {
  return call_complete(call, result);
}

static int h_fail(mcpd_call *call, int err, const char *message) {
  return call_fail(call, err, message);
}

static int h_progress(mcpd_call *call, double progress, double total, const char *message) {
  return call_progress(call, progress, total, message);
}

static int h_notify_log(mcpd_call *call, int level, const char *logger_name, json_t *data) {
  return call_notify_log(call, level, logger_name, data);
}

static int h_is_cancelled(const mcpd_call *call) {
  return call_is_cancelled(call);
}

static int h_on_cancel(mcpd_call *call, mcpd_cancel_fn cb, void *arg) {
  return call_on_cancel(call, cb, arg);
}

/* The worker pool is shared fairly: work queued for a session (from its
 * call's handler, or from the after_work of its earlier work) holds at most
 * limits.max_workers_per_session of the pool at once; the rest waits here,
 * in the session's own FIFO rather than in libuv's, and goes to the pool
 * as the session's own work finishes. A session whose calls block on slow
 * work so fills its share and never the whole pool, while other sessions'
 * work gets the workers left. Work queued outside any session's call (a
 * timer, an HTTP callback) goes to the pool at once. */
typedef struct work_owner {
  char id[SESSION_ID_MAX + 1]; /* the session's id: the map's key */
  size_t id_len;
  unsigned running;  /* handed to the pool, not yet finished */
  list_node waiting; /* work_item.link, oldest first */
} work_owner;

/* Work queued by a plugin keeps the plugin loaded until after_work ran. */
struct work_item {
  uv_work_t req;
  mcpd_ctx *ctx;
  const char *kind; /* what queued it, for the crash line: a literal */
  char *name;       /* owned copy; NULL when queued outside a handler */
  mcpd_work_fn work;
  mcpd_after_work_fn after;
  void *arg;
  work_owner *owner; /* NULL: no session's */
  list_node link;    /* in owner->waiting until handed to the pool */
};

static void work_cb(uv_work_t *req) {
  struct work_item *w = (struct work_item *)req;
  crash_scope scope = {
      .plugin = w->ctx->name, .version = w->ctx->version, .kind = w->kind, .name = w->name};
  crash_enter(&scope);
  w->work(w->arg);
  crash_leave(&scope);
}

/* How much of the pool one session's work may hold. */
static unsigned work_share(const plugin_env *env) {
  if (env->cfg->max_workers_per_session > 0)
    return env->cfg->max_workers_per_session;
  return env->cfg->worker_threads > 1 ? env->cfg->worker_threads - 1 : 1;
}

/* Whose work queue_work() is queuing now: the session of the call whose
 * handler runs, else the owner whose after_work runs (work it chains is the
 * same session's), else nobody (NULL). Creates the record. -ENOMEM. */
static int work_owner_now(plugin_env *env, work_owner **out) {
  const mcpd_call *call = env->disp != NULL ? env->disp->running : NULL;
  const session *s = call != NULL ? call->session : NULL;
  work_owner *o;

  *out = env->work_current;
  if (s == NULL)
    return 0;
  o = strmap_get(&env->work_owners, s->id, strlen(s->id));
  if (o == NULL) {
    o = calloc(1, sizeof(*o));
    if (o == NULL)
      return -ENOMEM;
    o->id_len = strlen(s->id);
    memcpy(o->id, s->id, o->id_len + 1);
    list_init(&o->waiting);
    if (strmap_put(&env->work_owners, o->id, o->id_len, o) < 0) {
      free(o);
      return -ENOMEM;
    }
  }
  *out = o;
  return 0;
}

/* Frees an owner with nothing in the pool and nothing waiting (and the
 * table with the last one, so nothing is left to free at exit). */
static void work_owner_check(plugin_env *env, work_owner *o) {
  if (o == NULL || o->running > 0 || !list_empty(&o->waiting) || o == env->work_current)
    return;
  strmap_remove(&env->work_owners, o->id, o->id_len);
  free(o);
  if (env->work_owners.count == 0)
    strmap_free(&env->work_owners);
}

static void after_work_cb(uv_work_t *req, int status);

static int work_submit(struct work_item *w) {
  int r = uv_queue_work(w->ctx->env->loop, &w->req, work_cb, after_work_cb);
  if (r == 0 && w->owner != NULL)
    w->owner->running++;
  return r;
}

/* Ends w without running it: after_work(arg, err), as libuv does for work
 * it cancels. */
static void work_drop(struct work_item *w, int err) {
  mcpd_ctx *ctx = w->ctx;
  plugin_env *env = ctx->env;
  void *prev = env->work_current;
  env->work_current = w->owner;
  if (w->after != NULL)
    w->after(w->arg, err);
  env->work_current = prev;
  free(w->name);
  free(w);
  plugin_unref(ctx);
}

/* Hands o's waiting work to the pool while o is under its share. */
static void work_owner_pump(plugin_env *env, work_owner *o) {
  while (o->running < work_share(env) && !list_empty(&o->waiting)) {
    struct work_item *w = list_entry(o->waiting.next, struct work_item, link);
    list_remove(&w->link);
    if (work_submit(w) < 0)
      work_drop(w, -ECANCELED);
  }
  work_owner_check(env, o);
}

static void after_work_cb(uv_work_t *req, int status) {
  struct work_item *w = (struct work_item *)req;
  mcpd_ctx *ctx = w->ctx;
  plugin_env *env = ctx->env; /* ctx may be unloaded once unreferenced */
  work_owner *o = w->owner;
  void *prev = env->work_current;
  env->work_current = o;
  if (w->after != NULL)
    w->after(w->arg, status == UV_ECANCELED ? -ECANCELED : 0);
  env->work_current = prev;
  free(w->name);
  free(w);
  plugin_unref(ctx);
  /* Its place in the pool goes to the session's next work, if any. */
  if (o != NULL) {
    o->running--;
    work_owner_pump(env, o);
  }
}

void host_api_cancel_work(plugin_env *env) {
  size_t i;
  for (;;) {
    work_owner *o = NULL;
    for (i = 0; i < env->work_owners.cap && o == NULL; i++) {
      work_owner *x =
          env->work_owners.slots[i].key != NULL ? env->work_owners.slots[i].value : NULL;
      if (x != NULL && !list_empty(&x->waiting))
        o = x;
    }
    if (o == NULL)
      return;
    while (!list_empty(&o->waiting)) {
      struct work_item *w = list_entry(o->waiting.next, struct work_item, link);
      list_remove(&w->link);
      work_drop(w, -ECANCELED);
    }
    work_owner_check(env, o);
  }
}

static int h_queue_work(mcpd_ctx *ctx, mcpd_work_fn work, mcpd_after_work_fn after, void *arg) {
  const crash_scope *cur;
  struct work_item *w;
  work_owner *o;
  int r;
  if (!ctx_ok(ctx) || work == NULL)
    return -EINVAL;
  /* A failed init() unloads the plugin at once: no work may be pending. */
  if (ctx->in_init)
    return -EPERM;
  if (*ctx->env->stopping)
    return -ESHUTDOWN;
  w = calloc(1, sizeof(*w));
  if (w == NULL || work_owner_now(ctx->env, &o) < 0) {
    free(w);
    return -ENOMEM;
  }
  w->ctx = ctx;
  w->owner = o;
  list_init(&w->link);
  /* Name the worker after the handler that queued it ("work" for tool
   * "x"), so that a crash there still says which tool it was. */
  w->kind = "work";
  if ((cur = crash_current()) != NULL && cur->name != NULL) {
    w->kind = cur->kind != NULL && strcmp(cur->kind, "tool") == 0 ? "tool" : "work";
    w->name = strdup(cur->name);
  }
  w->work = work;
  w->after = after;
  w->arg = arg;
  plugin_ref(ctx);
  if (o != NULL && o->running >= work_share(ctx->env)) {
    list_insert_tail(&o->waiting, &w->link); /* its session's work makes room */
    return 0;
  }
  r = work_submit(w);
  if (r < 0) {
    plugin_unref(ctx);
    free(w->name);
    free(w);
    work_owner_check(ctx->env, o);
    return r;
  }
  return 0;
}

static int h_notify_resource_updated(mcpd_ctx *ctx, const char *uri) {
  if (!ctx_ok(ctx) || uri == NULL)
    return -EINVAL;
  return call_engine_resource_updated(ctx->env->calls, uri);
}

static int h_request(mcpd_call *call, const char *method, json_t *params, unsigned timeout_ms,
                     mcpd_response_fn cb, void *arg) {
  return dispatch_client_request(call, method, params, timeout_ms, cb, arg);
}

static int h_request_named(mcpd_call *call, const char *key, const char *method, json_t *params,
                           unsigned timeout_ms, mcpd_response_fn cb, void *arg) {
  if (key == NULL) {
    json_decref(params);
    return -EINVAL;
  }
  return dispatch_client_request_named(call, key, method, params, timeout_ms, cb, arg);
}

static int h_read_resource(mcpd_call *call, const char *uri, mcpd_response_fn cb, void *arg) {
  return dispatch_read_resource(call, uri, cb, arg);
}

static const json_t *h_call_client_capabilities(const mcpd_call *call) {
  return dispatch_client_capabilities(call);
}

static const char *h_strerror(int err) {
  return error_strerror(err);
}

static mcpd_ctx *h_call_ctx(const mcpd_call *call) {
  if (call == NULL || call->magic != CALL_MAGIC)
    return NULL;
  return call->ctx;
}

/* ---- 1.2: HTTP requests and timers ------------------------------------------ */

/* A plugin's HTTP request or timer. Started from init() it holds no
 * reference on the plugin until the plugin is in service (an init() that
 * fails must be able to unload at once); host_api_forget() drops it then
 * without its callback. */
typedef struct host_async {
  mcpd_ctx *ctx;
  int is_timer;
  int refd;       /* holds a plugin_ref() */
  int forgotten;  /* the plugin is going: no callback */
  list_node link; /* in ctx->async */
  union {
    struct {
      http_client_req *req;
      mcpd_http_fn cb;
      char *error; /* the plugin's buffer (1.3), or NULL */
      size_t error_size;
    } http;
    struct {
      uv_timer_t handle;
      mcpd_timer_fn cb;
    } timer;
  } u;
  void *arg;
} host_async;

static void async_release(host_async *a) {
  list_remove(&a->link);
  if (a->refd && !a->forgotten)
    plugin_unref(a->ctx);
}

static void http_done(void *arg, int err, const char *why, const http_client_resp *resp) {
  host_async *a = arg;
  mcpd_http_response r;
  if (!a->forgotten) {
    if (resp != NULL) {
      r.status = resp->status;
      r.headers = resp->headers;
      r.n_headers = resp->n_headers;
      r.body = resp->body;
      r.body_len = resp->body_len;
    }
    if (err != 0 && a->u.http.error != NULL && a->u.http.error_size > 0)
      snprintf(a->u.http.error, a->u.http.error_size, "%s", why != NULL ? why : "failed");
    crash_scope scope = {.plugin = a->ctx->name, .version = a->ctx->version, .kind = "http"};
    crash_enter(&scope);
    a->u.http.cb(a->arg, err, resp != NULL ? &r : NULL);
    crash_leave(&scope);
  }
  async_release(a);
  free(a);
}

static int h_http_request(mcpd_ctx *ctx, const mcpd_http_request *req, mcpd_http_fn cb, void *arg,
                          mcpd_http **handle) {
  mcpd_http_request q;
  http_client_params p;
  host_async *a;
  char err[300], esc[400];
  uint32_t size;
  int r;

  if (handle != NULL)
    *handle = NULL;
  if (!ctx_ok(ctx) || req == NULL || cb == NULL)
    return -EINVAL;
  if (ctx->drain_cancelled)
    return -ESTALE;
  memcpy(&size, req, sizeof(size));
  r = host_api_normalize(&q, sizeof(q), req, size, MCPD_HTTP_REQUEST_SIZE_V1_2);
  if (r < 0 || (q.flags & ~MCPD_HTTP_INSECURE_SKIP_VERIFY) != 0)
    return -EINVAL;
  if ((q.flags & MCPD_HTTP_INSECURE_SKIP_VERIFY) && !ctx->warned_insecure) {
    ctx->warned_insecure = 1;
    log_msg(ctx->env->log, LOGLVL_WARN, "plugin_http_insecure",
            "plugin=%s reason=\"server certificates are not verified (insecure_skip_verify): "
            "anyone on the path can read and change these requests\"",
            ctx->name);
  }
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return -ENOMEM;
  memset(&p, 0, sizeof(p));
  p.method = q.method;
  p.url = q.url;
  p.headers = q.headers;
  p.n_headers = q.n_headers;
  p.body = q.body;
  p.body_len = q.body_len;
  p.timeout_ms = q.timeout_ms;
  p.connect_timeout_ms = q.connect_timeout_ms;
  p.max_response_bytes = q.max_response_bytes;
  p.label = q.label;
  p.owner = ctx;
  p.ca_file = q.ca_file;
  p.client_cert_file = q.client_cert_file;
  p.client_key_file = q.client_key_file;
  p.proxy = q.proxy;
  p.insecure_skip_verify = (q.flags & MCPD_HTTP_INSECURE_SKIP_VERIFY) != 0;
  a->u.http.error = q.error;
  a->u.http.error_size = q.error_size;
  a->ctx = ctx;
  a->u.http.cb = cb;
  a->arg = arg;
  /* Linked and counted before the client sees it: its callback must find
   * the record complete whenever it runs. */
  list_insert_tail(&ctx->async, &a->link);
  if (!ctx->in_init) {
    plugin_ref(ctx);
    a->refd = 1;
  }
  r = http_client_request(ctx->env->http, &p, http_done, a, &a->u.http.req, err, sizeof(err));
  if (r < 0) {
    log_msg(ctx->env->log, LOGLVL_WARN, "plugin_http_refused", "plugin=%s reason=%s", ctx->name,
            log_escape(err, esc, sizeof(esc)));
    async_release(a);
    free(a);
    return r;
  }
  if (handle != NULL)
    *handle = (mcpd_http *)a;
  return 0;
}

static void h_http_cancel(mcpd_http *h) {
  host_async *a = (host_async *)h;
  if (a != NULL && !a->is_timer)
    http_client_cancel(a->u.http.req);
}

static void timer_closed(uv_handle_t *h) {
  free(h->data);
}

static void timer_fired(uv_timer_t *t) {
  host_async *a = t->data;
  mcpd_timer_fn cb = a->u.timer.cb;
  void *arg = a->arg;
  int call = !a->forgotten;
  mcpd_ctx *ctx = a->ctx;
  /* Gone before the callback runs, as the header says: a timer_stop() on it
   * from inside the callback finds it closing and does nothing. The plugin
   * reference is dropped after the callback, which runs plugin code. */
  int refd = a->refd && !a->forgotten;
  list_remove(&a->link);
  uv_close((uv_handle_t *)&a->u.timer.handle, timer_closed);
  if (call) {
    crash_scope scope = {.plugin = ctx->name, .version = ctx->version, .kind = "timer"};
    crash_enter(&scope);
    cb(arg);
    crash_leave(&scope);
  }
  if (refd)
    plugin_unref(ctx);
}

static int h_timer_start(mcpd_ctx *ctx, unsigned ms, mcpd_timer_fn cb, void *arg,
                         mcpd_timer **timer) {
  host_async *a;
  if (timer != NULL)
    *timer = NULL;
  if (!ctx_ok(ctx) || cb == NULL)
    return -EINVAL;
  if (ctx->env->http->closed)
    return -ESHUTDOWN;
  if (ctx->drain_cancelled)
    return -ESTALE;
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return -ENOMEM;
  a->ctx = ctx;
  a->is_timer = 1;
  a->u.timer.cb = cb;
  a->arg = arg;
  uv_timer_init(ctx->env->loop, &a->u.timer.handle);
  a->u.timer.handle.data = a;
  uv_timer_start(&a->u.timer.handle, timer_fired, ms, 0);
  list_insert_tail(&ctx->async, &a->link);
  if (!ctx->in_init) {
    plugin_ref(ctx);
    a->refd = 1;
  }
  if (timer != NULL)
    *timer = (mcpd_timer *)a;
  return 0;
}

static void h_timer_stop(mcpd_timer *t) {
  host_async *a = (host_async *)t;
  if (a == NULL || !a->is_timer || uv_is_closing((uv_handle_t *)&a->u.timer.handle))
    return;
  uv_timer_stop(&a->u.timer.handle);
  async_release(a);
  uv_close((uv_handle_t *)&a->u.timer.handle, timer_closed);
}

void host_api_activated(mcpd_ctx *ctx) {
  list_node *n;
  for (n = ctx->async.next; n != &ctx->async; n = n->next) {
    host_async *a = list_entry(n, host_async, link);
    if (!a->refd) {
      plugin_ref(ctx);
      a->refd = 1;
    }
  }
}

void host_api_forget(mcpd_ctx *ctx) {
  while (!list_empty(&ctx->async)) {
    host_async *a = list_entry(ctx->async.next, host_async, link);
    a->forgotten = 1;
    list_remove(&a->link);
    if (a->is_timer) {
      uv_timer_stop(&a->u.timer.handle);
      uv_close((uv_handle_t *)&a->u.timer.handle, timer_closed);
    } else {
      http_client_cancel(a->u.http.req); /* http_done() frees it */
    }
  }
}

void host_api_abandon(mcpd_ctx *ctx) {
  list_node *n, *tmp;
  list_foreach_safe(n, tmp, &ctx->async) {
    host_async *a = list_entry(n, host_async, link);
    if (a->is_timer)
      h_timer_stop((mcpd_timer *)a);
    else
      http_client_cancel(a->u.http.req); /* its callback runs later, -ECANCELED */
  }
}

void host_api_stop_timers(mcpd_ctx *ctx) {
  list_node *n, *tmp;
  list_foreach_safe(n, tmp, &ctx->async) {
    host_async *a = list_entry(n, host_async, link);
    if (a->is_timer)
      h_timer_stop((mcpd_timer *)a);
  }
}

/* ---- 1.2: changing registrations after init() ---------------------------------- */

static int h_update_begin(mcpd_ctx *ctx) {
  if (!ctx_ok(ctx))
    return -EINVAL;
  if (ctx->in_init)
    return -EPERM;
  if (ctx->retired)
    return -ESTALE;
  if (ctx->updating)
    return -EBUSY;
  registry_free(&ctx->staged);
  registry_init(&ctx->staged);
  ctx->updating = 1;
  ctx->replaces = ctx; /* its own current names are not a clash */
  ctx->saved_counts[0] = ctx->n_tools;
  ctx->saved_counts[1] = ctx->n_resources;
  ctx->saved_counts[2] = ctx->n_templates;
  ctx->saved_counts[3] = ctx->n_prompts;
  ctx->n_tools = ctx->n_resources = ctx->n_templates = ctx->n_prompts = 0;
  return 0;
}

static void update_close(mcpd_ctx *ctx, int restore) {
  if (restore) {
    ctx->n_tools = ctx->saved_counts[0];
    ctx->n_resources = ctx->saved_counts[1];
    ctx->n_templates = ctx->saved_counts[2];
    ctx->n_prompts = ctx->saved_counts[3];
  }
  registry_free(&ctx->staged);
  registry_init(&ctx->staged);
  ctx->updating = 0;
  ctx->replaces = NULL;
}

static int h_update_commit(mcpd_ctx *ctx) {
  plugin_env *env;
  registry old;
  json_t *before[REG_LISTS];
  int changed[REG_LISTS], r;

  if (!ctx_ok(ctx) || !ctx->updating)
    return -EINVAL;
  env = ctx->env;
  if (ctx->retired) {
    update_close(ctx, 1);
    return -ESTALE;
  }
  registry_lists_snapshot(env->reg, before);
  registry_init(&old);
  /* In place: an update that changes nothing reorders nothing either. */
  r = registry_replace_ctx(env->reg, ctx, &ctx->staged, &old);
  if (r < 0) {
    registry_free(&old);
    update_close(ctx, 1);
    for (int k = 0; k < REG_LISTS; k++)
      json_decref(before[k]);
    log_msg(env->log, LOGLVL_ERROR, "plugin_update_refused", "plugin=%s reason=%s", ctx->name,
            r == -EEXIST ? "name_taken_by_another_plugin" : "out_of_memory");
    return r;
  }
  registry_free(&old);
  update_close(ctx, 0);
  registry_lists_compare(env->reg, before, changed);
  if (env->lists_changed != NULL)
    env->lists_changed(env, changed);
  log_msg(env->log, LOGLVL_INFO, "plugin_updated",
          "plugin=%s tools=%u resources=%u templates=%u prompts=%u tools_changed=%d "
          "resources_changed=%d prompts_changed=%d",
          ctx->name, ctx->n_tools, ctx->n_resources, ctx->n_templates, ctx->n_prompts, changed[0],
          changed[1], changed[2]);
  return 0;
}

static void h_update_abort(mcpd_ctx *ctx) {
  if (ctx_ok(ctx) && ctx->updating)
    update_close(ctx, 1);
}

static const char *h_call_header(const mcpd_call *call, const char *name) {
  return dispatch_call_header(call, name);
}

static const mcpd_principal *h_call_principal(const mcpd_call *call) {
  return dispatch_call_principal(call);
}

static int h_auth_enabled(const mcpd_ctx *ctx) {
  return ctx != NULL && ctx->env->cfg->auth != NULL;
}

static const mcpd_host host_table = {
    .struct_size = sizeof(mcpd_host),
    .abi_major = MCPD_ABI_MAJOR,
    .abi_minor = MCPD_ABI_MINOR,
    .register_tool = h_register_tool,
    .register_resource = h_register_resource,
    .register_resource_template = h_register_template,
    .log = h_log,
    .complete = h_complete,
    .fail = h_fail,
    .progress = h_progress,
    .notify_log = h_notify_log,
    .is_cancelled = h_is_cancelled,
    .on_cancel = h_on_cancel,
    .queue_work = h_queue_work,
    .strerror = h_strerror,
    .call_ctx = h_call_ctx,
    /* 1.1 */
    .register_prompt = h_register_prompt,
    .notify_resource_updated = h_notify_resource_updated,
    .request = h_request,
    .call_client_capabilities = h_call_client_capabilities,
    /* 1.2 */
    .http_request = h_http_request,
    .http_cancel = h_http_cancel,
    .timer_start = h_timer_start,
    .timer_stop = h_timer_stop,
    .update_begin = h_update_begin,
    .update_commit = h_update_commit,
    .update_abort = h_update_abort,
    .call_header = h_call_header,
    /* 1.3 */
    .call_principal = h_call_principal,
    .auth_enabled = h_auth_enabled,
    .request_named = h_request_named,
    .read_resource = h_read_resource,
};

const mcpd_host *host_api_table(void) {
  return &host_table;
}
