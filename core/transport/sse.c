/* sse.c -- resumable server-sent-event streams of MCP sessions. */
#include "lib/json_write.h"
#include "transport/sse.h"

#include "mcp/jsonrpc.h"
#include "mcp/protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A finished stream is kept this long (at most) for a late resume, and a
 * session keeps at most this many. */
#define SSE_LINGER_MS  5000
#define SSE_LINGER_MAX 8

#define SSE_HEADERS                                                                                \
  "Content-Type: text/event-stream\r\n"                                                            \
  "Cache-Control: no-cache, no-transform\r\n"                                                      \
  "X-Accel-Buffering: no\r\n"

/* A framed event kept for replay. */
typedef struct sse_event {
  list_node link;
  uint64_t no;
  size_t len;
  char text[];
} sse_event;

static uint64_t now_ms(sse_hub *h) {
  return uv_now(h->timer.loop);
}

static void start_timer(sse_hub *h);

/* ---- the replay buffer ----------------------------------------------------- */

static void drop_oldest(sse_stream *st) {
  sse_event *ev = list_entry(st->events.next, sse_event, link);
  list_remove(&ev->link);
  st->n_events--;
  st->bytes -= ev->len;
  free(ev);
}

/* Keeps a framed event; the oldest go when over the limits. */
static void keep(sse_stream *st, uint64_t no, const char *text, size_t len) {
  const config *cfg = st->hub->cfg;
  sse_event *ev = malloc(sizeof(*ev) + len);
  if (ev == NULL)
    return; /* a lost replay, not a lost delivery */
  ev->no = no;
  ev->len = len;
  memcpy(ev->text, text, len);
  list_insert_tail(&st->events, &ev->link);
  st->n_events++;
  st->bytes += len;
  while (st->n_events > 1 &&
         (st->n_events > cfg->sse_replay_events || st->bytes > cfg->max_write_queue_bytes))
    drop_oldest(st);
}

static void write_attached(sse_stream *st, const char *text, size_t len) {
  if (st->req == NULL)
    return;
  st->last_write = now_ms(st->hub);
  http_stream_send(st->req, text, len);
}

/* Frames an event (with an id if the stream has them), keeps it, and
 * writes it. data may be NULL (the priming event). */
static int emit(sse_stream *st, const json_t *msg, int retry) {
  sse_hub *h = st->hub;
  buf *b = &h->out;
  uint64_t no = st->next_event++;

  buf_reset(b);
  if (st->ids && buf_printf(b, "id: %u-%" PRIu64 "\n", st->no, no) < 0)
    return -ENOMEM;
  if (retry && buf_printf(b, "retry: %u\n", h->cfg->sse_retry_ms) < 0)
    return -ENOMEM;
  if (msg != NULL) {
    if (buf_puts(b, "event: message\ndata: ") < 0 || json_write(b, msg) < 0 ||
        buf_puts(b, "\n\n") < 0)
      return -ENOMEM;
  } else if (buf_puts(b, "data: \n\n") < 0) {
    return -ENOMEM;
  }
  h->stats.events++;
  if (st->ids)
    keep(st, no, b->data, b->len);
  write_attached(st, b->data, b->len);
  return 0;
}

/* ---- life -------------------------------------------------------------------- */

static void stream_free(sse_stream *st) {
  sse_hub *h = st->hub;
  while (st->n_events > 0)
    drop_oldest(st);
  if (st->s != NULL) {
    if (st->s->standalone == st) {
      st->s->standalone = NULL;
      st->s->out = NULL;
    }
    list_remove(&st->s_link);
  }
  list_remove(&st->link);
  h->n_streams--;
  free(st);
}

static void stream_abort(http_req *req);

/* A message the server starts, on a session's standalone stream. */
static int standalone_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  (void)s;
  (void) final;
  sse_send((sse_stream *)sink, msg);
  return 0;
}

/* Binds st to req: it carries the stream from now on. */
static void attach(sse_stream *st, http_req *req) {
  st->req = req;
  st->expire_at = 0;
  st->last_write = now_ms(st->hub);
  req->user = st;
  req->on_abort = stream_abort;
  st->hub->n_attached++;
  if (st->standalone)
    st->s->holds++;
}

/* Lets go of the connection (it is gone, or closed for polling). */
static void unbind(sse_stream *st) {
  if (st->req == NULL)
    return;
  st->req->on_abort = NULL;
  st->req = NULL;
  st->hub->n_attached--;
  if (st->standalone)
    st->s->holds--;
}

static void stream_abort(http_req *req) {
  sse_detach(req->user);
}

/* Ends a stream by force: its owner lets go (and finishes it), or it goes. */
static void kill_stream(sse_stream *st) {
  http_req *req = st->req;
  st->dying = 1;
  unbind(st);
  if (req != NULL)
    http_stream_end(req);
  if (!st->done && st->on_expire != NULL)
    st->on_expire(st); /* ends with sse_finish(), which frees st */
  else
    stream_free(st);
}

void sse_detach(sse_stream *st) {
  sse_hub *h = st->hub;
  unbind(st);
  h->stats.detached++;
  if (!st->ids) {
    kill_stream(st); /* nothing could be resumed */
    return;
  }
  /* Even a done stream waits: its last events may not have arrived. */
  st->expire_at = now_ms(h) + h->cfg->sse_resume_ms;
  start_timer(h);
}

/* A GET stream beyond its address's share (limits.max_streams_per_client):
 * 429, with the stream's extra headers (borrowed). */
static void refuse_stream(http_req *req, const char *extra) {
  static const char body[] = "429 Too Many Requests: this address holds too many open SSE "
                             "streams; close one or try again later\n";
  char headers[800];
  snprintf(headers, sizeof(headers),
           "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n%s", extra ? extra : "");
  http_respond(req, 429, headers, body, sizeof(body) - 1);
}

sse_stream *sse_open(sse_hub *h, session *s, http_req *req, int standalone, const char *extra) {
  sse_stream *st;
  char headers[700];

  /* Only a GET stream is refused: a POST answer must reach its client. */
  if (standalone && http_stream_admit(req) < 0) {
    refuse_stream(req, extra);
    return NULL;
  }
  st = calloc(1, sizeof(*st));
  if (st == NULL) {
    http_respond(req, 503, "Content-Type: text/plain\r\n", "out of memory\n", 14);
    return NULL;
  }
  st->hub = h;
  st->s = s;
  st->no = ++s->next_stream_no;
  st->standalone = standalone;
  st->ids = 1;
  st->next_event = 0;
  snprintf(st->headers, sizeof(st->headers), "%s", extra ? extra : "");
  list_init(&st->events);
  list_insert_tail(&h->streams, &st->link);
  list_insert_tail(&s->streams, &st->s_link);
  h->n_streams++;
  h->stats.opened++;
  if (standalone) {
    st->sink.send = standalone_send;
    s->standalone = st;
    s->out = &st->sink;
  }
  snprintf(headers, sizeof(headers), SSE_HEADERS "%s", st->headers);
  http_stream_begin(req, 200, headers);
  attach(st, req);
  /* 2025-11-25: an id to resume from, and how soon to come back. */
  if (s->version >= PROTO_2025_11_25)
    emit(st, NULL, 1);
  if (!standalone && h->cfg->sse_poll_ms > 0 && s->version >= PROTO_2025_11_25) {
    st->poll_at = now_ms(h) + h->cfg->sse_poll_ms;
    start_timer(h);
  }
  /* Keep-alives on every stream: a quiet POST stream (a long call) needs
   * them as much as a standalone one, or a proxy cuts it. */
  start_timer(h);
  return st;
}

int sse_send(sse_stream *st, const json_t *msg) {
  return emit(st, msg, 0);
}

/* Keeps a finished stream a little while after its response ended, so a
 * client whose connection died unnoticed can still resume and get the
 * end. At most SSE_LINGER_MAX per session, the oldest going first. */
static void linger(sse_stream *st) {
  sse_hub *h = st->hub;
  sse_stream *oldest = NULL;
  unsigned n = 0;
  list_node *p;
  uint64_t ms = h->cfg->sse_resume_ms < SSE_LINGER_MS ? h->cfg->sse_resume_ms : SSE_LINGER_MS;

  for (p = st->s->streams.next; p != &st->s->streams; p = p->next) {
    sse_stream *o = list_entry(p, sse_stream, s_link);
    if (o != st && o->done && o->req == NULL) {
      if (oldest == NULL)
        oldest = o;
      n++;
    }
  }
  if (n >= SSE_LINGER_MAX)
    stream_free(oldest);
  st->expire_at = now_ms(h) + ms;
  start_timer(h);
}

void sse_finish(sse_stream *st) {
  st->done = 1;
  if (st->req != NULL) {
    http_req *req = st->req;
    unbind(st);
    http_stream_end(req);
    if (st->ids && !st->dying && !st->hub->closed && st->s != NULL &&
        st->hub->cfg->sse_resume_ms > 0)
      linger(st);
    else
      stream_free(st);
  } else if (st->dying) {
    stream_free(st);
  }
  /* Else detached: it waits for the client to resume it, or expires. */
}

sse_stream *sse_find(session *s, const char *id, size_t len, uint64_t *event) {
  char text[48], *dash, *end;
  unsigned long no;
  unsigned long long ev;
  list_node *n;

  if (len == 0 || len >= sizeof(text))
    return NULL;
  memcpy(text, id, len);
  text[len] = '\0';
  dash = strchr(text, '-');
  if (dash == NULL || dash == text || dash[1] == '\0')
    return NULL;
  *dash = '\0';
  no = strtoul(text, &end, 10);
  if (*end != '\0')
    return NULL;
  ev = strtoull(dash + 1, &end, 10);
  if (*end != '\0')
    return NULL;
  for (n = s->streams.next; n != &s->streams; n = n->next) {
    sse_stream *st = list_entry(n, sse_stream, s_link);
    if (st->no == no && st->ids) { /* a stream without ids cannot be resumed */
      *event = ev;
      return st;
    }
  }
  return NULL;
}

void sse_resume(sse_stream *st, http_req *req, uint64_t event) {
  sse_hub *h = st->hub;
  char headers[700];
  list_node *n;
  int gap;

  /* A resumption that replaces a bound connection adds no stream. Refused,
   * the stream stays detached and may be resumed later. */
  if (st->req == NULL && http_stream_admit(req) < 0) {
    refuse_stream(req, st->headers);
    return;
  }
  if (st->req != NULL) {
    /* The old connection is still bound (its loss not yet seen): end it. */
    http_req *old = st->req;
    unbind(st);
    http_stream_end(old);
  }
  snprintf(headers, sizeof(headers), SSE_HEADERS "%s", st->headers);
  http_stream_begin(req, 200, headers);
  h->stats.resumed++;
  gap = !list_empty(&st->events) && list_entry(st->events.next, sse_event, link)->no > event + 1;
  if (gap)
    log_msg(h->log, LOGLVL_WARN, "sse_replay_gap",
            "session=%s stream=%u from=%" PRIu64 " reason=\"older events left the replay buffer\"",
            st->s->id, st->no, event);
  for (n = st->events.next; n != &st->events; n = n->next) {
    sse_event *ev = list_entry(n, sse_event, link);
    if (ev->no > event) {
      http_stream_send(req, ev->text, ev->len);
      h->stats.replayed_events++;
    }
  }
  if (st->done) {
    http_stream_end(req);
    stream_free(st);
    return;
  }
  attach(st, req);
  st->poll_at = 0; /* polled once; now it streams to the end */
}

void sse_session_closed(sse_hub *h, session *s) {
  (void)h;
  while (!list_empty(&s->streams))
    kill_stream(list_entry(s->streams.next, sse_stream, s_link));
}

/* ---- the timer: keep-alives, polling, expiry ------------------------------------- */

static void timer_cb(uv_timer_t *t) {
  sse_hub *h = t->data;
  uint64_t now = now_ms(h);
  unsigned keepalive = h->cfg->sse_keepalive_ms, stall = h->cfg->sse_stall_ms;
  list_node *n, *tmp;

  list_foreach_safe(n, tmp, &h->streams) {
    sse_stream *st = list_entry(n, sse_stream, link);
    if (st->req != NULL) {
      uint64_t unread = http_req_unread_ms(st->req);
      if (stall > 0 && unread >= stall) {
        /* Its client reads nothing (the keep-alives pile up): free the
         * connection. on_abort detaches the stream, which may be resumed. */
        h->stats.stalled++;
        log_msg(h->log, LOGLVL_INFO, "sse_stalled", "session=%s stream=%u unread_ms=%" PRIu64,
                st->s != NULL ? st->s->id : "-", st->no, unread);
        http_req_abort(st->req);
      } else if (st->poll_at != 0 && now >= st->poll_at && !st->done) {
        /* The polling model: end the response; the client comes back with
         * Last-Event-ID after retry ms. */
        http_req *req = st->req;
        st->poll_at = 0;
        h->stats.polls++;
        unbind(st);
        http_stream_end(req);
        st->expire_at = now + h->cfg->sse_resume_ms;
      } else if (keepalive > 0 && now - st->last_write >= keepalive) {
        write_attached(st, ": keep-alive\n\n", 14);
      }
    } else if (st->expire_at != 0 && now >= st->expire_at) {
      h->stats.expired++;
      kill_stream(st);
    }
  }
  if (h->n_streams == 0)
    uv_timer_stop(t);
}

static void start_timer(sse_hub *h) {
  uint64_t period = 250;
  if (h->closed || uv_is_active((uv_handle_t *)&h->timer))
    return;
  if (h->cfg->sse_poll_ms > 0 && h->cfg->sse_poll_ms / 2 < period)
    period = h->cfg->sse_poll_ms / 2 > 20 ? h->cfg->sse_poll_ms / 2 : 20;
  uv_timer_start(&h->timer, timer_cb, period, period);
  uv_unref((uv_handle_t *)&h->timer);
}

int sse_hub_init(sse_hub *h, uv_loop_t *loop, const config *cfg, const logger *lg) {
  memset(h, 0, sizeof(*h));
  h->cfg = cfg;
  h->log = lg;
  list_init(&h->streams);
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
  return 0;
}

void sse_hub_apply_config(sse_hub *h) {
  uv_timer_stop(&h->timer);
  if (h->n_streams > 0)
    start_timer(h);
}

void sse_hub_end_standalone(sse_hub *h) {
  list_node *n;
  /* Killing a stream may end its session and free that session's other
   * streams (HTTP+SSE): after each kill, look again from the start. */
  for (;;) {
    for (n = h->streams.next; n != &h->streams; n = n->next) {
      if (list_entry(n, sse_stream, link)->standalone)
        break;
    }
    if (n == &h->streams)
      return;
    kill_stream(list_entry(n, sse_stream, link)); /* always frees it */
  }
}

void sse_hub_close(sse_hub *h) {
  h->closed = 1;
  while (!list_empty(&h->streams))
    kill_stream(list_entry(h->streams.next, sse_stream, link));
  if (!uv_is_closing((uv_handle_t *)&h->timer))
    uv_close((uv_handle_t *)&h->timer, NULL);
  buf_free(&h->out);
}
