/* call.h -- the life of one plugin call (a tools/call or resources/read
 * handed to a plugin handler), and the thread-safe completion queue.
 *
 * A handler completes its call synchronously, or later from any thread via
 * the host functions complete/fail/progress/notify_log. Those push events
 * onto one mutex-protected queue and wake the loop with uv_async_send;
 * the loop drains the whole queue (sends coalesce) and hands each event to
 * the owner's callbacks, in the order they were pushed. A call is
 * reference-counted: its owner holds one reference and every queued event
 * one more, so no event ever points at freed memory. */
#ifndef MCPD_CALL_H
#define MCPD_CALL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "lib/list.h"
#include "lib/log.h"
#include "mcpd/plugin.h"

#define CALL_MAGIC 0x6d63616cu /* "mcal" */

enum call_kind { CALL_TOOL, CALL_RESOURCE, CALL_PROMPT, CALL_COMPLETE };

typedef struct call_engine call_engine;
typedef struct call_event call_event;

enum call_event_type { CALL_EV_DONE, CALL_EV_PROGRESS, CALL_EV_LOG, CALL_EV_RESOURCE_UPDATED };

struct call_event {
  call_event *next;
  struct mcpd_call *call; /* NULL for CALL_EV_RESOURCE_UPDATED */
  enum call_event_type type;
  double progress, total;
  int level;
  char *text;   /* progress message, logger name or resource URI; owned */
  json_t *data; /* log data; owned */
};

struct mcpd_call {
  uint32_t magic;
  atomic_uint refs;
  atomic_int completed; /* complete()/fail() or a synchronous return happened */
  atomic_int cancelled;
  call_engine *eng;
  mcpd_ctx *ctx; /* the plugin; the owner keeps it loaded while the call lives */
  enum call_kind kind;
  uint64_t started;    /* loop time, ms */
  uint64_t started_ns; /* uv_hrtime(), for latency */
  uint64_t deadline;   /* loop time, ms; 0 = none */
  unsigned timeout_ms; /* what the deadline was set to, for the message */

  /* What the owner (the dispatcher) keeps about the request. */
  json_t *id;                  /* owned */
  json_t *progress_token;      /* owned or NULL */
  json_t *args;                /* owned: tool arguments, or template variables */
  char *uri;                   /* owned: the resource URI */
  char *name;                  /* owned: tool name or URI, for logs */
  struct principal *principal; /* owned ref: who made the call; NULL: nobody known */
  /* The 2026-07-28 era, where mcpd cannot ask the client in the middle of
   * a call (input_required results, mcp/modern.h): */
  json_t *mrtr_answers;        /* owned object or NULL: answers the client gave, by name */
  json_t *mrtr_asks;           /* owned object or NULL: questions still open, by name */
  unsigned mrtr_seq;           /* names of unnamed questions: r0, r1, ... */
  const char *mrtr_needs;      /* static: a capability the client lacks, asked for */
  unsigned mrtr_suspended : 1; /* answered input_required: its completion is dropped */
  unsigned task_ok : 1;        /* may become a task (the tool allows it, the client too) */
  unsigned cache_ttl_ms;       /* a read's ttlMs (the resource's cache hint) */
  void *task;                  /* the task it runs as (mcp/task.h), or NULL */
  int version;                 /* negotiated protocol revision */
  void *owner;                 /* the dispatcher's per-request state */
  list_node s_link;            /* in the session's list of calls */
  void *session;

  /* Loop-thread state. */
  list_node e_link; /* in the engine's list of unfinished calls */
  double last_progress;
  int progress_sent;
  mcpd_cancel_fn cancel_cb;
  void *cancel_arg;
  int cancel_fired;
  int finished; /* the completion has been processed */

  /* The completion, written by the completing thread before it is queued. */
  json_t *result;
  int err;
  char *err_msg;
  call_event done_ev;
};

/* What the engine tells its owner, on the loop thread. */
typedef struct call_handlers {
  /* The call completed: call->result (stolen by the handler: set it NULL
   * if kept) or call->err/err_msg. */
  void (*on_done)(mcpd_call *call, void *arg);
  /* A progress report or a log message for the client; message/logger and
   * data are borrowed (data: json_incref to keep). */
  void (*on_progress)(mcpd_call *call, double progress, double total, const char *message,
                      void *arg);
  void (*on_log)(mcpd_call *call, int level, const char *logger_name, json_t *data, void *arg);
  /* The call's deadline passed before it completed. */
  void (*on_timeout)(mcpd_call *call, void *arg);
  /* The call was just cancelled (before the plugin's own cancel callback). */
  void (*on_cancel)(mcpd_call *call, void *arg);
  /* A plugin announced that a resource changed; uri is borrowed. */
  void (*on_resource_updated)(const char *uri, void *arg);
  /* The last reference is going: release what the owner attached (ctx). */
  void (*on_free)(mcpd_call *call, void *arg);
} call_handlers;

/* How the engine holds the plugin a call runs in: filled in by the layer
 * that loads plugins (the engine knows them only as mcpd_ctx). Each call
 * holds one reference from call_new() until it is freed. NULL hooks are
 * skipped (unit tests). Loop thread only. */
typedef struct call_plugin_ops {
  void (*ref)(mcpd_ctx *ctx);
  void (*unref)(mcpd_ctx *ctx);
  /* The plugin's name, for logs: borrowed, valid while a call holds ctx. */
  const char *(*name)(const mcpd_ctx *ctx);
  /* Its version string, likewise. */
  const char *(*version)(const mcpd_ctx *ctx);
} call_plugin_ops;

struct call_engine {
  uv_loop_t *loop;
  call_plugin_ops plugins;
  uv_async_t async;
  uv_timer_t deadline_timer;
  uv_mutex_t lock;
  call_event *head, *tail; /* guarded by lock */
  const logger *log;
  call_handlers h;
  void *arg;
  list_node live; /* unfinished calls (mcpd_call.e_link) */
  unsigned n_live;
  int closed;
};

/* Initialises the engine. Returns 0 or a negative libuv error. */
int call_engine_init(call_engine *e, uv_loop_t *loop, const logger *lg, const call_handlers *h,
                     void *arg);

/* Sets how calls hold their plugin (ops is copied). Call before the first
 * call_new(). */
void call_engine_set_plugin_ops(call_engine *e, const call_plugin_ops *ops);

/* The name of the plugin call runs in (borrowed; "?" when unknown). */
const char *call_plugin_name(const mcpd_call *call);

/* Its version (borrowed; "?" when unknown). */
const char *call_plugin_version(const mcpd_call *call);

/* Creates a call with one reference (the owner's), holding a reference to
 * ctx (borrowed) through the engine's plugin ops. NULL when out of
 * memory. */
mcpd_call *call_new(call_engine *e, enum call_kind kind, mcpd_ctx *ctx);

/* Arms a deadline ms from now (0: none). */
void call_set_deadline(mcpd_call *call, unsigned ms);

/* Marks the call finished on the loop thread (the owner processed its
 * completion, or it completed synchronously). Idempotent. */
void call_finish(mcpd_call *call);

/* Drops a reference; the last one frees the call. */
void call_unref(mcpd_call *call);

/* Cancels the call (loop thread): sets the flag and runs the plugin's
 * cancel callback once, unless the plugin already completed the call. */
void call_cancel(mcpd_call *call);

/* The host functions behind mcpd_host (see mcpd/plugin.h for the rules). */
int call_complete(mcpd_call *call, json_t *result);                                     /* ANY */
int call_fail(mcpd_call *call, int err, const char *message);                           /* ANY */
int call_progress(mcpd_call *call, double progress, double total, const char *message); /* ANY */
int call_notify_log(mcpd_call *call, int level, const char *logger_name, json_t *data); /* ANY */
int call_is_cancelled(const mcpd_call *call);                                           /* ANY */
int call_on_cancel(mcpd_call *call, mcpd_cancel_fn cb, void *arg);                      /* LOOP */

/* Claims the completion for a synchronous return. Returns 1 if the caller
 * owns it, 0 if the plugin already called complete()/fail() (a plugin bug:
 * the queued completion wins). */
int call_claim_sync(mcpd_call *call);

/* Queues notify_resource_updated(uri) for the loop. ANY. uri is copied.
 * Returns 0 or -ENOMEM. */
int call_engine_resource_updated(call_engine *e, const char *uri);

/* Cancels every unfinished call (shutdown). */
void call_cancel_all(call_engine *e);

/* Processes the completion queue now (it normally runs from uv_async). */
void call_engine_drain(call_engine *e);

/* Closes the engine's handles; call when no call is unfinished. */
void call_engine_close(call_engine *e);

#endif
