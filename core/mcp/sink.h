/* sink.h -- where the dispatcher's messages for a client go: the
 * transport's side of one pending request, a session's channel for
 * messages the server starts, or a task that keeps what its call answers.
 * send() gets each message (borrowed) with the session it belongs to (NULL
 * once the session is gone). For a request: its notifications and requests
 * to the client (final = 0; they may come while its handler still runs),
 * then exactly one final message (final = 1): the response, or NULL when the
 * request was cancelled and gets none; after the final message the
 * dispatcher forgets the sink. For a session channel, final is always 0.
 * Loop thread only. */
#ifndef MCPD_SINK_H
#define MCPD_SINK_H

#include <jansson.h>

struct session;

typedef struct mcp_sink mcp_sink;
struct mcp_sink {
  /* Returns 0, or -ENOTSUP when the message cannot go out this way (a
   * request to the client on a plain JSON response). */
  int (*send)(mcp_sink *sink, struct session *s, const json_t *msg, int final);
};

#endif
