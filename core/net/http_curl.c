/* http_curl.c -- the HTTP client's engine for https:// and proxies:
 * libcurl's multi interface on the libuv loop. curl tells us which sockets to watch and when its
 * next timeout is (socket_cb, timer_cb); the loop tells curl when a socket
 * is ready or the timer fired (curl_multi_socket_action). Connections,
 * TLS, proxies, HTTP/2 and the connection cache are curl's; the wait-queue
 * bound, the checks on what plugins send, the words for each failure and
 * the statistics are ours. */
#include "net/http_curl.h"

#include "lib/buf.h"
#include "net/http_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DNS_TTL_S 30

/* Requests in flight to one scheme://host:port, for the wait-queue bound
 * (curl queues what is over its per-host connection limit without one). */
typedef struct origin {
  char *key;
  unsigned n_active;
  list_node link;
} origin;

/* A socket curl opened, from its opening to its closing. Its poll handle
 * stays started while the connection sits idle in curl's cache: curl says
 * REMOVE after every transfer and asks again for the same events at the
 * next, and stopping and restarting would cost two epoll_ctl calls per
 * request. An event curl did not ask for stops it instead. */
typedef struct sock {
  uv_poll_t poll;
  http_curl *c;
  curl_socket_t fd;
  int events;  /* what the poll handle waits for */
  int watched; /* curl wants events of it now */
  int foreign; /* not opened through open_cb (the resolver's wake-up pipe):
                  curl closes it unseen, so it goes at REMOVE */
  list_node link;
} sock;

enum { RQ_ACTIVE, RQ_DONE };

typedef struct http_curl_req http_curl_req;

struct http_curl_req {
  http_client_req head; /* engine HTTP_ENGINE_CURL */
  http_curl *c;
  origin *o;
  CURL *easy;
  struct curl_slist *headers;
  char *body; /* the request body, owned (curl reads it in place) */
  char *label;
  void *owner;
  http_client_cb cb;
  void *arg;
  int state;
  int in_multi; /* added to c->multi */
  int https;
  int client_cert; /* one was given */
  int err;
  int dropped; /* no callback */
  int too_large, headers_too_large;
  uint64_t started;
  size_t max_body, max_headers;
  /* The response being read. */
  int headers_done; /* the blank line after the final header block: what follows is trailers */
  buf hdr;          /* "name: value\0" ... */
  size_t hdr_bytes; /* as received, for the cap */
  buf body_in;
  char why[400];
  char curl_err[CURL_ERROR_SIZE];
  list_node link;     /* in c->done */
  list_node all_link; /* in c->live until delivered */
};

static void check_done(http_curl *c);
static int curl_start(http_curl *c);

/* ---- completion --------------------------------------------------------- */

static void req_free(http_curl_req *r) {
  http_curl *c = r->c;
  /* Easy handles are kept for the next requests: making one is most of
   * what a request costs curl. */
  if (r->easy != NULL && c->n_spare < HTTP_CURL_SPARE && !c->closed) {
    curl_easy_reset(r->easy);
    c->spare[c->n_spare++] = r->easy;
  } else if (r->easy != NULL) {
    curl_easy_cleanup(r->easy);
  }
  curl_slist_free_all(r->headers);
  free(r->body);
  free(r->label);
  buf_free(&r->hdr);
  buf_free(&r->body_in);
  free(r);
}

/* Runs the callback and lets the request go. */
static void req_deliver(http_curl_req *r) {
  http_curl *c = r->c;
  const char **lines = NULL;
  long status = 0;
  size_t n = 0, i;

  if (r->err == 0)
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  http_types_count(c->stats, r->label, r->err, (int)status,
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
        snprintf(r->why, sizeof(r->why), "out of memory");
      } else {
        for (p = r->hdr.data, i = 0; i < n; p += strlen(p) + 1)
          lines[i++] = p;
        if (buf_reserve(&r->body_in, 1) == 0)
          r->body_in.data[r->body_in.len] = '\0';
        resp.status = (int)status;
        resp.headers = lines;
        resp.n_headers = n;
        resp.body = r->body_in.data ? r->body_in.data : "";
        resp.body_len = r->body_in.len;
        r->cb(r->arg, 0, NULL, &resp);
      }
      free(lines);
    }
    if (r->err != 0)
      r->cb(r->arg, r->err, r->why, NULL);
  }
  req_free(r);
}

static void on_done_idle(uv_idle_t *h) {
  http_curl *c = h->data;
  list_node batch;
  list_init(&batch);
  /* Take the whole list: callbacks may queue more for the next turn. */
  while (!list_empty(&c->done)) {
    list_node *n = c->done.next;
    list_remove(n);
    list_insert_tail(&batch, n);
  }
  while (!list_empty(&batch)) {
    http_curl_req *r = list_entry(batch.next, http_curl_req, link);
    list_remove(&r->link);
    req_deliver(r);
  }
  if (list_empty(&c->done))
    uv_idle_stop(h);
}

/* Ends r with err (0: the response is complete; why says what went wrong
 * otherwise) and takes it out of curl, closing its connection unless the
 * exchange finished. The callback waits for the next loop turn unless
 * later is 0 and no API call is under way. */
static void req_finish(http_curl_req *r, int err, int later) {
  http_curl *c = r->c;
  if (r->state == RQ_DONE)
    return;
  r->state = RQ_DONE;
  r->err = err;
  if (r->o != NULL) {
    r->o->n_active--;
    r->o = NULL;
  }
  if (r->in_multi) {
    /* A transfer taken out midway leaves its connection closed by curl. */
    curl_multi_remove_handle(c->multi, r->easy);
    r->in_multi = 0;
  }
  if (later || c->in_request) {
    list_insert_tail(&c->done, &r->link);
    uv_idle_start(&c->done_idle, on_done_idle);
  } else {
    req_deliver(r);
  }
}

/* ---- what went wrong, in words ------------------------------------------------ */

/* The part of an OpenSSL message after its "error:0A000086:SSL routines::"
 * prefix: the words, without the library's codes. */
static const char *ssl_words(const char *msg) {
  const char *p = strstr(msg, "::");
  const char *end;
  static const char none[] = "";
  if (p == NULL)
    return msg;
  p += 2;
  end = strstr(p, ", errno");
  return end == p ? none : p;
}

static int has(const char *s, const char *what) {
  return strstr(s, what) != NULL;
}

/* The server's certificate failed verification: which way, in words. */
static int why_verify(http_curl_req *r, const char *host) {
  long v = 0;
  curl_easy_getinfo(r->easy, CURLINFO_SSL_VERIFYRESULT, &v);
  /* curl checks the name itself, after OpenSSL's chain check passed. */
  if (has(r->curl_err, "host name") || has(r->curl_err, "subject name"))
    v = X509_V_ERR_HOSTNAME_MISMATCH;
  switch (v) {
  case X509_V_OK: /* curl's own host name check failed */
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    snprintf(r->why, sizeof(r->why), "the server's certificate is not for the host name %.200s",
             host);
    break;
  case X509_V_ERR_CERT_HAS_EXPIRED:
    snprintf(r->why, sizeof(r->why), "the server's certificate has expired");
    break;
  case X509_V_ERR_CERT_NOT_YET_VALID:
    snprintf(r->why, sizeof(r->why), "the server's certificate is not valid yet");
    break;
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    snprintf(r->why, sizeof(r->why),
             "the server's certificate is self-signed and not trusted (give its CA in ca_file, "
             "or set insecure_skip_verify for development)");
    break;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    snprintf(r->why, sizeof(r->why),
             "the server's certificate is signed by an unknown CA (give the CA in ca_file)");
    break;
  default:
    snprintf(r->why, sizeof(r->why), "the server's certificate was not accepted: %.200s",
             X509_verify_cert_error_string(v));
  }
  return -EKEYREJECTED;
}

/* A TLS failure curl reports only as text: words for the common ones. */
static int why_tls(http_curl_req *r, const char *what) {
  const char *m = r->curl_err;
  if (has(m, "wrong version number") || has(m, "packet length too long") ||
      has(m, "record layer failure")) {
    snprintf(r->why, sizeof(r->why),
             "the server did not answer in TLS (plain HTTP on an https:// URL?)");
    return -EPROTO;
  }
  if (has(m, "alert certificate required") || has(m, "alert handshake failure")) {
    snprintf(r->why, sizeof(r->why),
             "the server refused the TLS handshake: it wants a client certificate (set "
             "client_cert_file and client_key_file)");
    return -ECONNABORTED;
  }
  if (has(m, "alert unknown ca") || has(m, "alert bad certificate") ||
      has(m, "alert certificate unknown") || has(m, "alert decrypt error")) {
    snprintf(r->why, sizeof(r->why),
             "the server refused the TLS handshake: it does not accept this client certificate");
    return -ECONNABORTED;
  }
  if (has(m, "alert protocol version")) {
    snprintf(r->why, sizeof(r->why),
             "the server refused the TLS handshake: no TLS version in common (TLS 1.2 or newer)");
    return -ECONNABORTED;
  }
  if (has(m, "SSL_ERROR_SYSCALL") || has(m, "unexpected eof")) {
    snprintf(r->why, sizeof(r->why), "the server closed the connection in the TLS handshake%s",
             r->client_cert ? " (it may not accept this client certificate)" : "");
    return -ECONNRESET;
  }
  /* Anything else: OpenSSL's words when it gave some, never its codes. */
  m = ssl_words(m);
  if (m[0] == '\0' || m == r->curl_err)
    snprintf(r->why, sizeof(r->why), "%.100s", what);
  else
    snprintf(r->why, sizeof(r->why), "%.100s: %.200s", what, m);
  return -EPROTO;
}

/* A server that ends a TLS 1.3 connection right after the handshake has
 * most likely checked the client's certificate (or its absence) and said
 * no: what to add to the words. */
static const char *tls_hint(const http_curl_req *r) {
  if (!r->https)
    return "";
  return r->client_cert
             ? " (right after the TLS handshake: it may not accept this client certificate)"
             : " (right after the TLS handshake: it may want a client certificate)";
}

/* Maps curl's result for r to an errno value and fills r->why. */
static int why_failed(http_curl_req *r, CURLcode cc) {
  char *url = NULL, host[256] = "";
  curl_off_t connected = 0, handshaken = 0;
  long os_errno = 0, local_port = 0;
  CURLU *u;

  curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
  if (url != NULL && (u = curl_url()) != NULL) {
    char *h = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
      snprintf(host, sizeof(host), "%s", h);
    curl_free(h);
    curl_url_cleanup(u);
  }
  if (r->too_large) {
    snprintf(r->why, sizeof(r->why), "the response is larger than %zu bytes", r->max_body);
    return -E2BIG;
  }
  if (r->headers_too_large) {
    snprintf(r->why, sizeof(r->why), "the response's header block is larger than %zu bytes",
             r->max_headers);
    return -EPROTO;
  }
  switch (cc) {
  case CURLE_OPERATION_TIMEDOUT:
    curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected);
    curl_easy_getinfo(r->easy, CURLINFO_APPCONNECT_TIME_T, &handshaken);
    /* The connect time counts the TLS handshake in; a local port says the
     * TCP connection was made. */
    curl_easy_getinfo(r->easy, CURLINFO_LOCAL_PORT, &local_port);
    if (connected == 0 && local_port == 0)
      snprintf(r->why, sizeof(r->why), "timed out connecting to %.200s", host);
    else if (r->https && handshaken == 0)
      snprintf(r->why, sizeof(r->why), "timed out in the TLS handshake with %.200s", host);
    else
      snprintf(r->why, sizeof(r->why), "timed out");
    return -ETIMEDOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
    snprintf(r->why, sizeof(r->why), "the host name %.200s did not resolve", host);
    return -EHOSTUNREACH;
  case CURLE_COULDNT_RESOLVE_PROXY:
    snprintf(r->why, sizeof(r->why), "the proxy's host name did not resolve");
    return -EHOSTUNREACH;
  case CURLE_COULDNT_CONNECT:
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno == 0 || os_errno == ECONNREFUSED) {
      snprintf(r->why, sizeof(r->why), "connection refused");
      return -ECONNREFUSED;
    }
    snprintf(r->why, sizeof(r->why), "could not connect: %.200s", strerror((int)os_errno));
    return -(int)os_errno;
  case CURLE_PEER_FAILED_VERIFICATION:
    return why_verify(r, host);
  case CURLE_SSL_CONNECT_ERROR:
    return why_tls(r, "the TLS handshake failed");
  case CURLE_SSL_CERTPROBLEM:
    snprintf(r->why, sizeof(r->why), "the client certificate or key cannot be used: %.200s",
             ssl_words(r->curl_err));
    return -EINVAL;
  case CURLE_SSL_CACERT_BADFILE:
    snprintf(r->why, sizeof(r->why), "the CA file cannot be used: %.200s", ssl_words(r->curl_err));
    return -EINVAL;
  case CURLE_FILESIZE_EXCEEDED:
    snprintf(r->why, sizeof(r->why), "the response is larger than %zu bytes", r->max_body);
    return -E2BIG;
  case CURLE_GOT_NOTHING:
    snprintf(r->why, sizeof(r->why), "the server closed the connection without answering%s",
             tls_hint(r));
    return -ECONNRESET;
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    if (r->https && has(r->curl_err, "alert"))
      return why_tls(r, "the TLS connection failed");
    if (has(r->curl_err, "CONNECT")) {
      snprintf(r->why, sizeof(r->why), "the proxy refused: %.200s", r->curl_err);
      return -ECONNREFUSED;
    }
    if (r->hdr_bytes == 0) {
      snprintf(r->why, sizeof(r->why), "the server reset the connection without answering%s",
               tls_hint(r));
      return -ECONNRESET;
    }
    snprintf(r->why, sizeof(r->why), "connection reset");
    return -ECONNRESET;
  case CURLE_PARTIAL_FILE:
    snprintf(r->why, sizeof(r->why), "connection reset before the whole response");
    return -ECONNRESET;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    snprintf(r->why, sizeof(r->why), "the server's answer is not HTTP");
    return -EPROTO;
  case CURLE_OUT_OF_MEMORY:
    snprintf(r->why, sizeof(r->why), "out of memory");
    return -ENOMEM;
  default:
    snprintf(r->why, sizeof(r->why), "%.120s%s%.200s", curl_easy_strerror(cc),
             r->curl_err[0] ? ": " : "", r->curl_err);
    return -EIO;
  }
}

/* ---- curl on the loop ------------------------------------------------------- */

/* Takes the finished transfers out of curl. */
static void check_done(http_curl *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
    http_curl_req *r = NULL;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r == NULL || r->state == RQ_DONE)
      continue;
    if (m->data.result == CURLE_OK)
      req_finish(r, 0, 0);
    else
      req_finish(r, why_failed(r, m->data.result), 0);
  }
}

static void act(http_curl *c, curl_socket_t fd, int flags) {
  int running;
  c->in_curl++;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  c->in_curl--;
  check_done(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock *s = h->data;
  int flags = 0;
  if (!s->watched) {
    /* An idle connection stirred (the server closed it): curl finds out
     * when it next looks at it; until then, no more wake-ups. */
    uv_poll_stop(&s->poll);
    s->events = 0;
    return;
  }
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  act(s->c, s->fd, flags);
}

static void on_timer(uv_timer_t *t) {
  act(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static void sock_closed(uv_handle_t *h) {
  free(h->data);
}

static sock *sock_of(http_curl *c, curl_socket_t fd) {
  return fd >= 0 && (size_t)fd < c->n_by_fd ? c->by_fd[fd] : NULL;
}

static void sock_drop(http_curl *c, sock *s);

/* A record and a poll handle for fd. Returns NULL when out of memory. */
static sock *sock_new(http_curl *c, curl_socket_t fd) {
  sock *s;
  if ((size_t)fd >= c->n_by_fd) {
    size_t n = (size_t)fd + 64;
    sock **grown = realloc(c->by_fd, n * sizeof(*grown));
    if (grown == NULL)
      return NULL;
    memset(grown + c->n_by_fd, 0, (n - c->n_by_fd) * sizeof(*grown));
    c->by_fd = grown;
    c->n_by_fd = n;
  }
  if (c->by_fd[fd] != NULL) /* closed without a word (a foreign one): its number is back */
    sock_drop(c, c->by_fd[fd]);
  s = calloc(1, sizeof(*s));
  if (s == NULL || uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
    free(s);
    return NULL;
  }
  s->c = c;
  s->fd = fd;
  s->poll.data = s;
  c->by_fd[fd] = s;
  list_insert_tail(&c->socks, &s->link);
  return s;
}

static void sock_drop(http_curl *c, sock *s) {
  c->by_fd[s->fd] = NULL;
  list_remove(&s->link);
  uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* curl: a socket for a new connection. */
static curl_socket_t open_cb(void *userp, curlsocktype purpose, struct curl_sockaddr *a) {
  http_curl *c = userp;
  curl_socket_t fd;
  (void)purpose;
  fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd >= 0 && sock_new(c, fd) == NULL) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

/* curl: the connection is closing. The poll handle goes first, so that
 * libuv forgets the descriptor before it can be reused. */
static int close_cb(void *userp, curl_socket_t fd) {
  http_curl *c = userp;
  sock *s = sock_of(c, fd);
  if (s != NULL)
    sock_drop(c, s);
  return close(fd);
}

/* curl: watch fd for what, or stop (CURL_POLL_REMOVE). */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  http_curl *c = userp;
  sock *s = sock_of(c, fd);
  int events = 0;
  (void)easy;
  (void)socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s != NULL && s->foreign)
      sock_drop(c, s);
    else if (s != NULL)
      s->watched = 0; /* the poll handle keeps waiting: see struct sock */
    return 0;
  }
  if (s == NULL) {
    if ((s = sock_new(c, fd)) == NULL)
      return -1;
    s->foreign = 1;
  }
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  s->watched = 1;
  if (events != s->events) {
    s->events = events;
    uv_poll_start(&s->poll, events, on_poll);
  }
  return 0;
}

/* curl: call back in ms (-1: never). Never act from inside curl. */
static int timer_cb(CURLM *multi, long ms, void *userp) {
  http_curl *c = userp;
  (void)multi;
  if (ms < 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
  return 0;
}

/* ---- the response -------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  http_curl_req *r = arg;
  size_t n = size * nmemb;
  if (r->body_in.len + n > r->max_body) {
    r->too_large = 1;
    return 0; /* curl stops the transfer */
  }
  if (buf_append(&r->body_in, data, n) < 0)
    return 0;
  return n;
}

/* One header line (with its CRLF). A status line starts a header block
 * (an interim 1xx block or a proxy's CONNECT answer is replaced by the
 * next); after the block's blank line, lines are trailers: ignored. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg) {
  http_curl_req *r = arg;
  size_t n = size * nmemb, len = n, name_len, i;
  const char *colon, *v;

  r->hdr_bytes += n;
  if (r->hdr_bytes > r->max_headers) {
    r->headers_too_large = 1;
    return 0;
  }
  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    r->hdr.len = 0;
    r->headers_done = 0;
    return n;
  }
  if (len == 0) {
    r->headers_done = 1;
    return n;
  }
  if (r->headers_done || (colon = memchr(data, ':', len)) == NULL)
    return n;
  name_len = (size_t)(colon - data);
  for (v = colon + 1; v < data + len && (*v == ' ' || *v == '\t'); v++)
    ;
  if (buf_reserve(&r->hdr, name_len + 2 + (size_t)(data + len - v) + 1) < 0)
    return 0;
  for (i = 0; i < name_len; i++) {
    char ch = data[i];
    r->hdr.data[r->hdr.len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  }
  buf_append(&r->hdr, ": ", 2);
  buf_append(&r->hdr, v, (size_t)(data + len - v));
  buf_append(&r->hdr, "", 1);
  return n;
}

/* ---- requests --------------------------------------------------------------- */

static int header_is(const char *line, size_t name_len, const char *name) {
  return http_util_ieq(line, name_len, name);
}

/* The request's header list: the plugin's lines, checked, without the
 * ones that are the client's own; curl's defaults it did not ask for
 * (a form Content-Type, Expect: 100-continue) taken out. */
static int build_headers(http_curl_req *r, const http_client_params *p, char *err, size_t n) {
  int has_ct = 0, has_accept = 0;
  size_t i;
  struct curl_slist *l = NULL, *t;
  for (i = 0; i < p->n_headers; i++) {
    /* Checked by http_types_check(). */
    const char *line = p->headers[i], *colon = strchr(line, ':');
    size_t nl = (size_t)(colon - line);
    if (http_types_header_is_ours(line, nl))
      continue;
    has_ct |= header_is(line, nl, "content-type");
    has_accept |= header_is(line, nl, "accept");
    if ((t = curl_slist_append(l, line)) == NULL)
      goto nomem;
    l = t;
  }
  /* curl_slist_append() returns the list's head: NULL when it failed (the
   * list is intact), else l, or a new list when l was NULL. */
  if (!has_ct) {
    if ((t = curl_slist_append(l, "Content-Type:")) == NULL)
      goto nomem;
    l = t;
  }
  if (!has_accept) {
    if ((t = curl_slist_append(l, "Accept:")) == NULL)
      goto nomem;
    l = t;
  }
  if ((t = curl_slist_append(l, "Expect:")) == NULL)
    goto nomem;
  r->headers = t;
  return 0;
nomem:
  curl_slist_free_all(l);
  snprintf(err, n, "out of memory");
  return -ENOMEM;
}

static origin *origin_get(http_curl *c, const char *key) {
  origin *o = strmap_get(&c->origins, key, strlen(key));
  if (o != NULL)
    return o;
  o = calloc(1, sizeof(*o));
  if (o == NULL || (o->key = strdup(key)) == NULL ||
      strmap_put(&c->origins, o->key, strlen(o->key), o) < 0) {
    if (o != NULL)
      free(o->key);
    free(o);
    return NULL;
  }
  list_insert_tail(&c->origin_list, &o->link);
  return o;
}

#define SET(opt, val) (rc |= curl_easy_setopt(e, (opt), (val)) != CURLE_OK)

/* Sets up r's easy handle for p. */
static int setup_easy(http_curl *c, http_curl_req *r, const http_client_params *p,
                      unsigned timeout_ms, unsigned connect_ms) {
  CURL *e = r->easy;
  int rc = 0;
  SET(CURLOPT_PRIVATE, (char *)r);
  SET(CURLOPT_OPENSOCKETFUNCTION, open_cb);
  SET(CURLOPT_OPENSOCKETDATA, c);
  SET(CURLOPT_CLOSESOCKETFUNCTION, close_cb);
  SET(CURLOPT_CLOSESOCKETDATA, c);
  SET(CURLOPT_URL, p->url);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_PATH_AS_IS, 1L); /* the plugin's path, byte for byte */
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ERRORBUFFER, r->curl_err);
  SET(CURLOPT_HTTPHEADER, r->headers);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, r);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, r);
  SET(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body);
  SET(CURLOPT_DNS_CACHE_TIMEOUT, (long)DNS_TTL_S);
  /* Idle connections older than this are not reused: most servers close
   * theirs after 5 s, and a reused one the server is closing fails. */
  SET(CURLOPT_MAXAGE_CONN, (long)((c->limits.idle_ms + 999) / 1000));
  SET(CURLOPT_USERAGENT, "mcpd");
  SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  if (strcmp(p->method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (strcmp(p->method, "GET") != 0 || p->body_len > 0) {
    if (p->body_len > 0 || strcmp(p->method, "POST") == 0 || strcmp(p->method, "PUT") == 0 ||
        strcmp(p->method, "PATCH") == 0) {
      SET(CURLOPT_POSTFIELDS, r->body != NULL ? r->body : "");
      SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body_len);
    }
    SET(CURLOPT_CUSTOMREQUEST, p->method);
  }
  if (p->ca_file != NULL)
    SET(CURLOPT_CAINFO, p->ca_file);
  if (p->client_cert_file != NULL) {
    SET(CURLOPT_SSLCERT, p->client_cert_file);
    SET(CURLOPT_SSLKEY, p->client_key_file != NULL ? p->client_key_file : p->client_cert_file);
  }
  if (p->insecure_skip_verify) {
    SET(CURLOPT_SSL_VERIFYPEER, 0L);
    SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (p->proxy != NULL)
    SET(CURLOPT_PROXY, p->proxy);
  return rc ? -ENOMEM : 0;
}

int http_curl_request(http_curl *c, const http_client_params *p, http_client_cb cb, void *arg,
                      http_client_req **out, char *err, size_t n) {
  char key[300];
  http_url u;
  http_curl_req *r;
  origin *o;
  unsigned timeout_ms, connect_ms;
  int https, rc;

  if (out != NULL)
    *out = NULL;
  if (c->closed) {
    snprintf(err, n, "mcpd is stopping");
    return -ESHUTDOWN;
  }
  rc = http_types_check(p, &u, err, n);
  if (rc < 0)
    return rc;
  https = u.https;
  snprintf(key, sizeof(key), strchr(u.host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
           https ? "https" : "http", u.host, u.port);
  if (!c->started && curl_start(c) < 0) {
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  o = origin_get(c, key);
  r = calloc(1, sizeof(*r));
  if (o == NULL || r == NULL) {
    free(r);
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  r->head.engine = HTTP_ENGINE_CURL;
  r->c = c;
  r->cb = cb;
  r->arg = arg;
  r->owner = p->owner;
  r->https = https;
  r->client_cert = p->client_cert_file != NULL;
  r->max_body = p->max_response_bytes ? p->max_response_bytes : c->limits.max_response_bytes;
  r->max_headers = c->limits.max_header_bytes;
  timeout_ms = p->timeout_ms ? p->timeout_ms : c->limits.timeout_ms;
  connect_ms = p->connect_timeout_ms ? p->connect_timeout_ms : c->limits.connect_timeout_ms;
  r->label = strdup(p->label != NULL && p->label[0] != '\0' ? p->label : key + (https ? 8 : 7));
  if (p->body_len > 0 && (r->body = malloc(p->body_len)) != NULL)
    memcpy(r->body, p->body, p->body_len);
  rc = r->label == NULL || (p->body_len > 0 && r->body == NULL) ? -ENOMEM
                                                                : build_headers(r, p, err, n);
  if (rc == 0 &&
      ((r->easy = curl_easy_init()) == NULL || setup_easy(c, r, p, timeout_ms, connect_ms) < 0))
    rc = -ENOMEM;
  if (rc < 0) {
    if (rc == -ENOMEM)
      snprintf(err, n, "out of memory");
    req_free(r);
    return rc;
  }
  r->started = uv_now(c->loop);
  r->state = RQ_ACTIVE;
  (*c->n_live)++;
  list_insert_tail(&c->live, &r->all_link);
  if (out != NULL)
    *out = &r->head;
  /* Beyond the connections curl may open to the origin, a bounded number
   * wait for one; more are refused rather than queued without end. */
  if (o->n_active >= c->limits.max_conns_per_host + c->limits.max_waiting) {
    snprintf(r->why, sizeof(r->why), "too many requests waiting for a connection to %.200s", key);
    req_finish(r, -EAGAIN, 1);
    return 0;
  }
  r->o = o;
  o->n_active++;
  c->in_request++;
  if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
    snprintf(r->why, sizeof(r->why), "out of memory");
    req_finish(r, -ENOMEM, 1);
  } else {
    r->in_multi = 1;
  }
  c->in_request--;
  return 0;
}

void http_curl_cancel(http_client_req *head) {
  http_curl_req *r = (http_curl_req *)head;
  if (r == NULL || r->state == RQ_DONE)
    return;
  snprintf(r->why, sizeof(r->why), "cancelled");
  req_finish(r, -ECANCELED, 1);
}

unsigned http_curl_drop_owner(http_curl *c, void *owner) {
  unsigned count = 0;
  list_node *n, *tmp;
  list_foreach_safe(n, tmp, &c->live) {
    http_curl_req *r = list_entry(n, http_curl_req, all_link);
    if (r->owner == owner && !r->dropped) {
      r->dropped = 1;
      count++;
      http_curl_cancel(&r->head); /* completes later, without its callback */
    }
  }
  return count;
}

/* ---- set-up and teardown ---------------------------------------------------- */

int http_curl_init(http_curl *c, uv_loop_t *loop, const logger *lg, const http_client_limits *lim,
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
  list_init(&c->socks);
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_idle_init(loop, &c->done_idle);
  c->done_idle.data = c;
  return 0;
}

/* libcurl and OpenSSL are set up at the first request that needs them:
 * they cost 8 MB of memory that a daemon with only plain backends (or
 * none) never needs. Returns 0 or -ENOMEM. */
static int curl_start(http_curl *c) {
  CURLM *m;
  /* Thread-safe in this libcurl (7.84+), and counted: the cleanup is in
   * http_curl_free(). */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -ENOMEM;
  if ((m = curl_multi_init()) == NULL) {
    curl_global_cleanup();
    return -ENOMEM;
  }
  c->multi = m;
  c->started = 1;
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->limits.max_conns_per_host);
  /* The connection cache: enough idle connections for a few busy origins. */
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)c->limits.max_conns_per_host * 4);
  return 0;
}

void http_curl_close(http_curl *c) {
  list_node *n, *tmp;
  if (c->closed)
    return;
  c->closed = 1;
  /* Every request ends with -ESHUTDOWN, now, and every connection closes. */
  list_foreach_safe(n, tmp, &c->live) {
    http_curl_req *r = list_entry(n, http_curl_req, all_link);
    if (r->state != RQ_DONE) {
      snprintf(r->why, sizeof(r->why), "mcpd is stopping");
      req_finish(r, -ESHUTDOWN, 1);
    }
  }
  while (!list_empty(&c->done)) {
    http_curl_req *r = list_entry(c->done.next, http_curl_req, link);
    list_remove(&r->link);
    req_deliver(r);
  }
  /* Closes the cached connections (close_cb closes their poll handles). */
  if (c->multi != NULL)
    curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->n_spare > 0)
    curl_easy_cleanup(c->spare[--c->n_spare]);
  while (!list_empty(&c->socks))
    sock_drop(c, list_entry(c->socks.next, sock, link));
  uv_close((uv_handle_t *)&c->timer, NULL);
  uv_close((uv_handle_t *)&c->done_idle, NULL);
}

void http_curl_free(http_curl *c) {
  while (!list_empty(&c->origin_list)) {
    origin *o = list_entry(c->origin_list.next, origin, link);
    list_remove(&o->link);
    free(o->key);
    free(o);
  }
  strmap_free(&c->origins);
  free(c->by_fd);
  if (c->started)
    curl_global_cleanup();
  memset(c, 0, sizeof(*c));
}
