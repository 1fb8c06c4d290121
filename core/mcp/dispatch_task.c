/* dispatch_task.c -- tool calls that run as tasks (the tasks extension of
 * 2026-07-28, io.modelcontextprotocol/tasks): turning a pending call into
 * a task, keeping what the call answers, tasks/get, tasks/update,
 * tasks/cancel, notifications/tasks for listen streams, and forgetting
 * tasks when their time is up.
 *
 * A task holds a detached session of its own, with the capabilities of the
 * request that created it: the call moves there from the request's, so the
 * request can end while the call goes on. The task is the call's owner (its
 * sink): the final response becomes the task's result or error. */
#include "mcp/dispatch_internal.h"

#include "lib/principal.h"
#include "mcp/modern.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_MS 1000

static dispatch *dispatch_of_task(const task *k) {
  return k->d;
}

/* The 32-byte key of the dispatcher's caller, or NULL. */
static const uint8_t *caller_key(const dispatch *d) {
  return d->principal != NULL ? d->principal->key : NULL;
}

static json_t *missing_extension_data(void) {
  return json_pack("{s:{s:{s:{}}}}", "requiredCapabilities", "extensions", TASK_EXTENSION);
}

int dispatch_task_declared(const session *s) {
  return s != NULL && PROTO_IS_MODERN(s->version) &&
         json_object_get(json_object_get(s->client_capabilities, "extensions"), TASK_EXTENSION) !=
             NULL;
}

int dispatch_task_refuse(reply *r) {
  dispatch_fail(r, MODERN_ERROR_MISSING_CAPABILITY,
                "Missing required client capability: this needs the " TASK_EXTENSION " extension");
  r->data = missing_extension_data();
  return DISPATCH_DONE;
}

/* What a task keeps of the client's capabilities: those its call may need
 * (to ask the client something), not whatever else the request carried.
 * New ref, NULL without memory. */
static json_t *compact_capabilities(const json_t *caps) {
  static const char *const kept[] = {"sampling", "roots"};
  const json_t *elicit = json_object_get(caps, "elicitation"), *v;
  json_t *out = json_object();
  size_t i;
  if (out == NULL)
    return NULL;
  for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
    if (json_is_object(json_object_get(caps, kept[i])))
      json_object_set_new(out, kept[i], json_object());
  }
  if (json_is_object(elicit)) {
    json_t *e = json_object();
    if ((v = json_object_get(elicit, "form")) != NULL && json_is_object(v))
      json_object_set_new(e, "form", json_object());
    if ((v = json_object_get(elicit, "url")) != NULL && json_is_object(v))
      json_object_set_new(e, "url", json_object());
    json_object_set_new(out, "elicitation", e);
  }
  json_object_set_new(out, "extensions", json_pack("{s:{}}", TASK_EXTENSION));
  return out;
}

/* notifications/tasks: k as tasks/get has it now. New ref, or NULL. */
static json_t *status_note(dispatch *d, const task *k) {
  json_t *params = task_render(k, d->cfg->task_poll_ms, 1,
                               k->call != NULL ? ((mcpd_call *)k->call)->mrtr_asks : NULL);
  return params != NULL ? jsonrpc_notification("notifications/tasks", params) : NULL;
}

/* Tells the listen streams that watch k what it looks like now. */
static void notify(dispatch *d, task *k) {
  list_node *n, *tmp;
  json_t *note = NULL;
  list_foreach_safe(n, tmp, &d->listeners) {
    session *s = list_entry(n, session, lru);
    if (s->out == NULL || json_object_get(s->task_watch, k->id) == NULL)
      continue;
    if (note == NULL && (note = status_note(d, k)) == NULL)
      return;
    s->out->send(s->out, s, note, 0);
  }
  json_decref(note);
}

void dispatch_listen_snapshot(dispatch *d, session *s) {
  const char *id;
  json_t *v;
  if (s->out == NULL)
    return;
  /* A listen opened after a task changed hears where it is now. */
  json_object_foreach(s->task_watch, id, v) {
    task *k = task_find(&d->tasks, id, strlen(id), caller_key(d));
    json_t *note = k != NULL ? status_note(d, k) : NULL;
    if (note != NULL)
      s->out->send(s->out, s, note, 0);
    json_decref(note);
  }
}

void dispatch_task_settled(dispatch *d, mcpd_call *call) {
  task *k = call->task;
  if (k != NULL && json_object_size(call->mrtr_asks) == 0 && task_set_status(k, TASK_WORKING, NULL))
    notify(d, k);
}

/* A result as a task keeps it: without what the era puts on a response
 * (resultType, the server's identity). New ref. */
static json_t *bare_result(const json_t *result) {
  json_t *copy = json_copy((json_t *)result), *meta;
  if (copy == NULL)
    return NULL;
  json_object_del(copy, "resultType");
  meta = json_object_get(copy, "_meta");
  if (json_is_object(meta)) {
    meta = json_copy(meta);
    json_object_del(meta, MODERN_META_SERVER_INFO);
    if (meta == NULL || json_object_size(meta) == 0)
      json_object_del(copy, "_meta");
    else
      json_object_set(copy, "_meta", meta);
    json_decref(meta);
  }
  return copy;
}

/* The task's end of its call: progress messages become its statusMessage,
 * the final response its result or error. */
static int task_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  task *k = (task *)sink;
  dispatch *d = dispatch_of_task(k);
  const json_t *params, *message, *error, *result;
  mcpd_call *call = k->call;
  int changed, rc;
  (void)s;

  if (!final) {
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (method == NULL || strcmp(method, "notifications/progress") != 0)
      return method == NULL ? -ENOTSUP : 0; /* log messages: not on tasks */
    params = json_object_get(msg, "params");
    message = json_object_get(params, "message");
    if (json_is_string(message)) {
      task_set_status(k, k->status, json_string_value(message));
      notify(d, k);
    }
    return 0;
  }
  if (call != NULL)
    call->task = NULL;
  k->call = NULL;
  error = json_object_get(msg, "error");
  result = json_object_get(msg, "result");
  if (msg == NULL || task_terminal(k->status)) {
    changed = task_set_status(k, TASK_CANCELLED, NULL);
  } else if (error != NULL) {
    k->error = json_incref((json_t *)error);
    task_charge(&d->tasks, k, json_dumpb(error, NULL, 0, JSON_COMPACT)); /* small: kept anyway */
    changed = task_set_status(k, TASK_FAILED, json_string_value(json_object_get(error, "message")));
  } else {
    k->result = bare_result(result);
    if (k->result != NULL &&
        (rc = task_charge(&d->tasks, k, json_dumpb(k->result, NULL, 0, JSON_COMPACT))) < 0) {
      /* Results wait for clients that may never come: what one client, and
       * all of them, may leave here is bounded. */
      char text[300];
      snprintf(text, sizeof(text),
               "The result (%zu bytes) does not fit in what %s may keep "
               "(limits.max_task_bytes%s): call the tool without tasks, or collect results "
               "sooner",
               json_dumpb(k->result, NULL, 0, JSON_COMPACT),
               rc == -EDQUOT ? "this client's tasks" : "all tasks",
               rc == -EDQUOT ? "_per_client" : "");
      log_msg(d->log, LOGLVL_WARN, "task_result_dropped", "task=%s reason=\"%s\"", k->id,
              rc == -EDQUOT ? "over the client's budget" : "over the budget of all tasks");
      json_decref(k->result);
      k->result = NULL;
      k->error = json_pack("{s:i,s:s}", "code", JSONRPC_INTERNAL_ERROR, "message", text);
    } else if (k->result == NULL) {
      k->error = json_pack("{s:i,s:s}", "code", JSONRPC_INTERNAL_ERROR, "message", "out of memory");
    }
    changed = task_set_status(k, k->result ? TASK_COMPLETED : TASK_FAILED, NULL);
  }
  if (changed)
    notify(d, k);
  return 0;
}

/* Lets go of k's call, which still runs: cancelled, and whatever it
 * answers is dropped. */
static void detach_call(task *k) {
  mcpd_call *call = k->call;
  if (call == NULL)
    return;
  call->task = NULL;
  call->owner = NULL;
  k->call = NULL;
  call_cancel(call);
}

/* Lets go of k's call (cancelling it if it still runs) and its session,
 * then of k. */
static void task_drop(dispatch *d, task *k) {
  detach_call(k);
  if (k->s != NULL) {
    dispatch_session_closed(d, k->s);
    session_free_detached(k->s);
    k->s = NULL;
  }
  task_remove(&d->tasks, k);
}

static void sweep_cb(uv_timer_t *t) {
  dispatch *d = t->data;
  uint64_t now = uv_now(t->loop);
  task *k;
  while ((k = task_oldest(&d->tasks)) != NULL && k->expires <= now) {
    d->stats.tasks_expired++;
    log_msg(d->log, LOGLVL_INFO, "task_expired", "task=%s status=%s", k->id,
            task_status_name(k->status));
    if (!task_terminal(k->status)) {
      /* Its watchers hear the end of it. */
      detach_call(k);
      k->error = json_pack("{s:i,s:s}", "code", JSONRPC_INTERNAL_ERROR, "message",
                           "The task expired (timeouts.task_ttl_ms) before its call ended");
      task_set_status(k, TASK_FAILED, "expired");
      notify(d, k);
    }
    task_drop(d, k);
  }
  if (d->tasks.count == 0)
    uv_timer_stop(t);
}

int dispatch_task_adopt(dispatch *d, session *from, mcpd_call *call, json_t **response) {
  const principal *p = d->principal;
  char client[TASK_CLIENT_MAX];
  task *k;
  json_t *result, *caps;
  unsigned work_ms;
  int rc;

  *response = NULL;
  if (p != NULL) {
    static const char hex[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < 32; i++) {
      client[2 * i] = hex[p->key[i] >> 4];
      client[2 * i + 1] = hex[p->key[i] & 15];
    }
    client[64] = '\0';
  } else {
    snprintf(client, sizeof(client), "%s", from->origin);
  }
  task_table_configure(&d->tasks, d->cfg->max_tasks, d->cfg->max_tasks_per_client,
                       d->cfg->max_task_bytes, d->cfg->max_task_bytes_per_client);
  rc = task_new(&d->tasks, client, p ? p->key : NULL, d->cfg->task_ttl_ms,
                uv_now(d->task_timer.loop), &k);
  if (rc < 0) {
    /* The call goes on as a plain one: the client waits for it. */
    d->stats.tasks_refused++;
    log_msg(d->log, LOGLVL_WARN, "task_refused", "tool=%s reason=\"%s\"", call->name,
            rc == -EDQUOT   ? "this client holds its limit of tasks"
            : rc == -EAGAIN ? "the task table is full"
                            : "out of memory");
    return rc;
  }
  k->d = d;
  k->sink.send = task_send;
  caps = compact_capabilities(from->client_capabilities);
  k->s = caps ? session_new_detached(from->version, caps) : NULL;
  json_decref(caps);
  result = task_render(k, d->cfg->task_poll_ms, 0, NULL);
  if (k->s == NULL || result == NULL) {
    json_decref(result);
    session_free_detached(k->s);
    k->s = NULL;
    task_remove(&d->tasks, k);
    return -ENOMEM;
  }
  snprintf(k->s->origin, sizeof(k->s->origin), "%s", from->origin);
  k->s->log_level = 8; /* no log messages on a task */
  /* The call moves to the task's session, with its questions to the
   * client; the request that started it can now end. */
  dispatch_session_unlink(call);
  dispatch_session_link(call, k->s);
  dispatch_requests_move(d, call, k->s);
  call->owner = &k->sink;
  call->task = k;
  k->call = call;
  /* The call ends before the task does, so that its outcome (a timeout
   * says so) can still be read for a while. */
  work_ms =
      d->cfg->task_ttl_ms - (d->cfg->task_ttl_ms / 2 < 60000 ? d->cfg->task_ttl_ms / 2 : 60000);
  call_set_deadline(call, work_ms);
  json_object_set_new(result, "resultType", json_string("task"));
  *response = jsonrpc_result(call->id, result);
  dispatch_modern_result(d, call->version, "tools/call", *response);
  d->stats.tasks_created++;
  log_msg(d->log, LOGLVL_INFO, "task_created", "task=%s tool=%s", k->id, call->name);
  if (!uv_is_active((uv_handle_t *)&d->task_timer)) {
    uv_timer_start(&d->task_timer, sweep_cb, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&d->task_timer);
  }
  return 0;
}

void dispatch_task_asked(dispatch *d, mcpd_call *call) {
  task *k = call->task;
  /* Every question is news, not only the first. */
  if (k != NULL) {
    task_set_status(k, TASK_INPUT_REQUIRED, NULL);
    notify(d, k);
  }
}

/* The task a tasks/ request names, for its caller; NULL with r set. */
static task *find_task(req_ctx *c, reply *r, const char *method) {
  const json_t *id = json_object_get(c->params, "taskId");
  task *k;
  if (!dispatch_task_declared(c->s)) {
    dispatch_task_refuse(r);
    return NULL;
  }
  if (!json_is_string(id)) {
    dispatch_fail(r, JSONRPC_INVALID_PARAMS, "%s needs params.taskId, a string", method);
    return NULL;
  }
  k = task_find(&c->d->tasks, json_string_value(id), json_string_length(id), caller_key(c->d));
  if (k == NULL)
    dispatch_fail(r, JSONRPC_INVALID_PARAMS, "Failed to retrieve task: Task not found");
  return k;
}

int dispatch_tasks_get(req_ctx *c, reply *r) {
  task *k = find_task(c, r, "tasks/get");
  if (k == NULL)
    return DISPATCH_DONE;
  r->result = task_render(k, c->d->cfg->task_poll_ms, 1,
                          k->call != NULL ? ((mcpd_call *)k->call)->mrtr_asks : NULL);
  return DISPATCH_DONE;
}

int dispatch_tasks_update(req_ctx *c, reply *r) {
  const json_t *responses = json_object_get(c->params, "inputResponses"), *v;
  mcpd_call *call;
  const char *key;
  task *k = find_task(c, r, "tasks/update");
  if (k == NULL)
    return DISPATCH_DONE;
  if (!json_is_object(responses))
    return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                         "tasks/update needs params.inputResponses, an object of answers by key");
  json_object_foreach((json_t *)responses, key, v) {
    if (!json_is_object(v))
      return dispatch_fail(r, JSONRPC_INVALID_PARAMS,
                           "Invalid params: inputResponses.%s must be an object (the answer to "
                           "that request)",
                           key);
  }
  call = k->call;
  /* Answers to what is not asked now are ignored (the spec's SHOULD): a
   * key answered twice, or one the task never asked. */
  if (call != NULL && k->status == TASK_INPUT_REQUIRED) {
    json_object_foreach((json_t *)responses, key, v) {
      /* A key not asked now costs one lookup, not a walk of every question. */
      if (json_object_get(call->mrtr_asks, key) != NULL)
        dispatch_client_answer(c->d, call, key, v);
    }
    dispatch_task_settled(c->d, call);
  }
  r->result = json_object();
  return DISPATCH_DONE;
}

int dispatch_tasks_cancel(req_ctx *c, reply *r) {
  task *k = find_task(c, r, "tasks/cancel");
  if (k == NULL)
    return DISPATCH_DONE;
  if (k->call != NULL) {
    /* Cancelled now, whatever the plugin makes of it: its completion is
     * dropped. */
    detach_call(k);
    c->d->stats.cancellations++;
    if (task_set_status(k, TASK_CANCELLED, NULL))
      notify(c->d, k);
  }
  r->result = json_object();
  return DISPATCH_DONE;
}

int dispatch_listen_tasks(dispatch *d, session *s, const json_t *ids, json_t **honoured,
                          json_t **error) {
  size_t i;
  *honoured = NULL;
  *error = NULL;
  if (!dispatch_task_declared(s)) {
    *error =
        json_pack("{s:i,s:s,s:o}", "code", MODERN_ERROR_MISSING_CAPABILITY, "message",
                  "Missing required client capability: task notifications need the " TASK_EXTENSION
                  " extension",
                  "data", missing_extension_data());
    return -1;
  }
  if (!json_is_array(ids) || json_array_size(ids) > 1000) {
    *error = json_pack("{s:i,s:s}", "code", JSONRPC_INVALID_PARAMS, "message",
                       "Invalid params: notifications.taskIds must be an array of at most 1000 "
                       "task ids");
    return -1;
  }
  if ((*honoured = json_array()) == NULL || (s->task_watch = json_object()) == NULL) {
    json_decref(*honoured);
    *honoured = NULL;
    *error = json_pack("{s:i,s:s}", "code", JSONRPC_INTERNAL_ERROR, "message", "out of memory");
    return -1;
  }
  for (i = 0; i < json_array_size(ids); i++) {
    const json_t *id = json_array_get(ids, i);
    /* Only tasks this caller may see: the others do not exist for it. */
    if (json_is_string(id) &&
        task_find(&d->tasks, json_string_value(id), json_string_length(id), caller_key(d)) !=
            NULL &&
        json_object_get(s->task_watch, json_string_value(id)) == NULL) {
      json_object_set_new(s->task_watch, json_string_value(id), json_true());
      json_array_append(*honoured, (json_t *)id);
    }
  }
  return 0;
}

unsigned dispatch_task_count(const dispatch *d) {
  return d->tasks.count;
}

void dispatch_tasks_close(dispatch *d) {
  task *k;
  while ((k = task_oldest(&d->tasks)) != NULL)
    task_drop(d, k);
  task_table_free(&d->tasks);
}
