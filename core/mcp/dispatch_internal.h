/* dispatch_internal.h -- what the parts of the dispatcher share:
 * dispatch.c (lifecycle, listings, subscriptions, notifications, the method
 * table), dispatch_call.c (calls handed to plugins and the call engine's
 * events) and dispatch_client.c (requests mcpd sends to clients for a
 * call). Not used outside mcp/dispatch*.c. Loop thread only. */
#ifndef MCPD_DISPATCH_INTERNAL_H
#define MCPD_DISPATCH_INTERNAL_H

#include "mcp/dispatch.h"
#include "mcp/protocol.h"

#define CURSOR_PREFIX         "mcpd1:"
#define MAX_COMPLETION_VALUES 100
#define MAX_SUBSCRIPTIONS     1000

/* The MCP log level names, by level (also the SDK's MCPD_LOG_* values). */
extern const char *const dispatch_levels[8];

/* What a method handler produces: a result (new ref), an error, or a
 * whole response message. */
typedef struct reply {
  json_t *whole;
  json_t *result;
  int code;
  char message[512];
  json_t *data; /* error data, new ref */
} reply;

/* One request being handled. Everything is borrowed for the handler's run. */
typedef struct req_ctx {
  dispatch *d;
  session *s;
  const jsonrpc_msg *m;
  const json_t *params; /* object or NULL */
  mcp_sink *sink;
  mcpd_call *pending; /* set by handlers that go asynchronous */
} req_ctx;

/* Sets r to the error code with a formatted message; returns
 * DISPATCH_DONE. */
int dispatch_fail(reply *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The response to id (borrowed) for r: a new ref, never NULL unless out of
 * memory. Takes r->result and r->data. */
json_t *dispatch_finish_reply(dispatch *d, const json_t *id, reply *r);

/* A required string parameter (borrowed from c->params), or NULL after a
 * -32602 naming it. */
const char *dispatch_need_string(req_ctx *c, reply *r, const char *method, const char *field);

/* The protocol revision of s (NULL: the newest). */
/* The method a call answers ("tools/call"...). */
static inline const char *call_method_of(const mcpd_call *call) {
  static const char *const names[] = {"tools/call", "resources/read", "prompts/get",
                                      "completion/complete"};
  return names[call->kind];
}

static inline int dispatch_version_of(const session *s) {
  return s != NULL && s->version >= 0 ? s->version : PROTO_LATEST;
}

/* A whole number as a JSON integer (clients show 3, not 3.0). New ref. */
static inline json_t *dispatch_json_number(double v) {
  if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(json_int_t)v)
    return json_integer((json_int_t)v);
  return json_real(v);
}

/* Methods handed to plugins (dispatch_call.c). */
int dispatch_tools_call(req_ctx *c, reply *r);
int dispatch_resources_read(req_ctx *c, reply *r);
int dispatch_prompts_get(req_ctx *c, reply *r);
int dispatch_complete(req_ctx *c, reply *r);

/* Detaches call from its session (the session is going away). */
void dispatch_session_unlink(mcpd_call *call);

/* Makes call one of s's calls in flight. */
void dispatch_session_link(mcpd_call *call, session *s);

/* ---- tasks (dispatch_task.c) ---- */

/* Whether s's request declares the tasks extension (2026-07-28 only). */
int dispatch_task_declared(const session *s);

/* Sets r to -32021 naming the tasks extension; returns DISPATCH_DONE. */
int dispatch_task_refuse(reply *r);

/* Makes call (pending, just returned by its handler, a call of session
 * from) a task: 0 and *response (new ref: the CreateTaskResult to answer
 * with); or a negative error (no room, no memory) and the call stays as it
 * was. */
int dispatch_task_adopt(dispatch *d, session *from, mcpd_call *call, json_t **response);

/* call, a task's, asked the client something: the task needs input. */
void dispatch_task_asked(dispatch *d, mcpd_call *call);

/* call, a task's, has no question left open (answered or withdrawn): the
 * task works again. */
void dispatch_task_settled(dispatch *d, mcpd_call *call);

int dispatch_tasks_get(req_ctx *c, reply *r);
int dispatch_tasks_update(req_ctx *c, reply *r);
int dispatch_tasks_cancel(req_ctx *c, reply *r);

/* Forgets every task, cancelling the calls that still run. */
void dispatch_tasks_close(dispatch *d);

/* ---- questions to the client (dispatch_client.c) ---- */

/* Moves call's questions to the client to session s (the call moved). */
void dispatch_requests_move(dispatch *d, const mcpd_call *call, session *s);

/* Answers call's open question named key (2026-07-28) with answer
 * (borrowed): the callback gets it on a later turn. Returns 1, or 0 when
 * no such question is open. */
int dispatch_client_answer(dispatch *d, mcpd_call *call, const char *key, const json_t *answer);

/* The call engine's events, handled by dispatch_call.c. */
extern const call_handlers dispatch_call_handlers;

/* A client's answer (m, borrowed) to one of our requests (dispatch_client.c). */
void dispatch_client_response(dispatch *d, session *s, const jsonrpc_msg *m);

/* Answers -ECANCELED to the requests of a call (it was cancelled) or of a
 * session (it is going away); either may be NULL. */
void dispatch_cancel_requests(dispatch *d, const mcpd_call *call, session *s);

/* Answers -ECANCELED to the resource reads (dispatch_read.c) made for call,
 * or made as call (the read itself was cancelled), and cancels the reads
 * still running. call is borrowed. */
void dispatch_read_cancel(dispatch *d, const mcpd_call *call);

#endif
