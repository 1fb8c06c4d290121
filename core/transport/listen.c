/* listen.c -- subscriptions/listen streams. */
#include "transport/listen.h"

#include "lib/json_write.h"
#include "mcp/modern.h"
#include "net/http_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct listen_stream {
  mcp_sink sink; /* first: the session's channel (s->out) */
  listen_hub *h;
  http_req *req;
  session *s; /* owned, detached */
  json_t *id; /* owned: the listen request's id */
  list_node link;
  listen_filter f;
} listen_stream;

/* ---- what every transport's listen shares --------------------------------------- */

int listen_open(dispatch *d, const jsonrpc_msg *m, session *s, listen_filter *f, json_t **ack,
                json_t **error) {
  const json_t *want = json_object_get(m->params, "notifications");
  const json_t *uris = json_object_get(want, "resourceSubscriptions");
  const json_t *task_ids = json_object_get(want, "taskIds");
  json_t *honoured, *tasks = NULL, *err;
  size_t i;

  *ack = *error = NULL;
  memset(f, 0, sizeof(*f));
  if ((want != NULL && !json_is_object(want)) || (uris != NULL && !json_is_array(uris))) {
    *error = jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS,
                           "Invalid params: notifications must be an object, and "
                           "resourceSubscriptions an array of URIs",
                           NULL);
    return -1;
  }
  if (task_ids != NULL && dispatch_listen_tasks(d, s, task_ids, &tasks, &err) < 0) {
    *error = json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", m->id, "error", err);
    return -1;
  }
  f->tools = json_is_true(json_object_get(want, "toolsListChanged"));
  f->prompts = json_is_true(json_object_get(want, "promptsListChanged"));
  f->resources = json_is_true(json_object_get(want, "resourcesListChanged"));
  if (json_array_size(uris) > 0 && s->subscriptions == NULL &&
      (s->subscriptions = json_object()) == NULL) {
    json_decref(tasks);
    *error = jsonrpc_error(m->id, JSONRPC_INTERNAL_ERROR, "out of memory", NULL);
    return -1;
  }
  for (i = 0; i < json_array_size(uris); i++) {
    if (json_is_string(json_array_get(uris, i)))
      json_object_set_new(s->subscriptions, json_string_value(json_array_get(uris, i)),
                          json_true());
  }
  /* What will be sent: every kind mcpd has, of those asked for. */
  honoured = json_object();
  if (f->tools)
    json_object_set_new(honoured, "toolsListChanged", json_true());
  if (f->prompts)
    json_object_set_new(honoured, "promptsListChanged", json_true());
  if (f->resources)
    json_object_set_new(honoured, "resourcesListChanged", json_true());
  if (json_array_size(uris) > 0)
    json_object_set(honoured, "resourceSubscriptions", (json_t *)uris);
  if (tasks != NULL)
    json_object_set_new(honoured, "taskIds", tasks);
  *ack = json_pack("{s:s,s:s,s:{s:o,s:{s:O}}}", "jsonrpc", "2.0", "method",
                   "notifications/subscriptions/acknowledged", "params", "notifications", honoured,
                   "_meta", "io.modelcontextprotocol/subscriptionId", m->id);
  return 0;
}

json_t *listen_tagged(const listen_filter *f, const json_t *msg, const json_t *id) {
  const char *method = json_string_value(json_object_get(msg, "method"));
  json_t *copy, *params, *meta;
  if (method == NULL)
    return NULL;
  if ((strcmp(method, "notifications/tools/list_changed") == 0 && !f->tools) ||
      (strcmp(method, "notifications/prompts/list_changed") == 0 && !f->prompts) ||
      (strcmp(method, "notifications/resources/list_changed") == 0 && !f->resources))
    return NULL;
  if (strcmp(method, "notifications/message") == 0 || strcmp(method, "notifications/progress") == 0)
    return NULL; /* never on a listen stream */
  copy = json_deep_copy(msg);
  params = json_object_get(copy, "params");
  if (!json_is_object(params)) {
    params = json_object();
    json_object_set_new(copy, "params", params);
  }
  meta = json_object_get(params, "_meta");
  if (!json_is_object(meta)) {
    meta = json_object();
    json_object_set_new(params, "_meta", meta);
  }
  json_object_set(meta, "io.modelcontextprotocol/subscriptionId", (json_t *)id);
  return copy;
}

json_t *listen_result(const json_t *id) {
  return jsonrpc_result(id, json_pack("{s:s,s:{s:O}}", "resultType", "complete", "_meta",
                                      "io.modelcontextprotocol/subscriptionId", id));
}

/* ---- HTTP: an SSE stream per listen ---------------------------------------------------- */

static void send_event(listen_stream *ls, const json_t *msg) {
  buf out;
  memset(&out, 0, sizeof(out));
  if (buf_append(&out, "event: message\ndata: ", 21) == 0 && json_write(&out, msg) == 0 &&
      buf_append(&out, "\n\n", 2) == 0)
    http_stream_send(ls->req, out.data, out.len);
  buf_free(&out);
}

/* A notification for this stream, if it asked for its kind. */
static int stream_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  listen_stream *ls = (listen_stream *)sink;
  json_t *copy;
  (void)s;
  (void) final;
  if (ls->req == NULL || (copy = listen_tagged(&ls->f, msg, ls->id)) == NULL)
    return 0;
  send_event(ls, copy);
  json_decref(copy);
  return 0;
}

static void stream_free(listen_stream *ls) {
  list_remove(&ls->link);
  ls->h->count--;
  dispatch_listen_remove(ls->h->disp, ls->s);
  dispatch_session_closed(ls->h->disp, ls->s);
  session_free_detached(ls->s);
  json_decref(ls->id);
  free(ls);
}

static void stream_abort(http_req *req) {
  listen_stream *ls = req->user;
  ls->req = NULL;
  stream_free(ls); /* the client closed it: that is how a listen ends */
}

static void keepalive_cb(uv_timer_t *t) {
  listen_hub *h = t->data;
  list_node *n;
  for (n = h->streams.next; n != &h->streams; n = n->next) {
    listen_stream *ls = list_entry(n, listen_stream, link);
    if (ls->req != NULL)
      http_stream_send(ls->req, ": keep-alive\n\n", 14);
  }
}

static void respond_error(http_req *req, int status, const json_t *resp, const char *extra) {
  char headers[800];
  buf out;
  memset(&out, 0, sizeof(out));
  json_write(&out, resp);
  snprintf(headers, sizeof(headers), "Content-Type: application/json\r\n%s", extra);
  http_respond(req, status, headers, out.data, out.len);
  buf_free(&out);
}

void listen_start(listen_hub *h, http_req *req, const jsonrpc_msg *m, session *s,
                  const char *extra) {
  size_t accept_len;
  const char *accept = http_req_header(req, "accept", &accept_len);
  json_t *ack = NULL, *err = NULL;
  listen_filter f;
  listen_stream *ls;
  char headers[800];

  if (!http_util_accepts(accept, accept_len, "text/event-stream")) {
    err = jsonrpc_error(m->id, JSONRPC_INVALID_PARAMS,
                        "subscriptions/listen answers as an SSE stream: accept text/event-stream",
                        NULL);
  } else if (listen_open(h->disp, m, s, &f, &ack, &err) == 0 && http_stream_admit(req) < 0) {
    json_decref(ack);
    http_respond(req, 429, "Retry-After: 1\r\nContent-Type: text/plain\r\n",
                 "429 Too Many Requests: too many streams from this address\n", 58);
    session_free_detached(s);
    return;
  }
  if (err != NULL) {
    respond_error(req, 400, err, extra);
    json_decref(err);
    session_free_detached(s);
    return;
  }
  if ((ls = calloc(1, sizeof(*ls))) == NULL) {
    json_decref(ack);
    http_respond(req, 503, "Content-Type: text/plain\r\n", "out of memory\n", 14);
    session_free_detached(s);
    return;
  }
  ls->h = h;
  ls->req = req;
  ls->s = s;
  ls->id = json_incref((json_t *)m->id);
  ls->sink.send = stream_send;
  ls->f = f;
  s->out = &ls->sink;
  list_insert_tail(&h->streams, &ls->link);
  h->count++;
  dispatch_listen_add(h->disp, s);
  req->user = ls;
  req->on_abort = stream_abort;
  snprintf(headers, sizeof(headers),
           "Content-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\n"
           "X-Accel-Buffering: no\r\n%s",
           extra);
  http_stream_begin(req, 200, headers);
  if (ack != NULL)
    send_event(ls, ack);
  json_decref(ack);
  dispatch_listen_snapshot(h->disp, s);
  if (h->timer_open && !uv_is_active((uv_handle_t *)&h->keepalive) && h->cfg->sse_keepalive_ms)
    uv_timer_start(&h->keepalive, keepalive_cb, h->cfg->sse_keepalive_ms, h->cfg->sse_keepalive_ms);
}

int listen_hub_init(listen_hub *h, uv_loop_t *loop, dispatch *d, const config *cfg) {
  int r;
  memset(h, 0, sizeof(*h));
  h->disp = d;
  h->cfg = cfg;
  list_init(&h->streams);
  r = uv_timer_init(loop, &h->keepalive);
  if (r < 0)
    return r;
  h->keepalive.data = h;
  uv_unref((uv_handle_t *)&h->keepalive);
  h->timer_open = 1;
  return 0;
}

void listen_hub_end_all(listen_hub *h) {
  while (!list_empty(&h->streams)) {
    listen_stream *ls = list_entry(h->streams.next, listen_stream, link);
    http_req *req = ls->req;
    json_t *done = listen_result(ls->id);
    if (req != NULL && done != NULL)
      send_event(ls, done);
    json_decref(done);
    ls->req = NULL;
    if (req != NULL) {
      req->on_abort = NULL;
      http_stream_end(req);
    }
    stream_free(ls);
  }
}

void listen_hub_close(listen_hub *h) {
  listen_hub_end_all(h);
  if (h->timer_open) {
    h->timer_open = 0;
    uv_close((uv_handle_t *)&h->keepalive, NULL);
  }
}
