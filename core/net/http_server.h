/* http_server.h -- HTTP/1.1 server on libuv and llhttp.
 *
 * Keep-alive, pipelined requests answered in order, chunked request bodies,
 * Expect: 100-continue, streaming (chunked) responses for SSE, and limits
 * that turn into clear errors: header block (431), body (413), connections
 * (503; per client address 429), header and request timeouts (408), slow
 * readers (not read from while their unread output is over a bound, then
 * closed).
 *
 * No client can starve the others: a client address holds at most
 * max_conns_per_client connections and max_streams_per_client streams; a
 * connection whose client does not read what it asked for is not read
 * from; and a full server (or an address at its cap) closes its oldest
 * idle or header-waiting connection to admit a new one.
 *
 * The server knows nothing about MCP: each complete request goes to one
 * callback, which answers now or later with http_respond() or the
 * http_stream_*() functions. Loop thread only. */
#ifndef MCPD_HTTP_SERVER_H
#define MCPD_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "net/tls.h"

typedef struct http_server http_server;
typedef struct http_conn http_conn;
typedef struct http_req http_req;

/* One request header; both strings are NUL-terminated. */
typedef struct http_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} http_header;

/* A request. The fields before the private part are read-only for
 * handlers; path, query, body and headers are valid only during the
 * request callback (copy what you need later). The request itself stays
 * valid until the handler finishes its response (http_respond() or
 * http_stream_end()) or on_abort is called, whichever comes first. */
struct http_req {
  int method;              /* llhttp_method_t: HTTP_GET, HTTP_POST, ... */
  const char *method_name; /* "GET" */
  const char *path;        /* NUL-terminated, without the query */
  size_t path_len;
  const char *query; /* after '?', NUL-terminated; NULL when absent */
  size_t query_len;
  /* The authority of an absolute-form target ("http://HOST:PORT/path"),
   * not NUL-terminated; NULL for the usual origin form ("/path"). */
  const char *target_host;
  size_t target_host_len;
  const char *body; /* not NUL-terminated; NULL when empty */
  size_t body_len;
  const http_header *headers;
  size_t n_headers;
  uint64_t id; /* per-server sequence number, for logs */

  /* For the handler. */
  void *user;
  /* For the completion hook (logs, metrics): set by handlers, copied. */
  int route;              /* the owner's route number */
  char tag_path[64];      /* the path, as routed (cut) */
  char tag_session[128];  /* the MCP session, if any (a signed id is ~100 bytes) */
  char tag_tool[65];      /* the tool called, if any */
  char tag_principal[64]; /* the authenticated caller (auth), if any */
  const char *tag_auth;   /* static: how it authenticated ("jwt"...), or NULL */
  int status;             /* the response status, once begun */
  uint64_t bytes;         /* response bytes produced */
  uint64_t started_ns;    /* when the request began (uv_hrtime) */
  /* Called when the connection goes away before the handler has finished
   * the response. The request must not be used after it returns. Runs on a
   * later loop turn than whatever closed the connection, never from inside
   * an http_* call. */
  void (*on_abort)(http_req *req);

  /* Private. */
  http_conn *conn;
  http_req *next;
  buf out;          /* response bytes waiting until this request is first */
  uint8_t done;     /* the handler has finished the response */
  uint8_t started;  /* the status line has been produced */
  uint8_t stream;   /* chunked streaming response */
  uint8_t close;    /* close the connection after this response */
  uint8_t head;     /* HEAD request: no body in the response */
  uint8_t http10;   /* HTTP/1.0 client: no chunked encoding */
  uint8_t no_route; /* internal error response, never given to a handler */
  uint8_t routed;   /* given to the request callback */
  char *kept;       /* owned: the copies http_req_keep() made */
};

/* Sets one of req's tag fields (size n) to the len bytes at s, cut to fit.
 * (A plain copy: this runs for every request.) */
static inline void http_req_tag(char *field, size_t n, const char *s, size_t len) {
  if (len >= n)
    len = n - 1;
  memcpy(field, s, len);
  field[len] = '\0';
}

typedef void (*http_request_cb)(http_req *req, void *arg);

/* Called once per request when its response is finished, or when its
 * connection went away first (status is then what was begun, or 0 when
 * nothing was), for access logs and metrics. */
typedef void (*http_done_cb)(const http_req *req, void *arg);

/* Limits and timeouts; 0 disables a timeout. */
typedef struct http_limits {
  size_t max_header_bytes;
  unsigned max_headers;
  size_t max_body_bytes;
  unsigned max_connections;
  unsigned max_pipelined;
  size_t max_write_queue_bytes;
  unsigned header_timeout_ms;
  unsigned request_timeout_ms;
  unsigned keepalive_timeout_ms;
  unsigned send_timeout_ms; /* a finished response the client does not read */
  /* Per client address (an IPv4 address, or the /64 of an IPv6 one); 0: no
   * cap. A connection beyond max_conns_per_client closes that address's
   * oldest idle connection, or gets 429. */
  unsigned max_conns_per_client;
  unsigned max_streams_per_client; /* see http_stream_admit() */
  /* Response bytes queued for a client that has not read them, past which
   * its connection is read no further until they drain, and closed after
   * send_timeout_ms without progress; 0: no bound. */
  size_t max_unread_bytes;
  /* A TLS connection's handshake must complete within this; then it is
   * closed (counted as a failed handshake). */
  unsigned tls_handshake_timeout_ms;
} http_limits;

/* Counters, for logs and /healthz. */
typedef struct http_stats {
  uint64_t connections_total;
  uint64_t requests_total;
  uint64_t rejected_connections;   /* 503 at max_connections, 429 per client */
  uint64_t parse_errors;           /* 400, 413, 431, 408 */
  uint64_t evicted_connections;    /* idle ones closed to admit a new one */
  uint64_t refused_streams;        /* at max_streams_per_client */
  uint64_t slow_clients;           /* closed: they did not read their responses */
  uint64_t tls_handshakes;         /* completed */
  uint64_t tls_handshake_failures; /* refused, broken, or not done in time */
} http_stats;

/* A log line at most once per interval, counting what it stands for. */
typedef struct http_log_limit {
  uint64_t next_ms; /* loop ms: the next line may be written then */
  uint64_t count;   /* events since the last line */
} http_log_limit;

struct http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int listening;
  http_limits limits;
  const logger *log;
  http_request_cb on_request;
  http_done_cb on_done;
  void *arg;
  list_node conns; /* all open connections (http_conn.link) */
  unsigned n_conns;
  uint64_t next_req_id;
  http_stats stats;
  char *read_buf; /* one shared read buffer: every read is parsed at once */
  size_t read_buf_size;
  time_t date_time; /* the second date_str was made for */
  char date_str[40];
  void (*on_closed)(http_server *hs); /* see http_server_close() */
  int closing;
  int handles_open;      /* listener and resume_idle, until closed */
  uv_idle_t resume_idle; /* resumes paused connections on the next turn */
  list_node resume;      /* connections waiting for resume_idle */
  unsigned n_rejecting;  /* sockets closing after a 503 */
  unsigned n_closing;    /* connections closed, their handles not yet */
  strmap clients;        /* client address -> its connections (private) */
  http_log_limit full_log, evict_log, slow_log, tls_log;
  tls_ctx *tls; /* owned; NULL: plain HTTP (see http_server_set_tls()) */
};

/* Initialises the server. lg and limits are borrowed (limits copied).
 * Returns 0 or -ENOMEM. */
int http_server_init(http_server *hs, uv_loop_t *loop, const http_limits *limits, const logger *lg,
                     http_request_cb on_request, void *arg);

/* Binds and listens. host is an address or "localhost". On success writes
 * the bound "host:port" into bound (size n) and returns 0; else a negative
 * error (-EADDRINUSE, -EADDRNOTAVAIL, -EINVAL...). */
int http_server_listen(http_server *hs, const char *host, int port, char *bound, size_t n);

/* Serves sock, a connected stream socket (TCP, or one end of a Unix
 * socketpair), as if the listener had accepted it: the same connection
 * code, parser and limits. For tests and fuzzing (fuzz/fuzz_http.c feeds
 * requests through a socketpair); the daemon never calls it. Returns 0 and
 * the connection owns sock (it is closed with the connection); else
 * -EAGAIN (max_connections reached), -ESHUTDOWN (the server is closing),
 * -ENOMEM or a libuv error, and sock is still the caller's. */
int http_server_adopt(http_server *hs, uv_os_sock_t sock);

/* Serves HTTPS with ctx (stolen) from now on: new connections use it, open
 * ones keep the context they began with (a reload of the certificate).
 * Call it before http_server_listen() to serve TLS at all; the daemon
 * never switches a listener between TLS and plain HTTP. */
void http_server_set_tls(http_server *hs, tls_ctx *ctx);

/* Stops accepting new connections; open ones go on. */
void http_server_stop_listening(http_server *hs);

/* Closes idle keep-alive connections now and makes every other connection
 * close after its current responses (no new requests are read). */
void http_server_drain(http_server *hs);

/* Closes every connection (aborting what is in flight) and the listener;
 * on_closed(hs) runs once the last handle is closed. */
void http_server_close(http_server *hs, void (*on_closed)(http_server *hs));

/* Frees what http_server_init() allocated, after on_closed has run. */
void http_server_free(http_server *hs);

/* Returns the value of header `name` (case-insensitive, NUL-terminated
 * name) and sets *len; NULL when absent. The first occurrence wins.
 * Valid only during the request callback. */
const char *http_req_header(const http_req *req, const char *name, size_t *len);

/* Copies req's path, query, headers and body into memory the request owns,
 * so that a handler that answers later (after waiting for something) can
 * still read them: they then stay valid as long as req. Returns 0 or
 * -ENOMEM (nothing changed). */
int http_req_keep(http_req *req);

/* Sends a complete response. status: 200..599. headers: extra header lines
 * ("Content-Type: application/json\r\n...", borrowed; may be NULL). body:
 * borrowed, copied if it cannot be written at once. Adds Date,
 * Content-Length and Connection. Finishes the request: it must not be used
 * again. Returns 0, or a negative error if the connection is gone (the
 * request is finished anyway). */
int http_respond(http_req *req, int status, const char *headers, const char *body, size_t len);

/* Starts a streaming response (chunked; for HTTP/1.0 the connection is
 * closed at the end instead). headers as for http_respond(). Returns 0 (also
 * when the connection is already going: on_abort follows), -EALREADY when
 * a response was started, -E2BIG when headers do not fit. */
int http_stream_begin(http_req *req, int status, const char *headers);

/* Sends len bytes of a streaming response as one chunk (borrowed; copied if
 * it cannot be written at once). Returns 0, or -ECONNRESET when the
 * connection is gone or was closed because the client does not read
 * (on_abort follows). */
int http_stream_send(http_req *req, const char *data, size_t len);

/* Ends a streaming response; finishes the request. */
int http_stream_end(http_req *req);

/* Makes the connection close once this request's response is sent. */
void http_req_close_after(http_req *req);

/* The address the client of req counts under for per-client limits: the
 * IPv4 address, or the /64 of an IPv6 one ("2001:db8:1:2::/64"), which one
 * client usually holds whole. An IPv4-mapped IPv6 address counts as its
 * IPv4 address. Returns 0, or -1 when the peer is not an IP socket. */
int http_req_client_addr(const http_req *req, char *out, size_t n);

/* Returns the remote address of the request's client as text into out. */
void http_req_peer(const http_req *req, char *out, size_t n);

/* The subject (RFC 2253) of the verified client certificate of req's
 * connection, borrowed: valid as long as req. NULL over plain HTTP or when
 * client certificates are off. */
const char *http_req_peer_subject(const http_req *req);

/* Whether req's client address may begin one more long-lived stream (an SSE
 * GET): 0, or -EDQUOT when it already holds limits.max_streams_per_client
 * streaming responses (the refusal is logged, at most one line per interval
 * per address; the caller answers req, e.g. with 429). Every streaming
 * response counts, but only the caller decides which to refuse: a POST
 * whose answer turns into a stream is never refused. req is borrowed. */
int http_stream_admit(http_req *req);

/* How long, in ms, the connection carrying req (borrowed) has had response
 * bytes queued that its client has not taken: 0 when nothing waits, else the
 * time since the queue last made progress (a write completed) or began. */
uint64_t http_req_unread_ms(const http_req *req);

/* Closes req's connection now, dropping what is queued. req stays valid as
 * the request contract says: if it is not finished, on_abort follows (on a
 * later loop turn). */
void http_req_abort(http_req *req);

#endif
