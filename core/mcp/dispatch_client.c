/* dispatch_client.c -- requests mcpd sends to a client on behalf of a
 * running call (sampling, elicitation, roots: host->request()), their
 * deadlines, and the client's answers. */
#include "mcp/dispatch_internal.h"

#include "lib/principal.h"
#include "mcp/modern.h"

#include "lib/error.h"
#include "lib/schema.h"
#include "lib/version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
  /* 2026-07-28: nothing goes to the client. Either the answer is known
   * (given back with the call's retry) and is delivered on the next turn,
   * or the question is open and the call ends as input_required. */
  json_t *answer; /* owned */
  int ask;
  char key[65]; /* the question's name (2026-07-28) */
} client_req;

static dispatch *dispatch_of(const mcpd_call *call) {
  return call->eng->arg;
}

/* Answers a request (status, result borrowed) and forgets it. */
static void client_req_finish(client_req *q, int status, const json_t *result) {
  mcpd_call *call = q->call;
  list_remove(&q->link);
  list_remove(&q->s_link);
  if (q->ask && call->task != NULL) {
    /* A task's question that ends unanswered (the call was cancelled) is
     * not shown any more. */
    json_object_del(call->mrtr_asks, q->key);
    dispatch_task_settled(dispatch_of(call), call);
  }
  q->cb(call, status, result, q->arg);
  json_decref(q->id);
  json_decref(q->answer);
  free(q);
  call_unref(call);
}

/* The open questions of call end it: the client gets an input_required
 * result with them and a requestState to come back with, and the call is
 * cancelled (its handler runs again from the start on the retry). */
static void suspend(dispatch *d, mcpd_call *call) {
  mcp_sink *sink = call->owner;
  const principal *p = call->principal;
  char *state;
  json_t *result, *resp;
  list_node *n, *tmp;

  call->mrtr_suspended = 1;
  call->owner = NULL;
  state = modern_state_make(d->state_key, call_method_of(call), call->name, p ? p->key : NULL,
                            call->mrtr_answers, (long long)time(NULL));
  result = json_pack("{s:s,s:O,s:s?}", "resultType", "input_required", "inputRequests",
                     call->mrtr_asks, "requestState", state);
  free(state);
  resp = result ? jsonrpc_result(call->id, result) : NULL;
  dispatch_modern_result(d, call->version, call_method_of(call), resp);
  if (sink != NULL)
    sink->send(sink, call->session, resp, 1);
  json_decref(resp);
  list_foreach_safe(n, tmp, &d->requests) {
    client_req *q = list_entry(n, client_req, link);
    if (q->call == call && q->ask)
      client_req_finish(q, -ECANCELED, NULL);
  }
  call_cancel(call);
}

static void req_timer_cb(uv_timer_t *t) {
  dispatch *d = t->data;
  uint64_t now = uv_now(t->loop);
  list_node *n, *tmp;
  /* 2026-07-28 questions first: known answers, then the open ones. */
  list_foreach_safe(n, tmp, &d->requests) {
    client_req *q = list_entry(n, client_req, link);
    if (q->answer != NULL) {
      json_t *a = json_incref(q->answer);
      client_req_finish(q, 0, a);
      json_decref(a);
      tmp = d->requests.next;
    } else if (q->ask && q->call->task == NULL && !q->call->mrtr_suspended) {
      /* A task's questions wait in the task for tasks/update. */
      suspend(d, q->call);
      tmp = d->requests.next;
    }
  }
  list_foreach_safe(n, tmp, &d->requests) {
    client_req *q = list_entry(n, client_req, link);
    if (q->ask || q->answer != NULL)
      continue;
    if (q->deadline <= now) {
      d->stats.client_request_timeouts++;
      log_msg(d->log, LOGLVL_WARN, "client_request_timeout", "plugin=%s session=%s",
              call_plugin_name(q->call), q->s->id);
      client_req_finish(q, -ETIMEDOUT, NULL);
      /* The callback may answer or send others: start over. */
      tmp = d->requests.next;
    }
  }
  /* Questions waiting in tasks need no timer (tasks/update starts it). */
  for (n = d->requests.next; n != &d->requests; n = n->next) {
    client_req *q = list_entry(n, client_req, link);
    if (!q->ask || q->call->task == NULL)
      return;
  }
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

/* A question in the 2026-07-28 era (no session, no stream to ask on). */
static int modern_request(dispatch *d, mcpd_call *call, const char *key, const char *method,
                          json_t *params, mcpd_response_fn cb, void *arg) {
  session *s = call->session;
  const char *cap = capability_for(method);
  const json_t *answer;
  client_req *q;
  char name[24];

  if (cap == NULL) { /* ping */
    json_decref(params);
    return -ENOTSUP;
  }
  if (s == NULL || json_object_get(s->client_capabilities, cap) == NULL) {
    /* The call will end -32021, naming what the client must declare. */
    call->mrtr_needs = cap;
    json_decref(params);
    return -ENOTSUP;
  }
  if (key == NULL) {
    snprintf(name, sizeof(name), "r%u", call->mrtr_seq++);
    key = name;
  }
  if (call->mrtr_asks == NULL && (call->mrtr_asks = json_object()) == NULL) {
    json_decref(params);
    return -ENOMEM;
  }
  if ((q = calloc(1, sizeof(*q))) == NULL) {
    json_decref(params);
    return -ENOMEM;
  }
  snprintf(q->key, sizeof(q->key), "%s", key);
  answer = json_object_get(call->mrtr_answers, key);
  if (answer != NULL) {
    q->answer = json_incref((json_t *)answer);
    json_decref(params);
  } else {
    q->ask = 1;
    json_object_set_new(
        call->mrtr_asks, key,
        json_pack("{s:s,s:o}", "method", method, "params", params ? params : json_object()));
    if (call->task != NULL)
      dispatch_task_asked(d, call);
  }
  q->s = s;
  q->call = call;
  q->cb = cb;
  q->arg = arg;
  atomic_fetch_add(&call->refs, 1);
  list_insert_tail(&d->requests, &q->link);
  list_init(&q->s_link);
  /* On the next turn: callbacks never run inside request(), and every
   * question a handler asks in one go ends up in one input_required. */
  uv_timer_start(&d->req_timer, req_timer_cb, 0, 50);
  uv_unref((uv_handle_t *)&d->req_timer);
  return 0;
}

int dispatch_client_request(mcpd_call *call, const char *method, json_t *params,
                            unsigned timeout_ms, mcpd_response_fn cb, void *arg) {
  return dispatch_client_request_named(call, NULL, method, params, timeout_ms, cb, arg);
}

int dispatch_client_request_named(mcpd_call *call, const char *key, const char *method,
                                  json_t *params, unsigned timeout_ms, mcpd_response_fn cb,
                                  void *arg) {
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
  if (key != NULL &&
      (strlen(key) == 0 || strlen(key) > 64 ||
       strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
           strlen(key))) {
    json_decref(params);
    return -EINVAL;
  }
  if (s != NULL && PROTO_IS_MODERN(s->version))
    return modern_request(d, call, key, method, params, cb, arg);
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
  /* The client's credentials are for mcpd alone while it authenticates
   * its clients: no plugin can read them, so none can pass them on. */
  if (d->cfg->auth != NULL &&
      (strcasecmp(name, "authorization") == 0 || strcasecmp(name, "proxy-authorization") == 0))
    return NULL;
  return d->header_fn(d->header_req, name);
}

const mcpd_principal *dispatch_call_principal(const mcpd_call *call) {
  if (call == NULL || call->magic != CALL_MAGIC || call->principal == NULL)
    return NULL;
  return &call->principal->view;
}

const json_t *dispatch_client_capabilities(const mcpd_call *call) {
  const session *s;
  if (call == NULL || call->magic != CALL_MAGIC)
    return NULL;
  s = call->session;
  return s != NULL && s->client_capabilities != NULL ? s->client_capabilities
                                                     : dispatch_of(call)->empty;
}

void dispatch_requests_move(dispatch *d, const mcpd_call *call, session *s) {
  list_node *n;
  for (n = d->requests.next; n != &d->requests; n = n->next) {
    client_req *q = list_entry(n, client_req, link);
    if (q->call == call) {
      list_remove(&q->s_link);
      list_init(&q->s_link); /* 2026-07-28 questions are in no session's list */
      q->s = s;
    }
  }
}

int dispatch_client_answer(dispatch *d, mcpd_call *call, const char *key, const json_t *answer) {
  list_node *n;
  for (n = d->requests.next; n != &d->requests; n = n->next) {
    client_req *q = list_entry(n, client_req, link);
    if (q->call != call || !q->ask || strcmp(q->key, key) != 0)
      continue;
    q->ask = 0;
    q->answer = json_incref((json_t *)answer);
    json_object_del(call->mrtr_asks, key);
    /* Asked again under this name, it has this answer (keys are never
     * reused for another question). */
    if (call->mrtr_answers == NULL)
      call->mrtr_answers = json_object();
    json_object_set(call->mrtr_answers, key, (json_t *)answer);
    uv_timer_start(&d->req_timer, req_timer_cb, 0, 50);
    uv_unref((uv_handle_t *)&d->req_timer);
    return 1;
  }
  return 0;
}

/* A client's answer to one of our requests. */
void dispatch_client_response(dispatch *d, session *s, const jsonrpc_msg *m) {
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
  log_msg(d->log, LOGLVL_INFO, "client_response_ignored",
          "session=%s reason=\"no request of ours has this id\"", s->id);
}

/* Answers -ECANCELED to the requests of a call (it was cancelled) or of a
 * session (it is going away). */
void dispatch_cancel_requests(dispatch *d, const mcpd_call *call, session *s) {
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
