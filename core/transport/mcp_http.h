/* mcp_http.h -- the Streamable HTTP transport at /mcp (protocol revisions
 * 2024-11-05 through 2025-11-25): sessions by Mcp-Session-Id, header
 * checks (Origin, Host, Accept, Content-Type, MCP-Protocol-Version),
 * JSON or resumable SSE responses, the standalone GET stream and its
 * resumption, DELETE. It turns HTTP requests into JSON-RPC messages for the
 * dispatcher and the dispatcher's answers back into HTTP. Loop thread
 * only. */
#ifndef MCPD_MCP_HTTP_H
#define MCPD_MCP_HTTP_H

#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "mcp/dispatch.h"
#include "net/http_server.h"
#include "lib/log.h"
#include "mcp/session.h"
#include "transport/auth_gate.h"
#include "transport/batch.h"
#include "transport/listen.h"
#include "transport/sse.h"

typedef struct mcp_http_stats {
  uint64_t posts, gets, deletes, rejected;
  uint64_t sse_responses, streams_opened;
} mcp_http_stats;

typedef struct mcp_http {
  dispatch *disp;
  session_table *sessions;
  const config *cfg;
  const logger *log;
  int bound_loopback;   /* validate Host (DNS rebinding) */
  buf out;              /* scratch for serialising responses */
  sse_hub hub;          /* the SSE streams of every session */
  batch_runner batches; /* JSON-RPC batches still dispatching */
  listen_hub listens;   /* 2026-07-28 subscriptions/listen streams */
  /* A GET /mcp without a session that accepts SSE is a 2024-11-05 client:
   * handed to the HTTP+SSE transport when there is one. */
  void (*legacy_get)(void *arg, http_req *req, const char *extra);
  void *legacy_arg;
  /* Authentication: set by the owner after init (borrowed); NULL: none. */
  struct auth_gate *gate;
  mcp_http_stats stats;
} mcp_http;

/* Initialises the transport; everything is borrowed. Returns 0 or a libuv
 * error. */
int mcp_http_init(mcp_http *t, uv_loop_t *loop, dispatch *d, session_table *sessions,
                  const config *cfg, const logger *lg, int bound_loopback);

/* Handles a request for the MCP endpoint (any method). */
void mcp_http_handle(mcp_http *t, http_req *req);

/* The Origin and Host checks (DNS rebinding) every endpoint makes, mcpd's
 * own pages included: Origin, when present, must be loopback or allowed;
 * while Host is checked, the request must name a host (Host, or the
 * authority of an absolute-form target, which is checked as well) that is
 * loopback or allowed. Returns 0, or the status to answer (400, 403, 421)
 * with why in msg (size n, for the client) after a log line. */
int mcp_http_check(mcp_http *t, const http_req *req, char *msg, size_t n);

/* The Host part of mcp_http_check() alone, for pages any origin may read
 * (the protected resource metadata). */
int mcp_http_check_host(mcp_http *t, const http_req *req, char *msg, size_t n);

/* mcp_http_check() for an MCP endpoint. Returns 0 and writes the CORS
 * response headers for an allowed origin into extra (size n), or -1 after
 * answering the refusal with a JSON-RPC error body. */
int mcp_http_guard(mcp_http *t, http_req *req, char *extra, size_t n);

/* Notes the session (may be NULL) and, for tools/call, the tool name of m
 * (may be NULL) in req's tags, for the access log. Copies; borrows all. */
void mcp_http_tag(http_req *req, const session *s, const jsonrpc_msg *m);

/* Looks a header up in req (an http_req, borrowed): the dispatcher's
 * header_fn for host->call_header(). */
const char *mcp_http_header_of(const void *req, const char *name);

/* Creates a session for the client of req, counted against the cap of its
 * address (an IPv4 address, or the /64 of an IPv6 one, which one client
 * usually holds whole; see session_create_for()), and logs a refusal (at
 * most one line a second). Returns 0 and sets *out (owned by the table),
 * or the error of session_create_for(). */
int mcp_http_new_session(mcp_http *t, http_req *req, session **out);

/* A session is being removed: close its streams, let go of its calls. */
void mcp_http_session_removed(mcp_http *t, session *s);

/* Re-reads the settings it uses from cfg (after a reload). */
void mcp_http_apply_config(mcp_http *t);

/* Ends the standalone streams (GET /mcp, /sse) politely; answers still
 * being streamed go on (for a graceful stop). */
void mcp_http_drain(mcp_http *t);

/* Ends every stream and stops the timer. */
void mcp_http_close(mcp_http *t);

#endif
