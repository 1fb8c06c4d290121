/* legacy_sse.c -- the 2024-11-05 HTTP+SSE transport. */
#include "transport/legacy_sse.h"

#include "net/http_util.h"
#include "lib/json_read.h"
#include "mcp/authz.h"
#include "mcp/jsonrpc.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request whose answer comes later: its messages go to the stream of the
 * session it came in. */
typedef struct legacy_req {
  mcp_sink sink; /* first: the dispatcher holds this */
  legacy_sse *l;
  session *s;
  mcpd_call *call;
  int pending;    /* in reqs, waiting for its final message */
  int done;       /* its final message came while it was dispatched */
  list_node link; /* in legacy_sse.reqs */
} legacy_req;

static void plain(http_req *req, int status, const char *extra, const char *text) {
  char headers[600];
  snprintf(headers, sizeof(headers), "Content-Type: text/plain; charset=utf-8\r\n%s",
           extra ? extra : "");
  http_respond(req, status, headers, text, strlen(text));
}

/* Sends a message on the session's stream, if it still has one. */
static int to_stream(session *s, const json_t *msg) {
  if (s == NULL || s->out == NULL)
    return -ENOTSUP;
  return msg != NULL ? s->out->send(s->out, s, msg, 0) : 0;
}

static int req_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  legacy_req *r = (legacy_req *)sink;
  int rc = to_stream(s, msg);
  if (final && r->pending) {
    list_remove(&r->link);
    free(r);
  } else if (final) {
    r->done = 1; /* answered while it was dispatched: the poster frees it */
  }
  return final ? 0 : rc;
}

/* The stream closed: the session ends with it, and what it still waits for
 * is cancelled. */
static void stream_gone(sse_stream *st) {
  legacy_sse *l = st->owner;
  session *s = st->s;
  list_node *n, *tmp;

  list_foreach_safe(n, tmp, &l->reqs) {
    legacy_req *r = list_entry(n, legacy_req, link);
    if (r->s == s) {
      list_remove(&r->link);
      dispatch_abandon(l->mcp->disp, r->call);
      free(r);
    }
  }
  st->on_expire = NULL;
  sse_finish(st); /* frees it: it is dying */
  if (s->removing)
    return; /* the session is being removed, which closed this stream */
  log_msg(l->mcp->log, LOGLVL_INFO, "session_closed", "session=%s transport=http_sse", s->id);
  session_remove(l->mcp->sessions, s, "stream_closed");
}

static void get_serve(legacy_sse *l, http_req *req, const char *extra);

static void get_resume(void *arg, http_req *req, principal *p) {
  legacy_sse *l = arg;
  char extra[512];
  if (mcp_http_guard(l->mcp, req, extra, sizeof(extra)) < 0)
    return;
  l->mcp->disp->principal = p;
  get_serve(l, req, extra);
  l->mcp->disp->principal = NULL;
}

void legacy_sse_get(legacy_sse *l, http_req *req, const char *extra) {
  mcp_http *t = l->mcp;
  char guard_extra[512];
  principal *p = NULL;

  if (extra != NULL) {
    get_serve(l, req, extra); /* from GET /mcp: checked there */
    return;
  }
  if (mcp_http_guard(t, req, guard_extra, sizeof(guard_extra)) < 0)
    return;
  if (req->method != HTTP_GET) {
    plain(req, 405, "Allow: GET\r\n", "405 Method Not Allowed: GET /sse opens a stream\n");
    return;
  }
  if (t->gate != NULL &&
      auth_gate_check(t->gate, req, guard_extra, get_resume, l, &p) != AUTH_GATE_OK)
    return;
  t->disp->principal = p;
  get_serve(l, req, guard_extra);
  t->disp->principal = NULL;
  principal_unref(p);
}

static void get_serve(legacy_sse *l, http_req *req, const char *extra) {
  mcp_http *t = l->mcp;
  char endpoint[700], base[512], path[80];
  const char *accept;
  size_t accept_len;
  sse_stream *st;
  session *s;
  int r;

  accept = http_req_header(req, "accept", &accept_len);
  if (accept != NULL && !http_util_accepts(accept, accept_len, "text/event-stream")) {
    plain(req, 406, extra, "406 Not Acceptable: /sse sends text/event-stream\n");
    return;
  }
  if ((r = mcp_http_new_session(t, req, &s)) < 0) {
    if (r == -EDQUOT)
      plain(req, 429, "Retry-After: 1\r\n", "429 Too Many Requests: too many busy sessions\n");
    else
      plain(req, 503, "Retry-After: 1\r\n", "503 Service Unavailable: too many sessions\n");
    return;
  }
  s->legacy = 1;
  mcp_http_tag(req, s, NULL);
  st = sse_open(&t->hub, s, req, 1, extra);
  if (st == NULL) {
    session_remove(t->sessions, s, "failed_stream");
    return;
  }
  /* No ids, no replay: in 2024-11-05 the session ends with its stream. */
  st->ids = 0;
  st->owner = l;
  st->on_expire = stream_gone;
  l->stats.streams++;
  /* Absolute when mcpd knows how clients reach it (public_url, or a trusted
   * proxy): a prefix the proxy adds is then kept. */
  if (t->gate == NULL || auth_gate_base_url(t->gate, req, base, sizeof(base)) < 0)
    base[0] = '\0';
  snprintf(endpoint, sizeof(endpoint), "event: endpoint\ndata: %s/messages?sessionId=%s\n\n", base,
           s->id);
  http_stream_send(req, endpoint, strlen(endpoint));
  log_msg(t->log, LOGLVL_INFO, "session_created", "session=%s transport=http_sse path=%s", s->id,
          log_escape(req->path, path, sizeof(path)));
}

static void post_serve(legacy_sse *l, http_req *req, const char *extra);

static void post_resume(void *arg, http_req *req, principal *p) {
  legacy_sse *l = arg;
  char extra[512];
  if (mcp_http_guard(l->mcp, req, extra, sizeof(extra)) < 0)
    return;
  l->mcp->disp->principal = p;
  post_serve(l, req, extra);
  l->mcp->disp->principal = NULL;
}

void legacy_sse_post(legacy_sse *l, http_req *req) {
  mcp_http *t = l->mcp;
  char extra[512];
  principal *p = NULL;

  if (mcp_http_guard(t, req, extra, sizeof(extra)) < 0)
    return;
  if (req->method != HTTP_POST) {
    plain(req, 405, "Allow: POST\r\n", "405 Method Not Allowed: /messages takes POST\n");
    return;
  }
  if (t->gate != NULL && auth_gate_check(t->gate, req, extra, post_resume, l, &p) != AUTH_GATE_OK)
    return;
  t->disp->principal = p;
  post_serve(l, req, extra);
  t->disp->principal = NULL;
  principal_unref(p);
}

static void post_serve(legacy_sse *l, http_req *req, const char *extra) {
  mcp_http *t = l->mcp;
  const principal *p = t->disp->principal;
  char id[SESSION_ID_MAX + 8], need[256], what[160];
  const char *ct;
  size_t ct_len;
  json_read_limits lim;
  json_read_error je;
  json_t *body, *resp = NULL;
  jsonrpc_msg m;
  mcpd_call *call = NULL;
  legacy_req *r;
  session *s;
  int n, rc;

  l->stats.posts++;
  n = req->query ? http_util_query_param(req->query, req->query_len, "sessionId", id, sizeof(id))
                 : -ENOENT;
  if (n == -ENOENT && req->query != NULL)
    n = http_util_query_param(req->query, req->query_len, "session_id", id, sizeof(id));
  if (n < 0) {
    plain(req, 400, extra, "400 Bad Request: sessionId is required\n");
    return;
  }
  s = t->cfg->auth != NULL && p == NULL
          ? NULL
          : session_find_owned(t->sessions, id, (size_t)n, t->cfg->auth != NULL ? p->key : NULL);
  if (s == NULL || !s->legacy || s->out == NULL) {
    plain(req, 404, extra, "404 Not Found: Could not find session\n");
    return;
  }
  ct = http_req_header(req, "content-type", &ct_len);
  if (ct == NULL || !http_util_media_type_is(ct, ct_len, "application/json")) {
    plain(req, 415, extra, "415 Unsupported Media Type: the body must be application/json\n");
    return;
  }
  body = NULL;
  lim.max_values = t->cfg->max_json_values;
  lim.max_elements = 0; /* this transport has no batches */
  if (req->body_len && json_read_limited(req->body, req->body_len, &lim, &body, &je) == -E2BIG) {
    char text[160];
    snprintf(text, sizeof(text),
             "413 Request Entity Too Large: the message has more than %zu JSON values, the limit "
             "(limits.max_json_values)\n",
             t->cfg->max_json_values);
    plain(req, 413, extra, text);
    return;
  }
  if (body == NULL) {
    plain(req, 400, extra, "400 Bad Request: Could not parse message\n");
    return;
  }
  if (jsonrpc_classify(body, &m) == JSONRPC_INVALID) {
    /* Answered on the stream, like every response of this transport. */
    resp = jsonrpc_error(m.id, JSONRPC_INVALID_REQUEST, m.error_message, NULL);
    to_stream(s, resp);
    json_decref(resp);
    json_decref(body);
    plain(req, 400, extra, "400 Bad Request: not a JSON-RPC message\n");
    return;
  }
  mcp_http_tag(req, s, &m);
  if (t->gate != NULL && m.kind == JSONRPC_REQUEST &&
      authz_check_message(t->cfg->auth, t->disp->reg, p, &m, need, sizeof(need), what,
                          sizeof(what)) < 0) {
    json_decref(body);
    auth_gate_forbid(t->gate, req, extra, need, what, 0, NULL);
    return;
  }
  r = calloc(1, sizeof(*r));
  if (r == NULL) {
    json_decref(body);
    plain(req, 503, NULL, "503 Service Unavailable: out of memory\n");
    return;
  }
  r->sink.send = req_send;
  r->l = l;
  r->s = s;
  t->disp->header_fn = mcp_http_header_of; /* for host->call_header() */
  t->disp->header_req = req;
  rc = dispatch_message(t->disp, s, &m, &r->sink, &resp, &call);
  t->disp->header_req = NULL;
  if (rc == DISPATCH_PENDING && !r->done) {
    r->call = call;
    r->pending = 1;
    list_insert_tail(&l->reqs, &r->link);
  } else {
    free(r);
    to_stream(s, resp);
    json_decref(resp);
  }
  json_decref(body);
  plain(req, 202, extra, "Accepted");
}

static void legacy_get_hook(void *arg, http_req *req, const char *extra) {
  legacy_sse_get(arg, req, extra);
}

void legacy_sse_init(legacy_sse *l, mcp_http *mcp) {
  memset(l, 0, sizeof(*l));
  l->mcp = mcp;
  list_init(&l->reqs);
  mcp->legacy_get = legacy_get_hook;
  mcp->legacy_arg = l;
}

void legacy_sse_close(legacy_sse *l) {
  while (!list_empty(&l->reqs)) {
    legacy_req *r = list_entry(l->reqs.next, legacy_req, link);
    list_remove(&r->link);
    dispatch_abandon(l->mcp->disp, r->call);
    free(r);
  }
}
