/* sse.h -- resumable server-sent-event streams of MCP sessions.
 *
 * A stream is a POST response that turned into SSE, or a session's
 * standalone GET stream. Its events carry ids ("<stream>-<event>", unique in
 * the session) and the last ones stay in a bounded replay buffer, so when
 * the HTTP connection carrying a stream goes away the stream lives on,
 * detached, and a client can resume it with GET + Last-Event-ID. A stream
 * opened for a session at protocol 2025-11-25 starts with a "priming" event
 * (an id, a retry: field, empty data). Optionally a POST stream is closed on
 * purpose while its call runs, and the client polls it back with
 * Last-Event-ID (the 2025-11-25 polling model). Loop thread only. */
#ifndef MCPD_SSE_H
#define MCPD_SSE_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "mcp/dispatch.h"
#include "net/http_server.h"
#include "lib/list.h"
#include "mcp/session.h"

typedef struct sse_hub sse_hub;
typedef struct sse_stream sse_stream;

struct sse_stream {
  mcp_sink sink; /* for a standalone stream: the session's channel */
  sse_hub *hub;
  session *s;
  unsigned no;    /* stream number in the session */
  int standalone; /* the GET stream (else a POST response) */
  int ids;        /* events carry ids and are kept for replay */
  uint64_t next_event;
  http_req *req;     /* the connection carrying it; NULL when detached */
  char headers[600]; /* extra response headers for every attachment */
  int done;          /* no event will follow the last one */
  int dying;         /* being ended by force: sse_finish() frees it */
  list_node events;  /* replay buffer, oldest first */
  unsigned n_events;
  size_t bytes;
  uint64_t poll_at;   /* loop ms: close the connection for polling (0: never) */
  uint64_t expire_at; /* loop ms: a detached stream is dropped (0: attached) */
  uint64_t last_write;
  /* The owner's hook when the stream is ended by force before it is done
   * (expiry while detached, session closed, shutdown): a POST reply cancels
   * its calls; it must end with sse_finish(), which then frees the stream. */
  void (*on_expire)(sse_stream *st);
  void *owner;
  list_node link;   /* in hub.streams */
  list_node s_link; /* in session.streams */
};

typedef struct sse_stats {
  uint64_t opened, resumed, detached, expired, polls, replayed_events, events;
  uint64_t stalled; /* connections closed: their client read nothing for sse_stall_ms */
} sse_stats;

struct sse_hub {
  const config *cfg;
  const logger *log;
  uv_timer_t timer; /* keep-alives, polling closes, expiry */
  list_node streams;
  unsigned n_streams, n_attached;
  buf out; /* scratch for framing */
  int closed;
  sse_stats stats;
};

int sse_hub_init(sse_hub *h, uv_loop_t *loop, const config *cfg, const logger *lg);

/* Re-reads settings after a reload. */
void sse_hub_apply_config(sse_hub *h);

/* Ends every standalone stream (a stop has begun). */
void sse_hub_end_standalone(sse_hub *h);

/* Ends every attached stream and frees every stream; closes the timer. */
void sse_hub_close(sse_hub *h);

/* Opens a stream on req (borrowed; it must not have begun a response):
 * writes the 200 head with SSE headers plus extra (copied), and the priming
 * event when the session speaks 2025-11-25. A standalone stream becomes
 * the session's channel (session.out): what is sent there goes out as an
 * event. Returns the stream (owned by the
 * session) or NULL when out of memory (req is then answered 503), or when
 * a standalone stream would pass its client address's share
 * (http_stream_admit(); req is then answered 429). */
sse_stream *sse_open(sse_hub *h, session *s, http_req *req, int standalone, const char *extra);

/* Sends one message as an event. msg is borrowed. Returns 0 or -ENOMEM. */
int sse_send(sse_stream *st, const json_t *msg);

/* No event will follow: an attached stream ends its response and is freed;
 * a detached one waits to be resumed (or expires). */
void sse_finish(sse_stream *st);

/* The connection carrying st went away: keep the stream for resumption. */
void sse_detach(sse_stream *st);

/* Finds the stream and the event number a Last-Event-ID names, in session
 * s. Returns the stream or NULL (unknown or malformed id). */
sse_stream *sse_find(session *s, const char *last_event_id, size_t len, uint64_t *event);

/* Resumes st on req (a GET): writes the head, replays the events after
 * `event`, and carries the stream from now on (a done stream ends right
 * after the replay). A detached stream whose new client address is at its
 * share of streams is not resumed: req gets 429 and st stays detached. */
void sse_resume(sse_stream *st, http_req *req, uint64_t event);

/* Frees every stream of a session (its attached responses end). */
void sse_session_closed(sse_hub *h, session *s);

#endif
