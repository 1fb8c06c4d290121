/* http_server.c -- HTTP/1.1 server on libuv and llhttp.
 *
 * One http_conn per socket. llhttp parses straight out of one shared read
 * buffer; the URL and headers of the request being parsed are copied into
 * a per-connection arena, the body is used in place when it arrived in one
 * piece (the usual case) and copied otherwise. Each complete request is
 * queued on its connection and handed to the callback at once, so pipelined
 * requests are processed concurrently; their responses leave in request
 * order: a response for a request that is not first in the queue is kept in
 * the request's own buffer until the ones before it are done.
 *
 * Fair shares: every connection belongs to the entry of its client address
 * (hs->clients), which counts its connections and streams against the
 * per-client caps. A connection whose socket queue holds more than
 * max_unread_bytes is paused like one with too many requests in flight,
 * so a client that pipelines and never reads cannot make the server
 * queue without end.
 *
 * TLS (when hs->tls is set) sits between the socket and the parser: what
 * is read goes through the connection's tls_conn (net/tls.h) first, and its
 * plaintext is parsed from the shared read buffer as plain HTTP is; what is
 * written is encrypted just before the socket write, so the write queue,
 * its bounds and timers see the ciphertext. Plain HTTP pays one branch. */
#include "net/http_server.h"

#include "net/http_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_BUF_SIZE  (64 * 1024)
#define LINGER_MS      2000
#define BODY_KEEP_SIZE (64 * 1024) /* larger body buffers are freed after use */
#define LOG_EVERY_MS   5000        /* refusals and closes: a line per interval */
#define CLIENT_MAX     48          /* a client address as text, with its NUL */
#define TLS_COALESCE   16384       /* pieces up to a record's worth are encrypted as one */

/* The connections of one client address. */
typedef struct http_client {
  char addr[CLIENT_MAX]; /* the key in hs->clients */
  unsigned n_conns;      /* open connections (closing ones are not counted) */
  unsigned n_streams;    /* streaming responses in progress */
  list_node conns;       /* http_conn.client_link */
  http_log_limit refused_log;
} http_client;

struct hdr_off {
  uint32_t name, name_len, value, value_len;
};

struct http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shutdown_req;
  llhttp_t parser;
  http_server *hs;
  list_node link;        /* in hs->conns */
  list_node resume_link; /* in hs->resume while waiting to be resumed */
  http_req *head, *tail; /* requests owed a response, in order */
  unsigned n_reqs;
  unsigned writes_in_flight;

  /* The request being parsed. */
  http_req *cur;
  buf arena; /* URL and header bytes, NUL-separated */
  struct hdr_off *hdr;
  http_header *headers;
  unsigned n_hdr, cap_hdr;
  int hdr_state; /* 0: between headers, 1: in a name, 2: in a value */
  buf body;
  const char *body_ptr; /* the body, in place in the read buffer */
  size_t body_len;
  int err_status; /* status for a parse error, or 0 for 400 */
  const char *err_text;

  buf stash;                  /* bytes read but not parsed while paused */
  unsigned reading : 1;       /* between message begin and complete */
  unsigned paused : 1;        /* too many requests in flight: not parsing */
  unsigned resume_queued : 1; /* on hs->resume */
  unsigned stop_parsing : 1;  /* no further request will be read */
  unsigned finishing : 1;     /* graceful close started */
  unsigned shut : 1;          /* shutdown(2) sent */
  unsigned closing : 1;       /* uv_close called */
  unsigned lingering : 1;     /* reading and discarding until EOF */
  unsigned eof : 1;           /* the client closed its side */
  unsigned in_trailers : 1;   /* chunked trailer fields: counted, not kept */
  size_t trailer_bytes;
  size_t chunk_ext_bytes; /* chunk extensions of the request being read */
  int handles_open;

  http_client *client;   /* NULL for a socket without an IP peer */
  list_node client_link; /* in client->conns */
  uint64_t idle_since;   /* loop ms: since when it has had no request (eviction order) */
  uint64_t progress_ms;  /* loop ms: the write queue last made progress, or began */
  const char *feed;      /* the bytes being parsed begin here (obs-fold check) */
  char before_feed;      /* the last byte parsed before `feed` that is not SP/HT */

  tls_conn *tls;            /* owned; NULL for plain HTTP */
  unsigned tls_ready : 1;   /* the handshake is complete */
  unsigned tls_started : 1; /* the client has sent something */
  unsigned tls_shut : 1;    /* close_notify queued */
};

/* A write that could not complete at once: owns a copy of the rest. */
struct write_req {
  uv_write_t req;
  http_conn *conn;
  size_t len;
  char data[];
};

static void conn_close(http_conn *c);
static void conn_finish(http_conn *c);
static void conn_feed(http_conn *c, const char *data, size_t len);
static void conn_advance(http_conn *c);
static void conn_eof(http_conn *c);
static void conn_arm_timer(http_conn *c);
static void conn_parse_error(http_conn *c, llhttp_errno_t err);
static void idle_cb(uv_idle_t *idle);

static void check_closed(http_server *hs);
static void arm(http_conn *c, unsigned ms);
static void schedule_resume(http_conn *c);

/* ---- rate-limited logs ------------------------------------------------------ */

/* Counts an event; returns 1 when a line may be written now, with *count
 * the events it stands for (this one included). */
static int log_due(http_server *hs, http_log_limit *l, uint64_t *count) {
  uint64_t now = uv_now(hs->loop);
  l->count++;
  if (l->next_ms != 0 && now < l->next_ms)
    return 0;
  *count = l->count;
  l->count = 0;
  l->next_ms = now + LOG_EVERY_MS;
  return 1;
}

static const char *client_name(const http_conn *c) {
  return c->client != NULL ? c->client->addr : "?";
}

/* ---- output waiting for the client ------------------------------------------ */

/* Whether the client has left more output unread than the bound: then no
 * further request of its connection is read until it drains. (Responses
 * held behind an unfinished one are bounded by max_pipelined instead: the
 * client is not the one late there.) */
static int conn_over_output(http_conn *c) {
  size_t bound = c->hs->limits.max_unread_bytes;
  return bound > 0 && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > bound;
}

/* Whether a paused connection may be read again. */
static int conn_may_resume(http_conn *c) {
  return c->n_reqs < c->hs->limits.max_pipelined && !conn_over_output(c);
}

/* ---- dates ------------------------------------------------------------ */

static const char *http_date(http_server *hs) {
  time_t now = time(NULL);
  if (now != hs->date_time) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(hs->date_str, sizeof(hs->date_str), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    hs->date_time = now;
  }
  return hs->date_str;
}

/* ---- writing ------------------------------------------------------------ */

static void write_cb(uv_write_t *req, int status) {
  struct write_req *wr = (struct write_req *)req;
  http_conn *c = wr->conn;
  free(wr);
  c->writes_in_flight--;
  if (status < 0) {
    conn_close(c);
    return;
  }
  c->progress_ms = uv_now(c->hs->loop);
  if (c->finishing) {
    if (c->shut)
      return;
    if (c->writes_in_flight == 0)
      conn_finish(c);
    else
      arm(c, c->hs->limits.send_timeout_ms); /* it reads: give it more time */
    return;
  }
  if (c->paused && conn_may_resume(c))
    schedule_resume(c);
  else
    conn_arm_timer(c); /* it reads: the send timeout starts again */
}

/* Writes bufs to the socket as they are: at once if the socket takes them,
 * else queued as one copy. bounded: the bytes belong to a stream, whose
 * queue may not grow past max_write_queue_bytes (a client that stops
 * reading a stream is closed; a single large response is written whole).
 * Returns 0 or -ECONNRESET (the connection is closing). */
static int conn_send(http_conn *c, uv_buf_t *bufs, unsigned n, int bounded) {
  size_t total = 0, skip, off;
  unsigned i;
  struct write_req *wr;
  uv_buf_t b;
  int r;

  if (c->closing || c->shut)
    return -ECONNRESET;
  for (i = 0; i < n; i++)
    total += bufs[i].len;
  if (total == 0)
    return 0;
  skip = 0;
  if (c->writes_in_flight == 0) {
    r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (r >= 0 && (size_t)r == total)
      return 0;
    if (r < 0 && r != UV_EAGAIN) {
      conn_close(c);
      return -ECONNRESET;
    }
    skip = r > 0 ? (size_t)r : 0;
    c->progress_ms = uv_now(c->hs->loop); /* the queue begins now */
  }
  wr = malloc(sizeof(*wr) + total - skip);
  if (wr == NULL) {
    conn_close(c);
    return -ECONNRESET;
  }
  off = 0;
  for (i = 0; i < n; i++) {
    size_t len = bufs[i].len;
    const char *p = bufs[i].base;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    p += skip;
    len -= skip;
    skip = 0;
    memcpy(wr->data + off, p, len);
    off += len;
  }
  wr->conn = c;
  wr->len = off;
  b = uv_buf_init(wr->data, (unsigned)off);
  r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
  if (r < 0) {
    free(wr);
    conn_close(c);
    return -ECONNRESET;
  }
  c->writes_in_flight++;
  if (bounded && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) >
                     c->hs->limits.max_write_queue_bytes) {
    uint64_t closed;
    c->hs->stats.slow_clients++;
    if (log_due(c->hs, &c->hs->slow_log, &closed))
      log_msg(c->hs->log, LOGLVL_WARN, "http_slow_client",
              "reason=max_write_queue_bytes client=%s queued=%zu limit=%zu action=close "
              "closed=%" PRIu64,
              client_name(c), uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp),
              c->hs->limits.max_write_queue_bytes, closed);
    conn_close(c);
    return -ECONNRESET;
  }
  return 0;
}

/* Sends what TLS has produced (handshake messages, records, alerts). */
static int conn_flush_tls(http_conn *c, int bounded) {
  const char *data;
  size_t len = tls_conn_output(c->tls, &data);
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  int r = len > 0 ? conn_send(c, &b, 1, bounded) : 0;
  tls_conn_output_done(c->tls); /* sent, or copied by conn_send */
  return r;
}

/* Encrypts bufs and sends the records. Small pieces (a header block and
 * its body) go into one record: fewer records, less overhead per byte. */
static int conn_write_tls(http_conn *c, uv_buf_t *bufs, unsigned n, int bounded) {
  char joined[TLS_COALESCE];
  size_t total = 0, off = 0;
  unsigned i;
  int r = 0;

  if (c->closing || c->shut)
    return -ECONNRESET;
  for (i = 0; i < n; i++)
    total += bufs[i].len;
  if (total == 0)
    return 0;
  if (n > 1 && total <= sizeof(joined)) {
    for (i = 0; i < n; i++) {
      if (bufs[i].len > 0)
        memcpy(joined + off, bufs[i].base, bufs[i].len);
      off += bufs[i].len;
    }
    r = tls_conn_write(c->tls, joined, total);
  } else {
    for (i = 0; i < n && r == 0; i++)
      r = tls_conn_write(c->tls, bufs[i].base, bufs[i].len);
  }
  if (r < 0) {
    conn_close(c);
    return -ECONNRESET;
  }
  return conn_flush_tls(c, bounded);
}

/* Writes response bytes: encrypted first on a TLS connection. */
static int conn_write(http_conn *c, uv_buf_t *bufs, unsigned n, int bounded) {
  if (c->tls != NULL)
    return conn_write_tls(c, bufs, n, bounded);
  return conn_send(c, bufs, n, bounded);
}

/* Sends bytes produced for req: to the socket if req is first in line,
 * else into req->out. */
static int req_emit(http_req *req, uv_buf_t *bufs, unsigned n) {
  http_conn *c = req->conn;
  unsigned i;
  if (c->closing || c->shut)
    return -ECONNRESET;
  for (i = 0; i < n; i++)
    req->bytes += bufs[i].len;
  if (req == c->head && req->out.len == 0)
    return conn_write(c, bufs, n, req->stream);
  for (i = 0; i < n; i++) {
    if (buf_append(&req->out, bufs[i].base, bufs[i].len) < 0) {
      conn_close(c);
      return -ECONNRESET;
    }
  }
  return 0;
}

/* Formats the status line and headers into out (size n); returns the
 * length, or 0 if it does not fit. */
/* Appends len bytes at s to [*p, end); a write that does not fit sets *p
 * to NULL, and every later one is a no-op. */
static void put(char **p, const char *end, const char *s, size_t len) {
  if (len == 0) /* s may be NULL then, and memcpy must not see it */
    return;
  if (*p == NULL || (size_t)(end - *p) < len) {
    *p = NULL;
    return;
  }
  memcpy(*p, s, len);
  *p += len;
}

static void put_str(char **p, const char *end, const char *s) {
  put(p, end, s, strlen(s));
}

static void put_uint(char **p, const char *end, uint64_t v) {
  char tmp[24], *q = tmp + sizeof(tmp);
  do {
    *--q = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  put(p, end, q, (size_t)(tmp + sizeof(tmp) - q));
}

/* The status line and header block; 0 when it does not fit in n. Written
 * by hand: it is part of every response. */
static size_t format_head(http_req *req, int status, const char *headers, int chunked,
                          size_t content_length, char *out, size_t n) {
  http_server *hs = req->conn->hs;
  const char *end = out + n;
  char *p = out;
  size_t hl = headers != NULL ? strlen(headers) : 0;

  if (hl > 0 && (hl < 2 || headers[hl - 2] != '\r' || headers[hl - 1] != '\n'))
    return 0; /* a cut header line would break the framing */
  put(&p, end, "HTTP/1.1 ", 9);
  put_uint(&p, end, (uint64_t)status);
  put(&p, end, " ", 1);
  put_str(&p, end, http_util_status_text(status));
  put(&p, end, "\r\nDate: ", 8);
  put_str(&p, end, http_date(hs));
  put(&p, end, "\r\n", 2);
  put(&p, end, headers, hl);
  if (chunked) {
    if (!req->http10)
      put_str(&p, end, "Transfer-Encoding: chunked\r\n");
  } else if (status != 204 && status != 304) { /* RFC 9110 8.6: none on these */
    put(&p, end, "Content-Length: ", 16);
    put_uint(&p, end, content_length);
    put(&p, end, "\r\n", 2);
  }
  if (req->close)
    put_str(&p, end, "Connection: close\r\n");
  else if (req->http10)
    put_str(&p, end, "Connection: keep-alive\r\n");
  put(&p, end, "\r\n", 2);
  return p != NULL ? (size_t)(p - out) : 0;
}

/* Marks req finished and lets the queue move on. */
static void req_done(http_req *req) {
  http_server *hs = req->conn->hs;
  req->done = 1;
  if (req->stream && req->conn->client != NULL)
    req->conn->client->n_streams--;
  if (hs->on_done != NULL)
    hs->on_done(req, hs->arg);
  if (req == req->conn->head)
    conn_advance(req->conn);
}

static int respond_internal(http_req *req, int status, const char *headers, const char *body,
                            size_t len) {
  char stack[2048];
  char *head = stack;
  size_t hlen;
  uv_buf_t bufs[2];
  int r;

  if (req->done)
    return -EALREADY;
  if (req->started) {
    /* A stream was begun: its framing is broken now. Finish the request
     * anyway (the contract) and drop the connection. */
    req->close = 1;
    req_done(req);
    return -EALREADY;
  }
  req->started = 1;
  req->status = status;
  if (req->conn->stop_parsing && req->next == NULL && !req->conn->reading)
    req->close = 1;
  hlen = format_head(req, status, headers, 0, len, stack, sizeof(stack));
  if (hlen == 0) {
    size_t need = (headers ? strlen(headers) : 0) + 512;
    head = malloc(need);
    if (head == NULL) {
      req->close = 1;
      req_done(req);
      return -ENOMEM;
    }
    hlen = format_head(req, status, headers, 0, len, head, need);
  }
  bufs[0] = uv_buf_init(head, (unsigned)hlen);
  bufs[1] = uv_buf_init((char *)body, (unsigned)(req->head ? 0 : len));
  r = req_emit(req, bufs, 2);
  if (head != stack)
    free(head);
  req_done(req);
  return r;
}

int http_respond(http_req *req, int status, const char *headers, const char *body, size_t len) {
  return respond_internal(req, status, headers, body, len);
}

int http_stream_begin(http_req *req, int status, const char *headers) {
  http_conn *c = req->conn;
  char stack[2048];
  size_t hlen;
  uv_buf_t b;

  if (req->done || req->started)
    return -EALREADY;
  /* HTTP/1.0 has no chunked encoding: the end of the stream is the end of
   * the connection, and no later request can be answered on it. */
  if (req->http10) {
    req->close = 1;
    c->stop_parsing = 1;
  }
  hlen = format_head(req, status, headers, 1, 0, stack, sizeof(stack));
  if (hlen == 0)
    return -E2BIG;
  req->started = 1;
  req->stream = 1;
  req->status = status;
  if (c->client != NULL)
    c->client->n_streams++;
  /* While queued behind earlier responses, a stream may buffer no more than
   * a stream may queue on the socket. */
  req->out.limit = c->hs->limits.max_write_queue_bytes;
  b = uv_buf_init(stack, (unsigned)hlen);
  /* A stream has no end in sight: no timeout applies to it. */
  if (req == c->head && !c->reading)
    uv_timer_stop(&c->timer);
  /* A failed write means the connection is going: the stream counts as
   * begun, and on_abort follows. */
  req_emit(req, &b, 1);
  return 0;
}

int http_stream_send(http_req *req, const char *data, size_t len) {
  char size_line[24];
  uv_buf_t bufs[3];
  int k;

  if (req->done || !req->stream)
    return -EINVAL;
  if (len == 0)
    return 0;
  if (req->http10)
    return req_emit(req, &(uv_buf_t){.base = (char *)data, .len = len}, 1);
  k = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
  bufs[0] = uv_buf_init(size_line, (unsigned)k);
  bufs[1] = uv_buf_init((char *)data, (unsigned)len);
  bufs[2] = uv_buf_init("\r\n", 2);
  return req_emit(req, bufs, 3);
}

int http_stream_end(http_req *req) {
  int r = 0;
  if (req->done || !req->stream)
    return -EINVAL;
  if (!req->http10) {
    uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
    r = req_emit(req, &b, 1);
  }
  req_done(req);
  return r;
}

void http_req_close_after(http_req *req) {
  req->close = 1;
  req->conn->stop_parsing = 1; /* nothing after it could be answered */
}

int http_stream_admit(http_req *req) {
  http_conn *c = req->conn;
  http_server *hs = c->hs;
  unsigned cap = hs->limits.max_streams_per_client;
  uint64_t n;

  if (c->client == NULL || cap == 0 || c->client->n_streams < cap)
    return 0;
  hs->stats.refused_streams++;
  if (log_due(hs, &c->client->refused_log, &n))
    log_msg(hs->log, LOGLVL_WARN, "http_stream_refused",
            "reason=max_streams_per_client client=%s limit=%u refused=%" PRIu64, c->client->addr,
            cap, n);
  return -EDQUOT;
}

uint64_t http_req_unread_ms(const http_req *req) {
  const http_conn *c = req->conn;
  if (c->closing || c->writes_in_flight == 0)
    return 0;
  return uv_now(c->hs->loop) - c->progress_ms;
}

void http_req_abort(http_req *req) {
  conn_close(req->conn);
}

const char *http_req_peer_subject(const http_req *req) {
  return req->conn->tls != NULL ? tls_conn_peer_subject(req->conn->tls) : NULL;
}

void http_req_peer(const http_req *req, char *out, size_t n) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  char ip[64] = "?";
  int port = 0;
  if (n == 0)
    return;
  if (uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET) {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
  }
  snprintf(out, n, "%s:%d", ip, port);
}

const char *http_req_header(const http_req *req, const char *name, size_t *len) {
  size_t i;
  for (i = 0; i < req->n_headers; i++) {
    if (http_util_ieq(req->headers[i].name, req->headers[i].name_len, name)) {
      if (len != NULL)
        *len = req->headers[i].value_len;
      return req->headers[i].value;
    }
  }
  return NULL;
}

/* ---- the request queue ------------------------------------------------- */

static void req_free(http_req *req) {
  buf_free(&req->out);
  free(req->kept);
  free(req);
}

/* Appends len bytes of s and a NUL at *at; returns where they went. */
static char *keep_copy(char **at, const char *s, size_t len) {
  char *start = *at;
  if (len > 0)
    memcpy(start, s, len);
  start[len] = '\0';
  *at += len + 1;
  return start;
}

int http_req_client_addr(const http_req *req, char *out, size_t n) {
  char peer[80];
  struct in6_addr a6;
  char *colon;

  /* Worked out once, when the connection came (no getpeername(2) a request). */
  if (req->conn->client != NULL) {
    size_t len = strlen(req->conn->client->addr);
    if (len >= n)
      return -1;
    memcpy(out, req->conn->client->addr, len + 1);
    return 0;
  }

  http_req_peer(req, peer, sizeof(peer)); /* "ADDR:PORT", "?:0" when unknown */
  colon = strrchr(peer, ':');
  if (colon == NULL || peer[0] == '?')
    return -1;
  *colon = '\0';
  if (inet_pton(AF_INET6, peer, &a6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&a6))
      return inet_ntop(AF_INET, a6.s6_addr + 12, out, (socklen_t)n) != NULL ? 0 : -1;
    memset(a6.s6_addr + 8, 0, 8);
    if (inet_ntop(AF_INET6, &a6, peer, sizeof(peer)) == NULL)
      return -1;
    return snprintf(out, n, "%s/64", peer) < (int)n ? 0 : -1;
  }
  return snprintf(out, n, "%s", peer) < (int)n ? 0 : -1;
}

int http_req_keep(http_req *req) {
  size_t i, size = req->n_headers * sizeof(http_header);
  http_header *h;
  char *at;
  if (req->kept != NULL)
    return 0;
  for (i = 0; i < req->n_headers; i++)
    size += req->headers[i].name_len + req->headers[i].value_len + 2;
  size += req->path_len + req->query_len + req->target_host_len + req->body_len + 4;
  if ((req->kept = malloc(size)) == NULL)
    return -ENOMEM;
  h = (http_header *)(void *)req->kept;
  at = req->kept + req->n_headers * sizeof(http_header);
  for (i = 0; i < req->n_headers; i++) {
    h[i].name_len = req->headers[i].name_len;
    h[i].value_len = req->headers[i].value_len;
    h[i].name = keep_copy(&at, req->headers[i].name, h[i].name_len);
    h[i].value = keep_copy(&at, req->headers[i].value, h[i].value_len);
  }
  req->headers = h;
  req->path = keep_copy(&at, req->path, req->path_len);
  if (req->query != NULL)
    req->query = keep_copy(&at, req->query, req->query_len);
  if (req->target_host != NULL)
    req->target_host = keep_copy(&at, req->target_host, req->target_host_len);
  if (req->body != NULL)
    req->body = keep_copy(&at, req->body, req->body_len);
  return 0;
}

static void conn_enqueue(http_conn *c, http_req *req) {
  req->next = NULL;
  if (c->tail != NULL)
    c->tail->next = req;
  else
    c->head = req;
  c->tail = req;
  c->n_reqs++;
}

static void schedule_resume(http_conn *c) {
  http_server *hs = c->hs;
  if (c->resume_queued || c->closing || hs->closing)
    return;
  c->resume_queued = 1;
  list_insert_tail(&hs->resume, &c->resume_link);
  uv_idle_start(&hs->resume_idle, idle_cb);
}

/* Sends what is ready, in order, and frees finished requests. */
static void conn_advance(http_conn *c) {
  http_req *req;

  while ((req = c->head) != NULL) {
    if (req->out.len > 0) {
      uv_buf_t b = uv_buf_init(req->out.data, (unsigned)req->out.len);
      int r = conn_write(c, &b, 1, req->stream);
      buf_free(&req->out);
      if (r < 0)
        return;
    }
    if (!req->done)
      break;
    c->head = req->next;
    if (c->head == NULL)
      c->tail = NULL;
    c->n_reqs--;
    if (req->close) {
      req_free(req);
      c->stop_parsing = 1;
      conn_finish(c);
      return;
    }
    req_free(req);
    if (c->head == NULL)
      c->idle_since = uv_now(c->hs->loop);
  }
  if (c->closing || c->finishing)
    return;
  if (c->head == NULL && (c->eof || c->stop_parsing) && !c->reading) {
    conn_finish(c);
    return;
  }
  if (c->paused && conn_may_resume(c))
    schedule_resume(c);
  conn_arm_timer(c);
}

/* ---- client addresses ------------------------------------------------------- */

/* The address the connections of a peer are counted under: the IPv4
 * address, or the /64 of an IPv6 one (which one client usually holds
 * whole, and could otherwise spread over). An IPv4-mapped IPv6 address
 * counts as its IPv4 address. Returns 0, or -1 for a socket without an IP
 * peer (a socketpair). */
static int peer_key(const uv_tcp_t *tcp, char *out, size_t n) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  unsigned char a6[16];
  char ip[INET6_ADDRSTRLEN];

  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
    return -1;
  if (ss.ss_family == AF_INET)
    return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)n) ? 0 : -1;
  if (ss.ss_family != AF_INET6)
    return -1;
  memcpy(a6, &((struct sockaddr_in6 *)&ss)->sin6_addr, sizeof(a6));
  if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a6))
    return inet_ntop(AF_INET, a6 + 12, out, (socklen_t)n) ? 0 : -1;
  memset(a6 + 8, 0, 8);
  if (inet_ntop(AF_INET6, a6, ip, sizeof(ip)) == NULL)
    return -1;
  return snprintf(out, n, "%s/64", ip) < (int)n ? 0 : -1;
}

/* Counts c under its peer's address. Without an IP peer, or out of memory,
 * c is counted nowhere (and so never refused for its address). */
static void client_attach(http_conn *c) {
  http_server *hs = c->hs;
  char addr[CLIENT_MAX];
  http_client *cl;

  if (peer_key(&c->tcp, addr, sizeof(addr)) < 0)
    return;
  cl = strmap_get(&hs->clients, addr, strlen(addr));
  if (cl == NULL) {
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL)
      return;
    memcpy(cl->addr, addr, sizeof(addr));
    list_init(&cl->conns);
    if (strmap_put(&hs->clients, cl->addr, strlen(cl->addr), cl) < 0) {
      free(cl);
      return;
    }
  }
  cl->n_conns++;
  list_insert_tail(&cl->conns, &c->client_link);
  c->client = cl;
}

/* c is being freed: its address forgets it (and goes with its last one). */
static void client_detach(http_conn *c) {
  http_client *cl = c->client;
  if (cl == NULL)
    return;
  list_remove(&c->client_link);
  c->client = NULL;
  if (list_empty(&cl->conns)) {
    strmap_remove(&c->hs->clients, cl->addr, strlen(cl->addr));
    free(cl);
  }
}

/* ---- closing ------------------------------------------------------------ */

static void conn_free(http_conn *c) {
  http_server *hs = c->hs;
  http_req *req, *next;

  /* Tell handlers about requests they still hold. */
  for (req = c->head; req != NULL; req = req->next) {
    if (!req->done && !req->no_route && req->on_abort != NULL)
      req->on_abort(req);
    /* A stream usually ends this way: it still gets its log line. */
    if (!req->done && req->routed && hs->on_done != NULL)
      hs->on_done(req, hs->arg);
    if (!req->done && req->stream && c->client != NULL)
      c->client->n_streams--;
  }
  for (req = c->head; req != NULL; req = next) {
    next = req->next;
    req_free(req);
  }
  if (c->cur != NULL)
    req_free(c->cur);
  list_remove(&c->resume_link);
  client_detach(c);
  hs->n_closing--;

  buf_free(&c->arena);
  buf_free(&c->body);
  buf_free(&c->stash);
  tls_conn_free(c->tls);
  free(c->hdr);
  free(c->headers);
  list_remove(&c->link);
  hs->n_conns--;
  free(c);
  check_closed(hs);
}

static void close_cb(uv_handle_t *h) {
  http_conn *c = h->data;
  if (--c->handles_open == 0)
    conn_free(c);
}

static void conn_close(http_conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  c->hs->n_closing++;
  if (c->client != NULL)
    c->client->n_conns--; /* its slot is free: the socket closes now */
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->handles_open = 2;
  uv_close((uv_handle_t *)&c->tcp, close_cb);
  uv_close((uv_handle_t *)&c->timer, close_cb);
}

static void timer_cb(uv_timer_t *t);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void shutdown_cb(uv_shutdown_t *req, int status) {
  http_conn *c = req->data;
  if (c->closing)
    return;
  if (status < 0 || c->eof) {
    conn_close(c);
    return;
  }
  /* Read and drop what the client still sends, so our last response is not
   * destroyed by a reset, until it closes or the linger time ends. */
  c->lingering = 1;
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
  uv_timer_start(&c->timer, timer_cb, LINGER_MS, 0);
}

/* Graceful close: once every queued write is out, shut the write side. */
static void conn_finish(http_conn *c) {
  int r;
  if (c->closing)
    return;
  c->finishing = 1;
  c->stop_parsing = 1;
  if (c->shut)
    return;
  if (c->tls_ready && !c->tls_shut) {
    /* close_notify: the client can tell our end from a cut connection. */
    c->tls_shut = 1;
    tls_conn_shutdown(c->tls);
    conn_flush_tls(c, 0);
    if (c->closing)
      return;
  }
  if (c->writes_in_flight > 0) {
    /* A client that never reads would hold the connection forever. */
    arm(c, c->hs->limits.send_timeout_ms);
    return;
  }
  c->shut = 1;
  c->shutdown_req.data = c;
  r = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb);
  if (r < 0)
    conn_close(c);
}

/* ---- TLS ----------------------------------------------------------------- */

/* A handshake that failed or did not finish: counted, and logged at most
 * once per interval for the server (with the count), since a failing
 * client leaves no connection behind to keep a per-address limit in. */
static void tls_note_failure(http_conn *c, const char *reason) {
  http_server *hs = c->hs;
  char esc[256];
  uint64_t n;
  hs->stats.tls_handshake_failures++;
  if (log_due(hs, &hs->tls_log, &n))
    log_msg(hs->log, LOGLVL_WARN, "tls_handshake_failed", "client=%s reason=%s failed=%" PRIu64,
            client_name(c), log_escape(reason, esc, sizeof(esc)), n);
}

/* The handshake failed: tell the client (its alert, or a 400 for plain
 * HTTP, which a TLS alert would not explain), then close gracefully. */
static void tls_handshake_failed(http_conn *c) {
  static const char plain[] = "HTTP/1.1 400 Bad Request\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 45\r\n"
                              "Connection: close\r\n\r\n"
                              "400 Bad Request: this port only speaks HTTPS\n";
  tls_note_failure(c, tls_conn_error(c->tls));
  if (tls_conn_plain_http(c->tls)) {
    uv_buf_t b = uv_buf_init((char *)plain, sizeof(plain) - 1);
    tls_conn_output_done(c->tls);
    conn_send(c, &b, 1, 0);
  } else {
    conn_flush_tls(c, 0);
  }
  uv_read_stop((uv_stream_t *)&c->tcp);
  conn_finish(c);
}

/* Ciphertext from the socket: drives the handshake, then hands the
 * plaintext to the parser as read_cb() does plain bytes. The ciphertext is
 * copied into the tls_conn first, so the shared read buffer takes the
 * plaintext. */
static void conn_read_tls(http_conn *c, const char *data, size_t len) {
  http_server *hs = c->hs;
  int r;

  c->tls_started = 1;
  if (tls_conn_feed(c->tls, data, len) < 0) {
    conn_close(c);
    return;
  }
  if (!c->tls_ready) {
    r = tls_conn_handshake(c->tls);
    if (r < 0) {
      tls_handshake_failed(c);
      return;
    }
    conn_flush_tls(c, 0);
    if (r == 0 || c->closing)
      return;
    c->tls_ready = 1;
    hs->stats.tls_handshakes++;
    /* Now the first request is awaited, as on a new plain connection. */
    arm(c, hs->limits.header_timeout_ms);
  }
  for (;;) {
    r = tls_conn_read(c->tls, hs->read_buf, hs->read_buf_size);
    if (r == 0)
      break;
    if (r < 0) {
      if (r == -ECONNRESET) /* close_notify: as EOF */
        conn_eof(c);
      else
        conn_close(c);
      return;
    }
    if (c->lingering || (c->stop_parsing && !c->reading))
      continue; /* after the last request we will answer: dropped */
    if (c->paused) {
      if (buf_append(&c->stash, hs->read_buf, (size_t)r) < 0) {
        conn_close(c);
        return;
      }
      continue;
    }
    conn_feed(c, hs->read_buf, (size_t)r);
    if (c->closing)
      return;
  }
  conn_flush_tls(c, 0); /* what reading produced: tickets, alerts */
}

/* ---- timers ------------------------------------------------------------- */

static void timer_cb(uv_timer_t *t) {
  http_conn *c = t->data;
  http_server *hs = c->hs;
  uint64_t n;
  if (c->closing)
    return;
  if (c->lingering || c->finishing) {
    conn_close(c);
    return;
  }
  if (c->tls != NULL && !c->tls_ready) {
    tls_note_failure(c, "the handshake did not complete within timeouts.tls_handshake_ms");
    conn_close(c);
    return;
  }
  if (c->reading) {
    /* Slow or stalled client: answer 408 and close. */
    c->err_status = 408;
    c->err_text = "the request was not received in time";
    conn_parse_error(c, HPE_USER);
    return;
  }
  if ((c->paused && conn_over_output(c)) || (c->n_reqs == 0 && c->writes_in_flight > 0)) {
    /* Its responses have not moved for send_timeout_ms: it does not read. */
    hs->stats.slow_clients++;
    if (log_due(hs, &hs->slow_log, &n))
      log_msg(hs->log, LOGLVL_WARN, "http_slow_client",
              "reason=%s client=%s unread=%zu action=close closed=%" PRIu64,
              hs->limits.send_timeout_ms ? "send_ms" : "keepalive_ms", client_name(c),
              uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp), n);
    conn_close(c);
    return;
  }
  if (c->n_reqs == 0)
    conn_close(c); /* idle keep-alive connection */
}

static void arm(http_conn *c, unsigned ms) {
  if (ms == 0) {
    uv_timer_stop(&c->timer);
    return;
  }
  /* The loop's clock stops while a callback runs: after a long one (a big
   * synchronous tool result) a timer started from it would fire at once.
   * Count from now. */
  uv_update_time(c->hs->loop);
  uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* Arms the timer for a connection that is not in the middle of a request. */
static void conn_arm_timer(http_conn *c) {
  const http_limits *l = &c->hs->limits;
  if (c->closing || c->finishing || c->reading)
    return;
  if (c->head != NULL && c->head->stream)
    uv_timer_stop(&c->timer); /* a stream has limits of its own */
  else if (c->paused && conn_over_output(c))
    arm(c, l->send_timeout_ms); /* the client does not read what it asked for */
  else if (c->n_reqs > 0)
    uv_timer_stop(&c->timer); /* the server is working on it */
  else if (c->writes_in_flight > 0 && l->send_timeout_ms > 0)
    arm(c, l->send_timeout_ms); /* its last response is still on the way */
  else
    arm(c, l->keepalive_timeout_ms);
}

/* ---- parsing ------------------------------------------------------------ */

static int fail_parse(http_conn *c, int status, const char *text) {
  c->err_status = status;
  c->err_text = text;
  return -1;
}

static int on_message_begin(llhttp_t *p) {
  http_conn *c = p->data;
  http_req *req = calloc(1, sizeof(*req));
  if (req == NULL)
    return fail_parse(c, 503, "out of memory");
  req->conn = c;
  req->id = ++c->hs->next_req_id;
  req->started_ns = uv_hrtime();
  c->cur = req;
  c->reading = 1;
  c->in_trailers = 0;
  c->trailer_bytes = 0;
  c->chunk_ext_bytes = 0;
  buf_reset(&c->arena);
  c->n_hdr = 0;
  c->hdr_state = 0;
  buf_reset(&c->body);
  c->body_ptr = NULL;
  c->body_len = 0;
  arm(c, c->hs->limits.header_timeout_ms);
  return 0;
}

static int arena_add(http_conn *c, const char *at, size_t len) {
  if (c->in_trailers) {
    /* Trailer fields come after the request was set up: keeping them would
     * move the arena under the request's pointers, and none of them may
     * act as a header. Count them against the limit and drop them. */
    c->trailer_bytes += len;
    if (c->arena.len + c->trailer_bytes > c->hs->limits.max_header_bytes)
      return fail_parse(c, 431, "the request trailer fields are larger than the limit");
    return 0;
  }
  if (c->arena.len + len > c->hs->limits.max_header_bytes)
    return fail_parse(c, 431, "the request header block is larger than the limit");
  if (buf_append(&c->arena, at, len) < 0)
    return fail_parse(c, 503, "out of memory");
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  http_conn *c = p->data;
  if (c->arena.len + len > c->hs->limits.max_header_bytes)
    return fail_parse(c, 414, "the request target is longer than the header limit");
  return arena_add(c, at, len);
}

static int on_url_complete(llhttp_t *p) {
  return arena_add(p->data, "", 1);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  http_conn *c = p->data;
  if (c->in_trailers)
    return arena_add(c, at, len);
  if (c->hdr_state != 1) {
    if (c->n_hdr >= c->hs->limits.max_headers)
      return fail_parse(c, 431, "the request has too many header fields");
    if (c->n_hdr == c->cap_hdr) {
      unsigned cap = c->cap_hdr ? c->cap_hdr * 2 : 16;
      struct hdr_off *h = realloc(c->hdr, cap * sizeof(*h));
      http_header *hh;
      if (h == NULL)
        return fail_parse(c, 503, "out of memory");
      c->hdr = h;
      hh = realloc(c->headers, cap * sizeof(*hh));
      if (hh == NULL)
        return fail_parse(c, 503, "out of memory");
      c->headers = hh;
      c->cap_hdr = cap;
    }
    memset(&c->hdr[c->n_hdr], 0, sizeof(c->hdr[0]));
    c->hdr[c->n_hdr].name = (uint32_t)c->arena.len;
    c->n_hdr++;
    c->hdr_state = 1;
  }
  c->hdr[c->n_hdr - 1].name_len += (uint32_t)len;
  return arena_add(c, at, len);
}

/* RFC 9110 tchar: what a field name is made of. */
static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int on_header_field_complete(llhttp_t *p) {
  http_conn *c = p->data;
  const struct hdr_off *h;
  uint32_t i;
  if (c->in_trailers)
    return 0;
  h = &c->hdr[c->n_hdr - 1];
  /* llhttp lets "Bad Header:" and "Name :" through; RFC 9112 5.1 wants 400. */
  for (i = 0; i < h->name_len; i++) {
    if (!is_tchar((unsigned char)c->arena.data[h->name + i]))
      return fail_parse(c, 400, "invalid character in a header field name");
  }
  if (h->name_len == 0)
    return fail_parse(c, 400, "empty header field name");
  return arena_add(c, "", 1);
}

/* Whether a header value's bytes at `at` begin a continuation line: only
 * SP or HT lie between them and a line feed. llhttp honours such obs-fold
 * lines (RFC 9112 5.2), also in Content-Length and Transfer-Encoding, where
 * a proxy that does not would frame the message differently: refused. */
static int after_fold(const http_conn *c, const char *at) {
  const char *p = at;
  while (p > c->feed && (p[-1] == ' ' || p[-1] == '\t'))
    p--;
  return (p > c->feed ? p[-1] : c->before_feed) == '\n';
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  http_conn *c = p->data;
  /* (An empty value comes as a zero-length span at the next line.) */
  if (len > 0 && after_fold(c, at))
    return fail_parse(c, 400, "a header line continued on the next line (obs-fold)");
  if (c->in_trailers)
    return arena_add(c, at, len);
  if (c->hdr_state != 2) {
    c->hdr[c->n_hdr - 1].value = (uint32_t)c->arena.len;
    c->hdr_state = 2;
  }
  c->hdr[c->n_hdr - 1].value_len += (uint32_t)len;
  return arena_add(c, at, len);
}

static int on_header_value_complete(llhttp_t *p) {
  http_conn *c = p->data;
  struct hdr_off *h;
  if (c->in_trailers)
    return 0;
  h = &c->hdr[c->n_hdr - 1];
  if (c->hdr_state != 2) {
    h->value = (uint32_t)c->arena.len; /* empty value */
    h->value_len = 0;
  }
  /* Trailing whitespace is not part of a field value. */
  while (h->value_len > 0 && (c->arena.data[h->value + h->value_len - 1] == ' ' ||
                              c->arena.data[h->value + h->value_len - 1] == '\t'))
    h->value_len--;
  c->hdr_state = 0;
  if (arena_add(c, "", 1) < 0)
    return -1;
  c->arena.data[h->value + h->value_len] = '\0';
  return 0;
}

/* Points the request at the arena: path, query and headers. */
static int finish_head(http_conn *c, http_req *req) {
  char *url = c->arena.data, *q;
  size_t i;

  for (i = 0; i < c->n_hdr; i++) {
    c->headers[i].name = c->arena.data + c->hdr[i].name;
    c->headers[i].name_len = c->hdr[i].name_len;
    c->headers[i].value = c->arena.data + c->hdr[i].value;
    c->headers[i].value_len = c->hdr[i].value_len;
  }
  req->headers = c->headers;
  req->n_headers = c->n_hdr;
  if (url == NULL)
    return fail_parse(c, 400, "the request has no target");
  /* Absolute form (http://host/path): route on the path; the authority
   * stands in for Host (RFC 9112 3.2.2), so the handler checks it too. */
  if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
    char *host = url + (url[4] == 's' ? 8 : 7), *slash = strchr(host, '/');
    req->target_host = host;
    req->target_host_len = strcspn(host, "/?#");
    url = slash ? slash : (char *)"/";
  }
  q = strchr(url, '?');
  if (q != NULL) {
    *q = '\0';
    req->query = q + 1;
    req->query_len = strlen(q + 1);
  }
  req->path = url;
  req->path_len = strlen(url);
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  http_conn *c = p->data;
  http_req *req = c->cur;
  const char *expect;
  size_t expect_len, i, hosts, codings;

  if (finish_head(c, req) < 0)
    return -1;
  req->method = llhttp_get_method(p);
  req->method_name = llhttp_method_name((llhttp_method_t)req->method);
  req->http10 = llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0;
  req->head = req->method == HTTP_HEAD;
  req->close = !llhttp_should_keep_alive(p) || c->hs->closing;
  if (llhttp_get_http_major(p) != 1) {
    return fail_parse(c, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
  }
  /* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in 1.0. */
  for (i = 0, hosts = 0; i < req->n_headers; i++)
    hosts += http_util_ieq(req->headers[i].name, req->headers[i].name_len, "host");
  if (hosts > 1 || (hosts == 0 && !req->http10))
    return fail_parse(
        c, 400, hosts ? "more than one Host header" : "an HTTP/1.1 request needs a Host header");
  /* llhttp takes any list that ends in chunked ("identity, chunked"), and
   * several Transfer-Encoding fields: shapes a proxy may frame otherwise. */
  for (i = 0, codings = 0; i < req->n_headers; i++) {
    const http_header *h = &req->headers[i];
    if (http_util_ieq(h->name, h->name_len, "transfer-encoding") &&
        (codings++ > 0 || !http_util_ieq(h->value, h->value_len, "chunked")))
      return fail_parse(c, 400, "the only Transfer-Encoding accepted is chunked, alone");
  }
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->hs->limits.max_body_bytes)
    return fail_parse(c, 413, "the request body is larger than the limit");
  expect = http_req_header(req, "expect", &expect_len);
  if (expect != NULL) {
    if (!http_util_ieq(expect, expect_len, "100-continue"))
      return fail_parse(c, 417, "the only expectation supported is 100-continue");
    /* Interim responses may only go out when nothing is owed before it. */
    if (c->head == NULL && !req->http10) {
      uv_buf_t b = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
      conn_write(c, &b, 1, 0);
    }
  }
  arm(c, c->hs->limits.request_timeout_ms);
  c->in_trailers = 1; /* any field from here on is a trailer */
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  http_conn *c = p->data;
  size_t have = c->body_ptr ? c->body_len : c->body.len;
  if (len > c->hs->limits.max_body_bytes - have)
    return fail_parse(c, 413, "the request body is larger than the limit");
  /* The whole body in one piece: use it where it lies. */
  if (have == 0 && (p->flags & F_CONTENT_LENGTH) && p->content_length == 0) {
    c->body_ptr = at;
    c->body_len = len;
    return 0;
  }
  if (c->body_ptr != NULL) {
    if (buf_append(&c->body, c->body_ptr, c->body_len) < 0)
      return fail_parse(c, 503, "out of memory");
    c->body_ptr = NULL;
  }
  if (buf_append(&c->body, at, len) < 0)
    return fail_parse(c, 503, "out of memory");
  return 0;
}

/* Chunk extensions are read and dropped; all of a request's together may
 * be no larger than a header block, or a body could hide any amount. */
static int on_chunk_extension(llhttp_t *p, const char *at, size_t len) {
  http_conn *c = p->data;
  (void)at;
  c->chunk_ext_bytes += len;
  if (c->chunk_ext_bytes > c->hs->limits.max_header_bytes)
    return fail_parse(c, 413, "the chunk extensions are larger than the header limit");
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  http_conn *c = p->data;
  http_server *hs = c->hs;
  http_req *req = c->cur;
  int close;

  c->cur = NULL;
  c->reading = 0;
  if (c->body_ptr != NULL) {
    req->body = c->body_ptr;
    req->body_len = c->body_len;
  } else if (c->body.len > 0) {
    req->body = c->body.data;
    req->body_len = c->body.len;
  }
  close = req->close;
  if (llhttp_get_upgrade(p))
    close = req->close = 1; /* no protocol switch here: answer, then close */
  conn_enqueue(c, req);
  hs->stats.requests_total++;
  uv_timer_stop(&c->timer);
  req->routed = 1;
  hs->on_request(req, hs->arg);
  /* req may be gone now. */
  c->body_ptr = NULL;
  if (c->body.cap > BODY_KEEP_SIZE)
    buf_free(&c->body);
  else
    buf_reset(&c->body);
  if (c->closing || c->finishing || c->stop_parsing)
    return HPE_PAUSED;
  if (close) {
    c->stop_parsing = 1;
    return HPE_PAUSED;
  }
  if (!conn_may_resume(c))
    return HPE_PAUSED; /* conn_feed marks the connection paused */
  conn_arm_timer(c);
  return 0;
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
};

/* Answers a request that could not be parsed, then closes. */
static void conn_parse_error(http_conn *c, llhttp_errno_t err) {
  http_server *hs = c->hs;
  http_req *req = c->cur;
  int status = c->err_status ? c->err_status : 400;
  char body[256];
  int k;

  hs->stats.parse_errors++;
  c->stop_parsing = 1;
  c->reading = 0;
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (req == NULL) {
    req = calloc(1, sizeof(*req));
    if (req == NULL) {
      conn_close(c);
      return;
    }
    req->conn = c;
    req->id = ++hs->next_req_id;
    req->started_ns = uv_hrtime();
  }
  c->cur = NULL;
  req->no_route = 1;
  req->close = 1;
  req->head = 0;
  req->http10 = 0;
  conn_enqueue(c, req);
  if (c->err_text != NULL)
    k = snprintf(body, sizeof(body), "%d %s: %s\n", status, http_util_status_text(status),
                 c->err_text);
  else
    k = snprintf(body, sizeof(body), "%d %s: malformed request (%s)\n", status,
                 http_util_status_text(status), llhttp_errno_name(err));
  log_msg(hs->log, LOGLVL_INFO, "http_bad_request", "status=%d reason=%s", status,
          c->err_text ? "limit" : llhttp_errno_name(err));
  respond_internal(req, status, "Content-Type: text/plain; charset=utf-8\r\n", body,
                   k > 0 ? (size_t)k : 0);
}

static void conn_feed(http_conn *c, const char *data, size_t len) {
  llhttp_errno_t err;
  const char *pos;
  size_t n = len;

  c->feed = data;
  err = llhttp_execute(&c->parser, data, len);
  /* For after_fold() in the next piece. */
  while (n > 0 && (data[n - 1] == ' ' || data[n - 1] == '\t'))
    n--;
  if (n > 0)
    c->before_feed = data[n - 1];
  if (c->closing)
    return;
  switch (err) {
  case HPE_OK:
    return;
  case HPE_PAUSED:
    if (c->stop_parsing || c->finishing) {
      /* Nothing more is read: whatever follows is dropped. */
      uv_read_stop((uv_stream_t *)&c->tcp);
      if (c->n_reqs == 0)
        conn_finish(c);
      return;
    }
    pos = llhttp_get_error_pos(&c->parser);
    if (pos != NULL && pos >= data && pos < data + len) {
      if (buf_append(&c->stash, pos, (size_t)(data + len - pos)) < 0) {
        conn_close(c);
        return;
      }
    }
    c->paused = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    conn_arm_timer(c); /* paused for unread output: the send timeout runs */
    return;
  case HPE_PAUSED_UPGRADE:
    c->stop_parsing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    return;
  default:
    conn_parse_error(c, err);
    return;
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  http_conn *c = h->data;
  (void)suggested;
  b->base = c->hs->read_buf;
  b->len = c->hs->read_buf_size;
}

/* The client closed its side. Like nginx, take that as the client being
 * gone: what it still waits for is aborted (its calls are cancelled). Only
 * a connection that is already ending lets its queued writes drain first. */
static void conn_eof(http_conn *c) {
  c->eof = 1;
  c->stop_parsing = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (!c->finishing)
    conn_close(c);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  http_conn *c = s->data;

  if (nread == 0)
    return;
  if (nread < 0) {
    if (nread != UV_EOF || c->lingering) {
      conn_close(c);
      return;
    }
    if (c->tls != NULL && !c->tls_ready && c->tls_started)
      tls_note_failure(c, "the client closed the connection during the handshake");
    conn_eof(c);
    return;
  }
  /* Discard what comes after the last request we will answer; a request
   * already half in is still read to its end. */
  if (c->lingering || (c->stop_parsing && !c->reading))
    return;
  if (c->tls != NULL) {
    conn_read_tls(c, b->base, (size_t)nread);
    return;
  }
  if (c->paused) {
    /* Should not happen (reading is stopped while paused); keep it. */
    if (buf_append(&c->stash, b->base, (size_t)nread) < 0)
      conn_close(c);
    return;
  }
  conn_feed(c, b->base, (size_t)nread);
}

static void conn_resume(http_conn *c) {
  char *data;
  size_t len;

  if (c->closing || !c->paused || !conn_may_resume(c))
    return;
  c->paused = 0;
  llhttp_resume(&c->parser);
  len = c->stash.len;
  data = buf_steal(&c->stash);
  if (len > 0)
    conn_feed(c, data, len);
  free(data);
  if (!c->closing && !c->paused && !c->stop_parsing && !c->finishing) {
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    conn_arm_timer(c);
  }
}

static void idle_cb(uv_idle_t *idle) {
  http_server *hs = idle->data;

  uv_idle_stop(idle);
  /* Resuming parses, and handlers may queue other connections: take one
   * at a time off the front. */
  while (!list_empty(&hs->resume)) {
    http_conn *c = list_entry(hs->resume.next, http_conn, resume_link);
    list_remove(&c->resume_link);
    c->resume_queued = 0;
    conn_resume(c);
  }
}

/* ---- accepting ---------------------------------------------------------- */

static void reject_close_cb(uv_handle_t *h) {
  http_server *hs = h->data;
  free(h);
  hs->n_rejecting--;
  check_closed(hs);
}

static void reject(http_server *hs) {
  static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
                            "Content-Type: text/plain; charset=utf-8\r\n"
                            "Content-Length: 52\r\n"
                            "Retry-After: 1\r\n"
                            "Connection: close\r\n\r\n"
                            "503 Service Unavailable: too many open connections\n";
  uv_tcp_t *t = malloc(sizeof(*t));
  uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
  if (t == NULL)
    return;
  uv_tcp_init(hs->loop, t);
  t->data = hs;
  hs->n_rejecting++;
  /* (A TLS client could not read a plaintext answer: it is just closed.) */
  if (uv_accept((uv_stream_t *)&hs->listener, (uv_stream_t *)t) == 0 && hs->tls == NULL)
    uv_try_write((uv_stream_t *)t, &b, 1);
  hs->stats.rejected_connections++;
  uv_close((uv_handle_t *)t, reject_close_cb);
}

/* A new connection whose socket is still to be attached (accepted or
 * opened); NULL when out of memory. */
static http_conn *conn_new(http_server *hs) {
  http_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->hs = hs;
  uv_tcp_init(hs->loop, &c->tcp);
  uv_timer_init(hs->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  list_init(&c->resume_link);
  list_init(&c->client_link);
  list_insert_tail(&hs->conns, &c->link);
  hs->n_conns++;
  c->arena.limit = hs->limits.max_header_bytes + 4096;
  return c;
}

/* Whether c may be closed to make room: nothing owed to it, nothing on the
 * way to it, at most a header block half in (slowloris). */
static int conn_evictable(const http_conn *c) {
  return !c->closing && !c->finishing && !c->paused && c->n_reqs == 0 && c->writes_in_flight == 0 &&
         !(c->reading && c->in_trailers);
}

/* The evictable connection of list head (hs->conns, or a client's conns
 * when by_client) idle the longest, except `except`; NULL when none is. */
static http_conn *oldest_idle(list_node *head, int by_client, const http_conn *except) {
  http_conn *best = NULL;
  list_node *n;
  for (n = head->next; n != head; n = n->next) {
    http_conn *o =
        by_client ? list_entry(n, http_conn, client_link) : list_entry(n, http_conn, link);
    if (o != except && conn_evictable(o) && (best == NULL || o->idle_since < best->idle_since))
      best = o;
  }
  return best;
}

static void evict(http_conn *victim, const char *reason) {
  http_server *hs = victim->hs;
  uint64_t n;
  hs->stats.evicted_connections++;
  if (log_due(hs, &hs->evict_log, &n))
    log_msg(hs->log, LOGLVL_INFO, "http_connection_evicted", "reason=%s client=%s evicted=%" PRIu64,
            reason, client_name(victim), n);
  conn_close(victim);
}

/* Answers a new connection that cannot be served (429 for its address, 503
 * for the server) and closes it. A flood is logged once per interval, with
 * the count: per address for 429, for the server for 503. */
static void refuse(http_conn *c, int status, const char *reason, unsigned limit) {
  http_server *hs = c->hs;
  const char *body = status == 429 ? "429 Too Many Requests: too many open connections from "
                                     "this address\n"
                                   : "503 Service Unavailable: too many open connections\n";
  char msg[384];
  int k = snprintf(msg, sizeof(msg),
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                   status, http_util_status_text(status), strlen(body), body);
  http_log_limit *l = status == 429 && c->client != NULL ? &c->client->refused_log : &hs->full_log;
  uint64_t n;

  if (k > 0 && (size_t)k < sizeof(msg) && hs->tls == NULL) {
    uv_buf_t b = uv_buf_init(msg, (unsigned)k);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  }
  hs->stats.rejected_connections++;
  if (log_due(hs, l, &n))
    log_msg(hs->log, LOGLVL_WARN, "http_connection_rejected",
            "reason=%s client=%s limit=%u refused=%" PRIu64, reason, client_name(c), limit, n);
  conn_close(c);
}

/* Makes room for c, just accepted: an address over its cap, or a full
 * server, closes its oldest idle connection (the address's own; anyone's).
 * Without one, c is refused. Returns 0 when c may be served. */
static int conn_admit(http_conn *c) {
  http_server *hs = c->hs;
  unsigned cap = hs->limits.max_conns_per_client;
  http_conn *victim;

  if (c->client != NULL && cap > 0 && c->client->n_conns > cap) {
    victim = oldest_idle(&c->client->conns, 1, c);
    if (victim == NULL) {
      refuse(c, 429, "max_connections_per_client", cap);
      return -1;
    }
    evict(victim, "max_connections_per_client");
  }
  if (hs->n_conns - hs->n_closing > hs->limits.max_connections) {
    victim = oldest_idle(&hs->conns, 0, c);
    if (victim == NULL) {
      refuse(c, 503, "max_connections", hs->limits.max_connections);
      return -1;
    }
    evict(victim, "max_connections");
  }
  return 0;
}

/* Starts reading requests on a connection with its socket attached. */
static void conn_start(http_conn *c) {
  c->hs->stats.connections_total++;
  c->idle_since = uv_now(c->hs->loop);
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
  c->parser.data = c;
  if (c->hs->tls != NULL) {
    c->tls = tls_conn_new(c->hs->tls);
    if (c->tls == NULL) {
      conn_close(c);
      return;
    }
    arm(c, c->hs->limits.tls_handshake_timeout_ms);
  } else {
    /* Until the first request starts, the header timeout applies. */
    arm(c, c->hs->limits.header_timeout_ms);
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static void on_connection(uv_stream_t *server, int status) {
  http_server *hs = server->data;
  http_conn *c;

  if (status < 0) {
    log_msg(hs->log, LOGLVL_WARN, "http_accept_failed", "error=%s", uv_strerror(status));
    return;
  }
  /* Accepted before the limits are checked: they depend on its address. */
  c = conn_new(hs);
  if (c == NULL) {
    reject(hs); /* accept and close, or libuv stops watching the listener */
    return;
  }
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  client_attach(c);
  if (conn_admit(c) == 0)
    conn_start(c);
}

int http_server_adopt(http_server *hs, uv_os_sock_t sock) {
  http_conn *c;
  int r;

  if (hs->closing)
    return -ESHUTDOWN;
  if (hs->n_conns - hs->n_closing >= hs->limits.max_connections)
    return -EAGAIN;
  c = conn_new(hs);
  if (c == NULL)
    return -ENOMEM;
  r = uv_tcp_open(&c->tcp, sock);
  if (r < 0) {
    conn_close(c); /* the handle has no socket: sock stays the caller's */
    return r;
  }
  client_attach(c);
  conn_start(c);
  return 0;
}

/* ---- server ------------------------------------------------------------- */

void http_server_set_tls(http_server *hs, tls_ctx *ctx) {
  tls_ctx_free(hs->tls); /* open connections hold their own references */
  hs->tls = ctx;
}

int http_server_init(http_server *hs, uv_loop_t *loop, const http_limits *limits, const logger *lg,
                     http_request_cb on_request, void *arg) {
  memset(hs, 0, sizeof(*hs));
  hs->loop = loop;
  hs->limits = *limits;
  hs->log = lg;
  hs->on_request = on_request;
  hs->arg = arg;
  hs->read_buf_size = READ_BUF_SIZE;
  list_init(&hs->conns);
  list_init(&hs->resume);
  hs->read_buf = malloc(READ_BUF_SIZE);
  if (hs->read_buf == NULL)
    return -ENOMEM;
  uv_idle_init(loop, &hs->resume_idle);
  hs->resume_idle.data = hs;
  uv_tcp_init(loop, &hs->listener);
  hs->listener.data = hs;
  hs->handles_open = 2;
  return 0;
}

int http_server_listen(http_server *hs, const char *host, int port, char *bound, size_t n) {
  struct sockaddr_storage ss;
  int r, len;
  char ip[64];
  const char *addr = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;

  if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) != 0)
    return -EINVAL;
  r = uv_tcp_bind(&hs->listener, (struct sockaddr *)&ss, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&hs->listener, 511, on_connection);
  if (r < 0)
    return r;
  hs->listening = 1;
  len = sizeof(ss);
  uv_tcp_getsockname(&hs->listener, (struct sockaddr *)&ss, &len);
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
    snprintf(bound, n, "[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
    snprintf(bound, n, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
  }
  return 0;
}

static void check_closed(http_server *hs) {
  if (hs->closing && hs->n_conns == 0 && hs->n_rejecting == 0 && hs->handles_open == 0 &&
      hs->on_closed != NULL) {
    void (*cb)(http_server *) = hs->on_closed;
    hs->on_closed = NULL;
    cb(hs);
  }
}

static void handle_closed(uv_handle_t *h) {
  http_server *hs = h->data;
  hs->handles_open--;
  check_closed(hs);
}

void http_server_stop_listening(http_server *hs) {
  if (hs->listening) {
    hs->listening = 0;
    uv_close((uv_handle_t *)&hs->listener, handle_closed);
  }
}

void http_server_drain(http_server *hs) {
  list_node *n, *tmp;
  list_foreach_safe(n, tmp, &hs->conns) {
    http_conn *c = list_entry(n, http_conn, link);
    if (c->closing)
      continue;
    c->stop_parsing = 1;
    /* Idle connections go now; one whose last response is still being
     * written closes gracefully once it is out. */
    if (c->n_reqs == 0 && !c->reading) {
      if (c->writes_in_flight > 0)
        conn_finish(c);
      else
        conn_close(c);
    }
  }
}

void http_server_close(http_server *hs, void (*on_closed)(http_server *hs)) {
  list_node *n, *tmp;
  hs->closing = 1;
  hs->on_closed = on_closed;
  list_foreach_safe(n, tmp, &hs->conns) {
    conn_close(list_entry(n, http_conn, link));
  }
  if (!uv_is_closing((uv_handle_t *)&hs->listener)) {
    hs->listening = 0;
    uv_close((uv_handle_t *)&hs->listener, handle_closed);
  }
  uv_close((uv_handle_t *)&hs->resume_idle, handle_closed);
}

void http_server_free(http_server *hs) {
  free(hs->read_buf);
  hs->read_buf = NULL;
  tls_ctx_free(hs->tls);
  hs->tls = NULL;
  strmap_free(&hs->clients); /* empty: each entry went with its last connection */
}
