/* legacy_sse.h -- the 2024-11-05 HTTP+SSE transport: GET /sse opens a
 * session and its stream, whose first event (`endpoint`) names the URL for
 * the client's POSTs; POST /messages?sessionId= (also session_id, and
 * /messages/) answers 202 and every response travels as an `event:
 * message` on the stream. The session lives as long as its stream. A GET
 * /mcp without a session that accepts SSE lands here too, because many
 * tutorials configure "type: SSE" clients with the /mcp URL. Loop thread
 * only. */
#ifndef MCPD_LEGACY_SSE_H
#define MCPD_LEGACY_SSE_H

#include <stdint.h>

#include "net/http_server.h"
#include "lib/list.h"
#include "transport/mcp_http.h"

typedef struct legacy_sse_stats {
  uint64_t streams, posts;
} legacy_sse_stats;

typedef struct legacy_sse {
  mcp_http *mcp;  /* its checks, SSE hub, sessions and dispatcher */
  list_node reqs; /* requests whose answer is still to come */
  legacy_sse_stats stats;
} legacy_sse;

/* Initialises the transport on top of the /mcp one (borrowed), and
 * registers itself for GET /mcp without a session. */
void legacy_sse_init(legacy_sse *l, mcp_http *mcp);

/* GET /sse (or a session-less GET /mcp): a new session and its stream.
 * extra: CORS headers from mcp_http_guard() (NULL: the checks still need
 * to run). */
void legacy_sse_get(legacy_sse *l, http_req *req, const char *extra);

/* POST /messages: one JSON-RPC message for a session. */
void legacy_sse_post(legacy_sse *l, http_req *req);

/* Cancels every request still waiting (shutdown). */
void legacy_sse_close(legacy_sse *l);

#endif
