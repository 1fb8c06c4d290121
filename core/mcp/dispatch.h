/* dispatch.h -- the MCP method dispatcher: initialize and version
 * negotiation, ping, tools, resources (and subscriptions), prompts,
 * completion, logging/setLevel, cancellation, requests the server sends to
 * clients (sampling, elicitation, roots), and the completion of plugin calls
 * into JSON-RPC responses. Transports hand it classified JSON-RPC messages
 * with the session they belong to; it never sees HTTP. Loop thread only. */
#ifndef MCPD_DISPATCH_H
#define MCPD_DISPATCH_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "mcp/call.h"
#include "lib/config.h"
#include "mcp/jsonrpc.h"
#include "mcp/modern.h"
#include "lib/list.h"
#include "lib/log.h"
#include "net/metrics.h"
#include "mcp/registry.h"
#include "mcp/session.h"
#include "mcp/sink.h"
#include "mcp/task.h"

typedef struct dispatch_stats {
  uint64_t requests, notifications, errors;
  uint64_t tasks_created, tasks_refused, tasks_expired;
  uint64_t tool_calls, tool_errors, resource_reads, prompt_gets, completions;
  uint64_t timeouts, cancellations;
  uint64_t client_requests, client_request_timeouts, client_responses_ignored;
} dispatch_stats;

typedef struct dispatch {
  registry *reg;
  call_engine *calls;
  session_table *sessions;
  const config *cfg;
  const logger *log;
  json_t *empty;        /* {} for callers that need one to borrow */
  modern_consts modern; /* what every 2026-07-28 response carries */
  metrics *metrics;     /* where answered requests are counted (may be NULL) */
  /* The headers of the HTTP request being dispatched, set by the transport
   * around dispatch_message() (NULL otherwise), and the call whose handler
   * runs: host->call_header() reads the one for the other. Borrowed. */
  const char *(*header_fn)(const void *req, const char *name);
  const void *header_req;
  const struct mcpd_call *running;
  /* Who sent the message being dispatched, set by the transport around
   * dispatch_message() like header_req (borrowed; NULL: auth is off, or
   * stdio): the calls it starts keep a reference, and listings show only
   * what it may use. */
  struct principal *principal;
  /* Signs the requestState of input_required results (2026-07-28): the
   * daemon fills it (the config's state_key, else random at start). */
  unsigned char state_key[32];
  uv_timer_t req_timer; /* deadlines of requests to clients */
  /* Tool calls that run as tasks (2026-07-28 tasks extension), and the
   * timer that forgets them when their time is up. */
  task_table tasks;
  uv_timer_t task_timer;
  list_node requests;  /* all requests to clients awaiting an answer */
  list_node listeners; /* 2026-07-28 subscriptions/listen streams: detached sessions
                          (session.lru), told what sessions with a channel are */
  list_node reads;     /* host->read_resource() reads not yet answered (dispatch_read.c) */
  dispatch_stats stats;
} dispatch;

enum { DISPATCH_DONE = 0, DISPATCH_PENDING = 1 };

/* Initialises the dispatcher and the call engine whose events it handles.
 * Everything is borrowed. Returns 0 or a negative error. */
int dispatch_init(dispatch *d, uv_loop_t *loop, registry *reg, call_engine *calls,
                  session_table *sessions, const config *cfg, const logger *lg);

/* Handles one message of session s (borrowed; for initialize, a fresh
 * session the transport made). Returns DISPATCH_DONE with *response set to
 * a new ref (NULL for notifications and client responses), or
 * DISPATCH_PENDING: the response will go to sink (borrowed; it must stay
 * valid until its final message or dispatch_abandon()), and *pending is the
 * handle for dispatch_abandon(). */
/* The value of header name in the HTTP request that carried call, while
 * its handler runs; else NULL. Borrowed. */
const char *dispatch_call_header(const mcpd_call *call, const char *name);

int dispatch_message(dispatch *d, session *s, const jsonrpc_msg *m, mcp_sink *sink,
                     json_t **response, mcpd_call **pending);

/* The index of a log level name ("debug" ... "emergency"), or -1. */
int dispatch_log_level(const char *name);

/* Completes resp (a response to method, borrowed) as the modern era
 * requires when version is modern (resultType, serverInfo, cache hints);
 * else leaves it. */
void dispatch_modern_result(const dispatch *d, int version, const char *method, json_t *resp);

/* The transport can no longer deliver to the pending request's sink (the
 * client went away): forget the sink and cancel the call. */
void dispatch_abandon(dispatch *d, mcpd_call *pending);

/* A session is going away: its calls go on without it, and its requests to
 * the client are answered -ECANCELED. */
void dispatch_session_closed(dispatch *d, session *s);

/* A 2026-07-28 subscriptions/listen stream: s (detached, with its out
 * channel and its resource subscriptions set) gets the notifications sessions
 * get, until dispatch_listen_remove(). Borrowed. */
void dispatch_listen_add(dispatch *d, session *s);
void dispatch_listen_remove(dispatch *d, session *s);

/* Sends the notification `method` (no params) on the channel of every
 * session that has one (list_changed after a reload). */
void dispatch_notify_all(dispatch *d, const char *method);

/* host->call_principal(): the caller of call (borrowed), or NULL. ANY. */
const mcpd_principal *dispatch_call_principal(const mcpd_call *call);

/* host->request_named(): see mcpd/plugin.h. */
int dispatch_client_request_named(mcpd_call *call, const char *key, const char *method,
                                  json_t *params, unsigned timeout_ms, mcpd_response_fn cb,
                                  void *arg);

/* host->read_resource(): see mcpd/plugin.h. call is borrowed (a reference
 * is held until cb has run), uri borrowed (copied). LOOP. */
int dispatch_read_resource(mcpd_call *call, const char *uri, mcpd_response_fn cb, void *arg);

/* host->request(): see mcpd/plugin.h. */
int dispatch_client_request(mcpd_call *call, const char *method, json_t *params,
                            unsigned timeout_ms, mcpd_response_fn cb, void *arg);

/* host->call_client_capabilities(): see mcpd/plugin.h. */
const json_t *dispatch_client_capabilities(const mcpd_call *call);

/* The tasks the listen stream of session s (detached, borrowed) asks to
 * hear about (ids: borrowed array, of strings), as its caller (the
 * dispatcher's principal) may see them: 0 and *honoured (new ref: the ids
 * it will hear about; s->task_watch is set), or -1 and *error (new ref:
 * the JSON-RPC error object, -32021 when the request does not declare the
 * tasks extension, -32602 for a bad list). */
int dispatch_listen_tasks(dispatch *d, session *s, const json_t *ids, json_t **honoured,
                          json_t **error);

/* Sends s's listen (its out channel) where each task it watches is now,
 * right after the acknowledgement. s borrowed. */
void dispatch_listen_snapshot(dispatch *d, session *s);

/* The number of tasks held now (for metrics). */
unsigned dispatch_task_count(const dispatch *d);

/* Closes the dispatcher's timers and forgets its tasks (their calls are
 * cancelled). */
void dispatch_close(dispatch *d);

#endif
