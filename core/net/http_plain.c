/* http_plain.c -- the HTTP client's engine for plain http://: per-origin
 * pools of keep-alive connections, a bounded wait queue, llhttp response
 * parsing. */
#include "net/http_plain.h"

#include "lib/buf.h"
#include "lib/error.h"
#include "net/http_util.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ADDRS 4

typedef struct http_plain_req http_plain_req;

/* One host:port and its connections. */
typedef struct origin {
  http_plain *c;
  char *key;  /* "host:port" */
  char *host; /* as in the URL, without brackets */
  char *host_header;
  int port;
  struct sockaddr_storage addrs[MAX_ADDRS]; /* as resolved, in order */
  unsigned n_addrs;
  unsigned pref; /* the address that connected last */
  int have_addr;
  int literal;          /* an IP address in the URL: never looked up */
  uint64_t resolved_at; /* loop time, ms */
  int resolving;
  uv_getaddrinfo_t gai;
  list_node idle; /* idle connections, most recently used first */
  list_node resolving_conns;
  list_node waiting; /* requests waiting for a connection, oldest first */
  unsigned n_conns, n_waiting;
  list_node link;
} origin;

typedef struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer; /* connect timeout, then idle timeout */
  uv_connect_t connect;
  uv_write_t write;
  origin *o;
  http_plain_req *req; /* the request on it, NULL when idle */
  llhttp_t parser;
  buf out;         /* the bytes being written */
  unsigned addr_i; /* which of o->addrs; ADDR_PREF: the origin's preferred */
  int reused, closing, writing;
  int answered_early;   /* the response came before the write completed */
  int keep_after_write; /* then: back to the pool (1) or close (0) in on_write */
  unsigned open_handles;
  list_node link;     /* in o->idle or o->resolving_conns */
  list_node all_link; /* in c->conns */
} conn;

enum { RQ_WAITING, RQ_ACTIVE, RQ_DONE };

struct http_plain_req {
  http_client_req head; /* engine HTTP_ENGINE_PLAIN */
  http_plain *c;
  origin *o;
  conn *conn;
  uv_timer_t timer; /* the whole exchange */
  char *wire;       /* the request, formatted */
  size_t wire_len;
  char *label;
  void *owner;
  http_client_cb cb;
  void *arg;
  int state;
  int is_head;    /* HEAD: the response has no body */
  int idempotent; /* may be sent again after a stale connection */
  int attempts;
  int next_addr; /* the address to try next after a failed connect; -1: none */
  int err;
  int dropped; /* no callback */
  uint64_t started;
  unsigned connect_timeout_ms;
  size_t max_body, max_headers;
  /* The response being parsed. */
  int status;
  int got_bytes;
  int interim; /* a 1xx message: skipped */
  int complete;
  int in_value;
  int headers_done; /* what follows is trailers: ignored */
  buf hdr;          /* "name: value\0" ... */
  buf body;
  list_node link;     /* in o->waiting, or c->done */
  list_node all_link; /* in c->live until delivered */
};

#define DNS_TTL_MS 30000
#define ADDR_PREF  ((unsigned)-1)

static void conn_close(conn *k);
static void conn_send(conn *k, http_plain_req *r);
static void req_finish(http_plain_req *r, int err, int later);
static void origin_next(origin *o);

/* ---- completion --------------------------------------------------------- */

static void req_freed(uv_handle_t *h) {
  http_plain_req *r = h->data;
  free(r->wire);
  free(r->label);
  buf_free(&r->hdr);
  buf_free(&r->body);
  free(r);
}

/* Runs the callback and lets the request go. */
static void req_deliver(http_plain_req *r) {
  http_plain *c = r->c;
  const char **lines = NULL;
  size_t n = 0, i;

  http_types_count(c->stats, r->label, r->err, r->status,
                   (double)(uv_now(c->loop) - r->started) / 1000.0);
  (*c->n_live)--;
  list_remove(&r->all_link);
  if (!r->dropped) {
    if (r->err == 0) {
      http_client_resp resp;
      const char *p = r->hdr.data, *end = r->hdr.data + r->hdr.len;
      for (; p != NULL && p < end; p += strlen(p) + 1)
        n++;
      lines = n ? malloc(n * sizeof(*lines)) : NULL;
      if (n > 0 && lines == NULL) {
        r->err = -ENOMEM;
      } else {
        for (p = r->hdr.data, i = 0; i < n; p += strlen(p) + 1)
          lines[i++] = p;
        if (buf_reserve(&r->body, 1) == 0)
          r->body.data[r->body.len] = '\0';
        resp.status = r->status;
        resp.headers = lines;
        resp.n_headers = n;
        resp.body = r->body.data ? r->body.data : "";
        resp.body_len = r->body.len;
        r->cb(r->arg, 0, NULL, &resp);
      }
      free(lines);
    }
    if (r->err != 0)
      r->cb(r->arg, r->err, error_strerror(r->err), NULL);
  }
  uv_close((uv_handle_t *)&r->timer, req_freed);
}

static void on_done_idle(uv_idle_t *h) {
  http_plain *c = h->data;
  list_node batch;
  list_init(&batch);
  /* Take the whole list: callbacks may queue more for the next turn. */
  while (!list_empty(&c->done)) {
    list_node *n = c->done.next;
    list_remove(n);
    list_insert_tail(&batch, n);
  }
  while (!list_empty(&batch)) {
    http_plain_req *r = list_entry(batch.next, http_plain_req, link);
    list_remove(&r->link);
    req_deliver(r);
  }
  if (list_empty(&c->done))
    uv_idle_stop(h);
}

/* Ends r with err (0: the response is complete). later: the callback waits
 * for the next loop turn (never from inside an API call). */
static void req_finish(http_plain_req *r, int err, int later) {
  if (r->state == RQ_DONE)
    return;
  if (r->state == RQ_WAITING && r->o != NULL) {
    list_remove(&r->link);
    r->o->n_waiting--;
  }
  r->state = RQ_DONE;
  r->err = err;
  uv_timer_stop(&r->timer);
  if (r->conn != NULL) {
    r->conn->req = NULL;
    r->conn = NULL;
  }
  if (later || r->c->in_request) {
    list_insert_tail(&r->c->done, &r->link);
    uv_idle_start(&r->c->done_idle, on_done_idle);
  } else {
    req_deliver(r);
  }
}

static void req_timeout(uv_timer_t *t) {
  http_plain_req *r = t->data;
  conn *k = r->conn;
  req_finish(r, -ETIMEDOUT, 0);
  if (k != NULL)
    conn_close(k); /* a half-read response: the connection is unusable */
}

/* ---- connections ---------------------------------------------------------- */

static void conn_handle_closed(uv_handle_t *h) {
  conn *k = h->data;
  if (--k->open_handles == 0) {
    buf_free(&k->out);
    free(k);
  }
}

/* Closes k; a request still on it is failed with -ECONNRESET unless it can
 * be sent again on a fresh connection. */
static void conn_close_err(conn *k, int err) {
  origin *o = k->o;
  http_plain_req *r = k->req;
  if (k->closing)
    return;
  k->closing = 1;
  list_remove(&k->link);
  list_init(&k->link);
  list_remove(&k->all_link);
  k->req = NULL;
  o->n_conns--;
  uv_close((uv_handle_t *)&k->tcp, conn_handle_closed);
  uv_close((uv_handle_t *)&k->timer, conn_handle_closed);
  if (r != NULL) {
    r->conn = NULL;
    /* A kept-alive connection the server closed while idle: nothing of
     * the request was answered, so it is safe to send again. */
    if (k->reused && !r->got_bytes && r->idempotent && r->attempts < 2 && !o->c->closed) {
      r->state = RQ_WAITING;
      list_insert_head(&o->waiting, &r->link); /* first in line */
      o->n_waiting++;
    } else {
      req_finish(r, err, 0);
    }
  }
  origin_next(o);
}

static void conn_close(conn *k) {
  conn_close_err(k, -ECONNRESET);
}

static void idle_timeout(uv_timer_t *t) {
  conn_close(t->data);
}

/* The request on k is answered: k goes back to the pool or closes. */
static void conn_release(conn *k, int keep) {
  origin *o = k->o;
  http_plain *c = o->c;
  if (!keep || c->closed) {
    conn_close(k);
    return;
  }
  k->reused = 1;
  llhttp_resume(&k->parser);
  llhttp_init(&k->parser, HTTP_RESPONSE, k->parser.settings);
  k->parser.data = k;
  if (!list_empty(&o->waiting)) {
    http_plain_req *r = list_entry(o->waiting.next, http_plain_req, link);
    list_remove(&r->link);
    o->n_waiting--;
    conn_send(k, r);
    return;
  }
  list_insert_head(&o->idle, &k->link);
  if (c->limits.idle_ms > 0)
    uv_timer_start(&k->timer, idle_timeout, c->limits.idle_ms, 0);
}

static void on_write(uv_write_t *w, int status) {
  conn *k = w->data;
  k->writing = 0;
  if (k->closing)
    return;
  if (status < 0) {
    conn_close_err(k, status == UV_ECANCELED ? -ECANCELED : -ECONNRESET);
    return;
  }
  if (k->answered_early) {
    k->answered_early = 0;
    conn_release(k, k->keep_after_write);
  }
}

/* ---- parsing ---------------------------------------------------------------- */

static int p_message_begin(llhttp_t *p) {
  conn *k = p->data;
  http_plain_req *r = k->req;
  if (r == NULL)
    return -1; /* a response nobody asked for */
  r->hdr.len = 0;
  r->body.len = 0;
  r->in_value = 0;
  r->interim = 0;
  r->headers_done = 0;
  return 0;
}

static int p_header_field(llhttp_t *p, const char *at, size_t len) {
  conn *k = p->data;
  http_plain_req *r = k->req;
  size_t i, start = r->hdr.len;
  if (r->headers_done)
    return 0; /* a trailer field of a chunked body */
  if (r->in_value) {
    if (buf_append(&r->hdr, "", 1) < 0) /* ends the previous line */
      return -1;
    r->in_value = 0;
    start = r->hdr.len;
  }
  if (buf_append(&r->hdr, at, len) < 0)
    return -1;
  for (i = start; i < r->hdr.len; i++) {
    char ch = r->hdr.data[i];
    if (ch >= 'A' && ch <= 'Z')
      r->hdr.data[i] = (char)(ch + 32);
  }
  return 0;
}

static int p_header_value(llhttp_t *p, const char *at, size_t len) {
  conn *k = p->data;
  http_plain_req *r = k->req;
  if (r->headers_done)
    return 0;
  if (!r->in_value) {
    if (buf_append(&r->hdr, ": ", 2) < 0)
      return -1;
    r->in_value = 1;
  }
  return buf_append(&r->hdr, at, len) < 0 ? -1 : 0;
}

static int p_headers_complete(llhttp_t *p) {
  conn *k = p->data;
  http_plain_req *r = k->req;
  if (r->in_value && buf_append(&r->hdr, "", 1) < 0)
    return -1;
  r->in_value = 0;
  r->headers_done = 1;
  r->status = (int)llhttp_get_status_code(p);
  if (r->status < 200) {
    r->interim = 1; /* 100 Continue and the like: the answer follows */
    return 0;
  }
  return r->is_head || r->status == 204 || r->status == 304 ? 1 : 0; /* 1: no body */
}

static int p_body(llhttp_t *p, const char *at, size_t len) {
  conn *k = p->data;
  http_plain_req *r = k->req;
  if (r->body.len + len > r->max_body) {
    r->err = -E2BIG;
    return -1;
  }
  return buf_append(&r->body, at, len) < 0 ? -1 : 0;
}

static int p_message_complete(llhttp_t *p) {
  conn *k = p->data;
  http_plain_req *r = k->req;
  if (r->interim) {
    r->interim = 0;
    return 0;
  }
  r->complete = 1;
  return HPE_PAUSED; /* stop: anything after it is not ours */
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = p_message_begin,
    .on_header_field = p_header_field,
    .on_header_value = p_header_value,
    .on_headers_complete = p_headers_complete,
    .on_body = p_body,
    .on_message_complete = p_message_complete,
};

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)h;
  b->base = malloc(suggested);
  b->len = b->base ? suggested : 0;
}

/* The response on k is complete: hand it over. */
static void conn_answered(conn *k, size_t leftover) {
  http_plain_req *r = k->req;
  int keep = leftover == 0 && llhttp_should_keep_alive(&k->parser);
  k->req = NULL;
  r->conn = NULL;
  if (k->writing) {
    /* The server answered before it read everything (an early 401 to a
     * large upload): k->out and k->write are still libuv's until on_write. */
    k->answered_early = 1;
    k->keep_after_write = keep;
  } else {
    /* Back to the pool first: the callback may start the next request. */
    conn_release(k, keep);
  }
  req_finish(r, 0, 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  conn *k = s->data;
  http_plain_req *r = k->req;
  llhttp_errno_t e;

  if (nread == 0) {
    free(b->base);
    return;
  }
  if (nread < 0) {
    free(b->base);
    if (r != NULL && nread == UV_EOF && r->status >= 200 && !r->complete) {
      /* A body delimited by the end of the connection. */
      e = llhttp_finish(&k->parser);
      if ((e == HPE_OK || e == HPE_PAUSED) && r->complete) {
        k->req = NULL;
        r->conn = NULL;
        conn_close(k);
        req_finish(r, 0, 0);
        return;
      }
    }
    conn_close(k);
    return;
  }
  if (r == NULL) {
    /* Bytes on an idle connection: the server is confused; drop it. */
    free(b->base);
    conn_close(k);
    return;
  }
  r->got_bytes = 1;
  e = llhttp_execute(&k->parser, b->base, (size_t)nread);
  if (e == HPE_PAUSED && r->complete) {
    size_t used = (size_t)(llhttp_get_error_pos(&k->parser) - b->base);
    free(b->base);
    conn_answered(k, (size_t)nread - used);
    return;
  }
  free(b->base);
  if (e != HPE_OK) {
    int err = r->err == -E2BIG ? -E2BIG : -EPROTO;
    if (e == HPE_USER && r->err == 0)
      err = r->hdr.len > r->max_headers ? -EPROTO : -ENOMEM;
    k->req = NULL;
    r->conn = NULL;
    conn_close(k);
    req_finish(r, err, 0);
    return;
  }
  if (r->hdr.len > r->max_headers) {
    k->req = NULL;
    r->conn = NULL;
    conn_close(k);
    req_finish(r, -EPROTO, 0);
  }
}

/* ---- sending ---------------------------------------------------------------- */

static void conn_send(conn *k, http_plain_req *r) {
  uv_buf_t b;
  int rc;
  uv_timer_stop(&k->timer);
  r->state = RQ_ACTIVE;
  r->conn = k;
  r->attempts++;
  r->got_bytes = 0;
  r->complete = 0;
  r->status = 0;
  k->req = r;
  list_remove(&k->link);
  list_init(&k->link);
  /* The connection keeps its own copy: a cancelled request may go away
   * while the write is still queued. */
  k->out.len = 0;
  if (buf_append(&k->out, r->wire, r->wire_len) < 0) {
    conn_close_err(k, -ENOMEM);
    return;
  }
  b = uv_buf_init(k->out.data, (unsigned)k->out.len);
  k->writing = 1;
  k->write.data = k;
  rc = uv_write(&k->write, (uv_stream_t *)&k->tcp, &b, 1, on_write);
  if (rc < 0) {
    k->writing = 0;
    conn_close_err(k, -ECONNRESET);
    return;
  }
  uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, on_read);
}

/* A connect failed: with another address of the host left to try (a name
 * that resolves to ::1 and 127.0.0.1 for a server on only one of them),
 * the request goes back to the head of the line for it. */
static void connect_failed(conn *k, int err) {
  origin *o = k->o;
  http_plain_req *r = k->req;
  if (r != NULL && k->addr_i + 1 < o->n_addrs && !o->c->closed) {
    k->req = NULL;
    r->conn = NULL;
    r->next_addr = (int)(k->addr_i + 1);
    r->state = RQ_WAITING;
    list_insert_head(&o->waiting, &r->link);
    o->n_waiting++;
  }
  conn_close_err(k, err);
}

static void connect_timeout(uv_timer_t *t) {
  connect_failed(t->data, -ETIMEDOUT);
}

static void on_connect(uv_connect_t *cr, int status) {
  conn *k = cr->data;
  http_plain_req *r;
  if (k->closing)
    return;
  uv_timer_stop(&k->timer);
  if (status < 0) {
    connect_failed(k, status == UV_ECONNREFUSED ? -ECONNREFUSED : status);
    return;
  }
  k->o->pref = k->addr_i;
  uv_tcp_nodelay(&k->tcp, 1);
  r = k->req;
  if (r == NULL) {
    /* Its request went away meanwhile: serve the next, or idle. */
    conn_release(k, 1);
    k->reused = 0;
    return;
  }
  k->req = NULL;
  conn_send(k, r);
}

static void conn_connect(conn *k) {
  http_plain_req *r = k->req;
  unsigned ms = r != NULL ? r->connect_timeout_ms : k->o->c->limits.connect_timeout_ms;
  origin *o = k->o;
  int rc;
  if (k->addr_i == ADDR_PREF || k->addr_i >= o->n_addrs)
    k->addr_i = o->pref < o->n_addrs ? o->pref : 0;
  k->connect.data = k;
  rc = uv_tcp_connect(&k->connect, &k->tcp, (const struct sockaddr *)&o->addrs[k->addr_i],
                      on_connect);
  if (rc < 0) {
    connect_failed(k, rc);
    return;
  }
  uv_timer_start(&k->timer, connect_timeout, ms, 0);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
  origin *o = g->data;
  struct addrinfo *ai;
  unsigned n = 0;
  o->resolving = 0;
  if (status == 0) {
    for (ai = res; ai != NULL && n < MAX_ADDRS; ai = ai->ai_next) {
      struct sockaddr_storage *a = &o->addrs[n];
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
        continue;
      if (ai->ai_addrlen > sizeof(*a))
        continue;
      memcpy(a, ai->ai_addr, ai->ai_addrlen);
      if (ai->ai_family == AF_INET)
        ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)o->port);
      else
        ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)o->port);
      n++;
    }
    if (n > 0) {
      /* Keep the address that worked if it is still among them. */
      unsigned i, pref = 0;
      for (i = 0; i < n && o->pref < o->n_addrs; i++) {
        if (memcmp(&o->addrs[i], &o->addrs[o->pref], sizeof(o->addrs[i])) == 0)
          pref = i;
      }
      o->n_addrs = n;
      o->pref = pref;
      o->have_addr = 1;
      o->resolved_at = uv_now(o->c->loop);
    }
  }
  uv_freeaddrinfo(res);
  while (!list_empty(&o->resolving_conns)) {
    conn *k = list_entry(o->resolving_conns.next, conn, link);
    list_remove(&k->link);
    list_init(&k->link);
    if (k->closing)
      continue;
    if (o->have_addr && !o->c->closed) {
      conn_connect(k);
    } else {
      if (!o->c->closed && k->req != NULL)
        log_msg(o->c->log, LOGLVL_WARN, "http_client_dns_failed", "host=%s error=%s", o->host,
                uv_strerror(status));
      conn_close_err(k, -EHOSTUNREACH);
    }
  }
}

/* Opens a connection for r. */
static int conn_open(origin *o, http_plain_req *r) {
  http_plain *c = o->c;
  conn *k = calloc(1, sizeof(*k));
  if (k == NULL)
    return -ENOMEM;
  k->o = o;
  uv_tcp_init(c->loop, &k->tcp);
  uv_timer_init(c->loop, &k->timer);
  k->tcp.data = k->timer.data = k;
  k->open_handles = 2;
  llhttp_init(&k->parser, HTTP_RESPONSE, &parser_settings);
  k->parser.data = k;
  list_init(&k->link);
  list_insert_tail(&c->conns, &k->all_link);
  o->n_conns++;
  k->req = r;
  k->addr_i = r->next_addr >= 0 ? (unsigned)r->next_addr : ADDR_PREF;
  r->next_addr = -1;
  r->conn = k;
  r->state = RQ_ACTIVE;
  if (o->have_addr && (o->literal || uv_now(c->loop) - o->resolved_at < DNS_TTL_MS)) {
    conn_connect(k);
    return 0;
  }
  list_insert_tail(&o->resolving_conns, &k->link);
  if (!o->resolving) {
    struct addrinfo hints;
    char port[8];
    int rc;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", o->port);
    o->gai.data = o;
    rc = uv_getaddrinfo(c->loop, &o->gai, on_resolved, o->host, port, &hints);
    if (rc < 0) {
      list_remove(&k->link);
      list_init(&k->link);
      conn_close_err(k, -EHOSTUNREACH);
      return 0;
    }
    o->resolving = 1;
  }
  return 0;
}

/* Gives waiting requests the connections they may have now. */
static void origin_next(origin *o) {
  http_plain *c = o->c;
  while (!list_empty(&o->waiting) && !c->closed) {
    http_plain_req *r = list_entry(o->waiting.next, http_plain_req, link);
    if (!list_empty(&o->idle)) {
      conn *k = list_entry(o->idle.next, conn, link);
      list_remove(&r->link);
      o->n_waiting--;
      conn_send(k, r);
    } else if (o->n_conns < c->limits.max_conns_per_host) {
      list_remove(&r->link);
      o->n_waiting--;
      if (conn_open(o, r) < 0)
        req_finish(r, -ENOMEM, 0);
    } else {
      return;
    }
  }
}

/* ---- requests --------------------------------------------------------------- */

/* Formats the request into r->wire. */
static int format_wire(http_plain_req *r, const http_client_params *p, const origin *o,
                       const char *target, char *err, size_t n) {
  buf w;
  size_t i, tlen = strcspn(target, "#");
  int has_ua = 0, rc = 0;

  memset(&w, 0, sizeof(w));
  rc |= buf_reserve(&w, 256 + tlen + p->body_len);
  rc |= buf_puts(&w, p->method);
  rc |= buf_append(&w, " ", 1);
  if (tlen == 0 || target[0] != '/')
    rc |= buf_append(&w, "/", 1);
  rc |= buf_append(&w, target, tlen);
  rc |= buf_append(&w, " HTTP/1.1\r\nHost: ", 17);
  rc |= buf_puts(&w, o->host_header);
  rc |= buf_append(&w, "\r\n", 2);
  for (i = 0; i < p->n_headers; i++) {
    /* Checked by http_types_check(). */
    const char *line = p->headers[i], *colon = strchr(line, ':');
    if (http_types_header_is_ours(line, (size_t)(colon - line)))
      continue;
    if (http_util_ieq(line, (size_t)(colon - line), "user-agent"))
      has_ua = 1;
    rc |= buf_puts(&w, line);
    rc |= buf_append(&w, "\r\n", 2);
  }
  if (!has_ua)
    rc |= buf_puts(&w, "User-Agent: mcpd\r\n");
  if (p->body_len > 0 || strcmp(p->method, "POST") == 0 || strcmp(p->method, "PUT") == 0 ||
      strcmp(p->method, "PATCH") == 0) {
    char num[24], *q = num + sizeof(num);
    size_t v = p->body_len;
    do {
      *--q = (char)('0' + v % 10);
      v /= 10;
    } while (v != 0);
    rc |= buf_append(&w, "Content-Length: ", 16);
    rc |= buf_append(&w, q, (size_t)(num + sizeof(num) - q));
    rc |= buf_append(&w, "\r\n", 2);
  }
  rc |= buf_append(&w, "\r\n", 2);
  if (p->body_len > 0)
    rc |= buf_append(&w, p->body, p->body_len);
  if (rc < 0) {
    buf_free(&w);
    return -ENOMEM;
  }
  r->wire = w.data;
  r->wire_len = w.len;
  return 0;
}

static origin *origin_get(http_plain *c, const char *host, int port) {
  char key[300];
  origin *o;
  int k = snprintf(key, sizeof(key), "%s:%d", host, port);
  o = strmap_get(&c->origins, key, (size_t)k);
  if (o != NULL)
    return o;
  o = calloc(1, sizeof(*o));
  if (o == NULL)
    return NULL;
  o->c = c;
  o->key = strdup(key);
  o->host = strdup(host);
  o->port = port;
  o->host_header = malloc(strlen(host) + 16);
  if (o->key == NULL || o->host == NULL || o->host_header == NULL ||
      strmap_put(&c->origins, o->key, strlen(o->key), o) < 0) {
    free(o->key);
    free(o->host);
    free(o->host_header);
    free(o);
    return NULL;
  }
  if (strchr(host, ':') != NULL)
    sprintf(o->host_header, port == 80 ? "[%s]" : "[%s]:%d", host, port);
  else
    sprintf(o->host_header, port == 80 ? "%s" : "%s:%d", host, port);
  /* An IP literal needs no lookup. */
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&o->addrs[0]) == 0 ||
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&o->addrs[0]) == 0) {
    o->have_addr = 1;
    o->literal = 1;
    o->n_addrs = 1;
  }
  list_init(&o->idle);
  list_init(&o->resolving_conns);
  list_init(&o->waiting);
  list_insert_tail(&c->origin_list, &o->link);
  return o;
}

int http_plain_request(http_plain *c, const http_client_params *p, http_client_cb cb, void *arg,
                       http_client_req **out, char *err, size_t n) {
  http_url u;
  http_plain_req *r;
  origin *o;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (c->closed) {
    snprintf(err, n, "mcpd is stopping");
    return -ESHUTDOWN;
  }
  rc = http_types_check(p, &u, err, n);
  if (rc < 0)
    return rc;
  if (u.https) {
    snprintf(err, n, "https:// is for the curl engine"); /* http_client never sends it here */
    return -EPROTONOSUPPORT;
  }
  o = origin_get(c, u.host, u.port);
  r = calloc(1, sizeof(*r));
  if (o == NULL || r == NULL) {
    free(r);
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  r->head.engine = HTTP_ENGINE_PLAIN;
  r->c = c;
  r->o = o;
  r->next_addr = -1;
  r->cb = cb;
  r->arg = arg;
  r->owner = p->owner;
  r->is_head = strcmp(p->method, "HEAD") == 0;
  r->idempotent = r->is_head || strcmp(p->method, "GET") == 0 || strcmp(p->method, "PUT") == 0 ||
                  strcmp(p->method, "DELETE") == 0 || strcmp(p->method, "OPTIONS") == 0;
  r->max_body = p->max_response_bytes ? p->max_response_bytes : c->limits.max_response_bytes;
  r->max_headers = c->limits.max_header_bytes;
  r->connect_timeout_ms =
      p->connect_timeout_ms ? p->connect_timeout_ms : c->limits.connect_timeout_ms;
  r->label = strdup(p->label != NULL && p->label[0] != '\0' ? p->label : o->key);
  rc = r->label == NULL ? -ENOMEM : format_wire(r, p, o, u.target, err, n);
  if (rc < 0) {
    if (rc == -ENOMEM)
      snprintf(err, n, "out of memory");
    free(r->label);
    free(r);
    return rc;
  }
  r->started = uv_now(c->loop);
  uv_timer_init(c->loop, &r->timer);
  r->timer.data = r;
  uv_timer_start(&r->timer, req_timeout, p->timeout_ms ? p->timeout_ms : c->limits.timeout_ms, 0);
  (*c->n_live)++;
  list_insert_tail(&c->live, &r->all_link);
  if (out != NULL)
    *out = &r->head;
  /* Queue it; connections are handed out in order. */
  r->state = RQ_WAITING;
  if (o->n_waiting >= c->limits.max_waiting) {
    r->o = NULL;
    req_finish(r, -EAGAIN, 1);
    return 0;
  }
  list_insert_tail(&o->waiting, &r->link);
  o->n_waiting++;
  /* A connect or a write can fail on the spot: in_request makes such a
   * failure wait for the next turn, as the header promises. */
  c->in_request++;
  origin_next(o);
  c->in_request--;
  return 0;
}

void http_plain_cancel(http_client_req *head) {
  http_plain_req *r = (http_plain_req *)head;
  conn *k;
  if (r == NULL || r->state == RQ_DONE)
    return;
  k = r->conn;
  req_finish(r, -ECANCELED, 1);
  if (k != NULL)
    conn_close(k);
}

unsigned http_plain_drop_owner(http_plain *c, void *owner) {
  unsigned count = 0;
  list_node *n, *tmp;
  list_foreach_safe(n, tmp, &c->live) {
    http_plain_req *r = list_entry(n, http_plain_req, all_link);
    if (r->owner == owner && !r->dropped) {
      r->dropped = 1;
      count++;
      http_plain_cancel(&r->head); /* completes later, without its callback */
    }
  }
  return count;
}

/* ---- set-up and teardown ---------------------------------------------------- */

int http_plain_init(http_plain *c, uv_loop_t *loop, const logger *lg, const http_client_limits *lim,
                    http_label_table *stats, unsigned *n_live) {
  memset(c, 0, sizeof(*c));
  c->loop = loop;
  c->log = lg;
  c->limits = *lim;
  c->stats = stats;
  c->n_live = n_live;
  list_init(&c->origin_list);
  list_init(&c->done);
  list_init(&c->live);
  list_init(&c->conns);
  uv_idle_init(loop, &c->done_idle);
  c->done_idle.data = c;
  return 0;
}

void http_plain_close(http_plain *c) {
  list_node *n, *tmp;
  if (c->closed)
    return;
  c->closed = 1;
  /* Every request ends with -ESHUTDOWN, now, and every connection closes. */
  list_foreach_safe(n, tmp, &c->live) {
    http_plain_req *r = list_entry(n, http_plain_req, all_link);
    if (r->state != RQ_DONE)
      req_finish(r, -ESHUTDOWN, 1);
  }
  while (!list_empty(&c->done)) {
    http_plain_req *r = list_entry(c->done.next, http_plain_req, link);
    list_remove(&r->link);
    req_deliver(r);
  }
  while (!list_empty(&c->conns))
    conn_close(list_entry(c->conns.next, conn, all_link));
  for (n = c->origin_list.next; n != &c->origin_list; n = n->next) {
    origin *o = list_entry(n, origin, link);
    if (o->resolving)
      uv_cancel((uv_req_t *)&o->gai);
  }
  uv_close((uv_handle_t *)&c->done_idle, NULL);
}

void http_plain_free(http_plain *c) {
  while (!list_empty(&c->origin_list)) {
    origin *o = list_entry(c->origin_list.next, origin, link);
    list_remove(&o->link);
    free(o->key);
    free(o->host);
    free(o->host_header);
    free(o);
  }
  strmap_free(&c->origins);
  memset(c, 0, sizeof(*c));
}
