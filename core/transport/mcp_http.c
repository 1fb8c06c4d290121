/* mcp_http.c -- the Streamable HTTP transport at /mcp.
 *
 * A POST carries one JSON-RPC message (or, in a 2025-03-26 session, a
 * batch). Notifications and client responses get 202. A request gets its
 * response as application/json, unless the handler sends something first
 * (progress, a log message, a request to the client): the response then
 * turns into an SSE stream carrying those and finally the response. Such a
 * stream is resumable (sse.c): if the connection drops, the call goes on
 * and the client picks the stream up with GET + Last-Event-ID. A plain GET
 * opens the session's standalone stream for messages the server starts. */
#include "lib/json_read.h"
#include "lib/json_write.h"
#include "transport/mcp_http.h"

#include "net/http_util.h"
#include "mcp/jsonrpc.h"
#include "mcp/protocol.h"
#include "mcp/authz.h"
#include "mcp/modern.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* One POST waiting for responses that come later: a single request whose
 * handler went asynchronous, or a batch. Each pending request has an item
 * whose sink the dispatcher holds. */
typedef struct mcp_reply mcp_reply;

typedef struct reply_item {
  mcp_sink sink; /* first: the dispatcher sees this */
  mcp_reply *rep;
  mcpd_call *call; /* NULL once its final message came */
} reply_item;

struct mcp_reply {
  mcp_http *t;
  http_req *req;      /* while the answer is JSON: NULL once sent or the client is gone */
  sse_stream *stream; /* once the answer is SSE */
  unsigned sse_ok : 1;
  unsigned batch : 1;
  unsigned outstanding; /* final messages still to come, +1 while dispatching */
  json_t *collected;    /* batch: responses for the JSON array */
  char headers[512];    /* extra response headers (CORS; at most ~300 bytes) */
  /* A batch, dispatched a slice a turn (batch.h). */
  batch_job job;
  json_t *body;         /* owned: the batch */
  session *s;           /* its session, held while dispatching; NULL once it is gone */
  char *fields;         /* owned: the request's header fields once the request is
                           gone ("name\0value\0..."), for host->call_header() */
  principal *principal; /* owned ref: the batch's caller, for its later slices */
  /* A 2026-07-28 request: its own session (freed with the reply), and an
   * SSE answer written straight to the request (no ids, no resumption:
   * closing it cancels the request). */
  session *own;
  unsigned modern : 1;
  unsigned raw_stream : 1;
  size_t fields_len;
  unsigned used; /* items handed out */
  unsigned n_items;
  reply_item items[];
};

/* How long a signed session id stays good: a day, however often it is
 * taken up again. */
#define SESSION_SIGNED_LIFETIME_S (24 * 3600)

/* ---- responses ---------------------------------------------------------- */

static void respond_json(mcp_http *t, http_req *req, int status, const json_t *msg,
                         const char *extra) {
  static const char ct[] = "Content-Type: application/json\r\n";
  char headers[1024]; /* extra is at most ~700 bytes (CORS and session headers) */
  size_t el = extra ? strlen(extra) : 0;
  if (el > sizeof(headers) - sizeof(ct))
    el = 0; /* never cut a header block */
  memcpy(headers, ct, sizeof(ct) - 1);
  memcpy(headers + sizeof(ct) - 1, extra ? extra : "", el);
  headers[sizeof(ct) - 1 + el] = '\0';
  buf_reset(&t->out);
  if (msg == NULL || json_write(&t->out, msg) < 0) {
    http_respond(req, 500, "Content-Type: text/plain\r\n", "out of memory\n", 14);
    return;
  }
  http_respond(req, status, headers, t->out.data, t->out.len);
}

/* An HTTP-level rejection with a JSON-RPC error body (no id). */
static void reject(mcp_http *t, http_req *req, int status, int code, const char *extra,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void reject(mcp_http *t, http_req *req, int status, int code, const char *extra,
                   const char *fmt, ...) {
  char msg[512];
  json_t *err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  t->stats.rejected++;
  log_msg(t->log, LOGLVL_DEBUG, "mcp_rejected", "status=%d code=%d", status, code);
  err = jsonrpc_error(NULL, code, msg, NULL);
  respond_json(t, req, status, err, extra);
  json_decref(err);
}

/* ---- replies -------------------------------------------------------------- */

static void reply_free(mcp_reply *rep) {
  if (rep->own != NULL) {
    dispatch_session_closed(rep->t->disp, rep->own);
    session_free_detached(rep->own);
  }
  principal_unref(rep->principal);
  json_decref(rep->collected);
  json_decref(rep->body);
  free(rep->fields);
  free(rep);
}

/* The batch of rep dispatches nothing more: its job leaves the runner and
 * its session is no longer held. */
static void reply_stop_batch(mcp_reply *rep) {
  batch_cancel(&rep->t->batches, &rep->job);
  if (rep->s != NULL)
    rep->s->holds--;
  rep->s = NULL;
}

/* ---- modern answers as SSE: straight to the request ------------------------ */

static int raw_begin(mcp_reply *rep) {
  char headers[800];
  snprintf(headers, sizeof(headers),
           "Content-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\n"
           "X-Accel-Buffering: no\r\n%s",
           rep->headers);
  if (http_stream_begin(rep->req, 200, headers) < 0)
    return -1;
  rep->raw_stream = 1;
  rep->t->stats.sse_responses++;
  return 0;
}

static void raw_send(mcp_reply *rep, const json_t *msg) {
  buf *out = &rep->t->out;
  buf_reset(out);
  if (buf_append(out, "event: message\ndata: ", 21) < 0 || json_write(out, msg) < 0 ||
      buf_append(out, "\n\n", 2) < 0)
    return;
  http_stream_send(rep->req, out->data, out->len);
}

/* All responses are in: finish the HTTP response, free the reply. */
static void reply_finish(mcp_reply *rep) {
  mcp_http *t = rep->t;
  http_req *req = rep->req;

  rep->req = NULL;
  if (rep->raw_stream) {
    if (req != NULL) {
      req->on_abort = NULL;
      http_stream_end(req);
    }
  } else if (rep->stream != NULL) {
    sse_stream *st = rep->stream;
    rep->stream = NULL;
    st->owner = NULL;
    st->on_expire = NULL;
    sse_finish(st); /* ends the response, or waits to be resumed */
  } else if (req != NULL) {
    req->on_abort = NULL;
    if (rep->batch && json_array_size(rep->collected) > 0) {
      respond_json(t, req, 200, rep->collected, rep->headers);
    } else if (rep->batch || !rep->sse_ok) {
      http_respond(req, 202, rep->headers, "", 0); /* notifications only, or all cancelled */
    } else {
      /* The request was cancelled: an event stream with no events. */
      char headers[700];
      snprintf(headers, sizeof(headers),
               "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
               "X-Accel-Buffering: no\r\n%s",
               rep->headers);
      http_respond(req, 200, headers, "", 0);
    }
  }
  reply_free(rep);
}

/* Drops one expected final message (or the dispatching hold); the last one
 * finishes the reply. */
static void reply_release(mcp_reply *rep) {
  if (--rep->outstanding == 0)
    reply_finish(rep);
}

/* Lets go of every call still pending in the reply (they are cancelled). */
static void reply_abandon(mcp_reply *rep) {
  unsigned i;
  for (i = 0; i < rep->n_items; i++) {
    reply_item *item = &rep->items[i];
    if (item->call != NULL) {
      mcpd_call *call = item->call;
      item->call = NULL;
      rep->outstanding--;
      dispatch_abandon(rep->t->disp, call);
    }
  }
}

/* The stream of a reply is ended by force before its calls finished
 * (never resumed, session gone, shutdown). */
static void reply_expire(sse_stream *st) {
  mcp_reply *rep = st->owner;
  reply_abandon(rep);
  if (batch_queued(&rep->job))
    reply_stop_batch(rep); /* its dispatching hold is released below */
  else
    rep->outstanding++; /* reply_release() below drops it */
  reply_release(rep);
}

/* The answer becomes an SSE stream (of session s). */
static int start_stream(mcp_reply *rep, session *s) {
  http_req *req = rep->req;
  size_t i;
  if (req == NULL || s == NULL)
    return -1;
  rep->req = NULL;
  rep->stream = sse_open(&rep->t->hub, s, req, 0, rep->headers);
  if (rep->stream == NULL)
    return -1;
  rep->stream->owner = rep;
  rep->stream->on_expire = reply_expire;
  rep->t->stats.sse_responses++;
  /* A batch may already hold responses: they go first. */
  for (i = 0; rep->collected != NULL && i < json_array_size(rep->collected); i++)
    sse_send(rep->stream, json_array_get(rep->collected, i));
  json_array_clear(rep->collected);
  return 0;
}

/* Delivers one response of the reply. */
static void reply_deliver(mcp_reply *rep, const json_t *msg) {
  if (msg == NULL)
    return;
  if (rep->raw_stream) {
    if (rep->req != NULL)
      raw_send(rep, msg);
  } else if (rep->stream != NULL) {
    sse_send(rep->stream, msg);
  } else if (rep->req == NULL) {
    return; /* the client is gone */
  } else if (rep->batch) {
    json_array_append(rep->collected, (json_t *)msg);
  } else {
    http_req *req = rep->req;
    const json_t *code = json_object_get(json_object_get(msg, "error"), "code");
    rep->req = NULL;
    req->on_abort = NULL;
    /* A capability the client must declare is its error: 400 (2026-07-28). */
    respond_json(rep->t, req,
                 rep->modern && json_integer_value(code) == MODERN_ERROR_MISSING_CAPABILITY ? 400
                                                                                            : 200,
                 msg, rep->headers);
  }
}

static int item_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  reply_item *item = (reply_item *)sink;
  mcp_reply *rep = item->rep;

  if (!final) {
    /* A notification or a request to the client: only SSE has room. */
    if (msg == NULL)
      return 0;
    if (rep->modern) {
      if (!rep->sse_ok || rep->req == NULL || (!rep->raw_stream && raw_begin(rep) < 0))
        return -ENOTSUP;
      raw_send(rep, msg);
      return 0;
    }
    if (rep->sse_ok && (rep->stream != NULL || start_stream(rep, s) == 0)) {
      sse_send(rep->stream, msg);
      return 0;
    }
    return -ENOTSUP;
  }
  item->call = NULL;
  reply_deliver(rep, msg);
  reply_release(rep);
  return 0;
}

/* The client went away before the answer started: nothing can be resumed,
 * so the calls are cancelled. */
static void reply_abort(http_req *req) {
  mcp_reply *rep = req->user;
  rep->req = NULL;
  reply_stop_batch(rep);
  reply_abandon(rep);
  /* Only pending items (and a batch still dispatching, stopped above) were
   * left: nothing else holds the reply. */
  reply_free(rep);
}

static mcp_reply *reply_new(mcp_http *t, http_req *req, unsigned n_items, const char *headers) {
  mcp_reply *rep = calloc(1, sizeof(*rep) + n_items * sizeof(reply_item));
  unsigned i;
  size_t accept_len;
  const char *accept;
  if (rep == NULL)
    return NULL;
  rep->t = t;
  rep->req = req;
  rep->n_items = n_items;
  accept = http_req_header(req, "accept", &accept_len);
  rep->sse_ok = http_util_accepts(accept, accept_len, "text/event-stream");
  {
    size_t hl = headers ? strlen(headers) : 0;
    if (hl >= sizeof(rep->headers))
      hl = 0; /* never cut a header block: the CORS headers are optional */
    memcpy(rep->headers, headers ? headers : "", hl);
    rep->headers[hl] = '\0';
  }
  for (i = 0; i < n_items; i++) {
    rep->items[i].sink.send = item_send;
    rep->items[i].rep = rep;
  }
  /* Held while dispatching: an element may finish another one (a cancel),
   * and the reply must outlive the dispatching. */
  rep->outstanding = 1;
  req->user = rep;
  req->on_abort = reply_abort;
  return rep;
}

/* ---- checks --------------------------------------------------------------- */

static int origin_allowed(mcp_http *t, const char *origin, size_t len) {
  const char *name;
  size_t name_len, i;
  for (i = 0; i < t->cfg->n_allowed_origins; i++) {
    const char *a = t->cfg->allowed_origins[i];
    if (strcmp(a, "*") == 0 || http_util_ieq(origin, len, a))
      return 1;
  }
  if (http_util_origin_host(origin, len, &name, &name_len) < 0)
    return 0;
  return http_util_is_loopback_name(name, name_len);
}

/* Whether Host is checked at all: when mcpd listens on loopback or
 * allowed_hosts lists names, unless it lists "*". */
static int host_checked(const mcp_http *t) {
  size_t i;
  for (i = 0; i < t->cfg->n_allowed_hosts; i++) {
    if (strcmp(t->cfg->allowed_hosts[i], "*") == 0)
      return 0;
  }
  return t->bound_loopback || t->cfg->n_allowed_hosts > 0;
}

static int host_allowed(mcp_http *t, const char *host, size_t len) {
  const char *name;
  size_t name_len, i;
  if (http_util_split_host(host, len, &name, &name_len) < 0)
    return 0;
  for (i = 0; i < t->cfg->n_allowed_hosts; i++) {
    if (http_util_ieq(name, name_len, t->cfg->allowed_hosts[i]))
      return 1;
  }
  return http_util_is_loopback_name(name, name_len);
}

/* A refused header value in the log: at most 100 bytes of it, escaped, so
 * that what a client sends cannot add fields or lines to it. */
static void log_refused(mcp_http *t, const char *event, const char *key, const char *v,
                        size_t len) {
  char cut[101], esc[420];
  if (len > 100)
    len = 100;
  memcpy(cut, v, len);
  cut[len] = '\0';
  log_msg(t->log, LOGLVL_WARN, event, "%s=%s", key, log_escape(cut, esc, sizeof(esc)));
}

int mcp_http_check(mcp_http *t, const http_req *req, char *msg, size_t n) {
  const char *origin;
  size_t origin_len;

  origin = http_req_header(req, "origin", &origin_len);
  if (origin != NULL && !origin_allowed(t, origin, origin_len)) {
    log_refused(t, "mcp_origin_refused", "origin", origin, origin_len);
    snprintf(msg, n, "Forbidden: Origin %.*s is not allowed",
             (int)(origin_len > 100 ? 100 : origin_len), origin);
    return 403;
  }
  return mcp_http_check_host(t, req, msg, n);
}

int mcp_http_check_host(mcp_http *t, const http_req *req, char *msg, size_t n) {
  const char *host;
  size_t host_len;

  if (!host_checked(t))
    return 0;
  host = http_req_header(req, "host", &host_len);
  if (host == NULL && req->target_host == NULL) {
    /* HTTP/1.0 may leave Host out; a check that could be skipped so would
     * be no defence. */
    log_msg(t->log, LOGLVL_WARN, "mcp_host_refused", "host=- reason=no_host_header");
    snprintf(msg, n,
             "Bad Request: a Host header is required (mcpd checks it against DNS rebinding)");
    return 400;
  }
  /* An absolute-form target names the host the request is for, whatever
   * Host says (RFC 9112 3.2.2): both must be ours. */
  if (req->target_host != NULL && !host_allowed(t, req->target_host, req->target_host_len)) {
    host = req->target_host;
    host_len = req->target_host_len;
  } else if (host == NULL || host_allowed(t, host, host_len)) {
    return 0;
  }
  log_refused(t, "mcp_host_refused", "host", host, host_len);
  snprintf(msg, n, "Misdirected Request: Host %.*s is not allowed for this server",
           (int)(host_len > 100 ? 100 : host_len), host);
  return 421;
}

const char *mcp_http_header_of(const void *req, const char *name) {
  return http_req_header(req, name, NULL);
}

void mcp_http_tag(http_req *req, const session *s, const jsonrpc_msg *m) {
  const char *tool;
  if (s != NULL)
    http_req_tag(req->tag_session, sizeof(req->tag_session), s->id, strlen(s->id));
  if (m != NULL && m->method != NULL && strcmp(m->method, "tools/call") == 0) {
    tool = json_string_value(json_object_get(m->params, "name"));
    /* Registered names are plain; anything else is not worth logging. */
    if (tool != NULL && strspn(tool, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789_-.") == strlen(tool))
      http_req_tag(req->tag_tool, sizeof(req->tag_tool), tool, strlen(tool));
  }
}

/* Finds the request's session: 0 with *out, or -1 after answering. */
static int need_session(mcp_http *t, http_req *req, const char *extra, session **out) {
  const principal *p = t->disp->principal;
  size_t len;
  const char *id = http_req_header(req, "mcp-session-id", &len);
  if (id == NULL) {
    reject(t, req, 400, MCP_ERROR_BAD_REQUEST, extra,
           "Bad Request: the Mcp-Session-Id header is required (send initialize first)");
    return -1;
  }
  /* While auth is on, a session is only its creator's: anyone else gets
   * the answer an unknown id gets. */
  if (t->cfg->auth != NULL && p == NULL)
    *out = NULL;
  else
    *out = session_find_owned(t->sessions, id, len, t->cfg->auth != NULL ? p->key : NULL);
  if (*out == NULL && t->sessions->signing && (t->cfg->auth == NULL || p != NULL)) {
    /* Not held here: one this server signed before a restart, or another
     * instance's with the same key. It is taken up with what its id says. */
    char addr[SESSION_CLIENT_MAX];
    int have = p != NULL && t->cfg->auth != NULL
                   ? snprintf(addr, sizeof(addr), "%s", p->client_key) > 0
                   : http_req_client_addr(req, addr, sizeof(addr)) == 0;
    *out = session_restore(t->sessions, id, len, t->cfg->auth != NULL ? p->key : NULL,
                           have ? addr : NULL, (int64_t)time(NULL));
    if (*out != NULL)
      log_msg(t->log, LOGLVL_INFO, "session_restored", "session=%s protocol=%s", (*out)->id,
              protocol_name((*out)->version));
  }
  /* An HTTP+SSE session is not one of this transport's: mixing them would
   * let one client's requests take over the other's stream. */
  if (*out != NULL && (*out)->legacy)
    *out = NULL;
  if (*out == NULL) {
    reject(t, req, 404, MCP_ERROR_SESSION_NOT_FOUND, extra,
           "Session not found: it expired or was deleted; initialize a new one");
    return -1;
  }
  mcp_http_tag(req, *out, NULL);
  return 0;
}

/* ---- POST ----------------------------------------------------------------- */

/* host->call_header() for a batch's later slices: the request's fields
 * were copied (reply_keep_fields), as the request has moved on. */
static const char *reply_header_of(const void *r, const char *name) {
  const mcp_reply *rep = r;
  const char *p = rep->fields, *end = rep->fields + rep->fields_len;
  while (p < end) {
    const char *value = p + strlen(p) + 1;
    if (strcasecmp(p, name) == 0)
      return value;
    p = value + strlen(value) + 1;
  }
  return NULL;
}

/* Copies req's header fields for reply_header_of(). Without memory, later
 * slices' handlers see no headers. */
static void reply_keep_fields(mcp_reply *rep, const http_req *req) {
  size_t i, len = 0;
  char *p;
  for (i = 0; i < req->n_headers; i++)
    len += req->headers[i].name_len + req->headers[i].value_len + 2;
  rep->fields = p = malloc(len ? len : 1);
  if (p == NULL)
    return;
  for (i = 0; i < req->n_headers; i++) {
    memcpy(p, req->headers[i].name, req->headers[i].name_len + 1);
    p += req->headers[i].name_len + 1;
    memcpy(p, req->headers[i].value, req->headers[i].value_len + 1);
    p += req->headers[i].value_len + 1;
  }
  rep->fields_len = len;
}

/* Dispatches one message of a batch (the batch runner's run()). */
static void batch_run(batch_job *job, const json_t *el) {
  mcp_reply *rep = (mcp_reply *)((char *)job - offsetof(mcp_reply, job));
  mcp_http *t = rep->t;
  json_t *resp = NULL;
  mcpd_call *call = NULL;
  mcp_sink *sink = NULL;
  jsonrpc_msg m;

  if (rep->req == NULL && rep->stream == NULL)
    return; /* the client is gone */
  jsonrpc_classify(el, &m);
  if (rep->s == NULL) {
    if (m.kind == JSONRPC_REQUEST)
      resp =
          jsonrpc_error(m.id, MCP_ERROR_SESSION_NOT_FOUND,
                        "Session not found: it was deleted or expired while its batch ran", NULL);
  } else if (m.kind == JSONRPC_REQUEST && strcmp(m.method, "initialize") == 0) {
    resp =
        jsonrpc_error(m.id, JSONRPC_INVALID_REQUEST, "initialize cannot be part of a batch", NULL);
  } else {
    if (m.kind == JSONRPC_REQUEST && rep->used < rep->n_items)
      sink = &rep->items[rep->used].sink;
    if (rep->fields != NULL) {
      t->disp->header_fn = reply_header_of;
      t->disp->header_req = rep;
    }
    t->disp->principal = rep->principal;
    if (dispatch_message(t->disp, rep->s, &m, sink, &resp, &call) == DISPATCH_PENDING &&
        sink != NULL) {
      rep->items[rep->used++].call = call;
      rep->outstanding++;
    }
    t->disp->principal = NULL;
    if (rep->fields != NULL)
      t->disp->header_req = NULL;
  }
  reply_deliver(rep, resp);
  json_decref(resp);
}

/* The batch's last slice ran (the batch runner's done()). */
static void batch_done(batch_job *job) {
  mcp_reply *rep = (mcp_reply *)((char *)job - offsetof(mcp_reply, job));
  reply_stop_batch(rep);
  reply_release(rep); /* the dispatching hold */
}

/* The scope check before dispatching m: 1 after answering 403. */
static int forbidden(mcp_http *t, http_req *req, const char *extra, const jsonrpc_msg *m,
                     int single) {
  char need[256], what[160];
  if (t->gate == NULL || t->cfg->auth == NULL || t->disp->principal == NULL ||
      m->kind != JSONRPC_REQUEST ||
      authz_check_message(t->cfg->auth, t->disp->reg, t->disp->principal, m, need, sizeof(need),
                          what, sizeof(what)) == 0)
    return 0;
  auth_gate_forbid(t->gate, req, extra, need, what, 1, single ? m->id : NULL);
  return 1;
}

static void post_batch(mcp_http *t, http_req *req, json_t *body, session *s, const char *extra) {
  size_t i, n = json_array_size(body), requests = 0;
  mcp_reply *rep;
  jsonrpc_msg m;

  if (n == 0) {
    reject(t, req, 400, JSONRPC_INVALID_REQUEST, extra, "Invalid Request: empty batch");
    return;
  }
  if (s->version != PROTO_2025_03_26) {
    reject(t, req, 400, JSONRPC_INVALID_REQUEST, extra,
           "Invalid Request: JSON-RPC batches are only accepted in sessions that negotiated "
           "2025-03-26 (this one uses %s)",
           protocol_name(s->version));
    return;
  }
  for (i = 0; i < n; i++) {
    if (jsonrpc_classify(json_array_get(body, i), &m) == JSONRPC_REQUEST)
      requests++;
    /* One element the caller may not send refuses the whole batch: none
     * of it runs, and the client learns the scope to ask for. */
    if (forbidden(t, req, extra, &m, 0))
      return;
  }
  rep = reply_new(t, req, (unsigned)requests, extra);
  if (rep == NULL || (rep->collected = json_array()) == NULL) {
    if (rep != NULL)
      reply_free(rep);
    req->on_abort = NULL;
    http_respond(req, 503, "Content-Type: text/plain\r\n", "out of memory\n", 14);
    return;
  }
  rep->batch = 1;
  rep->principal = principal_ref(t->disp->principal);
  rep->body = json_incref(body);
  rep->s = s;
  s->holds++; /* no expiry or eviction under a batch still dispatching */
  rep->job.msgs = body;
  rep->job.run = batch_run;
  rep->job.done = batch_done;
  /* The first slice now, the rest on later turns, so that a batch of
   * thousands of calls cannot hold the loop from everyone else. */
  if (batch_start(&t->batches, &rep->job) == 0) {
    reply_stop_batch(rep);
    reply_release(rep);
    return;
  }
  reply_keep_fields(rep, req);
}

static void post_initialize(mcp_http *t, http_req *req, const jsonrpc_msg *m, const char *extra) {
  session *s;
  json_t *resp = NULL;
  mcpd_call *call = NULL;
  char headers[600];
  int r;

  if (http_req_header(req, "mcp-session-id", NULL) != NULL) {
    reject(t, req, 400, JSONRPC_INVALID_REQUEST, extra,
           "Invalid Request: initialize starts a new session and must not carry Mcp-Session-Id");
    return;
  }
  if (m->kind != JSONRPC_REQUEST) {
    reject(t, req, 400, JSONRPC_INVALID_REQUEST, extra,
           "Invalid Request: initialize must be a request with an id");
    return;
  }
  r = mcp_http_new_session(t, req, &s);
  if (r == -EDQUOT) {
    snprintf(headers, sizeof(headers), "Retry-After: 1\r\n%s", extra);
    reject(t, req, 429, JSONRPC_INTERNAL_ERROR, headers,
           "Too Many Requests: %s holds too many busy sessions; end one (DELETE) or try again "
           "later",
           t->disp->principal != NULL && t->cfg->auth != NULL ? "this caller" : "this address");
    return;
  }
  if (r < 0) {
    reject(t, req, 503, JSONRPC_INTERNAL_ERROR, extra,
           r == -EAGAIN ? "Service Unavailable: too many sessions; try again later"
                        : "Service Unavailable: cannot create a session");
    return;
  }
  dispatch_message(t->disp, s, m, NULL, &resp, &call);
  if (resp == NULL || json_object_get(resp, "error") != NULL) {
    session_remove(t->sessions, s, "failed_initialize");
    respond_json(t, req, 200, resp, extra);
    json_decref(resp);
    return;
  }
  /* A self-validating id: after a restart, or on another instance with the
   * same state_key, the session is taken up again (session_restore()). */
  if (t->sessions->signing)
    session_sign(t->sessions, s, (int64_t)time(NULL) + SESSION_SIGNED_LIFETIME_S);
  mcp_http_tag(req, s, NULL);
  log_msg(t->log, LOGLVL_INFO, "session_created",
          "session=%s protocol=%s transport=streamable_http", s->id, protocol_name(s->version));
  snprintf(headers, sizeof(headers), "Mcp-Session-Id: %s\r\n%s", s->id, extra);
  respond_json(t, req, 200, resp, headers);
  json_decref(resp);
}

/* ---- POST, 2026-07-28 ----------------------------------------------------- */

static void respond_modern_error(mcp_http *t, http_req *req, int status, const jsonrpc_msg *m,
                                 int code, const char *msg, json_t *data, const char *extra) {
  json_t *err = jsonrpc_error(m->id, code, msg, data);
  t->stats.rejected++;
  respond_json(t, req, status, err, extra);
  json_decref(err);
}

static const char *req_header_get(void *req, const char *name, size_t *len) {
  return http_req_header(req, name, len);
}

/* One modern request: its envelope and headers checked, dispatched in a
 * session of its own that ends with the answer. */
static void post_modern(mcp_http *t, http_req *req, const jsonrpc_msg *m, const char *extra) {
  modern_headers h;
  modern_req mr;
  modern_err err;
  json_t *resp = NULL;
  mcpd_call *call = NULL;
  mcp_reply *rep;
  session *s;
  char need[256], what[160];

  if (m->kind == JSONRPC_NOTIFICATION) {
    http_respond(req, 202, extra, "", 0); /* none are defined over HTTP: dropped */
    return;
  }
  if (m->kind != JSONRPC_REQUEST) {
    respond_modern_error(t, req, 400, m, JSONRPC_INVALID_REQUEST,
                         m->kind == JSONRPC_RESPONSE
                             ? "Invalid Request: a 2026-07-28 server sends no requests to answer"
                             : m->error_message,
                         NULL, extra);
    return;
  }
  memset(&h, 0, sizeof(h));
  h.version = http_req_header(req, "mcp-protocol-version", &h.version_len);
  h.method = http_req_header(req, "mcp-method", &h.method_len);
  h.name = http_req_header(req, "mcp-name", &h.name_len);
  if (modern_check(m, &h, &mr, &err) < 0) {
    respond_modern_error(t, req, err.status, m, err.code, err.message, err.data, extra);
    return;
  }
  mcp_http_tag(req, NULL, m);
  if (strcmp(m->method, "tools/call") == 0) {
    const char *name = json_string_value(json_object_get(m->params, "name"));
    const reg_tool *tool =
        name ? (const reg_tool *)registry_get(t->disp->reg, REG_TOOL, name, strlen(name)) : NULL;
    if (tool != NULL &&
        modern_check_param_headers(tool->input_schema, json_object_get(m->params, "arguments"),
                                   req_header_get, req, &err) < 0) {
      respond_modern_error(t, req, err.status, m, err.code, err.message, err.data, extra);
      return;
    }
  }
  if (!modern_method_known(m->method, 1)) {
    respond_modern_error(t, req, 404, m, JSONRPC_METHOD_NOT_FOUND, "Method not found", NULL, extra);
    return;
  }
  if (t->gate != NULL && t->cfg->auth != NULL && t->disp->principal != NULL &&
      authz_check_message(t->cfg->auth, t->disp->reg, t->disp->principal, m, need, sizeof(need),
                          what, sizeof(what)) < 0) {
    auth_gate_forbid(t->gate, req, extra, need, what, 1, m->id);
    return;
  }
  s = session_new_detached(mr.version, mr.capabilities);
  if (s != NULL && strcmp(m->method, "subscriptions/listen") == 0) {
    listen_start(&t->listens, req, m, s, extra);
    return;
  }
  rep = s ? reply_new(t, req, 1, extra) : NULL;
  if (rep == NULL) {
    session_free_detached(s);
    req->on_abort = NULL;
    http_respond(req, 503, "Content-Type: text/plain\r\n", "out of memory\n", 14);
    return;
  }
  if (mr.client_info != NULL)
    s->client_info = json_deep_copy(mr.client_info);
  if (http_req_client_addr(req, s->origin, sizeof(s->origin)) < 0)
    s->origin[0] = '\0';
  /* Log messages only at the level the request asks for; none without. */
  s->log_level = mr.log_level ? dispatch_log_level(mr.log_level) : 8;
  if (s->log_level < 0)
    s->log_level = 8;
  rep->own = s;
  rep->modern = 1;
  if (dispatch_message(t->disp, s, m, &rep->items[0].sink, &resp, &call) == DISPATCH_PENDING) {
    rep->items[0].call = call;
    rep->outstanding++;
  } else {
    reply_deliver(rep, resp);
    json_decref(resp);
  }
  reply_release(rep);
}

/* ---- POST ------------------------------------------------------------------ */

static void post(mcp_http *t, http_req *req, const char *extra) {
  const char *ct, *accept, *pv;
  size_t ct_len, accept_len, pv_len;
  json_read_limits lim;
  json_read_error je;
  int rc, pv_version;
  json_t *body, *resp = NULL;
  jsonrpc_msg m;
  session *s;
  mcp_reply *rep;
  mcpd_call *call = NULL;

  t->stats.posts++;
  ct = http_req_header(req, "content-type", &ct_len);
  if (ct == NULL || !http_util_media_type_is(ct, ct_len, "application/json")) {
    reject(t, req, 415, MCP_ERROR_BAD_REQUEST, extra,
           "Unsupported Media Type: the body must be Content-Type: application/json");
    return;
  }
  accept = http_req_header(req, "accept", &accept_len);
  if (!http_util_accepts(accept, accept_len, "application/json") &&
      !http_util_accepts(accept, accept_len, "text/event-stream")) {
    reject(t, req, 406, MCP_ERROR_BAD_REQUEST, extra,
           "Not Acceptable: Accept must allow application/json and text/event-stream");
    return;
  }
  pv = http_req_header(req, "mcp-protocol-version", &pv_len);
  if (req->body_len == 0) {
    reject(t, req, 400, JSONRPC_PARSE_ERROR, extra, "Parse error: the request body is empty");
    return;
  }
  lim.max_values = t->cfg->max_json_values;
  lim.max_elements = t->cfg->max_batch_messages;
  rc = json_read_limited(req->body, req->body_len, &lim, &body, &je);
  if (rc == -E2BIG && je.over == JSON_READ_OVER_ELEMENTS) {
    reject(t, req, 400, JSONRPC_INVALID_REQUEST, extra,
           "Invalid Request: the batch has more than %u messages, the limit "
           "(limits.max_batch_messages): send it in smaller batches",
           t->cfg->max_batch_messages);
    return;
  }
  if (rc == -E2BIG) {
    reject(t, req, 413, JSONRPC_INVALID_REQUEST, extra,
           "Request Entity Too Large: the message has more than %zu JSON values, the limit "
           "(limits.max_json_values)",
           t->cfg->max_json_values);
    return;
  }
  if (body == NULL) {
    reject(t, req, 400, JSONRPC_PARSE_ERROR, extra, "Parse error: %s (line %d, column %d)", je.text,
           je.line, je.column);
    return;
  }
  pv_version = pv != NULL ? protocol_parse(pv, pv_len) : -1;
  /* A batch belongs to 2025-03-26 sessions only: with a modern (or an
   * unknown) version it is refused before any session is looked at. */
  if (json_is_array(body) && pv != NULL && (pv_version < 0 || PROTO_IS_MODERN(pv_version))) {
    reject(t, req, 400, JSONRPC_INVALID_REQUEST, extra,
           "Invalid Request: a batch cannot carry MCP-Protocol-Version \"%.*s\" (2026-07-28 "
           "takes one request per POST)",
           (int)(pv_len > 40 ? 40 : pv_len), pv);
    json_decref(body);
    return;
  }
  if (json_is_array(body)) {
    if (need_session(t, req, extra, &s) == 0)
      post_batch(t, req, body, s, extra);
    json_decref(body);
    return;
  }
  jsonrpc_classify(body, &m);
  /* The era, per request: a modern version in the header, or a request
   * whose _meta names its version. Everything else is the legacy era. */
  if (pv_version >= 0 ? PROTO_IS_MODERN(pv_version) : modern_claimed(&m, NULL, 0)) {
    post_modern(t, req, &m, extra);
    json_decref(body);
    return;
  }
  if (pv != NULL && pv_version < 0) {
    reject(t, req, 400, MCP_ERROR_BAD_REQUEST, extra,
           "Bad Request: unsupported MCP-Protocol-Version \"%.*s\" (supported: 2026-07-28, "
           "2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)",
           (int)(pv_len > 40 ? 40 : pv_len), pv);
    json_decref(body);
    return;
  }
  if (m.kind == JSONRPC_INVALID) {
    resp = jsonrpc_error(m.id, JSONRPC_INVALID_REQUEST, m.error_message, NULL);
    respond_json(t, req, 400, resp, extra);
    json_decref(resp);
    json_decref(body);
    return;
  }
  if (m.method != NULL && strcmp(m.method, "initialize") == 0) {
    post_initialize(t, req, &m, extra);
    json_decref(body);
    return;
  }
  if (need_session(t, req, extra, &s) < 0) {
    json_decref(body);
    return;
  }
  mcp_http_tag(req, NULL, &m);
  if (forbidden(t, req, extra, &m, 1)) {
    json_decref(body);
    return;
  }
  if (m.kind != JSONRPC_REQUEST) {
    dispatch_message(t->disp, s, &m, NULL, &resp, &call);
    json_decref(resp);
    http_respond(req, 202, extra, "", 0);
    json_decref(body);
    return;
  }
  rep = reply_new(t, req, 1, extra);
  if (rep == NULL) {
    http_respond(req, 503, "Content-Type: text/plain\r\n", "out of memory\n", 14);
    json_decref(body);
    return;
  }
  if (dispatch_message(t->disp, s, &m, &rep->items[0].sink, &resp, &call) == DISPATCH_PENDING) {
    rep->items[0].call = call;
    rep->outstanding++;
    /* With polling on, a call that runs on answers as a stream at once, so
     * the stream can be closed and polled back (Last-Event-ID). */
    if (t->cfg->sse_poll_ms > 0 && rep->sse_ok && s->version >= PROTO_2025_11_25)
      start_stream(rep, s);
  } else {
    reply_deliver(rep, resp);
    json_decref(resp);
  }
  reply_release(rep);
  json_decref(body);
}

/* ---- GET: the standalone stream, or a resumption ------------------------- */

static void get(mcp_http *t, http_req *req, const char *extra) {
  const char *accept, *last;
  size_t accept_len, last_len;
  char cut[41], esc[180];
  session *s;
  sse_stream *st;
  uint64_t event;

  t->stats.gets++;
  accept = http_req_header(req, "accept", &accept_len);
  if (accept == NULL || !http_util_accepts(accept, accept_len, "text/event-stream")) {
    reject(t, req, 406, MCP_ERROR_BAD_REQUEST, extra,
           "Not Acceptable: GET /mcp opens an SSE stream; send Accept: text/event-stream");
    return;
  }
  if (http_req_header(req, "mcp-session-id", NULL) == NULL && t->legacy_get != NULL) {
    /* A 2024-11-05 client (HTTP+SSE) pointed at /mcp. */
    t->legacy_get(t->legacy_arg, req, extra);
    return;
  }
  if (need_session(t, req, extra, &s) < 0)
    return;
  last = http_req_header(req, "last-event-id", &last_len);
  if (last != NULL) {
    /* A resumption is not a second standalone stream: no 409 for it. */
    /* The client's value, cut and escaped for the log. */
    snprintf(cut, sizeof(cut), "%.*s", (int)(last_len > 40 ? 40 : last_len), last);
    log_escape(cut, esc, sizeof(esc));
    st = sse_find(s, last, last_len, &event);
    if (st != NULL) {
      log_msg(t->log, LOGLVL_DEBUG, "sse_resumed", "session=%s stream=%u after=%s", s->id, st->no,
              esc);
      sse_resume(st, req, event);
      return;
    }
    log_msg(t->log, LOGLVL_INFO, "sse_resume_unknown",
            "session=%s last_event_id=%s action=new_stream", s->id, esc);
  }
  st = s->standalone;
  if (st != NULL && st->req != NULL) {
    reject(t, req, 409, MCP_ERROR_BAD_REQUEST, extra,
           "Conflict: this session already has an open stream");
    return;
  }
  if (st != NULL)
    sse_finish(st); /* a detached one is replaced */
  /* NULL: answered already (429 or 503). */
  if (sse_open(&t->hub, s, req, 1, extra) != NULL)
    t->stats.streams_opened++;
}

/* ---- DELETE ---------------------------------------------------------------- */

static void handle_delete(mcp_http *t, http_req *req, const char *extra) {
  session *s;
  t->stats.deletes++;
  if (need_session(t, req, extra, &s) < 0)
    return;
  log_msg(t->log, LOGLVL_INFO, "session_deleted", "session=%s", s->id);
  session_bury(t->sessions, s);
  session_remove(t->sessions, s, "deleted");
  http_respond(req, 200, extra, "", 0);
}

/* ---- sessions per client address ------------------------------------------ */

int mcp_http_new_session(mcp_http *t, http_req *req, session **out) {
  const principal *p = t->cfg->auth != NULL ? t->disp->principal : NULL;
  char addr[SESSION_CLIENT_MAX];
  unsigned quiet;
  int r, have;

  /* While auth is on, sessions are counted per caller, not per address
   * (many callers may share a NAT; one caller may use many addresses). */
  if (p != NULL)
    have = snprintf(addr, sizeof(addr), "%s", p->client_key) > 0;
  else
    have = http_req_client_addr(req, addr, sizeof(addr)) == 0;
  r = session_create_for(t->sessions, have ? addr : NULL, out);
  if (r == 0 && p != NULL) {
    memcpy((*out)->owner, p->key, sizeof((*out)->owner));
    (*out)->owned = 1;
  }
  if (r < 0 && session_refusal_log_due(t->sessions, &quiet))
    log_msg(t->log, LOGLVL_WARN, "session_refused", "reason=%s client=%s refused_unlogged=%u",
            r == -EDQUOT   ? (p ? "max_sessions_per_principal" : "max_sessions_per_client")
            : r == -EAGAIN ? "max_sessions"
                           : "error",
            have ? addr : "?", quiet);
  return r;
}

/* Batches of s (every session when s is NULL) still dispatching let go of
 * it: their remaining requests are answered -32001. */
static void batches_forget(mcp_http *t, const session *s) {
  list_node *n;
  for (n = t->batches.jobs.next; n != &t->batches.jobs; n = n->next) {
    mcp_reply *rep = list_entry(n, mcp_reply, job.link);
    if (rep->s != NULL && (s == NULL || rep->s == s)) {
      rep->s->holds--;
      rep->s = NULL;
    }
  }
}

void mcp_http_session_removed(mcp_http *t, session *s) {
  batches_forget(t, s);
  dispatch_session_closed(t->disp, s);
  sse_session_closed(&t->hub, s);
}

/* ---- entry ------------------------------------------------------------------ */

int mcp_http_guard(mcp_http *t, http_req *req, char *extra, size_t n) {
  const char *origin;
  size_t origin_len;
  char msg[300];
  int status;

  extra[0] = '\0';
  status = mcp_http_check(t, req, msg, sizeof(msg));
  if (status != 0) {
    reject(t, req, status, MCP_ERROR_BAD_REQUEST, NULL, "%s", msg);
    return -1;
  }
  origin = http_req_header(req, "origin", &origin_len);
  if (origin != NULL) {
    /* A browser client may read our responses and the session header. */
    snprintf(extra, n,
             "Access-Control-Allow-Origin: %.*s\r\nVary: Origin\r\n"
             "Access-Control-Expose-Headers: Mcp-Session-Id, WWW-Authenticate\r\n",
             (int)(origin_len > 200 ? 200 : origin_len), origin);
  }
  return 0;
}

/* Serves an authenticated request (p may be NULL: auth off). */
static void serve(mcp_http *t, http_req *req, const char *extra, principal *p) {
  t->disp->principal = p; /* calls keep it; listings show only what it may use */
  switch (req->method) {
  case HTTP_POST:
    t->disp->header_fn = mcp_http_header_of; /* for host->call_header() */
    t->disp->header_req = req;
    post(t, req, extra);
    t->disp->header_req = NULL;
    break;
  case HTTP_GET:
    get(t, req, extra);
    break;
  default:
    handle_delete(t, req, extra);
    break;
  }
  t->disp->principal = NULL;
}

/* A request whose token was verified over the network comes back here. */
static void resume(void *arg, http_req *req, principal *p) {
  mcp_http *t = arg;
  char extra[512];
  if (mcp_http_guard(t, req, extra, sizeof(extra)) < 0)
    return;
  serve(t, req, extra, p);
}

void mcp_http_handle(mcp_http *t, http_req *req) {
  char extra[512];
  principal *p = NULL;

  if (mcp_http_guard(t, req, extra, sizeof(extra)) < 0)
    return;
  switch (req->method) {
  case HTTP_GET:
  case HTTP_DELETE: {
    /* The 2026-07-28 era has no GET stream and no session to delete. */
    size_t len;
    const char *pv = http_req_header(req, "mcp-protocol-version", &len);
    int v = pv ? protocol_parse(pv, len) : -1;
    if (pv != NULL && (v < 0 || PROTO_IS_MODERN(v))) {
      char headers[600];
      snprintf(headers, sizeof(headers), "Allow: POST\r\n%s", extra);
      reject(t, req, 405, MCP_ERROR_BAD_REQUEST, headers,
             "Method Not Allowed: in 2026-07-28 /mcp takes POST only");
      return;
    }
    break;
  }
  case HTTP_POST:
    break;
  case HTTP_OPTIONS: {
    /* A CORS preflight carries no credentials: it is answered unchecked. */
    char headers[900];
    snprintf(headers, sizeof(headers),
             "%sAccess-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
             "Access-Control-Allow-Headers: Content-Type, Accept, Authorization, Mcp-Session-Id, "
             "MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name\r\n"
             "Access-Control-Max-Age: 86400\r\n",
             extra);
    http_respond(req, 204, headers, "", 0);
    return;
  }
  default:
    reject(t, req, 405, MCP_ERROR_BAD_REQUEST, "Allow: GET, POST, DELETE, OPTIONS\r\n",
           "Method Not Allowed: /mcp takes POST, GET and DELETE");
    return;
  }
  if (t->gate != NULL && auth_gate_check(t->gate, req, extra, resume, t, &p) != AUTH_GATE_OK)
    return;
  serve(t, req, extra, p);
  principal_unref(p);
}

int mcp_http_init(mcp_http *t, uv_loop_t *loop, dispatch *d, session_table *sessions,
                  const config *cfg, const logger *lg, int bound_loopback) {
  int r;
  memset(t, 0, sizeof(*t));
  t->disp = d;
  t->sessions = sessions;
  t->cfg = cfg;
  t->log = lg;
  t->bound_loopback = bound_loopback;
  r = batch_runner_init(&t->batches, loop);
  if (r == 0)
    r = listen_hub_init(&t->listens, loop, d, cfg);
  return r < 0 ? r : sse_hub_init(&t->hub, loop, cfg, lg);
}

void mcp_http_apply_config(mcp_http *t) {
  sse_hub_apply_config(&t->hub);
}

void mcp_http_drain(mcp_http *t) {
  sse_hub_end_standalone(&t->hub);
  listen_hub_end_all(&t->listens);
}

void mcp_http_close(mcp_http *t) {
  listen_hub_close(&t->listens);
  sse_hub_close(&t->hub); /* a batch answering as a stream stops with it */
  batches_forget(t, NULL);
  batch_runner_close(&t->batches);
  buf_free(&t->out);
}
