/* test_sse.c -- resumable SSE streams (transport/sse.h), in process: an
 * http_server on 127.0.0.1 and a libuv TCP client in the same loop carry
 * the streams, so what is checked is the bytes a client gets. Covers the
 * response head (SSE headers plus the extra ones), event framing and ids
 * ("<stream>-<event>", the priming event with retry: for 2025-11-25, none
 * before), a standalone stream as the session's channel (session.out,
 * holds), the replay buffer limits (sse_replay_events, and bytes via
 * max_write_queue_bytes, always keeping the newest), sse_find's parsing of
 * Last-Event-ID, detach on a lost connection and sse_resume (only the
 * events after the id, a gap replays what is left, a done stream ends
 * after its replay), lingering after sse_finish, expiry of detached
 * streams (on_expire for unfinished ones), keep-alive comments, the
 * polling model (sse_poll_ms), sse_session_closed, sse_hub_end_standalone
 * and sse_hub_close. What the MCP transport does around it (which
 * requests become streams, Mcp-Session-Id, 409 for a second GET) is left
 * to the integration tests. */
#include "transport/sse.h"
#include "mcp/jsonrpc.h"
#include "mcp/protocol.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fixture ----------------------------------------------------------------- */

static uv_loop_t loop;
static config cfg;
static logger lg;
static session_table sessions;
static sse_hub hub;
static http_server hs;
static int port;
static int log_fd = -1;

/* What the request callback does with the next request. */
static void (*route)(http_req *req);

static void on_request(http_req *req, void *arg) {
  (void)arg;
  if (route != NULL)
    route(req);
  else
    http_respond(req, 404, NULL, "", 0);
}

static void setup(void) {
  http_limits lim;
  char bound[64];
  const char *colon;

  CHECK_EQ_INT(uv_loop_init(&loop), 0);
  CHECK_EQ_INT(config_init(&cfg), 0);
  cfg.sse_keepalive_ms = 0; /* no comments unless a test wants them */
  log_init(&lg, LOGLVL_DEBUG, log_fd);
  session_table_init(&sessions, &loop, 100, 0, NULL, NULL);
  CHECK_EQ_INT(sse_hub_init(&hub, &loop, &cfg, &lg), 0);
  memset(&lim, 0, sizeof(lim));
  lim.max_header_bytes = cfg.max_header_bytes;
  lim.max_headers = cfg.max_headers;
  lim.max_body_bytes = cfg.max_body_bytes;
  lim.max_connections = cfg.max_connections;
  lim.max_pipelined = cfg.max_pipelined;
  lim.max_write_queue_bytes = cfg.max_write_queue_bytes;
  CHECK_EQ_INT(http_server_init(&hs, &loop, &lim, &lg, on_request, NULL), 0);
  CHECK_EQ_INT(http_server_listen(&hs, "127.0.0.1", 0, bound, sizeof(bound)), 0);
  colon = strrchr(bound, ':');
  port = colon ? atoi(colon + 1) : 0;
  CHECK(port > 0);
  route = NULL;
}

/* Closes what is left; the clients must be closed already. */
static void teardown(void) {
  sse_hub_close(&hub);
  session_table_close(&sessions);
  http_server_close(&hs, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  http_server_free(&hs);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  config_free(&cfg);
}

static uint64_t now_ms(void) {
  uv_update_time(&loop);
  return uv_now(&loop);
}

/* Turns the loop until cond holds or ms pass (the listener keeps it alive). */
#define WAIT_FOR(cond, ms)                                                                         \
  do {                                                                                             \
    uint64_t end_ = now_ms() + (ms);                                                               \
    while (!(cond) && now_ms() < end_) {                                                           \
      uv_run(&loop, UV_RUN_NOWAIT);                                                                \
      if (!(cond))                                                                                 \
        uv_sleep(1);                                                                               \
    }                                                                                              \
  } while (0)

/* ---- a client ------------------------------------------------------------------ */

typedef struct client {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t wr;
  char request[512];
  char raw[65536];
  size_t len;
  char body[65536]; /* de-chunked */
  int ended;        /* the last chunk arrived */
  int eof, closed, open;
} client;

static void client_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  client *c = h->data;
  (void)n;
  b->base = c->raw + c->len;
  b->len = sizeof(c->raw) - 1 - c->len;
}

static void client_closed(uv_handle_t *h) {
  ((client *)h->data)->closed = 1;
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  client *c = s->data;
  (void)b;
  if (n > 0) {
    c->len += (size_t)n;
    c->raw[c->len] = '\0';
  } else if (n < 0) {
    c->eof = 1;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
      uv_close((uv_handle_t *)&c->tcp, client_closed);
  }
}

static void client_written(uv_write_t *w, int status) {
  (void)w, (void)status;
}

static void client_connected(uv_connect_t *req, int status) {
  client *c = req->data;
  uv_buf_t b = uv_buf_init(c->request, (unsigned)strlen(c->request));
  CHECK_EQ_INT(status, 0);
  if (status < 0)
    return;
  uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read);
  uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, client_written);
}

/* Connects and sends a GET with the extra header lines (may be ""). */
static void client_open(client *c, const char *extra) {
  struct sockaddr_in addr;
  memset(c, 0, sizeof(*c));
  snprintf(c->request, sizeof(c->request), "GET /mcp HTTP/1.1\r\nHost: localhost\r\n%s\r\n", extra);
  uv_tcp_init(&loop, &c->tcp);
  c->tcp.data = c;
  c->conn.data = c;
  c->open = 1;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&addr, client_connected);
}

static void client_close(client *c) {
  if (c->open && !uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, client_closed);
  WAIT_FOR(c->closed, 2000);
}

/* The response head, up to the blank line ("" until it is complete). */
static const char *head_of(client *c) {
  static char head[4096];
  const char *end = strstr(c->raw, "\r\n\r\n");
  size_t n = end ? (size_t)(end - c->raw) + 2 : 0;
  if (n >= sizeof(head))
    n = sizeof(head) - 1;
  memcpy(head, c->raw, n);
  head[n] = '\0';
  return head;
}

/* The de-chunked body so far; sets c->ended at the last chunk. */
static const char *body_of(client *c) {
  const char *p = strstr(c->raw, "\r\n\r\n"), *end = c->raw + c->len;
  size_t o = 0;
  c->body[0] = '\0';
  if (p == NULL)
    return c->body;
  p += 4;
  while (p < end) {
    char *q;
    unsigned long size = strtoul(p, &q, 16);
    if (q == p || q + 2 > end || q[0] != '\r' || q[1] != '\n')
      break;
    if (size == 0) {
      c->ended = 1;
      break;
    }
    q += 2;
    if (q + size + 2 > end || o + size >= sizeof(c->body))
      break;
    memcpy(c->body + o, q, size);
    o += size;
    p = q + size + 2;
  }
  c->body[o] = '\0';
  return c->body;
}

static int body_has(client *c, const char *s) {
  return strstr(body_of(c), s) != NULL;
}

static int ended(client *c) {
  body_of(c);
  return c->ended;
}

/* ---- routes ---------------------------------------------------------------------- */

static session *cur_s;
static sse_stream *cur_st;
static int cur_standalone;
static const char *cur_extra;
static uint64_t resumed_from;
static int resume_found;

static void r_open(http_req *req) {
  cur_st = sse_open(&hub, cur_s, req, cur_standalone, cur_extra);
}

static void r_resume(http_req *req) {
  size_t len = 0;
  const char *id = http_req_header(req, "last-event-id", &len);
  sse_stream *st = id ? sse_find(cur_s, id, len, &resumed_from) : NULL;
  resume_found = st != NULL;
  if (st != NULL)
    sse_resume(st, req, resumed_from);
  else
    http_respond(req, 404, NULL, "", 0);
}

/* Opens a stream for s on a new client. */
static sse_stream *open_stream(client *c, session *s, int standalone, const char *extra) {
  cur_s = s;
  cur_st = NULL;
  cur_standalone = standalone;
  cur_extra = extra;
  route = r_open;
  client_open(c, "");
  WAIT_FOR(cur_st != NULL && strstr(c->raw, "\r\n\r\n") != NULL, 2000);
  CHECK(cur_st != NULL);
  return cur_st;
}

static session *new_session(int version) {
  session *s = NULL;
  CHECK_EQ_INT(session_create(&sessions, &s), 0);
  if (s != NULL)
    s->version = version;
  return s;
}

static json_t *note(int i) {
  return jsonrpc_notification("notifications/message",
                              json_pack("{s:s,s:i}", "level", "info", "data", i));
}

/* The framed text of event `no` of stream `st_no` carrying note(i). */
static void framed(char *out, size_t n, unsigned st_no, int no, int i) {
  snprintf(out, n,
           "id: %u-%d\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
           "message\",\"params\":{\"level\":\"info\",\"data\":%d}}\n\n",
           st_no, no, i);
}

static void send_note(sse_stream *st, int i) {
  json_t *m = note(i);
  CHECK_EQ_INT(sse_send(st, m), 0);
  json_decref(m);
}

/* on_expire: records, and ends the stream as an owner must. */
static int expired_hooks;

static void on_expire(sse_stream *st) {
  expired_hooks++;
  sse_finish(st);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_standalone(void) {
  client c, c2;
  session *s;
  sse_stream *st, *st2;
  json_t *m;
  char want[512];

  setup();
  s = new_session(PROTO_2025_11_25);
  st = open_stream(&c, s, 1, "Mcp-Session-Id: abc\r\n");
  if (st == NULL)
    goto out;
  WAIT_FOR(body_has(&c, "\n\n"), 2000);
  CHECK(strncmp(head_of(&c), "HTTP/1.1 200 ", 13) == 0);
  CHECK(strstr(head_of(&c), "Content-Type: text/event-stream\r\n") != NULL);
  CHECK(strstr(head_of(&c), "Cache-Control: no-cache, no-transform\r\n") != NULL);
  CHECK(strstr(head_of(&c), "Mcp-Session-Id: abc\r\n") != NULL);
  CHECK(strstr(head_of(&c), "Transfer-Encoding: chunked\r\n") != NULL);
  /* 2025-11-25: the priming event, an id and retry: and empty data. */
  snprintf(want, sizeof(want), "id: 1-0\nretry: %u\ndata: \n\n", cfg.sse_retry_ms);
  CHECK_EQ_STR(body_of(&c), want);
  CHECK_EQ_INT(st->no, 1);
  CHECK(st->standalone);
  CHECK(s->standalone == st);
  CHECK(s->out == &st->sink);
  CHECK_EQ_INT(s->holds, 1);
  CHECK_EQ_INT(hub.n_streams, 1);
  CHECK_EQ_INT(hub.n_attached, 1);
  CHECK_EQ_INT(hub.stats.opened, 1);

  /* The session's channel: what is sent goes out as the next event. */
  m = jsonrpc_notification("notifications/tools/list_changed", NULL);
  CHECK_EQ_INT(s->out->send(s->out, s, m, 0), 0);
  json_decref(m);
  send_note(st, 7);
  WAIT_FOR(body_has(&c, "\"data\":7"), 2000);
  CHECK(body_has(&c, "id: 1-1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
                     "\"notifications/tools/list_changed\"}\n\nid: 1-2\n"));
  CHECK(strstr(body_of(&c), "id: 1-2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
                            "\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":7}}"
                            "\n\n") != NULL);
  CHECK(!ended(&c));
  CHECK_EQ_INT(st->n_events, 3);

  /* A second stream of the session is number 2; the newest standalone is
   * the channel. */
  st2 = open_stream(&c2, s, 1, NULL);
  if (st2 != NULL) {
    WAIT_FOR(body_has(&c2, "\n\n"), 2000);
    CHECK_EQ_INT(st2->no, 2);
    CHECK(strncmp(body_of(&c2), "id: 2-0\n", 8) == 0);
    CHECK(s->out == &st2->sink);
    CHECK_EQ_INT(s->holds, 2);
  }

  /* sse_finish: the response ends. */
  sse_finish(st);
  WAIT_FOR(ended(&c), 2000);
  CHECK(ended(&c));
  CHECK_EQ_INT(hub.n_attached, 1);
  CHECK_EQ_INT(s->holds, 1);
  client_close(&c);
  client_close(&c2);
out:
  teardown();
}

static void test_framing_before_2025_11_25(void) {
  client c;
  session *s;
  sse_stream *st;
  char want[512];

  setup();
  s = new_session(PROTO_2025_06_18);
  st = open_stream(&c, s, 0, NULL);
  if (st == NULL)
    goto out;
  /* A POST stream: no channel, no hold (its call holds the session). */
  CHECK(s->out == NULL);
  CHECK(s->standalone == NULL);
  CHECK_EQ_INT(s->holds, 0);
  CHECK_EQ_INT(st->n_events, 0);
  send_note(st, 1);
  framed(want, sizeof(want), 1, 0, 1);
  WAIT_FOR(body_has(&c, "\n\n"), 2000);
  /* No priming event: the first event is number 0. */
  CHECK_EQ_STR(body_of(&c), want);
  CHECK_EQ_INT(st->n_events, 1);
  CHECK_EQ_INT(st->bytes, strlen(want));
  CHECK_EQ_INT(hub.stats.events, 1);
  client_close(&c);
out:
  teardown();
}

static void test_replay_limits(void) {
  client c;
  session *s;
  sse_stream *st;
  char one[512];
  int i;

  setup();
  cfg.sse_replay_events = 3;
  s = new_session(PROTO_2025_06_18);
  st = open_stream(&c, s, 0, NULL);
  if (st == NULL)
    goto out;
  for (i = 0; i < 5; i++)
    send_note(st, i);
  /* Each event is written; only the newest three are kept. */
  WAIT_FOR(body_has(&c, "\"data\":4}"), 2000);
  for (i = 0; i < 5; i++) {
    framed(one, sizeof(one), 1, i, i);
    CHECK(body_has(&c, one));
  }
  CHECK_EQ_INT(st->n_events, 3);
  framed(one, sizeof(one), 1, 2, 2);
  CHECK_EQ_INT(st->bytes, 3 * strlen(one)); /* 0..9: all the same length */
  CHECK_EQ_INT(st->next_event, 5);

  /* A byte limit below one event keeps just the newest. */
  cfg.max_write_queue_bytes = strlen(one) + 10;
  send_note(st, 5);
  CHECK_EQ_INT(st->n_events, 1);
  CHECK_EQ_INT(st->bytes, strlen(one));
  cfg.max_write_queue_bytes = 1;
  send_note(st, 6);
  CHECK_EQ_INT(st->n_events, 1);
  cfg.max_write_queue_bytes = 8u << 20;
  send_note(st, 7);
  send_note(st, 8);
  CHECK_EQ_INT(st->n_events, 3);
  client_close(&c);
out:
  teardown();
}

static void test_find(void) {
  client c, c2;
  session *s, *other;
  sse_stream *st, *st2;
  uint64_t ev = 12345;
  static const char *const bad[] = {"",    "1",   "-3",  "1-",   "x-3", "1-3x",
                                    "9-0", "1_3", "3-1", "1-3-", NULL};
  int i;

  setup();
  s = new_session(PROTO_2025_06_18);
  other = new_session(PROTO_2025_06_18);
  st = open_stream(&c, s, 0, NULL);
  st2 = open_stream(&c2, s, 1, NULL);
  if (st == NULL || st2 == NULL)
    goto out;
  CHECK(sse_find(s, "1-3", 3, &ev) == st);
  CHECK_EQ_INT(ev, 3);
  CHECK(sse_find(s, "2-18446744073709551615", 22, &ev) == st2);
  CHECK(ev == UINT64_MAX);
  /* len counts, not the NUL. */
  CHECK(sse_find(s, "1-77777", 3, &ev) == st);
  CHECK_EQ_INT(ev, 7);
  for (i = 0; bad[i] != NULL; i++) {
    ev = 99;
    if (sse_find(s, bad[i], strlen(bad[i]), &ev) != NULL)
      fprintf(stderr, "  \"%s\" was found\n", bad[i]);
    CHECK(sse_find(s, bad[i], strlen(bad[i]), &ev) == NULL);
    CHECK_EQ_INT(ev, 99);
  }
  /* Too long to be an id of ours. */
  {
    char lng[64];
    memset(lng, '1', sizeof(lng));
    lng[1] = '-';
    CHECK(sse_find(s, lng, sizeof(lng), &ev) == NULL);
  }
  /* Ids are per session. */
  CHECK(sse_find(other, "1-3", 3, &ev) == NULL);
  client_close(&c);
  client_close(&c2);
out:
  teardown();
}

static void test_detach_resume(void) {
  client a, b, cc, dd;
  session *s;
  sse_stream *st;
  char one[512];

  setup();
  cfg.sse_replay_events = 3;
  s = new_session(PROTO_2025_06_18);
  st = open_stream(&a, s, 0, NULL);
  if (st == NULL)
    goto out;
  st->on_expire = on_expire;
  expired_hooks = 0;
  send_note(st, 0);
  send_note(st, 1);
  send_note(st, 2);
  send_note(st, 3);
  send_note(st, 4); /* kept: 2, 3, 4 */
  WAIT_FOR(body_has(&a, "\"data\":4}"), 2000);

  /* The connection goes: the stream lives on, detached. */
  client_close(&a);
  WAIT_FOR(hub.n_attached == 0, 2000);
  CHECK_EQ_INT(hub.n_attached, 0);
  CHECK(st->req == NULL);
  CHECK(st->expire_at != 0);
  CHECK_EQ_INT(hub.stats.detached, 1);
  CHECK_EQ_INT(hub.n_streams, 1);
  send_note(st, 5); /* kept for the resume; kept: 3, 4, 5 */

  /* Resume after event 3: events 4 and 5, then what follows. */
  cur_s = s;
  route = r_resume;
  client_open(&b, "Last-Event-ID: 1-3\r\n");
  WAIT_FOR(body_has(&b, "\"data\":5}"), 2000);
  CHECK(resume_found);
  CHECK_EQ_INT(resumed_from, 3);
  CHECK(strstr(head_of(&b), "Content-Type: text/event-stream\r\n") != NULL);
  framed(one, sizeof(one), 1, 4, 4);
  CHECK(strncmp(body_of(&b), one, strlen(one)) == 0);
  CHECK(!body_has(&b, "id: 1-3\n"));
  CHECK(body_has(&b, "id: 1-5\n"));
  CHECK_EQ_INT(hub.stats.resumed, 1);
  CHECK_EQ_INT(hub.stats.replayed_events, 2);
  CHECK_EQ_INT(hub.n_attached, 1);
  CHECK(st->expire_at == 0);
  send_note(st, 6);
  WAIT_FOR(body_has(&b, "\"data\":6}"), 2000);
  CHECK(body_has(&b, "id: 1-6\n"));
  CHECK(!ended(&b));

  /* Lost again, resumed from an id older than the buffer: what is left
   * (4, 5, 6) is replayed. */
  client_close(&b);
  WAIT_FOR(hub.n_attached == 0, 2000);
  client_open(&cc, "Last-Event-ID: 1-0\r\n");
  WAIT_FOR(body_has(&cc, "\"data\":6}"), 2000);
  CHECK(strncmp(body_of(&cc), one, strlen(one)) == 0);
  CHECK(body_has(&cc, "id: 1-5\n"));
  CHECK_EQ_INT(hub.stats.replayed_events, 5);

  /* Finished while attached: the response ends, the stream lingers done
   * for a late resume, which gets the rest and the end. */
  sse_finish(st);
  WAIT_FOR(ended(&cc), 2000);
  CHECK(ended(&cc));
  CHECK_EQ_INT(hub.n_streams, 1);
  CHECK(st->done);
  client_open(&dd, "Last-Event-ID: 1-5\r\n");
  WAIT_FOR(ended(&dd), 2000);
  CHECK(ended(&dd));
  framed(one, sizeof(one), 1, 6, 6);
  CHECK_EQ_STR(body_of(&dd), one);
  CHECK_EQ_INT(hub.n_streams, 0);
  CHECK_EQ_INT(expired_hooks, 0);
  /* Gone now: a resume finds nothing. */
  resume_found = 1;
  client_close(&cc);
  client_close(&dd);
  client_open(&a, "Last-Event-ID: 1-6\r\n");
  WAIT_FOR(strstr(a.raw, "\r\n\r\n") != NULL, 2000);
  CHECK(!resume_found);
  CHECK(strncmp(a.raw, "HTTP/1.1 404", 12) == 0);
  client_close(&a);
out:
  teardown();
}

static void test_expiry(void) {
  client a, b, c;
  session *s;
  sse_stream *x, *y, *z;
  uint64_t start;

  setup();
  cfg.sse_resume_ms = 100;
  s = new_session(PROTO_2025_06_18);
  x = open_stream(&a, s, 0, NULL);
  y = open_stream(&b, s, 0, NULL);
  z = open_stream(&c, s, 0, NULL);
  if (x == NULL || y == NULL || z == NULL)
    goto out;
  x->on_expire = on_expire;
  y->on_expire = on_expire;
  expired_hooks = 0;
  send_note(x, 1);
  send_note(y, 1);
  /* y is done before its connection goes: it waits for a resume anyway. */
  client_close(&a);
  client_close(&b);
  WAIT_FOR(hub.n_attached == 1, 2000);
  CHECK_EQ_INT(hub.n_attached, 1);
  sse_finish(y);
  CHECK_EQ_INT(hub.n_streams, 3);
  start = now_ms();
  WAIT_FOR(hub.n_streams == 1, 3000);
  /* Both went after sse_resume_ms; only the unfinished one via its owner. */
  CHECK_EQ_INT(hub.n_streams, 1);
  CHECK(now_ms() - start >= 50);
  CHECK_EQ_INT(hub.stats.expired, 2);
  CHECK_EQ_INT(expired_hooks, 1);
  /* The attached one never expires. */
  WAIT_FOR(0, 400);
  CHECK_EQ_INT(hub.n_streams, 1);
  CHECK(z->req != NULL);
  CHECK(!ended(&c));
  client_close(&c);
out:
  teardown();
}

static void test_keepalive_standalone(void) {
  client c;
  session *s;
  sse_stream *st;

  setup();
  cfg.sse_keepalive_ms = 50;
  s = new_session(PROTO_2025_06_18);
  st = open_stream(&c, s, 1, NULL);
  if (st == NULL)
    goto out;
  WAIT_FOR(body_has(&c, ": keep-alive\n\n"), 2000);
  CHECK(body_has(&c, ": keep-alive\n\n"));
  /* Comments are not events: nothing kept, no id used. */
  CHECK_EQ_INT(st->n_events, 0);
  CHECK_EQ_INT(st->next_event, 0);
  client_close(&c);
out:
  teardown();
}

/* README: "a `: keep-alive` comment is sent on idle SSE streams this
 * often" -- a POST response stream (a long call that reported progress)
 * is an SSE stream too, and a proxy cuts it the same way when it is
 * quiet. */
static void test_keepalive_post_stream(void) {
  client c;
  session *s;
  sse_stream *st;

  setup();
  cfg.sse_keepalive_ms = 50;
  s = new_session(PROTO_2025_06_18);
  st = open_stream(&c, s, 0, NULL);
  if (st == NULL)
    goto out;
  send_note(st, 1); /* the progress report that made it a stream */
  WAIT_FOR(body_has(&c, ": keep-alive\n\n"), 1500);
  CHECK(body_has(&c, ": keep-alive\n\n"));
  /* Whereas once any standalone stream is open (the hub's timer runs),
   * the same POST stream does get them. */
  {
    client g;
    if (open_stream(&g, new_session(PROTO_2025_06_18), 1, NULL) != NULL) {
      WAIT_FOR(body_has(&c, ": keep-alive\n\n"), 1500);
      CHECK(body_has(&c, ": keep-alive\n\n"));
    }
    client_close(&g);
  }
  client_close(&c);
out:
  teardown();
}

static void test_polling(void) {
  client a, b;
  session *s;
  sse_stream *st;

  setup();
  cfg.sse_poll_ms = 60;
  s = new_session(PROTO_2025_11_25);
  st = open_stream(&a, s, 0, NULL);
  if (st == NULL)
    goto out;
  /* The priming event, then the response ends on purpose. */
  WAIT_FOR(ended(&a), 2000);
  CHECK(ended(&a));
  CHECK(strncmp(body_of(&a), "id: 1-0\nretry: ", 15) == 0);
  CHECK_EQ_INT(hub.stats.polls, 1);
  CHECK(st->req == NULL);
  CHECK_EQ_INT(hub.n_streams, 1);
  send_note(st, 1);
  /* The client comes back with the priming id: the rest, then it streams. */
  cur_s = s;
  route = r_resume;
  client_open(&b, "Last-Event-ID: 1-0\r\n");
  WAIT_FOR(body_has(&b, "\"data\":1}"), 2000);
  CHECK(strncmp(body_of(&b), "id: 1-1\nevent: message\n", 23) == 0);
  WAIT_FOR(0, 200);
  CHECK(!ended(&b));
  CHECK_EQ_INT(hub.stats.polls, 1);
  send_note(st, 2);
  WAIT_FOR(body_has(&b, "\"data\":2}"), 2000);
  CHECK(body_has(&b, "id: 1-2\n"));
  /* A standalone stream is never closed for polling. */
  {
    client g;
    sse_stream *sa = open_stream(&g, s, 1, NULL);
    WAIT_FOR(0, 250);
    CHECK(sa != NULL && sa->req != NULL);
    CHECK(!ended(&g));
    client_close(&g);
  }
  client_close(&a);
  client_close(&b);
out:
  teardown();
}

static void test_session_closed(void) {
  client a, b, c;
  session *s, *other;
  sse_stream *post, *get, *keep;

  setup();
  s = new_session(PROTO_2025_06_18);
  other = new_session(PROTO_2025_06_18);
  post = open_stream(&a, s, 0, NULL);
  get = open_stream(&b, s, 1, NULL);
  keep = open_stream(&c, other, 1, NULL);
  if (post == NULL || get == NULL || keep == NULL)
    goto out;
  post->on_expire = on_expire;
  expired_hooks = 0;
  CHECK_EQ_INT(s->holds, 1);
  CHECK_EQ_INT(hub.n_streams, 3);
  sse_session_closed(&hub, s);
  /* Both responses end; the unfinished POST stream's owner was told. */
  WAIT_FOR(ended(&a) && ended(&b), 2000);
  CHECK(ended(&a));
  CHECK(ended(&b));
  CHECK_EQ_INT(expired_hooks, 1);
  CHECK(s->out == NULL);
  CHECK(s->standalone == NULL);
  CHECK_EQ_INT(s->holds, 0);
  CHECK_EQ_INT(hub.n_streams, 1);
  CHECK_EQ_INT(hub.n_attached, 1);
  CHECK(other->out == &keep->sink);

  /* A stop: standalone streams end, POST streams go on. */
  client_close(&a);
  post = open_stream(&a, other, 0, NULL);
  if (post != NULL) {
    sse_hub_end_standalone(&hub);
    WAIT_FOR(ended(&c), 2000);
    CHECK(ended(&c));
    CHECK(other->out == NULL);
    CHECK_EQ_INT(hub.n_streams, 1);
    CHECK(post->req != NULL);
    send_note(post, 3);
    WAIT_FOR(body_has(&a, "\"data\":3}"), 2000);
    CHECK(!ended(&a));
    /* Closing the hub ends the rest. */
    sse_hub_close(&hub);
    WAIT_FOR(ended(&a), 2000);
    CHECK(ended(&a));
    CHECK_EQ_INT(hub.n_streams, 0);
  }
  client_close(&a);
  client_close(&b);
  client_close(&c);
out:
  teardown();
}

int main(void) {
  log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  RUN(test_standalone);
  RUN(test_framing_before_2025_11_25);
  RUN(test_replay_limits);
  RUN(test_find);
  RUN(test_detach_resume);
  RUN(test_expiry);
  RUN(test_keepalive_standalone);
  RUN(test_polling);
  RUN(test_session_closed);
  RUN(test_keepalive_post_stream);
  close(log_fd);
  TEST_MAIN_END();
}
