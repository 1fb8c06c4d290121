/* mcp_http.h -- the Streamable HTTP transport at /mcp (protocol revisions
 * 2024-11-05 through 2025-11-25): sessions by Mcp-Session-Id, header
 * checks (Origin, Host, Accept, Content-Type, MCP-Protocol-Version),
 * JSON or SSE responses, the standalone GET stream, DELETE. It turns HTTP
 * requests into JSON-RPC messages for the dispatcher and the dispatcher's
 * answers back into HTTP. Loop thread only. */
#ifndef MCPD_MCP_HTTP_H
#define MCPD_MCP_HTTP_H

#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "dispatch.h"
#include "http_server.h"
#include "list.h"
#include "log.h"
#include "session.h"

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
  uv_timer_t keepalive; /* comments on idle SSE streams */
  list_node streams;    /* open GET streams (mcp_stream.link) */
  unsigned n_streams;
  mcp_http_stats stats;
} mcp_http;

/* Initialises the transport; everything is borrowed. Returns 0. */
int mcp_http_init(mcp_http *t, uv_loop_t *loop, dispatch *d, session_table *sessions,
                  const config *cfg, const logger *lg, int bound_loopback);

/* Handles a request for the MCP endpoint (any method). */
void mcp_http_handle(mcp_http *t, http_req *req);

/* A session is being removed: close its stream. For session_table's
 * on_remove (the server wires both). */
void mcp_http_session_removed(mcp_http *t, session *s);

/* Re-reads the settings it uses from cfg (after a reload). */
void mcp_http_apply_config(mcp_http *t);

/* Ends every open stream politely and stops the keep-alive timer. */
void mcp_http_close(mcp_http *t);

#endif
