/* listen.h -- subscriptions/listen (2026-07-28): a POST whose answer is a
 * long-lived SSE stream of the notifications the client asked for (lists
 * changed, resources updated), each tagged with the listen request's id,
 * in place of the legacy era's GET stream and resources/subscribe. The
 * stream opens with notifications/subscriptions/acknowledged naming what
 * mcpd will send, carries keep-alive comments, and ends when the client
 * closes it (or, at shutdown, with the listen request's result). Each
 * stream is a per-client stream (limits.max_streams_per_client). Loop
 * thread only. */
#ifndef MCPD_LISTEN_H
#define MCPD_LISTEN_H

#include <uv.h>

#include "lib/config.h"
#include "lib/list.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"
#include "net/http_server.h"

/* What one listen asked for, of what is not in its session (resource
 * subscriptions and task ids are). */
typedef struct listen_filter {
  unsigned tools : 1, prompts : 1, resources : 1;
} listen_filter;

/* Opens the listen m (a checked 2026-07-28 subscriptions/listen request,
 * borrowed) in s (its detached session, borrowed: its resource
 * subscriptions and watched tasks are set): fills *f and returns 0 with
 * *ack (new ref: notifications/subscriptions/acknowledged, naming what
 * will be sent, tagged with m's id); or -1 with *error (new ref: the
 * JSON-RPC error response for m). Any transport. */
int listen_open(dispatch *d, const jsonrpc_msg *m, session *s, listen_filter *f, json_t **ack,
                json_t **error);

/* What to send of msg (borrowed) on a listen with filter f and id
 * (borrowed): a copy tagged with the subscription (new ref), or NULL when
 * it did not ask for that kind (log and progress messages never go). */
json_t *listen_tagged(const listen_filter *f, const json_t *msg, const json_t *id);

/* The listen's result (a graceful end), for id (borrowed). New ref. */
json_t *listen_result(const json_t *id);

typedef struct listen_hub {
  dispatch *disp;
  const config *cfg;
  list_node streams; /* listen_stream.link */
  unsigned count;
  uv_timer_t keepalive;
  int timer_open;
} listen_hub;

/* Sets h up; everything is borrowed. Returns 0 or a libuv error. */
int listen_hub_init(listen_hub *h, uv_loop_t *loop, dispatch *d, const config *cfg);

/* Answers req, a checked 2026-07-28 subscriptions/listen request m
 * (borrowed), with its stream; s (stolen) is the request's detached
 * session. extra: response headers (CORS), borrowed. */
void listen_start(listen_hub *h, http_req *req, const jsonrpc_msg *m, session *s,
                  const char *extra);

/* Ends every stream with the listen request's result (a graceful stop). */
void listen_hub_end_all(listen_hub *h);

/* Ends every stream and closes the timer. */
void listen_hub_close(listen_hub *h);

#endif
