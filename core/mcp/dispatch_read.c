/* dispatch_read.c -- host->read_resource(): a plugin reads a resource of
 * this server on behalf of one of its calls, as that call's caller.
 *
 * A read is an inner call (CALL_RESOURCE, no session) to the plugin that
 * registered the resource or the matching template, made on the loop's
 * next turn. Its owner is the read's sink, which the call engine's events
 * (dispatch_call.c: on_done, on_timeout) reach like any transport's: the
 * final message, {"id","result"} or {"id","error"}, becomes the status and
 * result of the reading plugin's callback. A read holds a reference on the
 * outer call until its callback has run, and stays in dispatch.reads so
 * that cancelling either call ends it at once. Loop thread only. */
#include "mcp/dispatch_internal.h"

#include "lib/crash.h"
#include "lib/principal.h"
#include "mcp/authz.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct read_req {
  mcp_sink sink;   /* the inner call's owner; first, so the sink is the read */
  list_node link;  /* in dispatch.reads until the callback has run */
  dispatch *d;     /* borrowed */
  mcpd_call *call; /* the outer call: holds a reference */
  mcpd_call *read; /* the inner call while it runs (the engine holds it), else NULL */
  char *uri;       /* owned */
  mcpd_response_fn cb;
  void *arg;
  uv_timer_t timer; /* the next turn: runs the read */
  int done;         /* cb has run */
} read_req;

/* Frees the read whose timer h (borrowed) has closed. */
static void timer_closed(uv_handle_t *h) {
  free(h->data);
}

/* Runs q's callback with status and result (borrowed) once, and frees q
 * (its timer's close finishes it). */
static void read_finish(read_req *q, int status, const json_t *result) {
  mcpd_call *call = q->call;
  if (q->done)
    return;
  q->done = 1;
  list_remove(&q->link);
  uv_timer_stop(&q->timer);
  q->cb(call, status, result, q->arg);
  free(q->uri);
  q->uri = NULL;
  call_unref(call);
  uv_close((uv_handle_t *)&q->timer, timer_closed);
}

/* An error object like those of resources/read: new ref (NULL without
 * memory). */
static json_t *error_object(int code, const char *message, const char *uri, const char *scope) {
  json_t *e = json_pack("{s:i,s:s,s:{s:s}}", "code", code, "message", message, "data", "uri", uri);
  if (e != NULL && scope != NULL)
    json_object_set_new(json_object_get(e, "data"), "scope", json_string(scope));
  return e;
}

/* The inner call's final message (msg borrowed; s is NULL): the answer of the
 * read. The read, which sink is, is freed once its callback has run. */
static int read_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  read_req *q = (read_req *)sink;
  mcpd_call *read = q->read;
  const json_t *error = json_object_get(msg, "error");
  int status;
  (void)s;
  if (!final)
    return 0; /* its progress and log messages have nowhere to go */
  q->read = NULL;
  if (atomic_load(&q->call->cancelled))
    status = -ECANCELED;
  else if (msg == NULL)
    status = -ENOMEM;
  else if (error == NULL)
    status = 0;
  else if (read != NULL && read->err == -ENOENT)
    status = -ENOENT;
  else
    status = -EPROTO;
  read_finish(q, status,
              status == 0            ? json_object_get(msg, "result")
              : status == -ECANCELED ? NULL
                                     : error);
  return 0;
}

/* The next turn: looks uri up, checks the caller's scopes and runs the
 * resource's handler in the inner call, whose completion reaches
 * read_send() through the call engine. */
static void read_run(uv_timer_t *t) {
  read_req *q = t->data;
  dispatch *d = q->d;
  mcpd_call *call = q->call, *read;
  const reg_entry *e;
  reg_resource *res;
  reg_template *tpl = NULL;
  mcpd_resource_fn handler;
  void *data;
  json_t *vars = NULL, *result = NULL, *err;
  const char *required = d->cfg->auth != NULL ? d->cfg->auth->scopes_required : "";
  char need[256], msg[600];
  size_t rl = strlen(required);
  const mcpd_call *running;
  crash_scope scope;
  int rc;

  if (atomic_load(&call->cancelled)) {
    read_finish(q, -ECANCELED, NULL);
    return;
  }
  d->stats.resource_reads++;
  res = (reg_resource *)registry_get(d->reg, REG_RESOURCE, q->uri, strlen(q->uri));
  if (res == NULL && (tpl = registry_match_template(d->reg, q->uri, &vars)) == NULL) {
    snprintf(msg, sizeof(msg), "Resource not found: %s", q->uri);
    err = error_object(MCP_ERROR_RESOURCE_NOT_FOUND, msg, q->uri, NULL);
    read_finish(q, -ENOENT, err);
    json_decref(err);
    return;
  }
  e = res != NULL ? &res->e : &tpl->e;
  if (!authz_allows(d->cfg->auth, call->principal, e, q->uri, need, sizeof(need))) {
    const char *lacks =
        rl > 0 && strncmp(need, required, rl) == 0 && need[rl] == ' ' ? need + rl + 1 : need;
    json_decref(vars);
    snprintf(msg, sizeof(msg), "Forbidden: resources/read %s needs scope %s", q->uri, lacks);
    err = error_object(MCP_ERROR_FORBIDDEN, msg, q->uri, lacks);
    read_finish(q, -EACCES, err);
    json_decref(err);
    return;
  }
  handler = res != NULL ? res->handler : tpl->handler;
  data = res != NULL ? res->data : tpl->data;
  if (vars == NULL)
    vars = json_object();
  read = call_new(d->calls, CALL_RESOURCE, e->ctx);
  if (read == NULL || vars == NULL) {
    json_decref(vars);
    if (read != NULL) {
      call_claim_sync(read);
      call_finish(read);
      call_unref(read);
    }
    read_finish(q, -ENOMEM, NULL);
    return;
  }
  /* No session: nothing it sends reaches a client. The caller's revision
   * and principal: it reads as the caller. */
  read->owner = &q->sink;
  read->id = json_string("mcpd-read");
  read->version = call->version;
  read->principal = principal_ref(call->principal);
  read->args = vars;
  read->uri = strdup(q->uri);
  read->name = strdup(q->uri);
  q->read = read;
  if (read->id == NULL || read->uri == NULL || read->name == NULL) {
    call_fail(read, -ENOMEM, NULL);
    return;
  }
  running = d->running;
  d->running = read;
  scope.plugin = call_plugin_name(read);
  scope.version = call_plugin_version(read);
  scope.kind = "resource";
  scope.name = read->name;
  crash_enter(&scope);
  rc = handler(read, read->uri, read->args, data, &result);
  crash_leave(&scope);
  d->running = running;
  if (rc == MCPD_PENDING) {
    json_decref(result);
    call_set_deadline(read, d->cfg->call_timeout_ms);
    return;
  }
  /* A synchronous answer goes the way complete() and fail() go, so that
   * the engine checks and delivers it like any other (and a handler that
   * completed the call and returned anyway loses to its own completion). */
  if (rc > 0) {
    log_msg(d->log, LOGLVL_ERROR, "plugin_bad_return", "plugin=%s rc=%d", call_plugin_name(read),
            rc);
    rc = -EIO;
  }
  if (rc == 0 && result != NULL) {
    call_complete(read, result);
  } else {
    json_decref(result);
    if (rc == 0)
      log_msg(d->log, LOGLVL_ERROR, "plugin_bad_result", "plugin=%s reason=\"no result\"",
              call_plugin_name(read));
    call_fail(read, rc != 0 ? rc : -EIO, rc != 0 ? NULL : "the plugin returned no result");
  }
}

int dispatch_read_resource(mcpd_call *call, const char *uri, mcpd_response_fn cb, void *arg) {
  dispatch *d;
  read_req *q;

  if (call == NULL || call->magic != CALL_MAGIC || uri == NULL || cb == NULL)
    return -EINVAL;
  if (call->finished || atomic_load(&call->completed))
    return -EALREADY;
  d = call->eng->arg;
  q = calloc(1, sizeof(*q));
  if (q == NULL)
    return -ENOMEM;
  q->uri = strdup(uri);
  if (q->uri == NULL) {
    free(q);
    return -ENOMEM;
  }
  q->sink.send = read_send;
  q->d = d;
  q->call = call;
  q->cb = cb;
  q->arg = arg;
  uv_timer_init(d->calls->loop, &q->timer);
  q->timer.data = q;
  atomic_fetch_add(&call->refs, 1);
  list_insert_tail(&d->reads, &q->link);
  uv_timer_start(&q->timer, read_run, 0, 0);
  return 0;
}

void dispatch_read_cancel(dispatch *d, const mcpd_call *call) {
  list_node doomed, *n, *tmp;
  /* Collect first: a callback may start new reads, which this pass must
   * leave alone. */
  list_init(&doomed);
  list_foreach_safe(n, tmp, &d->reads) {
    read_req *q = list_entry(n, read_req, link);
    if (q->call == call || q->read == call) {
      list_remove(&q->link);
      list_insert_tail(&doomed, &q->link);
    }
  }
  while (!list_empty(&doomed)) {
    read_req *q = list_entry(doomed.next, read_req, link);
    mcpd_call *read = q->read;
    q->read = NULL;
    if (read != NULL) {
      /* The engine still holds it: it completes without an owner. */
      read->owner = NULL;
      if (read != call)
        call_cancel(read);
    }
    read_finish(q, -ECANCELED, NULL);
  }
}
