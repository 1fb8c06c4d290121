/* call.c -- plugin calls and the thread-safe completion queue. */
#include "mcp/call.h"

#include "lib/principal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void call_free(mcpd_call *call) {
  call_engine *e = call->eng;
  if (e->h.on_free != NULL)
    e->h.on_free(call, e->arg);
  if (e->plugins.unref != NULL && call->ctx != NULL)
    e->plugins.unref(call->ctx);
  json_decref(call->id);
  json_decref(call->progress_token);
  json_decref(call->args);
  json_decref(call->result);
  free(call->uri);
  free(call->name);
  principal_unref(call->principal);
  json_decref(call->mrtr_answers);
  json_decref(call->mrtr_asks);
  free(call->err_msg);
  call->magic = 0;
  free(call);
}

void call_unref(mcpd_call *call) {
  if (atomic_fetch_sub_explicit(&call->refs, 1, memory_order_acq_rel) == 1)
    call_free(call);
}

void call_finish(mcpd_call *call) {
  if (call->finished)
    return;
  call->finished = 1;
  list_remove(&call->e_link);
  call->eng->n_live--;
}

/* Pushes an event (the caller took a reference for it) and wakes the loop. */
static void push(call_engine *e, call_event *ev) {
  ev->next = NULL;
  uv_mutex_lock(&e->lock);
  if (e->tail != NULL)
    e->tail->next = ev;
  else
    e->head = ev;
  e->tail = ev;
  uv_mutex_unlock(&e->lock);
  uv_async_send(&e->async);
}

static void async_cb(uv_async_t *a) {
  call_engine *e = a->data;
  call_event *ev, *next;

  uv_mutex_lock(&e->lock);
  ev = e->head;
  e->head = e->tail = NULL;
  uv_mutex_unlock(&e->lock);
  for (; ev != NULL; ev = next) {
    mcpd_call *call = ev->call;
    next = ev->next;
    if (ev->type == CALL_EV_RESOURCE_UPDATED) {
      if (!e->closed && e->h.on_resource_updated != NULL)
        e->h.on_resource_updated(ev->text, e->arg);
      free(ev->text);
      free(ev);
      continue;
    }
    switch (ev->type) {
    case CALL_EV_DONE:
      if (!call->finished) {
        e->h.on_done(call, e->arg);
        call_finish(call);
      }
      break;
    case CALL_EV_PROGRESS:
      if (!call->finished)
        e->h.on_progress(call, ev->progress, ev->total, ev->text, e->arg);
      break;
    case CALL_EV_LOG:
      if (!call->finished)
        e->h.on_log(call, ev->level, ev->text, ev->data, e->arg);
      break;
    default:
      break;
    }
    if (ev != &call->done_ev) {
      free(ev->text);
      json_decref(ev->data);
      free(ev);
    }
    call_unref(call);
  }
}

static void deadline_cb(uv_timer_t *t) {
  call_engine *e = t->data;
  uint64_t now = uv_now(e->loop);
  list_node *n, *tmp;

  /* on_timeout answers the client and cancels the call; a call leaves this
   * list only when its completion is processed (in async_cb), so the list
   * does not change while it is walked. */
  list_foreach_safe(n, tmp, &e->live) {
    mcpd_call *call = list_entry(n, mcpd_call, e_link);
    if (call->deadline != 0 && call->deadline <= now) {
      call->deadline = 0;
      e->h.on_timeout(call, e->arg);
    }
  }
}

int call_engine_init(call_engine *e, uv_loop_t *loop, const logger *lg, const call_handlers *h,
                     void *arg) {
  int r;
  memset(e, 0, sizeof(*e));
  e->loop = loop;
  e->log = lg;
  e->h = *h;
  e->arg = arg;
  list_init(&e->live);
  r = uv_mutex_init(&e->lock);
  if (r < 0)
    return r;
  r = uv_async_init(loop, &e->async, async_cb);
  if (r < 0) {
    uv_mutex_destroy(&e->lock);
    return r;
  }
  e->async.data = e;
  /* The async handle must not keep the loop alive on its own. */
  uv_unref((uv_handle_t *)&e->async);
  uv_timer_init(loop, &e->deadline_timer);
  e->deadline_timer.data = e;
  return 0;
}

mcpd_call *call_new(call_engine *e, enum call_kind kind, mcpd_ctx *ctx) {
  mcpd_call *call = calloc(1, sizeof(*call));
  if (call == NULL)
    return NULL;
  call->magic = CALL_MAGIC;
  atomic_init(&call->refs, 1);
  atomic_init(&call->completed, 0);
  atomic_init(&call->cancelled, 0);
  call->eng = e;
  call->ctx = ctx;
  if (e->plugins.ref != NULL && ctx != NULL)
    e->plugins.ref(ctx);
  call->kind = kind;
  call->started = uv_now(e->loop);
  call->started_ns = uv_hrtime();
  list_init(&call->s_link);
  list_insert_tail(&e->live, &call->e_link);
  e->n_live++;
  return call;
}

void call_engine_set_plugin_ops(call_engine *e, const call_plugin_ops *ops) {
  e->plugins = *ops;
}

const char *call_plugin_name(const mcpd_call *call) {
  const call_engine *e = call->eng;
  const char *name = NULL;
  if (e->plugins.name != NULL && call->ctx != NULL)
    name = e->plugins.name(call->ctx);
  return name != NULL ? name : "?";
}

const char *call_plugin_version(const mcpd_call *call) {
  const call_engine *e = call->eng;
  const char *v = NULL;
  if (e->plugins.version != NULL && call->ctx != NULL)
    v = e->plugins.version(call->ctx);
  return v != NULL ? v : "?";
}

void call_set_deadline(mcpd_call *call, unsigned ms) {
  call_engine *e = call->eng;
  uint64_t period;
  if (ms == 0)
    return;
  call->deadline = uv_now(e->loop) + ms;
  call->timeout_ms = ms;
  /* One coarse timer serves all calls: check a few times per timeout. */
  period = ms / 4 < 50 ? 50 : (ms / 4 > 1000 ? 1000 : ms / 4);
  if (!uv_is_active((uv_handle_t *)&e->deadline_timer) ||
      uv_timer_get_repeat(&e->deadline_timer) > period) {
    uv_timer_start(&e->deadline_timer, deadline_cb, period, period);
    uv_unref((uv_handle_t *)&e->deadline_timer);
  }
}

void call_cancel(mcpd_call *call) {
  if (call->finished || atomic_exchange(&call->cancelled, 1))
    return;
  if (call->eng->h.on_cancel != NULL)
    call->eng->h.on_cancel(call, call->eng->arg);
  if (atomic_load(&call->completed))
    return;
  if (call->cancel_cb != NULL && !call->cancel_fired) {
    call->cancel_fired = 1;
    call->cancel_cb(call, call->cancel_arg);
  }
}

int call_on_cancel(mcpd_call *call, mcpd_cancel_fn cb, void *arg) {
  if (call == NULL || call->magic != CALL_MAGIC)
    return -EINVAL;
  call->cancel_cb = cb;
  call->cancel_arg = arg;
  if (cb != NULL && atomic_load(&call->cancelled) && !call->cancel_fired &&
      !atomic_load(&call->completed)) {
    call->cancel_fired = 1;
    cb(call, arg);
  }
  return 0;
}

int call_is_cancelled(const mcpd_call *call) {
  if (call == NULL || call->magic != CALL_MAGIC)
    return 0;
  return atomic_load(&call->cancelled) != 0;
}

int call_claim_sync(mcpd_call *call) {
  return atomic_exchange(&call->completed, 1) == 0;
}

static int complete_common(mcpd_call *call, json_t *result, int err, const char *message) {
  char *msg = NULL;
  if (atomic_exchange(&call->completed, 1)) {
    json_decref(result);
    return -EALREADY;
  }
  if (message != NULL)
    msg = strdup(message);
  call->result = result;
  call->err = err;
  call->err_msg = msg;
  call->done_ev.call = call;
  call->done_ev.type = CALL_EV_DONE;
  atomic_fetch_add(&call->refs, 1);
  push(call->eng, &call->done_ev);
  return 0;
}

int call_complete(mcpd_call *call, json_t *result) {
  if (call == NULL || call->magic != CALL_MAGIC || result == NULL) {
    json_decref(result);
    return -EINVAL;
  }
  return complete_common(call, result, 0, NULL);
}

int call_fail(mcpd_call *call, int err, const char *message) {
  if (call == NULL || call->magic != CALL_MAGIC)
    return -EINVAL;
  if (err >= 0)
    err = -EIO;
  return complete_common(call, NULL, err, message);
}

static int push_event(mcpd_call *call, call_event *ev) {
  ev->call = call;
  atomic_fetch_add(&call->refs, 1);
  push(call->eng, ev);
  return 0;
}

int call_progress(mcpd_call *call, double progress, double total, const char *message) {
  call_event *ev;
  if (call == NULL || call->magic != CALL_MAGIC)
    return -EINVAL;
  if (atomic_load(&call->completed))
    return -EALREADY;
  if (call->progress_token == NULL)
    return 0; /* the client did not ask for progress */
  ev = calloc(1, sizeof(*ev));
  if (ev == NULL)
    return -ENOMEM;
  ev->type = CALL_EV_PROGRESS;
  ev->progress = progress;
  ev->total = total;
  if (message != NULL && (ev->text = strdup(message)) == NULL) {
    free(ev);
    return -ENOMEM;
  }
  return push_event(call, ev);
}

int call_notify_log(mcpd_call *call, int level, const char *logger_name, json_t *data) {
  call_event *ev;
  if (call == NULL || call->magic != CALL_MAGIC || data == NULL || level < MCPD_LOG_DEBUG ||
      level > MCPD_LOG_EMERGENCY) {
    json_decref(data);
    return -EINVAL;
  }
  if (atomic_load(&call->completed)) {
    json_decref(data);
    return -EALREADY;
  }
  ev = calloc(1, sizeof(*ev));
  if (ev == NULL) {
    json_decref(data);
    return -ENOMEM;
  }
  ev->type = CALL_EV_LOG;
  ev->level = level;
  ev->data = data;
  if (logger_name != NULL && (ev->text = strdup(logger_name)) == NULL) {
    json_decref(data);
    free(ev);
    return -ENOMEM;
  }
  return push_event(call, ev);
}

int call_engine_resource_updated(call_engine *e, const char *uri) {
  call_event *ev = calloc(1, sizeof(*ev));
  if (ev == NULL || (ev->text = strdup(uri)) == NULL) {
    free(ev);
    return -ENOMEM;
  }
  ev->type = CALL_EV_RESOURCE_UPDATED;
  push(e, ev);
  return 0;
}

void call_cancel_all(call_engine *e) {
  list_node *n, *tmp;
  list_foreach_safe(n, tmp, &e->live) {
    call_cancel(list_entry(n, mcpd_call, e_link));
  }
}

void call_engine_drain(call_engine *e) {
  async_cb(&e->async);
}

void call_engine_close(call_engine *e) {
  if (e->closed)
    return;
  e->closed = 1;
  /* Deliver what is still queued (events of finished calls only free). */
  async_cb(&e->async);
  uv_close((uv_handle_t *)&e->async, NULL);
  uv_close((uv_handle_t *)&e->deadline_timer, NULL);
  uv_mutex_destroy(&e->lock);
}
