/* dispatch.h -- the MCP method dispatcher: initialize and version
 * negotiation, ping, tools, resources, logging/setLevel, cancellation, and
 * the completion of plugin calls into JSON-RPC responses. Transports hand
 * it classified JSON-RPC messages with the session they belong to; it never
 * sees HTTP. Loop thread only. */
#ifndef MCPD_DISPATCH_H
#define MCPD_DISPATCH_H

#include <jansson.h>
#include <stdint.h>

#include "call.h"
#include "config.h"
#include "jsonrpc.h"
#include "log.h"
#include "registry.h"
#include "session.h"

/* Where a request's later messages go: the transport's side of one pending
 * request. send() gets each notification about the request (progress, log
 * messages; final = 0), then exactly one final message (final = 1): the
 * response, or NULL when the request was cancelled and gets none. msg is
 * borrowed. After the final message the dispatcher forgets the sink. */
typedef struct mcp_sink mcp_sink;
struct mcp_sink {
  void (*send)(mcp_sink *sink, const json_t *msg, int final);
};

typedef struct dispatch_stats {
  uint64_t requests, notifications, errors;
  uint64_t tool_calls, tool_errors, resource_reads;
  uint64_t timeouts, cancellations;
} dispatch_stats;

typedef struct dispatch {
  registry *reg;
  call_engine *calls;
  const config *cfg;
  const logger *log;
  dispatch_stats stats;
} dispatch;

enum { DISPATCH_DONE = 0, DISPATCH_PENDING = 1 };

/* Initialises the dispatcher and the call engine whose events it handles.
 * Everything is borrowed. Returns 0 or a negative error. */
int dispatch_init(dispatch *d, uv_loop_t *loop, registry *reg, call_engine *calls,
                  const config *cfg, const logger *lg);

/* Handles one message of session s (borrowed; for initialize, a fresh
 * session the transport made). Returns DISPATCH_DONE with *response set to
 * a new ref (NULL for notifications and client responses), or
 * DISPATCH_PENDING: the response will go to sink (borrowed; it must stay
 * valid until its final message or dispatch_abandon()), and *pending is the
 * handle for dispatch_abandon(). */
int dispatch_message(dispatch *d, session *s, const jsonrpc_msg *m, mcp_sink *sink,
                     json_t **response, mcpd_call **pending);

/* The transport can no longer deliver to the pending request's sink (the
 * client went away): forget the sink and cancel the call. */
void dispatch_abandon(dispatch *d, mcpd_call *pending);

/* A session is going away: its calls go on, but no longer belong to it. */
void dispatch_session_closed(dispatch *d, session *s);

/* A JSON-RPC error response for a message the transport rejects before
 * dispatching (parse errors, bad envelopes). New ref. */
json_t *dispatch_error(const json_t *id, int code, const char *message);

#endif
