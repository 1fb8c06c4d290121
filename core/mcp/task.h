/* task.h -- the table of tasks (the tasks extension of 2026-07-28,
 * io.modelcontextprotocol/tasks): a tool call that outlives its request,
 * which the client follows by id (tasks/get), answers (tasks/update) and
 * cancels (tasks/cancel). This module keeps the records: unguessable ids,
 * who owns each, how many one client holds, when each expires, and how a
 * task reads on the wire. The dispatcher (dispatch_task.c) runs the calls.
 * Loop thread only. */
#ifndef MCPD_TASK_H
#define MCPD_TASK_H

#include <jansson.h>
#include <stdint.h>

#include "lib/list.h"
#include "lib/strmap.h"
#include "mcp/sink.h"

#define TASK_EXTENSION  "io.modelcontextprotocol/tasks"
#define TASK_PREFIX_MAX 15 /* the config's session_id_prefix: routes a task like a session */
#define TASK_ID_MAX     (TASK_PREFIX_MAX + 32)
#define TASK_CLIENT_MAX 72 /* a principal's key in hex, or a client address */

enum task_status { TASK_WORKING, TASK_INPUT_REQUIRED, TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED };

struct mcpd_call;
struct session;
typedef struct task_client task_client;

typedef struct task {
  mcp_sink sink; /* first: the call's owner while it runs (dispatch_task.c) */
  char id[TASK_ID_MAX + 1];
  enum task_status status;
  char *status_message; /* owned or NULL */
  json_t *result;       /* owned: the call's result (completed) */
  json_t *error;        /* owned: its JSON-RPC error (failed) */
  size_t bytes;         /* what result or error takes, counted against the budgets */
  int64_t created_ms;   /* Unix time */
  int64_t updated_ms;
  uint64_t expires;    /* loop time, ms */
  unsigned ttl_ms;     /* from creation */
  int owned;           /* owner is set: only that principal sees the task */
  uint8_t owner[32];   /* the key of the principal that created it */
  task_client *client; /* its count against the per-client cap */
  list_node link;      /* in task_table.order, oldest first */
  /* The dispatcher's. */
  struct mcpd_call *call; /* the call while it runs; NULL once it ended */
  struct session *s;      /* owned, detached: the call belongs to it */
  void *d;                /* the dispatcher */
} task;

typedef struct task_table {
  strmap map;      /* id -> task */
  list_node order; /* soonest to expire first */
  unsigned count, max, max_per_client;
  size_t bytes, max_bytes, max_bytes_per_client; /* kept results and errors */
  strmap clients;                                /* client key -> task_client */
  char prefix[TASK_PREFIX_MAX + 1];
} task_table;

/* An empty table; prefix (borrowed, copied; at most TASK_PREFIX_MAX
 * bytes) goes before every id, as session ids get it, so that a proxy can
 * route a task's requests (Mcp-Name) to the instance that holds it. */
void task_table_init(task_table *t, unsigned max, unsigned max_per_client, const char *prefix);

/* Changes the caps (a reload); tasks over them stay. max_bytes and
 * max_bytes_per_client bound what results and errors the table keeps. */
void task_table_configure(task_table *t, unsigned max, unsigned max_per_client, size_t max_bytes,
                          size_t max_bytes_per_client);

/* Counts bytes more for k (its result or error) if they fit both budgets:
 * 0, or -EDQUOT (k's client is over its budget) or -EAGAIN (the table is),
 * and nothing is counted. Freed with the task. */
int task_charge(task_table *t, task *k, size_t bytes);

/* A new task in state working, expiring ttl_ms after now (loop time, ms),
 * counted against client (borrowed, copied: who holds it, for the
 * per-client cap) and owned by owner (32 bytes, copied; NULL: anyone who
 * knows the id). Returns 0 and *out (owned by the table); -EAGAIN when the
 * table is full, -EDQUOT when client holds max_per_client tasks, -ENOMEM,
 * or the error of getrandom(2). */
int task_new(task_table *t, const char *client, const uint8_t *owner, unsigned ttl_ms, uint64_t now,
             task **out);

/* The task with id (len bytes) that owner (32 bytes; NULL: a caller with
 * no principal) may see, or NULL: unknown, or another principal's. */
task *task_find(task_table *t, const char *id, size_t len, const uint8_t *owner);

/* The task that expires first, or NULL (for the expiry sweep). */
task *task_oldest(task_table *t);

/* Moves k to a status (and a message: borrowed, copied; NULL keeps the
 * one it has), stamping lastUpdatedAt. A terminal task stays as it is:
 * returns 1 when the status changed, else 0. */
int task_set_status(task *k, enum task_status st, const char *message);

/* Whether st is completed, failed or cancelled. */
int task_terminal(enum task_status st);

/* "working", "input_required", ... */
const char *task_status_name(enum task_status st);

/* k as the wire has it: taskId, status, statusMessage, createdAt,
 * lastUpdatedAt, ttlMs, pollIntervalMs (poll_ms; 0: left out); with
 * detailed, what its status carries as well: result (completed), error
 * (failed), or input_requests (borrowed, copied; input_required). New
 * ref, NULL without memory. */
json_t *task_render(const task *k, unsigned poll_ms, int detailed, const json_t *input_requests);

/* Takes k out of the table and frees what the table owns of it (not s or
 * call: the dispatcher lets go of them first). */
void task_remove(task_table *t, task *k);

/* Removes every task (after the dispatcher let go of their calls). */
void task_table_free(task_table *t);

#endif
